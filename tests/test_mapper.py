"""Mapper stage: graphs, knee eps, compositions, hierarchy summaries, exports, bad input.

Cross-checks against code we did not write: kmapper's own ``map``/``project``/
``to_networkx``, SciPy's KD-tree and ``cdist``, NumPy's SVD, pandas' ``crosstab``,
networkx's components; and cases with known answers (a grid of known spacing, a
synthetic two-level hierarchy, hand-built graphs).
"""

from __future__ import annotations

import json
import warnings

import kmapper as km
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from sklearn.cluster import DBSCAN, AgglomerativeClustering
from sklearn.preprocessing import MinMaxScaler

from tda_activations import mapper as M
from tda_activations.datasets import hierarchy_from_dict
from tda_activations.mapper.io import layer_file_stem
from tda_activations.types import ActivationSet, ClassHierarchy, MapperGraph, MapperNode

HIER = ClassHierarchy(
    class_names=("a1", "a2", "b1", "b2"),
    parents={"coarse": (0, 0, 1, 1)},
    level_names={"coarse": ("A", "B")},
)
N_PER = 120


def _labels() -> np.ndarray:
    return np.repeat(np.arange(4), N_PER)


def _deep(rng: np.random.Generator) -> np.ndarray:
    """Four well-separated classes; superclass A near the origin, B far out."""
    centres = np.array([[10.0, 0, 0, 0], [0, 10.0, 0, 0], [0, 0, 30.0, 0], [0, 0, 0, 30.0]])
    return np.vstack([c + rng.normal(size=(N_PER, 4)) for c in centres])


def _middle(rng: np.random.Generator) -> np.ndarray:
    """Superclasses separated, classes within a superclass mixed (same blob)."""
    centres = np.array([[10.0, 0, 0, 0], [10.0, 0, 0, 0], [0, 0, 30.0, 0], [0, 0, 30.0, 0]])
    return np.vstack([c + rng.normal(size=(N_PER, 4)) for c in centres])


def _early(rng: np.random.Generator) -> np.ndarray:
    """Everything mixed."""
    return rng.normal(size=(4 * N_PER, 4)) + 5.0


def _acts(rng: np.random.Generator, predictions: np.ndarray | None = None) -> ActivationSet:
    clouds = {"early": _early(rng), "middle": _middle(rng), "deep": _deep(rng)}
    return ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(4 * N_PER) for k in clouds},
        labels=_labels(),
        hierarchy=HIER,
        reduction="synthetic",
        predictions=predictions,
    )


def _member_sets(graph: MapperGraph) -> set[frozenset[int]]:
    return {frozenset(n.members.tolist()) for n in graph.nodes}


# --------------------------------------------------------------------- the graph


def test_graph_matches_plain_kmapper_with_same_settings():
    rng = np.random.default_rng(0)
    x = _deep(rng)
    g = M.mapper_graph(x, label="deep")
    assert g.params["n_intervals"] == 10 and g.params["overlap"] == 0.5
    assert g.params["min_samples"] == 5 and g.params["eps_method"] == "knee"
    # The peer: kmapper alone, its own l2norm projection and MinMaxScaler, same cover/eps.
    mapper = km.KeplerMapper(verbose=0)
    lens = mapper.project(x, projection="l2norm", scaler=MinMaxScaler())
    np.testing.assert_allclose(g.lens, lens[:, 0], atol=1e-12)
    raw = mapper.map(
        lens,
        x,
        clusterer=DBSCAN(eps=g.params["eps"], min_samples=5),
        cover=km.Cover(n_cubes=10, perc_overlap=0.5),
    )
    theirs = {frozenset(m) for m in raw["nodes"].values()}
    assert _member_sets(g) == theirs
    # Edges: the same pairs of member sets.
    members = {k: frozenset(v) for k, v in raw["nodes"].items()}
    their_edges = {
        frozenset((members[a], members[b])) for a, bs in raw["links"].items() for b in bs
    }
    ours = {n.id: frozenset(n.members.tolist()) for n in g.nodes}
    assert {frozenset((ours[a], ours[b])) for a, b in g.edges} == their_edges
    # Components agree with networkx on kmapper's own graph.
    assert len(M.connected_components(g)) == nx.number_connected_components(km.to_networkx(raw))


