"""Regressions for bugs found by outside checks (issue #14): each test failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from scipy.spatial.distance import pdist, squareform

import tda_activations.similarity as sim
from tda_activations.homology import persistence


def _tied_clouds(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer-valued clouds with duplicated rows: many exactly tied distances."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(40, 6)).astype(float)
    y = rng.integers(0, 3, size=(40, 5)).astype(float)
    x[20:] = x[:20]
    return x, y


def _relu_duplicates(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-integer clouds after ReLU with duplicated rows (ties between distances)."""
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.normal(size=(30, 8)) + 0.7, 0.0)
    y = np.maximum(x @ rng.normal(size=(8, 6)), 0.0)
    x = np.concatenate([x, x[:15]])
    y = np.concatenate([y, y[:15]])
    return x, y


# ------------------------------------------------------------------- RSA with ties

_SCIPY = {
    "spearman": lambda a, b: scipy.stats.spearmanr(a, b).statistic,
    "kendall_tau_b": lambda a, b: scipy.stats.kendalltau(a, b, variant="b").statistic,
}


def _ref_rdm(x: np.ndarray, metric: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        d = pdist(x, metric)
    return np.nan_to_num(d, nan=1.0)  # zero-variance patterns: distance 1 (documented)


@pytest.mark.filterwarnings("ignore:.*zero variance:RuntimeWarning")
@pytest.mark.parametrize("make", [_tied_clouds, _relu_duplicates])
@pytest.mark.parametrize("compare", ["spearman", "kendall_tau_b"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rsa_rank_comparisons_equal_scipy_on_exact_distances(make, compare, seed):
    x, y = make(seed)
    for rdm, metric in [
        ("euclidean", "euclidean"),
        ("squared_euclidean", "sqeuclidean"),
        ("correlation", "correlation"),
    ]:
        ours = sim.RSA(rdm=rdm, compare=compare)(x, y)
        ref = _SCIPY[compare](_ref_rdm(x, metric), _ref_rdm(y, metric))
        assert abs(ours - ref) <= 1e-12, (rdm, ours, ref)


@pytest.mark.parametrize(
    "ours_cmp,tb_cmp",
    [("spearman", "spearman"), ("kendall_tau_b", "kendall"), ("kendall_tau_a", "tau-a")],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rsa_on_tied_rdms_equals_rsatoolbox(ours_cmp, tb_cmp, seed):
    # rsatoolbox's RDMs are exact on small integers (its Gram products are exact there),
    # so the comparison must agree to rounding, not only to 1e-6.
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    x, y = _tied_clouds(seed)
    ref = compare(
        calc_rdm(Dataset(x), method="euclidean"),
        calc_rdm(Dataset(y), method="euclidean"),
        method=tb_cmp,
    )
    ours = sim.RSA(rdm="squared_euclidean", compare=ours_cmp)(x, y)
    assert ours == pytest.approx(float(np.asarray(ref).ravel()[0]), abs=1e-12)


def test_rdm_vector_is_scipy_pdist_bit_for_bit():
    x, _ = _relu_duplicates(3)
    assert np.array_equal(sim.rdm_vector(x, rdm="euclidean"), pdist(x))
    assert np.array_equal(sim.rdm_vector(x, rdm="squared_euclidean"), pdist(x, "sqeuclidean"))
    corr = sim.rdm_vector(x, rdm="correlation")
    np.testing.assert_allclose(corr, pdist(x, "correlation"), rtol=0, atol=1e-15)


# ------------------------------------------------------------- float64 persistence


def _gudhi_float64(x: np.ndarray, maxdim: int) -> list[np.ndarray]:
    import gudhi

    dist = squareform(pdist(np.unique(x, axis=0)))
    st = gudhi.RipsComplex(distance_matrix=dist).create_simplex_tree(max_dimension=maxdim + 1)
    st.compute_persistence(homology_coeff_field=2, min_persistence=0)
    out = []
    for d in range(maxdim + 1):
        bars = np.asarray(st.persistence_intervals_in_dimension(d)).reshape(-1, 2)
        bars = bars[bars[:, 1] > bars[:, 0]]
        out.append(bars[np.lexsort((bars[:, 1], bars[:, 0]))])
    return out


@pytest.mark.parametrize("seed", range(4))
def test_float64_persistence_equals_gudhi_on_exact_distances(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(60, 4)).astype(float)
    x[40:] = x[:20]
    ours = persistence(x, maxdim=1, precision="float64", backend="gudhi")
    ref = _gudhi_float64(x, 1)
    for d in range(2):
        assert ours[d].shape == ref[d].shape, (d, len(ours[d]), len(ref[d]))
        np.testing.assert_array_equal(ours[d], ref[d])


@pytest.mark.parametrize("seed", range(3))
def test_float32_persistence_equals_ripser_on_exact_distances(seed):
    import ripser

    rng = np.random.default_rng(seed)
    x = np.maximum(rng.normal(size=(50, 5)), 0.0).round(1)
    x[35:] = x[:15]
    xu = np.unique(x, axis=0)
    ref = ripser.ripser(squareform(pdist(xu)), maxdim=1, distance_matrix=True)["dgms"]
    ours = persistence(x, maxdim=1, backend="ripser")
    for d in range(2):
        r = np.asarray(ref[d])
        r = r[r[:, 1] > r[:, 0]]
        r = r[np.lexsort((r[:, 1], r[:, 0]))]
        assert ours[d].shape == r.shape
        np.testing.assert_array_equal(ours[d], r)


# ------------------------------------------------------------ one rule for layers=


def _acts(n: int = 24, seed: int = 0):
    from tda_activations.types import ActivationSet, ClassHierarchy

    rng = np.random.default_rng(seed)
    clouds = {
        name: rng.normal(size=(n, 3 + i))
        for i, name in enumerate(["conv1", "layer1.0.conv1", "layer1.0.conv2", "fc"])
    }
    return ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(n) for k in clouds},
        labels=np.arange(n) % 3,
        hierarchy=ClassHierarchy(class_names=("a", "b", "c")),
        reduction="top_l2",
        params={"seed": 0, "opts": {"k": [1, 2]}},
    )


def test_resolve_layer_names_rule():
    from tda_activations._select import resolve_layer_names, split_layer_spec

    names = ("conv1", "layer1.0.conv1", "layer1.0.conv2", "fc")
    assert resolve_layer_names(names, None) == names
    assert resolve_layer_names(names, "conv1") == ("conv1",)
    assert resolve_layer_names(names, "layer1.*") == ("layer1.0.conv1", "layer1.0.conv2")
    assert resolve_layer_names(names, ["fc", "*conv1", "conv1"]) == (
        "fc",
        "conv1",
        "layer1.0.conv1",
    )
    assert resolve_layer_names({"b": 1, "a": 2}, None) == ("b", "a")
    with pytest.raises(ValueError, match=r"unknown layer 'conv2': did you mean .*'conv1'"):
        resolve_layer_names(names, "conv2")
    with pytest.raises(ValueError, match="matches no layer"):
        resolve_layer_names(names, "layer9.*")
    with pytest.raises(ValueError, match="empty"):
        resolve_layer_names(names, [])
    with pytest.raises(TypeError, match="strings"):
        resolve_layer_names(names, ["conv1", 3])
    with pytest.raises(TypeError, match="layers must be"):
        resolve_layer_names(names, 3)
    assert split_layer_spec(" conv1, fc ,") == ("conv1", "fc")
    assert split_layer_spec("") is None and split_layer_spec(None) is None
    with pytest.raises(ValueError, match="names no layer"):
        split_layer_spec(" , ")


def test_one_string_selects_one_layer_everywhere():
    from tda_activations.experiments._common import layer_list
    from tda_activations.homology import layer_persistence
    from tda_activations.mapper import layer_mapper

    acts = _acts()
    dg = layer_persistence(acts, layers="conv1", n_jobs=1, maxdim=0)
    assert list(dg) == ["conv1"]
    dg = layer_persistence(dict(acts.clouds), layers="layer1.*", n_jobs=1, maxdim=0)
    assert list(dg) == ["layer1.0.conv1", "layer1.0.conv2"]
    m = sim.similarity_matrix(acts, measure="linear_cka", layers="layer1.*")
    assert m.row_labels == ("layer1.0.conv1", "layer1.0.conv2")
    assert sim.similarity_matrix(acts, measure="linear_cka", layers="fc").row_labels == ("fc",)
    assert layer_list(acts, "fc") == ("fc",)
    res = layer_mapper(acts, layers="conv1", min_samples=2)
    assert tuple(res.graphs) == ("conv1",)
    with pytest.raises(ValueError, match="did you mean 'conv1'"):
        layer_persistence(acts, layers="conv", n_jobs=1, maxdim=0)


def test_model_distance_matrix_layers_follow_the_rule():
    from tda_activations.homology import layer_persistence, model_distance_matrix

    dgms = {m: layer_persistence(_acts(seed=s), n_jobs=1, maxdim=1) for s, m in enumerate("ab")}
    out = model_distance_matrix(dgms, metric="bottleneck", dim=0, layers="layer1.*")
    assert out.params["layers"] == ("layer1.0.conv1", "layer1.0.conv2")
    with pytest.raises(ValueError, match="layer of model 'a'"):
        model_distance_matrix(dgms, metric="bottleneck", dim=0, layers=["conv9"])


def test_invariance_probe_accepts_one_layer_name():
    import torch
    from torch import nn

    from tda_activations.probes.invariance import _resolve_layers

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    images = np.zeros((2, 1, 6, 6), dtype=np.float32)
    assert _resolve_layers(net, images, "0") == ("0",)
    assert _resolve_layers(net, images, None) == ("0", "3")
    with pytest.raises(ValueError, match="unknown layer '9'"):
        _resolve_layers(net, images, ["9"])


# --------------------------------------------- Wasserstein without order/internal_p


def test_wasserstein_matrix_requires_order_and_internal_p():
    from tda_activations.homology import (
        cross_distance_matrix,
        diagram_distance,
        distance_matrix,
        get_diagram_distance,
    )

    dgms = {"a": [[0.0, 1.0]], "b": [[0.0, 2.0]]}
    with pytest.raises(ValueError, match=r"needs order= and internal_p=.*no safe default"):
        distance_matrix(dgms, metric="wasserstein", dim=1)
    with pytest.raises(ValueError, match=r"needs internal_p=:"):
        cross_distance_matrix(dgms, dgms, metric="wasserstein", order=1)
    with pytest.raises(ValueError, match=r"needs order=:"):
        get_diagram_distance("wasserstein", internal_p=2)
    with pytest.raises(ValueError, match="wasserstein"):
        diagram_distance([[0.0, 1.0]], [[0.0, 2.0]], metric="wasserstein")
    m = distance_matrix(dgms, metric="wasserstein", order=1, internal_p=np.inf)
    assert m.value("a", "b") == 1.0 and m.measure == "wasserstein[H1,q=1.0,p=inf]"


def test_wasserstein_cli_and_batch_config_name_what_is_missing(tmp_path):
    from typer.testing import CliRunner

    import tda_activations.cli.homology as cli
    from tda_activations.batch.config import ConfigError, config_from_dict
    from tda_activations.experiments.measures import all_measures
    from tda_activations.extract import save_store

    save_store(_acts(), tmp_path / "a")
    res = CliRunner().invoke(
        cli.app,
        [
            "distances",
            str(tmp_path / "a"),
            "--metric",
            "wasserstein",
            "--n-jobs",
            "1",
            "--maxdim",
            "0",
            "--dim",
            "0",
        ],
    )
    assert res.exit_code == 2 and "needs order= and internal_p=" in res.output
    assert "Traceback" not in res.output
    with pytest.raises(ConfigError, match="order"):
        config_from_dict({"distances": {"metrics": [{"name": "wasserstein"}]}})
    names = {m.name for m in all_measures(homology_dims=(1,), similarity_measures=())}
    assert "wasserstein[H1,q=1.0,p=2.0]" in names


# ------------------------------------------------------------------ deep immutability


def test_activation_set_mappings_are_frozen():
    acts = _acts()
    with pytest.raises(TypeError, match="immutable"):
        acts.clouds["x"] = np.zeros((24, 2))  # type: ignore[index]
    with pytest.raises(TypeError, match="immutable"):
        acts.sample_index["fc"] = np.arange(24)  # type: ignore[index]
    with pytest.raises(TypeError, match="immutable"):
        acts.params["seed"] = 1  # type: ignore[index]
    with pytest.raises(TypeError, match="immutable"):
        acts.params["opts"]["k"] = 3  # nested params are frozen too
    assert acts.params["opts"]["k"] == (1, 2)  # lists become tuples
    assert acts.layers == ("conv1", "layer1.0.conv1", "layer1.0.conv2", "fc")
    assert acts.point_labels("fc").shape == (24,)


def test_a_read_only_view_of_a_writable_array_is_copied():
    from tda_activations.types import ActivationSet, ClassHierarchy

    base = np.arange(12.0).reshape(6, 2)
    view = base.view()
    view.setflags(write=False)
    idx = np.arange(6)
    acts = ActivationSet(
        clouds={"a": view},
        sample_index={"a": idx},
        labels=np.zeros(6, int),
        hierarchy=ClassHierarchy(class_names=("x",)),
        reduction="flatten",
    )
    base[0, 0] = 99.0
    idx[0] = 5
    assert acts.cloud("a")[0, 0] == 0.0 and acts.sample_index["a"][0] == 0
    assert not np.shares_memory(acts.cloud("a"), base)
    with pytest.raises(ValueError):
        acts.cloud("a")[0, 0] = 1.0
    # an array that owns its data and is read-only is kept as is (no copy)
    owned = np.arange(12.0).reshape(6, 2).copy()
    owned.setflags(write=False)
    kept = ActivationSet(
        clouds={"a": owned},
        sample_index={"a": np.arange(6)},
        labels=np.zeros(6, int),
        hierarchy=ClassHierarchy(class_names=("x",)),
        reduction="flatten",
    )
    assert kept.cloud("a") is owned


def test_class_hierarchy_is_hashable_and_frozen():
    from tda_activations.types import ClassHierarchy

    a = ClassHierarchy(
        class_names=["a", "b", "c"],
        parents={"coarse": [0, 0, 1]},
        level_names={"coarse": ["x", "y"]},
    )
    b = ClassHierarchy(
        class_names=("a", "b", "c"),
        parents={"coarse": (0, 0, 1)},
        level_names={"coarse": ("x", "y")},
    )
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    with pytest.raises(TypeError, match="immutable"):
        a.parents["coarse"] = (1, 1, 1)  # type: ignore[index]
    assert a.names("coarse") == ("x", "y") and a.class_names == ("a", "b", "c")


def test_containers_pickle_and_replace_deeply_frozen():
    import dataclasses
    import json
    import pickle

    from tda_activations._frozen import FrozenMap
    from tda_activations._hashing import stable_json
    from tda_activations.types import Diagrams, LayerMatrix, MapperGraph, MapperNode

    acts = _acts()
    back = pickle.loads(pickle.dumps(acts))
    assert isinstance(back.clouds, FrozenMap) and back.layers == acts.layers
    assert back.params == acts.params and back.hierarchy == acts.hierarchy
    assert np.array_equal(back.cloud("fc"), acts.cloud("fc"))
    with pytest.raises(TypeError):
        back.params["seed"] = 2  # type: ignore[index]
    sel = acts.select(["fc", "conv1"])
    assert sel.layers == ("fc", "conv1") and sel.cloud("fc") is acts.cloud("fc")
    rep = dataclasses.replace(acts, params={"seed": 1})
    assert isinstance(rep.params, FrozenMap) and rep.params == {"seed": 1}
    assert json.loads(json.dumps(acts.params)) == {"seed": 0, "opts": {"k": [1, 2]}}
    assert json.loads(stable_json(acts.params)) == {"opts": {"k": [1, 2]}, "seed": 0}
    dg = Diagrams(dgms=([[0.0, 1.0]],), maxdim=0, params={"sub": {"r": [1.0]}})
    lm = LayerMatrix(
        values=np.eye(2),
        row_labels=("a", "b"),
        col_labels=("a", "b"),
        measure="m",
        kind="distance",
        params={"layers": ["a", "b"]},
    )
    mg = MapperGraph(
        nodes=(MapperNode(id="n", members=[0], interval=0, lens_mean=0.0),),
        edges=(),
        lens=np.zeros(1),
        params={"eps": [0.5]},
    )
    for obj in (dg, lm, mg):
        assert isinstance(obj.params, FrozenMap)
        with pytest.raises(TypeError, match="immutable"):
            obj.params["x"] = 1  # type: ignore[index]
        again = pickle.loads(pickle.dumps(obj))
        assert again.params == obj.params
    assert hash(dg.params) == hash(pickle.loads(pickle.dumps(dg)).params)


# ------------------------------------------------------- Mapper layout across processes

_LAYOUT_SCRIPT = """
import hashlib, sys
import numpy as np
from tda_activations.mapper import to_html
from tda_activations.mapper.export import graph_layout
from tda_activations.types import MapperGraph, MapperNode
ids = [f"cube{i}_cluster{j}" for i in range(8) for j in range(2)]
nodes = tuple(MapperNode(id=s, members=[k], interval=k // 2, lens_mean=float(k))
              for k, s in enumerate(ids))
edges = [(ids[k], ids[k + 1]) for k in range(9)]
edges += [(ids[10], ids[11]), (ids[11], ids[12]), (ids[12], ids[10]), (ids[13], ids[14])]
g = MapperGraph(nodes=nodes, edges=tuple(edges), lens=np.arange(16.0))
page = to_html(g, sys.argv[1]).read_bytes()
print(hashlib.sha256(graph_layout(g, seed=0).tobytes()).hexdigest(), hashlib.sha256(page).hexdigest())
"""


def test_mapper_layout_and_html_are_identical_across_hash_seeds(tmp_path):
    # A component smaller than half the graph: networkx's subgraph view then iterates a set.
    import os
    import subprocess
    import sys
    from pathlib import Path

    import tda_activations

    root = str(Path(tda_activations.__file__).resolve().parent.parent)
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        res = subprocess.run(
            [sys.executable, "-c", _LAYOUT_SCRIPT, str(tmp_path / f"{seed}.html")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        outs.append(res.stdout.strip())
    assert outs[0] == outs[1], outs


# --------------------------------------------------------- n_used of a subsampled cloud


def test_n_used_is_the_size_given_to_the_engine():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(90, 3))
    x = np.concatenate([x, x[:10]])
    sub = persistence(x, maxdim=1, max_points=25)
    assert sub.params["n_used"] == 25 and sub.params["n_distinct"] == 90
    assert sub.n_points == 100 and sub.params["subsample"]["n_total"] == 90
    full = persistence(x, maxdim=0)
    assert full.params["n_used"] == full.params["n_distinct"] == 90


def test_knn_indices_break_exact_ties_by_the_lower_index():
    from tda_activations.similarity.neighbors import knn_indices

    x, _ = _relu_duplicates(4)
    x = np.concatenate([x, x[:10], np.zeros((5, x.shape[1]))])
    d = squareform(pdist(x, "sqeuclidean"))
    n, k = x.shape[0], 6
    ref = np.array(
        [sorted((j for j in range(n) if j != i), key=lambda j: (d[i, j], j))[:k] for i in range(n)]
    )
    np.testing.assert_array_equal(knn_indices(x, k=k, block=7), ref)


def test_class_separability_uses_exact_thread_independent_distances():
    # scikit-learn's Gram-identity distances change in the last bits with the BLAS thread
    # count, which broke the batch runner's bit-for-bit resume of the probes' tables.
    from tda_activations.probes.invariance import separability_of_features

    x, _ = _relu_duplicates(5)
    x = np.concatenate([x, x * 3.7 + 1.1])
    y = np.arange(x.shape[0]) % 3
    row = separability_of_features(x, y, layer="l", depth=0)
    d = pdist(x)
    i, j = np.triu_indices(x.shape[0], 1)
    same = y[i] == y[j]
    assert row.mean_intra_distance == float(d[same].mean())
    assert row.mean_inter_distance == float(d[~same].mean())
