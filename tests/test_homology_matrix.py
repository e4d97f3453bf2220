"""All-pairs matrices, parallel layers, the diagram cache and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import persim
import pytest
from typer.testing import CliRunner

import tda_activations.homology.matrix as matrix_mod
from tda_activations.datasets import flat_hierarchy
from tda_activations.homology import (
    bottleneck_distance,
    cached_persistence,
    cross_distance_matrix,
    distance_matrix,
    layer_persistence,
    load_diagrams,
    model_distance_matrix,
    save_diagrams,
    stack_models,
    wasserstein_distance,
)
from tda_activations.types import ActivationSet


def _acts(seed=0, n_layers=4, n=70):
    rng = np.random.default_rng(seed)
    clouds = {}
    for i in range(n_layers):
        z = rng.normal(size=(n, 3)) @ rng.normal(size=(3, 8 + i))
        clouds[f"block{i}.conv"] = np.maximum(z, 0).astype(np.float32)
    return ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(n) for k in clouds},
        labels=rng.integers(0, 3, n),
        hierarchy=flat_hierarchy(["a", "b", "c"]),
        reduction="top_l2",
        model_fingerprint=f"m{seed}",
        data_fingerprint="d",
    )


@pytest.fixture(scope="module")
def layers_a():
    return layer_persistence(_acts(0), n_jobs=1)


@pytest.fixture(scope="module")
def layers_b():
    return layer_persistence(_acts(1), n_jobs=1)


# ------------------------------------------------------------------ matrices


def test_distance_matrix_matches_pairwise_functions(layers_a):
    mat = distance_matrix(layers_a, metric="sliced_wasserstein", dim=1)
    assert mat.kind == "distance" and mat.measure == "sliced_wasserstein[H1,M=50]"
    assert mat.row_labels == tuple(layers_a) == mat.col_labels
    names = list(layers_a)
    for i, a in enumerate(names):
        assert mat.values[i, i] == 0.0
        for j, b in enumerate(names):
            ref = persim.sliced_wasserstein(layers_a[a][1], layers_a[b][1], M=50)
            assert abs(mat.values[i, j] - ref) < 1e-9
    df = mat.to_pandas()
    assert isinstance(df, pd.DataFrame) and list(df.index) == names
    bott = distance_matrix(layers_a, metric="bottleneck", dim=0)
    assert bott.value(names[0], names[2]) == bottleneck_distance(
        layers_a[names[0]], layers_a[names[2]], dim=0
    )
    w = distance_matrix(layers_a, metric="wasserstein", order=2, internal_p=math.inf)
    assert w.values[1, 3] == wasserstein_distance(
        layers_a[names[1]], layers_a[names[3]], order=2, internal_p=math.inf
    )
    assert w.params["order"] == 2 and w.params["diagrams"]["coeff"] == 2


def test_cross_and_model_matrices(layers_a, layers_b):
    cross = cross_distance_matrix(layers_a, layers_b, metric="bottleneck")
    assert cross.shape == (4, 4)
    la, lb = list(layers_a), list(layers_b)
    assert cross.values[1, 2] == bottleneck_distance(layers_a[la[1]], layers_b[lb[2]])
    models = {"A": layers_a, "B": layers_b, "C": layers_a}
    mm = model_distance_matrix(models, metric="bottleneck")
    expected = np.mean([bottleneck_distance(layers_a[k], layers_b[k]) for k in la])
    assert mm.value("A", "B") == pytest.approx(expected, rel=1e-15)
    assert mm.value("A", "C") == 0.0 and mm.params["layers"] == tuple(la)
    big = distance_matrix(stack_models(models), metric="bottleneck")
    assert big.shape == (12, 12) and big.row_labels[4] == f"B/{lb[0]}"
    with pytest.raises(ValueError, match="layer"):
        model_distance_matrix(models, layers=["nope"])


def test_parallel_matrix_identical_to_sequential(layers_a, layers_b, monkeypatch):
    monkeypatch.setattr(matrix_mod, "_PARALLEL_MIN_PAIRS", 1)
    coll = stack_models({"A": layers_a, "B": layers_b})
    for metric in ("sliced_wasserstein", "landscape"):
        seq = distance_matrix(coll, metric=metric, n_jobs=1)
        par = distance_matrix(coll, metric=metric, n_jobs=2)
        assert np.array_equal(seq.values, par.values)


def test_matrix_bad_input(layers_a):
    with pytest.raises(ValueError, match="no diagrams"):
        distance_matrix({})
    with pytest.raises(ValueError, match="maxdim"):
        distance_matrix(layers_a, dim=2)
    with pytest.raises(ValueError, match="n_jobs|>= 1"):
        distance_matrix(layers_a, n_jobs=0)
    seq = [np.array([[0.0, 1.0]]), np.zeros((0, 2)), np.array([[0.0, np.inf]])]
    m = distance_matrix(seq, metric="bottleneck")
    assert m.row_labels == ("0", "1", "2") and m.values[0, 2] == math.inf


# ----------------------------------------------------------------------- layers


def test_layer_persistence_parallel_identical_to_sequential(layers_a):
    par = layer_persistence(_acts(0), n_jobs=2)
    assert list(par) == list(layers_a)
    for k in layers_a:
        assert par[k].label == k
        for d in range(2):
            assert np.array_equal(par[k][d], layers_a[k][d])


def test_layer_persistence_options_and_errors():
    acts = _acts(2)
    sub = layer_persistence(acts, layers=["block2.conv", "block0.conv"], maxdim=0, n_jobs=1)
    assert list(sub) == ["block2.conv", "block0.conv"] and sub["block0.conv"].backend == "mst"
    with pytest.raises(ValueError, match="block1.conv"):
        layer_persistence(acts, layers=["block1.cnv"])
    with pytest.raises(TypeError, match="unknown persistence option"):
        layer_persistence(acts, max_dim=1)
    plain = layer_persistence({"x": np.eye(4)}, n_jobs=1)
    assert len(plain["x"].finite(0)) == 3


# ------------------------------------------------------------------------ cache


def test_save_load_round_trip(tmp_path, layers_a):
    dg = next(iter(layers_a.values()))
    path = save_diagrams(tmp_path / "d.npz", dg)
    back = load_diagrams(path)
    assert back.label == dg.label and back.params == dg.params and back.threshold == dg.threshold
    for d in range(2):
        assert np.array_equal(back[d], dg[d])
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="not a diagrams file"):
        load_diagrams(tmp_path / "bad.npz")


def test_cache_reuses_results_and_keys_on_content(tmp_path, monkeypatch):
    import tda_activations.homology.layers as layers_mod

    acts = _acts(3)
    first = layer_persistence(acts, cache_dir=tmp_path, n_jobs=1)
    files = sorted(tmp_path.glob("*.npz"))
    assert len(files) == 4

    def boom(*a, **k):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(layers_mod, "persistence", boom)
    again = layer_persistence(acts, cache_dir=tmp_path, n_jobs=2)
    for k in first:
        assert np.array_equal(again[k][1], first[k][1])
    cloud = acts.cloud("block0.conv")
    assert np.array_equal(
        cached_persistence(cloud, cache_dir=tmp_path, label="block0.conv")[1],
        first["block0.conv"][1],
    )
    monkeypatch.undo()
    layer_persistence(acts, cache_dir=tmp_path, n_jobs=1, coeff=3)  # new parameters: new files
    assert len(list(tmp_path.glob("*.npz"))) == 8
    files[0].write_bytes(b"corrupt")  # an unreadable entry is recomputed and rewritten
    fixed = layer_persistence(acts, cache_dir=tmp_path, n_jobs=1)
    assert all(np.array_equal(fixed[k][1], first[k][1]) for k in first)
    assert not list(tmp_path.glob(".*tmp"))


# -------------------------------------------------------------------------- CLI


def test_cli_diagrams_and_distances(tmp_path, monkeypatch):
    import tda_activations.cli.homology as cli

    stores = {tmp_path / "a": _acts(0), tmp_path / "b": _acts(1)}
    for p in stores:
        p.mkdir()
    monkeypatch.setattr(cli, "_load_activations", lambda store: stores[store])
    runner = CliRunner()
    res = runner.invoke(cli.app, ["diagrams", str(tmp_path / "a"), "--n-jobs", "1"])
    assert res.exit_code == 0, res.output
    assert (
        "block3.conv" in res.output and len(list((tmp_path / "a" / "homology").glob("*.npz"))) == 4
    )
    out = tmp_path / "m.csv"
    res = runner.invoke(
        cli.app, ["distances", str(tmp_path / "a"), "--n-jobs", "1", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out, index_col=0)
    expected = distance_matrix(layer_persistence(_acts(0), n_jobs=1))
    np.testing.assert_allclose(df.values, expected.values, rtol=1e-12)
    res = runner.invoke(
        cli.app,
        [
            "distances",
            str(tmp_path / "a"),
            "--against",
            str(tmp_path / "b"),
            "--metric",
            "wasserstein",
            "--order",
            "2",
            "--internal-p",
            "inf",
            "--n-jobs",
            "1",
        ],
    )
    assert res.exit_code == 0 and "wasserstein[H1,q=2.0,p=inf]" in res.output
    res = runner.invoke(
        cli.app, ["distances", str(tmp_path / "a"), "--metric", "slicedw", "--n-jobs", "1"]
    )
    assert res.exit_code == 2 and "sliced_wasserstein" in res.output


def test_cli_on_a_real_extraction_store(tmp_path):
    import tda_activations.cli.homology as cli
    from tda_activations.extract import load_store, save_store

    store = save_store(_acts(4), tmp_path / "store")
    runner = CliRunner()
    res = runner.invoke(cli.app, ["diagrams", str(store), "--n-jobs", "1", "--maxdim", "1"])
    assert res.exit_code == 0, res.output
    cached = sorted((store / "homology").glob("*.npz"))
    assert len(cached) == 4
    stamps = [p.stat().st_mtime_ns for p in cached]
    res = runner.invoke(
        cli.app, ["distances", str(store), "--n-jobs", "1", "--metric", "bottleneck"]
    )
    assert res.exit_code == 0 and "bottleneck[H1]" in res.output
    assert [p.stat().st_mtime_ns for p in sorted((store / "homology").glob("*.npz"))] == stamps
    acts = load_store(store)  # the cache next to the activations does not disturb the store
    direct = layer_persistence(acts, n_jobs=1)
    again = layer_persistence(acts, n_jobs=1, cache_dir=store / "homology")
    for k in direct:
        assert np.array_equal(direct[k][1], again[k][1])
    res = runner.invoke(cli.app, ["diagrams", str(tmp_path / "nothing"), "--n-jobs", "1"])
    assert res.exit_code == 2 and "no extraction store" in res.output