@pytest.mark.parametrize("min_intersection", [1, 2, 3])
def test_nerve_edges_are_kmappers_graph_nerve(min_intersection):
    # The peer: kmapper's GraphNerve intersecting every pair of member lists.
    rng = np.random.default_rng(min_intersection)
    members = [
        np.sort(rng.choice(60, size=int(rng.integers(1, 12)), replace=False)) for _ in range(40)
    ]
    links, _ = km.GraphNerve(min_intersection=min_intersection).compute(
        {f"n{i}": m.tolist() for i, m in enumerate(members)}
    )
    theirs = sorted((int(a[1:]), int(b[1:])) for a, bs in links.items() for b in bs)
    ours = M.nerve_edges(members, 60, min_intersection=min_intersection)
    assert ours == theirs and len(ours) > 0
    assert M.nerve_edges([], 5) == []
    with pytest.raises(ValueError, match="min_intersection"):
        M.nerve_edges(members, 60, min_intersection=0)
    with pytest.raises(ValueError, match=r"point indices in \[0, 60\)"):
        M.nerve_edges([[0, 60]], 60)


def test_node_ids_name_the_true_interval_and_are_ordered():
    rng = np.random.default_rng(1)
    x = _deep(rng)  # lens has a gap: middle intervals are empty, kmapper skips them
    g = M.mapper_graph(x)
    lens = g.lens
    cover = km.Cover(n_cubes=10, perc_overlap=0.5)
    cover.fit(np.c_[np.arange(lens.size), lens])
    for node in g.nodes:
        assert node.id.startswith(f"cube{node.interval}_")
        centre = cover.centers_[node.interval]
        v = lens[node.members]
        assert np.all(v >= centre - cover.radius_ - 1e-12)
        assert np.all(v <= centre + cover.radius_ + 1e-12)
        assert node.lens_mean == pytest.approx(v.mean())
    keys = [(n.interval, int(n.id.split("cluster")[1])) for n in g.nodes]
    assert keys == sorted(keys)
    assert max(n.interval for n in g.nodes) == 9  # the real index, not the k-th non-empty cube


def test_custom_clusterer_and_other_lenses():
    rng = np.random.default_rng(2)
    x = _deep(rng)
    g = M.mapper_graph(
        x,
        lens="pca",
        lens_params={"n_components": 2},
        n_intervals=3,
        clusterer=AgglomerativeClustering(n_clusters=2),
    )
    assert g.lens.shape == (x.shape[0], 2)
    assert g.params["clusterer"].startswith("AgglomerativeClustering")
    assert g.params["n_points_covered"] == x.shape[0]  # agglomerative has no noise
    # A plain callable lens
    g2 = M.mapper_graph(x, lens=lambda c: c[:, 0], n_intervals=4)
    assert g2.params["lens"]["name"].startswith("callable:")
    with pytest.raises(ValueError, match="eps applies to the default DBSCAN"):
        M.mapper_graph(x, clusterer=DBSCAN(), eps=1.0)
    with pytest.raises(ValueError, match="did you mean 'l2norm'"):
        M.mapper_graph(x, lens="l2nrom")


def test_lenses_against_peers():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80, 6))
    # PCA: same subspace as NumPy's SVD (up to sign)
    pc = M.pca_lens(n_components=2)(x)
    u, s, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    for j in range(2):
        assert abs(np.corrcoef(pc[:, j], u[:, j] * s[j])[0, 1]) == pytest.approx(1.0, abs=1e-9)
    # k-th neighbour distance: SciPy KD-tree
    kd = M.knn_distance_lens(k=4)(x)
    ref, _ = cKDTree(x).query(x, k=5)
    np.testing.assert_allclose(kd, ref[:, 4], rtol=1e-9)
    # eccentricity: SciPy cdist
    d = cdist(x, x)
    np.testing.assert_allclose(M.eccentricity_lens(p=1)(x), d.mean(axis=1), rtol=1e-9)
    np.testing.assert_allclose(M.eccentricity_lens(p=2)(x), np.sqrt((d**2).mean(axis=1)), rtol=1e-9)
    np.testing.assert_allclose(M.eccentricity_lens(p=np.inf)(x), d.max(axis=1), rtol=1e-9)
    # l2 norm: kmapper's projection
    np.testing.assert_allclose(
        M.l2norm_lens()(x), km.KeplerMapper().project(x, projection="l2norm", scaler=None)[:, 0]
    )


# ------------------------------------------------------------------------ knee


