"""``tda-activations mapper run`` on an extraction store (CliRunner on the stage's own app)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tda_activations.cli.mapper import app
from tda_activations.datasets import hierarchy_to_dict
from tda_activations.types import ActivationSet, ClassHierarchy

HIER = ClassHierarchy(
    class_names=("a1", "a2", "b1", "b2"),
    parents={"coarse": (0, 0, 1, 1)},
    level_names={"coarse": ("A", "B")},
)


@pytest.fixture()
def store(tmp_path):
    from tda_activations.extract import save_store

    rng = np.random.default_rng(0)
    n = 80
    mixed = rng.normal(size=(4 * n, 4)) + 5
    centres = np.array([[10.0, 0, 0, 0], [0, 10.0, 0, 0], [0, 0, 30.0, 0], [0, 0, 0, 30.0]])
    separated = np.vstack([c + rng.normal(size=(n, 4)) for c in centres])
    acts = ActivationSet(
        clouds={"conv1": mixed, "fc": separated},
        sample_index={"conv1": np.arange(4 * n), "fc": np.arange(4 * n)},
        labels=np.repeat(np.arange(4), n), hierarchy=HIER, reduction="top_l2",
        predictions=np.repeat(np.arange(4), n),
    )
    return save_store(acts, tmp_path / "store")


def test_run_writes_the_trend_table_and_pages(store, tmp_path):
    out = tmp_path / "mapper"
    result = CliRunner().invoke(app, ["run", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "purity_fine" in result.output and "conv1" in result.output
    table = pd.read_csv(out / "trend.csv", index_col="layer")
    assert list(table.index) == ["conv1", "fc"]
    assert table.loc["fc", "purity_fine"] == 1.0
    assert table.loc["conv1", "purity_fine"] < 0.5
    assert (out / "html" / "fc.html").exists() and (out / "index.html").exists()
    graph = json.loads((out / "graphs" / "fc.json").read_text())
    assert graph["params"]["n_intervals"] == 10 and graph["params"]["eps_method"] == "knee"


def test_run_options_and_errors(store, tmp_path):
    out = tmp_path / "m2"
    result = CliRunner().invoke(app, ["run", str(store), "--out", str(out), "--layers", "fc",
                                      "--n-intervals", "5", "--eps", "2.5", "--no-html"])
    assert result.exit_code == 0, result.output
    graph = json.loads((out / "graphs" / "fc.json").read_text())
    assert graph["params"]["n_intervals"] == 5 and graph["params"]["eps"] == 2.5
    assert not (out / "html").exists()

    bad = CliRunner().invoke(app, ["run", str(store), "--out", str(out), "--layers", "fcc"])
    assert bad.exit_code == 2 and "did you mean 'fc'" in bad.output
    missing = CliRunner().invoke(app, ["run", str(tmp_path / "nope"), "--out", str(out)])
    assert missing.exit_code == 2 and "error" in missing.output
    # a hierarchy that misses a class
    small = tmp_path / "small.json"
    spec = hierarchy_to_dict(HIER)
    spec["classes"] = ["a1", "a2", "b1"]
    spec["levels"]["coarse"]["members"]["B"] = ["b1"]
    small.write_text(json.dumps(spec))
    res = CliRunner().invoke(app, ["run", str(store), "--out", str(out), "--hierarchy", str(small)])
    assert res.exit_code == 2 and "does not know" in res.output
    eps = CliRunner().invoke(app, ["run", str(store), "--out", str(out), "--eps", "big"])
    assert eps.exit_code != 0
