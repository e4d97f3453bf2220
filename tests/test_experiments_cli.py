"""The ``experiment`` CLI module: thin subcommands over the experiment functions, on stores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tda_activations.cli.experiment import app
from tda_activations.extract import save_store
from tda_activations.types import ActivationSet, ClassHierarchy

H = ClassHierarchy(class_names=("a", "b", "c"))
runner = CliRunner()


def _store(path, clouds, fp):  # noqa: ANN001, ANN202
    names = [f"l{i}" for i in range(len(clouds))]
    n = clouds[0].shape[0]
    acts = ActivationSet(
        clouds=dict(zip(names, clouds)),
        sample_index={k: np.arange(n) for k in names},
        labels=np.arange(n) % 3,
        hierarchy=H,
        reduction="top_l2",
        model_fingerprint=fp,
        data_fingerprint="d",
    )
    save_store(acts, path)
    return path


@pytest.fixture()
def stores(tmp_path):  # noqa: ANN001, ANN201
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    base = []
    for _ in range(5):
        x = x + 0.6 * rng.normal(size=x.shape)
        base.append(x.astype(np.float32))
    rot = [(c @ np.linalg.qr(rng.normal(size=(5, 5)))[0]).astype(np.float32) for c in base]
    return _store(tmp_path / "a", base, "fa"), _store(tmp_path / "b", rot, "fb")


def test_specificity_on_stores(stores, tmp_path) -> None:  # noqa: ANN001
    a, b = stores
    out = tmp_path / "spec"
    res = runner.invoke(
        app,
        [
            "specificity",
            str(a),
            str(b),
            "-m",
            "linear_cka",
            "-m",
            "H0:sliced_wasserstein",
            "--n-permutations",
            "19",
            "--n-jobs",
            "1",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out / "summary.csv")
    assert list(df["measure"]) == [
        "linear_cka[debiased=False,form=auto]",
        "sliced_wasserstein[H0,M=50]",
    ]
    assert df.loc[0, "accuracy"] == 1.0
    assert (out / "params.json").exists() and (out / "matrices.csv").exists()
    assert (a / "homology").is_dir()  # diagrams cached next to the first store by default


def test_monotonicity_and_sensitivity_on_a_store(stores, tmp_path) -> None:  # noqa: ANN001
    a, _ = stores
    res = runner.invoke(
        app,
        [
            "monotonicity",
            str(a),
            "-m",
            "procrustes",
            "--n-permutations",
            "9",
            "--out",
            str(tmp_path / "mono"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "mono" / "summary.csv")["spearman_depth_gap"].iloc[0] > 0.5
    res = runner.invoke(
        app,
        [
            "sensitivity",
            str(a),
            "-m",
            "linear_cka",
            "-l",
            "l2",
            "--fractions",
            "0.2,0.6",
            "--out",
            str(tmp_path / "sens"),
        ],
    )
    assert res.exit_code == 0, res.output
    curves = pd.read_csv(tmp_path / "sens" / "curves.csv")
    assert sorted(curves["n_removed"]) == [0, 1, 3]


def test_bad_input_gives_one_line_errors(stores) -> None:  # noqa: ANN001
    a, _ = stores
    res = runner.invoke(app, ["specificity", str(a), "-m", "linear_cka"])
    assert res.exit_code == 2 and "at least 2 models" in res.output
    res = runner.invoke(app, ["specificity", "-m", "linear_cka"])
    assert res.exit_code == 2 and "--zoo" in res.output
    res = runner.invoke(app, ["monotonicity", str(a), "-m", "linear_cak"])
    assert res.exit_code == 2 and "linear_cka" in res.output
    res = runner.invoke(app, ["sensitivity", str(a), "-m", "linear_cka", "--fractions", "0.5,x"])
    assert res.exit_code != 0