def test_knee_index_on_a_curve_with_a_known_elbow():
    y = np.r_[np.linspace(0, 1, 80), np.linspace(1, 20, 21)[1:]]
    assert M.knee_index(y) == 79
    assert M.knee_index(np.ones(10)) == 0
    with pytest.raises(ValueError, match="sorted"):
        M.knee_index(y[::-1])


def test_knee_eps_on_a_grid_of_known_spacing():
    rng = np.random.default_rng(4)
    h = 0.37
    gx, gy = np.meshgrid(np.arange(30), np.arange(30))
    grid = h * np.c_[gx.ravel(), gy.ravel()]
    outliers = 100 + 50 * rng.random((40, 2))
    cloud = np.vstack([grid, outliers])
    # 896 interior and edge points have their 5th neighbour at sqrt(2) h, the 4 corners
    # at 2 h, the 40 outliers at several units: the knee is the end of the flat part.
    eps = M.knee_eps(cloud, k=5)
    assert eps == pytest.approx(np.sqrt(2) * h, rel=1e-9)
    # Equivariant under scaling and translation.
    assert M.knee_eps(7.5 * cloud + 3.0, k=5) == pytest.approx(7.5 * eps, rel=1e-9)
    # With that eps DBSCAN joins the whole grid and leaves the outliers out.
    g = M.mapper_graph(cloud, lens=lambda c: c[:, 0], n_intervals=1)
    covered = np.unique(np.concatenate([n.members for n in g.nodes]))
    assert set(range(900)) <= set(covered.tolist())


def test_knee_eps_with_exact_duplicates_stays_positive():
    rng = np.random.default_rng(5)
    for dim in (3, 64):  # both neighbour-search paths
        base = rng.normal(size=(30, dim))
        cloud = np.repeat(base, 8, axis=0)  # every point has 7 exact duplicates
        with pytest.warns(M.MapperWarning, match="duplicates"):
            eps = M.knee_eps(cloud, k=5)
        assert 0 < eps < 1e-6


@pytest.mark.parametrize("dim", [8, 40])  # the KD-tree path and the brute-force path
def test_kth_neighbor_distances_against_scipy(dim):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(200, dim))
    x[:10] = x[10:20]  # exact duplicates must count at distance 0
    ref = np.sort(cdist(x, x), axis=1)
    for k in (1, 5):
        np.testing.assert_allclose(M.kth_neighbor_distances(x, k=k), ref[:, k], rtol=1e-9, atol=0)
    tree, _ = cKDTree(x).query(x, k=6)
    np.testing.assert_allclose(M.kth_neighbor_distances(x, k=5), tree[:, 5], rtol=1e-9)


# -------------------------------------------------------------- compositions


def _hand_graph() -> MapperGraph:
    nodes = (
        MapperNode("n0", np.array([0, 1, 2, 3]), 0, 0.1),
        MapperNode("n1", np.array([3, 4, 5]), 1, 0.2),
        MapperNode("n2", np.array([6, 7]), 2, 0.8),
        MapperNode("n3", np.array([8, 9]), 3, 0.9),
    )
    return MapperGraph(nodes=nodes, edges=(("n0", "n1"),), lens=np.linspace(0, 1, 10))


