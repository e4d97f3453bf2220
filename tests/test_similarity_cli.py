"""The similarity CLI on extraction stores (typer's CliRunner on the stage's own app)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tda_activations import similarity as sim
from tda_activations.cli.similarity import app
from tda_activations.types import ActivationSet, ClassHierarchy

extract = pytest.importorskip("tda_activations.extract")
runner = CliRunner()


def _acts(seed: int, n: int = 50) -> ActivationSet:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    clouds = {"conv1": x, "fc": np.maximum(x @ rng.normal(size=(4, 6)).astype(np.float32), 0) + 0.1}
    return ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(n) for k in clouds},
        labels=np.arange(n) % 3,
        hierarchy=ClassHierarchy(class_names=("a", "b", "c")),
        reduction="top_l2",
        model_fingerprint=f"m{seed}",
        data_fingerprint="d",
    )


@pytest.fixture()
def stores(tmp_path):
    a, b = _acts(0), _acts(1)
    return extract.save_store(a, tmp_path / "a"), extract.save_store(b, tmp_path / "b"), a, b


def test_measures_lists_every_measure():
    res = runner.invoke(app, ["measures"])
    assert res.exit_code == 0, res.output
    for name in sim.available_measures():
        assert name in res.output
    assert "invariant to: " in res.output


def test_matrix_within_one_store_writes_csv_and_metadata(stores, tmp_path):
    pa, _, a, _ = stores
    out = tmp_path / "m.csv"
    res = runner.invoke(
        app,
        ["matrix", str(pa), "--measure", "linear_cka", "-p", "debiased=true", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, index_col=0)
    expected = sim.LinearCKA(debiased=True)(a.cloud("conv1"), a.cloud("fc"))
    assert frame.loc["conv1", "fc"] == pytest.approx(expected, abs=1e-9)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["kind"] == "similarity" and meta["params"]["reduction"] == "top_l2"


def test_matrix_across_two_stores(stores):
    pa, pb, a, b = stores
    res = runner.invoke(
        app,
        [
            "matrix",
            str(pa),
            "--against",
            str(pb),
            "--measure",
            "procrustes",
            "--layers-against",
            "fc",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "procrustes" in res.output and "distance" in res.output
    value = sim.ProcrustesDistance()(a.cloud("fc"), b.cloud("fc"))
    assert f"{value:.4f}" in res.output


def test_matrix_errors_are_clear(stores, tmp_path):
    pa, *_ = stores
    res = runner.invoke(app, ["matrix", str(pa), "--measure", "linear_cak"])
    assert res.exit_code == 2 and "did you mean 'linear_cka'" in res.output
    res = runner.invoke(app, ["matrix", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "no extraction store" in res.output
    res = runner.invoke(app, ["matrix", str(pa), "-p", "debiased"])
    assert res.exit_code != 0 and "KEY=VALUE" in res.output
