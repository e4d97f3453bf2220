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
        labels=np.repeat(np.arange(4), n),
        hierarchy=HIER,
        reduction="top_l2",
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
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(store),
            "--out",
            str(out),
            "--layers",
            "fc",
            "--n-intervals",
            "5",
            "--eps",
            "2.5",
            "--no-html",
        ],
    )
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


@pytest.fixture(scope="module")
def digits_store(tmp_path_factory):
    """A store extracted (by the library's own extract) from 60 embedded digits, x2 upsampled,
    with a tiny random convolutional net: 16 positions per image at the conv layer."""
    import torch

    from tda_activations.datasets import load_dataset
    from tda_activations.extract import extract_to_store

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 3, stride=4),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(24, 10),
    )
    data = load_dataset("digits:x2", split="test", limit=60)
    path = tmp_path_factory.mktemp("digits") / "store"
    acts = extract_to_store(net, data, path, layers=["0", "4"], reduction="all_positions", seed=0)
    assert acts.cloud("0").shape[0] == 16 * 60  # points are not samples: sample_index matters
    return path, acts, data


def _inlined(page: str) -> int:
    return page.count("data:image/png;base64,")


def test_run_pages_have_the_store_images_as_thumbnails(digits_store, tmp_path):
    from tda_activations import mapper as M

    store, acts, data = digits_store
    out = tmp_path / "thumbs"
    result = CliRunner().invoke(app, ["run", str(store), "--out", str(out), "--min-samples", "2"])
    assert result.exit_code == 0, result.output
    assert "no thumbnails" not in result.output
    # The pages are those of the library functions given the digits the store came from.
    res = M.layer_mapper(acts, min_samples=2)
    layers_page = (out / "layers.html").read_text()
    assert layers_page == M.html_layers_page(res, sample_index=acts.sample_index, images=data)
    assert _inlined(layers_page) > 0
    for layer in acts.layers:
        page = (out / "html" / f"{layer}.html").read_text()
        assert _inlined(page) > 0
        assert page == M.html_page(
            res.graphs[layer],
            compositions=res.compositions[layer],
            title=f"Mapper graph of {layer}",
            sample_index=acts.sample_index[layer],
            images=data,
        )
    # --no-thumbnails: the same pages without images, and smaller
    plain = tmp_path / "plain"
    result = CliRunner().invoke(
        app, ["run", str(store), "--out", str(plain), "--min-samples", "2", "--no-thumbnails"]
    )
    assert result.exit_code == 0, result.output
    small = (plain / "layers.html").read_text()
    assert _inlined(small) == 0 and len(small) < len(layers_page)
    # --data: checked against the store's data fingerprint
    same = CliRunner().invoke(
        app,
        [
            "run",
            str(store),
            "--out",
            str(tmp_path / "d"),
            "--min-samples",
            "2",
            "--data",
            "digits:x2",
            "--limit",
            "60",
        ],
    )
    assert same.exit_code == 0, same.output
    assert (tmp_path / "d" / "layers.html").read_text() == layers_page
    wrong = CliRunner().invoke(
        app, ["run", str(store), "--out", str(tmp_path / "w"), "--data", "digits", "--limit", "60"]
    )
    assert wrong.exit_code == 2 and "not the data this store was extracted from" in wrong.output
    assert "Traceback" not in wrong.output and not (tmp_path / "w").exists()


def test_run_says_when_it_has_no_thumbnails(store, tmp_path):
    out = tmp_path / "m"
    result = CliRunner().invoke(app, ["run", str(store), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "no thumbnails" in result.output
    assert "data:image/png" not in (out / "layers.html").read_text()