def test_composition_and_purity_by_hand():
    g = _hand_graph()
    #            0  1  2  3  4  5  6  7  8  9
    y = np.array([0, 0, 1, 0, 1, 1, 2, 2, 3, 2])
    pred = np.array([0, 0, 0, 0, 1, 1, 3, 2, 3, 2])
    comps = M.hierarchy_compositions(g, y, HIER, predictions=pred)
    fine, coarse = comps["fine"], comps["coarse"]
    np.testing.assert_array_equal(
        fine.counts, [[3, 1, 0, 0], [1, 2, 0, 0], [0, 0, 2, 0], [0, 0, 1, 1]]
    )
    np.testing.assert_array_equal(coarse.counts, [[4, 0], [3, 0], [0, 2], [0, 2]])
    # sum of majority counts / sum of sizes
    assert fine.weighted_purity() == pytest.approx((3 + 2 + 2 + 1) / 11)
    assert coarse.weighted_purity() == 1.0
    np.testing.assert_allclose(fine.misclassification_rate, [0.25, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(coarse.misclassification_rate, [0.0, 0.0, 0.0, 0.0])
    assert fine.node("n3") == {"b1": 1, "b2": 1}
    # pandas crosstab of (node, label) pairs as the peer
    pairs = [(n.id, HIER.class_names[y[m]]) for n in g.nodes for m in n.members]
    ct = pd.crosstab(pd.Series([p[0] for p in pairs]), pd.Series([p[1] for p in pairs]))
    ct = ct.reindex(index=fine.node_ids, columns=list(HIER.class_names), fill_value=0)
    np.testing.assert_array_equal(fine.counts, ct.to_numpy())

    s = M.hierarchy_summary(g, y, HIER, predictions=pred)
    assert s.n_components == 3
    assert s.n_nodes == 4 and s.n_edges == 1
    assert s.weighted_purity["fine"] == pytest.approx(8 / 11)
    # components: {0..5}: a1 a1 a2 a1 a2 a2 -> A only; {6,7}: b1 b1; {8,9}: b2 b1
    # b1 has 3 points: 2 in a pure-b1 component, 1 in a 50% one -> 2/3 < 0.9: not separated
    assert s.separated["fine"] == ()
    assert s.separated["coarse"] == ("A", "B")
    assert s.coverage == 1.0
    # errors counted once per node membership: (1 + 0 + 1 + 0) / 11
    assert s.misclassification_rate == pytest.approx(2 / 11)


def test_two_level_hierarchy_components_and_purities():
    rng = np.random.default_rng(7)
    res = M.layer_mapper(_acts(rng))
    deep, middle, early = (res.summaries[k] for k in ("deep", "middle", "early"))
    # deep: four classes, each in components of its own
    assert deep.weighted_purity == {"fine": 1.0, "coarse": 1.0}
    assert deep.n_components >= 4
    assert deep.separated == {"fine": ("a1", "a2", "b1", "b2"), "coarse": ("A", "B")}
    # middle: two components (one per superclass), classes mixed inside
    assert middle.n_components == 2
    assert middle.weighted_purity["coarse"] == 1.0
    assert 0.5 <= middle.weighted_purity["fine"] < 0.75
    assert middle.separated == {"fine": (), "coarse": ("A", "B")}
    # the class graph recovers the hierarchy exactly at the middle layer
    assert middle.cophenetic_correlation == pytest.approx(1.0, abs=1e-3)
    assert middle.adjusted_rand["coarse"] == pytest.approx(1.0)
    # deep: classes share no node, so the cut is arbitrary -> NaN, not a made-up number
    assert np.isnan(deep.adjusted_rand["coarse"])
    # early: everything mixed
    assert early.n_components <= 2
    assert early.weighted_purity["fine"] < 0.5 and early.weighted_purity["coarse"] < 0.75
    assert early.separated == {"fine": (), "coarse": ()}
    # The trend table: one row per layer, purity rising with depth at both levels.
    table = res.to_pandas()
    assert list(table.index) == ["early", "middle", "deep"]
    assert list(table["depth"]) == [0, 1, 2]
    for level in ("fine", "coarse"):
        assert table[f"purity_{level}"].is_monotonic_increasing
    trend = res.trend()
    assert trend.loc["purity_fine", "spearman_rho"] == pytest.approx(1.0)


def test_class_graph_histogram_intersection():
    g = _hand_graph()
    y = np.array([0, 0, 1, 0, 1, 1, 2, 2, 3, 2])
    cg = M.class_graph(M.class_composition(g, y, group_names=HIER.class_names))
    # a1: n0 3/4, n1 1/4; a2: n0 1/3, n1 2/3 -> min: 1/3 + 1/4
    assert cg.similarity[0, 1] == pytest.approx(1 / 3 + 1 / 4)
    assert cg.similarity[0, 2] == 0.0
    assert cg.shared_nodes[0, 1] == 2 and cg.shared_nodes[2, 3] == 1
    np.testing.assert_allclose(np.diag(cg.similarity), 1.0)
    ng = cg.to_networkx()
    assert set(ng.edges) == {("a1", "a2"), ("b1", "b2")}


# -------------------------------------------------------------------- exports


def test_json_round_trip_and_networkx():
    rng = np.random.default_rng(8)
    x = _deep(rng)
    g = M.mapper_graph(x, label="deep")
    comps = M.hierarchy_compositions(g, _labels(), HIER)
    text = M.to_json(g, compositions=comps)
    json.loads(text)  # strict JSON (no NaN tokens)
    back = M.from_json(text)
    assert back.label == g.label and back.edges == g.edges
    assert [n.id for n in back.nodes] == [n.id for n in g.nodes]
    for a, b in zip(back.nodes, g.nodes):
        np.testing.assert_array_equal(a.members, b.members)
        assert a.interval == b.interval and a.lens_mean == b.lens_mean
    np.testing.assert_array_equal(back.lens, g.lens)
    assert back.params == g.params  # frozen on both sides: lists come back as tuples
    comps2 = M.compositions_from_json(text)
    np.testing.assert_array_equal(comps2["coarse"].counts, comps["coarse"].counts)

    ng = M.to_networkx(g, compositions=comps)
    assert ng.number_of_nodes() == len(g.nodes) and ng.number_of_edges() == len(g.edges)
    first = g.nodes[0]
    assert ng.nodes[first.id]["members"] == first.members.tolist()
    assert ng.nodes[first.id]["purity_coarse"] == 1.0
    assert sum(ng.nodes[first.id]["composition_fine"].values()) == first.size


def test_save_and_load_graph(tmp_path):
    g = _hand_graph()
    path = M.save_graph(g, tmp_path / "g.json")
    assert M.load_graph(path).edges == g.edges
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves nothing behind
    with pytest.raises(ValueError, match="not a Mapper graph"):
        M.from_json('{"format": "something else"}')


def test_pie_chart_data():
    rng = np.random.default_rng(9)
    g = M.mapper_graph(_middle(rng))
    comp = M.class_composition(g, _labels(), group_names=HIER.class_names)
    pie = M.pie_chart_data(g, comp, seed=3)
    assert pie.positions.shape == (len(g.nodes), 2)
    assert np.all(np.abs(pie.positions) <= 1.0)
    np.testing.assert_allclose(pie.fractions.sum(axis=1), 1.0)
    assert len(pie.colors) == 4 and pie.edges.shape == (len(g.edges), 2)
    again = M.pie_chart_data(g, comp, seed=3)
    np.testing.assert_array_equal(pie.positions, again.positions)
    other = M.class_composition(M.mapper_graph(_deep(rng)), _labels())
    with pytest.raises(ValueError, match="does not belong to this graph"):
        M.pie_chart_data(g, other)


# ------------------------------------------------------------------ bad input


def test_nan_lens_warns_and_leaves_points_out():
    rng = np.random.default_rng(10)
    x = _deep(rng)

    def lens(c):
        v = np.linalg.norm(c, axis=1)
        v[:7] = np.nan
        return v

    with pytest.warns(M.MapperWarning, match="NaN or inf for 7 of 480"):
        g = M.mapper_graph(x, lens=lens)
    assert g.params["n_points_omitted"] == 7
    covered = np.concatenate([n.members for n in g.nodes])
    assert not np.isin(np.arange(7), covered).any()
    assert len(g.nodes) > 0


def test_nan_in_cloud_is_an_error():
    x = np.ones((20, 3))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf in 1 of 20 points \(rows \[4\]\)"):
        M.mapper_graph(x)


def test_all_noise_layer_gives_an_empty_graph_and_valid_summary(tmp_path):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(200, 5))
    with pytest.warns(M.MapperWarning, match="every point is noise"):
        g = M.mapper_graph(x, eps=1e-6)
    assert g.nodes == () and g.edges == ()
    s = M.hierarchy_summary(g, np.arange(200) % 4, HIER)
    assert s.n_nodes == 0 and s.n_components == 0 and s.coverage == 0.0
    assert np.isnan(s.weighted_purity["fine"]) and s.separated["fine"] == ()
    M.to_html(
        g,
        tmp_path / "empty.html",
        compositions=M.hierarchy_compositions(g, np.arange(200) % 4, HIER),
    )
    assert M.from_json(M.to_json(g)).nodes == ()


def test_single_point_gives_an_empty_graph():
    with pytest.warns(M.MapperWarning, match="too few for DBSCAN"):
        g = M.mapper_graph(np.array([[1.0, 2.0]]))
    assert g.nodes == () and g.n_points == 1
    # a custom clusterer on one point: kmapper skips the cube, the graph is empty too
    with pytest.warns(M.MapperWarning) as record:
        g2 = M.mapper_graph(np.array([[1.0, 2.0]]), clusterer=AgglomerativeClustering(2))
    assert g2.nodes == ()
    messages = [str(w.message) for w in record]
    assert any("constant" in m for m in messages) and any("empty" in m for m in messages)


def test_constant_lens_uses_one_interval():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(60, 3))
    with pytest.warns(M.MapperWarning, match="constant"):
        g = M.mapper_graph(x, lens=lambda c: np.ones(len(c)), clusterer=AgglomerativeClustering(2))
    assert len(g.nodes) == 2 and g.params["n_intervals_used"] == (1,)


def test_failing_clusterer_is_named():
    class Broken(AgglomerativeClustering):
        def fit_predict(self, X, y=None):
            raise RuntimeError("nope")

    with pytest.raises(ValueError, match="failed on a cover interval"):
        M.mapper_graph(np.random.default_rng(0).normal(size=(50, 2)), clusterer=Broken(2))


def test_labels_unknown_to_the_hierarchy():
    rng = np.random.default_rng(13)
    g = M.mapper_graph(_deep(rng))
    y = _labels().copy()
    y[:3] = 7
    with pytest.raises(ValueError, match=r"the hierarchy does not know: \[7\] \(3 points\)"):
        M.hierarchy_summary(g, y, HIER)
    # a hierarchy file that misses a class: three classes named, four used
    small = hierarchy_from_dict(
        {
            "classes": ["a1", "a2", "b1"],
            "levels": {
                "coarse": {"names": ["A", "B"], "members": {"A": ["a1", "a2"], "B": ["b1"]}}
            },
        }
    )
    with pytest.raises(ValueError, match=r"does not know: \[3\]"):
        M.layer_mapper(_acts(rng), hierarchy=small)  # fails before any graph is built


def test_bad_parameters():
    x = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match="overlap"):
        M.mapper_graph(x, overlap=1.0)
    with pytest.raises(ValueError, match="n_intervals"):
        M.mapper_graph(x, n_intervals=0)
    with pytest.raises(ValueError, match="2-D"):
        M.mapper_graph(np.ones(5))
    with pytest.raises(ValueError, match="no points"):
        M.mapper_graph(np.ones((0, 3)))
    with pytest.raises(ValueError, match="one value"):
        M.mapper_graph(x, lens=lambda c: np.ones((3,)))
    with pytest.raises(ValueError, match="unknown layer"):
        M.layer_mapper(_acts(np.random.default_rng(0)), layers=["deeep"])


def test_layer_mapper_with_predictions():
    rng = np.random.default_rng(14)
    y = _labels()
    pred = y.copy()
    pred[::10] = (pred[::10] + 1) % 4  # 10% wrong
    res = M.layer_mapper(_acts(rng, predictions=pred), layers=["deep"])
    s = res.summaries["deep"]
    assert 0.05 < s.misclassification_rate < 0.15
    comp = res.compositions["deep"]["fine"]
    assert np.all(np.isfinite(comp.misclassification_rate))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert res.to_pandas().loc["deep", "misclassification_rate"] == s.misclassification_rate


def test_save_layer_mapper_writes_every_output(tmp_path):
    rng = np.random.default_rng(15)
    res = M.layer_mapper(_acts(rng), layers=["middle", "deep"], n_intervals=6)
    out = M.save_layer_mapper(res, tmp_path / "mapper")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["layer"] for e in manifest["layers"]] == ["middle", "deep"]
    table = pd.read_csv(out / "trend.csv", index_col="layer")
    assert list(table.index) == ["middle", "deep"]
    np.testing.assert_allclose(table["purity_coarse"], res.to_pandas()["purity_coarse"])
    for entry in manifest["layers"]:
        g = M.load_graph(out / entry["json"])
        assert len(g.nodes) == len(res.graphs[entry["layer"]].nodes)
        assert (out / entry["html"]).read_text().startswith("<!DOCTYPE html>")
    assert 'href="html/deep.html"' in (out / "index.html").read_text()
    assert layer_file_stem("layer1.0.conv1:1") == "layer1.0.conv1_1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("slack", [0, 8])
def test_brute_force_kth_distances_are_exact_at_ties_and_under_cancellation(monkeypatch, slack):
    # The certified search must fall back to every point where the product's rounding
    # cannot separate candidates from the rest: equidistant points (the origin and the
    # +-e_i of 40 dimensions: every distance from the origin is exactly 1), and a cloud
    # far from the origin, where |a|^2 + |b|^2 - 2 a.b cancels catastrophically.
    from tda_activations.mapper import lenses

    monkeypatch.setattr(lenses, "_SLACK", slack)
    eye = np.eye(40)
    ties = np.vstack([np.zeros(40), eye, -eye, 3 * eye[:5]])
    rng = np.random.default_rng(3)
    far = 1e7 + rng.normal(size=(150, 40))
    far[:4] = far[4:8]  # duplicates too
    for x in (ties, far):
        ref = np.sort(cdist(x, x), axis=1)
        for k in (1, 5, 12):
            got = M.kth_neighbor_distances(x, k=k)
            np.testing.assert_allclose(got, ref[:, k], rtol=1e-12, atol=0)
    assert M.kth_neighbor_distances(ties, k=5)[0] == 1.0


# ------------------------------------------------------------------ sampled knee


@pytest.mark.parametrize("dim", [8, 40])  # the KD-tree path and the brute-force path
def test_kth_neighbor_distances_of_some_rows_are_the_full_calls_bits(dim):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(300, dim)).astype(np.float32)
    x[:10] = x[10:20]
    full = M.kth_neighbor_distances(x, k=5)
    rows = np.array([299, 0, 15, 15, 7])
    assert np.array_equal(M.kth_neighbor_distances(x, k=5, rows=rows), full[rows])
    for bad in (np.array([300]), np.array([-1]), np.array([[1]]), np.array([0.5])):
        with pytest.raises(ValueError, match="rows"):
            M.kth_neighbor_distances(x, k=5, rows=bad)


def test_knee_eps_on_a_sample():
    rng = np.random.default_rng(12)
    x = np.vstack([rng.normal(size=(1500, 20)), 8 + 5 * rng.random((60, 20))])
    exact = M.knee_eps(x, k=5)
    assert M.knee_eps(x, k=5, sample=x.shape[0]) == exact  # a sample of everything: exact
    approx = M.knee_eps(x, k=5, sample=400, seed=1)
    assert approx == M.knee_eps(x, k=5, sample=400, seed=1)
    # the sampled curve's values are the full curve's: eps is one of the exact k-distances
    assert approx in set(M.kth_neighbor_distances(x, k=5).tolist())
    assert abs(approx - exact) / exact < 0.1
    for bad in (2, 0, 2.5, True):
        with pytest.raises(ValueError, match="sample"):
            M.knee_eps(x, sample=bad)


def test_mapper_graph_knee_sample():
    rng = np.random.default_rng(13)
    x = np.abs(rng.normal(size=(500, 24)))
    exact = M.mapper_graph(x)
    same = M.mapper_graph(x, knee_sample=500)  # not smaller than the cloud: the exact knee
    assert exact.params["knee_sample"] is None and same.params["knee_sample"] is None
    assert same.params["eps"] == exact.params["eps"]
    assert [n.id for n in same.nodes] == [n.id for n in exact.nodes]
    assert all(np.array_equal(a.members, b.members) for a, b in zip(same.nodes, exact.nodes))
    g = M.mapper_graph(x, knee_sample=200)
    assert g.params["knee_sample"] == 200 and g.params["eps"] == M.knee_eps(x, sample=200)
    with pytest.raises(ValueError, match="knee_sample"):
        M.mapper_graph(x, knee_sample=1)
    with pytest.raises(ValueError, match="knee_sample"):
        M.mapper_graph(x, eps=0.5, knee_sample=100)
    with pytest.raises(ValueError, match="knee_sample"):
        M.mapper_graph(x, clusterer=DBSCAN(), knee_sample=100)


def test_knee_kdtree_uses_only_the_threads_blas_may_use(monkeypatch):
    # a batch worker pins numerical libraries to one thread per task; the KD-tree
    # queries of the knee must not oversubscribe the cores behind that limit
    from scipy.spatial import cKDTree as real

    from tda_activations._distances import single_thread
    from tda_activations.mapper import lenses

    seen = []

    class Spy(real):
        def query(self, *args, **kwargs):
            seen.append(kwargs.get("workers"))
            return super().query(*args, **kwargs)

    monkeypatch.setattr("scipy.spatial.cKDTree", Spy)
    x = np.random.default_rng(0).normal(size=(50, 3))
    with single_thread():
        lenses.kth_neighbor_distances(x, k=2)
    assert seen == [1]
