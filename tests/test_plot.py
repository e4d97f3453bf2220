"""Tests of tda_activations.plot: smoke tests for every figure, image comparison, style, save.

Image baselines live in ``tests/baseline_images/plot/``.  Regenerate them (after a
deliberate change of a figure; look at the new PNGs before committing them) with::

    .venv/bin/python -m tests.test_plot --regenerate
    # or: TDA_REGENERATE_BASELINES=1 .venv/bin/python -m pytest tests/test_plot.py -k image

Every image test draws fixed, hand-made data (no other stage's numerics) inside
``paper_style(dpi=100)``, which pins the font (DejaVu Sans, shipped with matplotlib),
hinting, the SVG hash salt and the DPI, so the PNGs are stable across machines.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.testing.compare import compare_images

from tda_activations import plot as tp
from tda_activations.types import ClassHierarchy, Diagrams, LayerMatrix

BASELINES = Path(__file__).resolve().parent / "baseline_images" / "plot"
IMAGE_TOL = 3.0  # RMS difference on 0-255, as matplotlib's own tests use
REGENERATE = os.environ.get("TDA_REGENERATE_BASELINES", "") not in ("", "0")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------- fixed data


def fixed_diagrams(label: str = "layer") -> Diagrams:
    h0 = [[0.0, 0.2], [0.0, 0.35], [0.0, 0.5], [0.0, 0.8], [0.0, np.inf]]
    h1 = [[0.4, 0.6], [0.5, 1.4], [0.7, 0.9], [1.0, np.inf]]
    return Diagrams(dgms=(np.array(h0), np.array(h1)), maxdim=1, label=label, backend="test")


def fixed_layer_diagrams(n: int = 6) -> dict[str, Diagrams]:
    out = {}
    for i in range(n):
        s = 1.0 + 0.3 * i
        h0 = [[0.0, 0.2 * s], [0.0, 0.4 * s], [0.0, np.inf]]
        h1 = [[0.3 * s, 0.5 * s + 0.1 * i], [0.6 * s, 1.0 * s], [0.2, 0.25 + 0.05 * i]]
        out[f"layer{i // 3 + 1}.{i % 3}.conv"] = Diagrams(
            dgms=(np.array(h0), np.array(h1)), maxdim=1, label=f"l{i}"
        )
    return out


def fixed_matrix(kind: str = "distance", n: int = 8) -> LayerMatrix:
    i = np.arange(n)
    vals = np.abs(i[:, None] - i[None, :]) / (n - 1) + 0.05 * np.sin(i[:, None] * i[None, :])
    vals = (vals + vals.T) / 2
    np.fill_diagonal(vals, 0.0)
    if kind == "similarity":
        vals = 1.0 - vals
    labels = ["conv1"] + [f"layer{1 + k // 2}.{k % 2}.conv" for k in range(n - 2)] + ["linear"]
    return LayerMatrix(
        values=vals,
        row_labels=labels,
        col_labels=labels,
        measure="sliced_wasserstein[H1,M=50]" if kind == "distance" else "linear_cka",
        kind=kind,
    )  # type: ignore[arg-type]


def fixed_models_matrix() -> LayerMatrix:
    rng = np.random.default_rng(3)
    pts = {}
    for m, (angle, depth) in {"mlp": (0.0, 4), "lenet": (1.0, 5), "resnet18": (2.2, 7)}.items():
        t = np.linspace(0, 1, depth)
        for k, tt in enumerate(t):
            pts[f"{m}/layer{k}"] = np.array(
                [tt * np.cos(angle * tt), tt * np.sin(angle * tt) + 0.1 * k / depth]
            )
    labels = list(pts)
    x = np.array([pts[l] for l in labels]) + 0.001 * rng.normal(size=(len(labels), 2))
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return LayerMatrix(
        values=d,
        row_labels=labels,
        col_labels=labels,
        measure="sliced_wasserstein[H1,M=50]",
        kind="distance",
    )


def fixed_pie_data():
    from tda_activations.mapper import PieChartData

    pos = [
        [-0.6, -0.5],
        [-0.2, -0.4],
        [0.2, -0.5],
        [0.6, -0.4],
        [-0.4, 0.5],
        [0.0, 0.6],
        [0.5, 0.5],
    ]
    fr = [
        [0.7, 0.3, 0.0],
        [0.5, 0.5, 0.0],
        [0.2, 0.6, 0.2],
        [0.0, 0.1, 0.9],
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
    ]
    return PieChartData(
        node_ids=tuple(f"n{i}" for i in range(7)),
        positions=pos,
        sizes=[40, 10, 25, 60, 5, 15, 30],
        fractions=fr,
        group_names=("a", "b", "c"),
        colors=("#1f77b4", "#ff7f0e", "#2ca02c"),
        edges=[[0, 1], [1, 2], [2, 3], [4, 5]],
        level="fine",
        label="layer3.1.conv2",
    )


def hierarchy() -> ClassHierarchy:
    return ClassHierarchy(
        class_names=("a", "b", "c", "d"),
        parents={"coarse": (0, 0, 1, 1)},
        level_names={"coarse": ("ab", "cd")},
    )


@functools.cache
def mapper_result():
    """A real LayerMapper on two well-separated synthetic layers (fast: 200 points)."""
    from tda_activations.mapper import layer_mapper
    from tda_activations.types import ActivationSet

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    centres = np.array([[0, 0], [0.5, 0], [6, 6], [6.5, 6]], dtype=float)
    early = rng.normal(size=(200, 2)) * 2.0 + np.array([[3, 3]])
    late = centres[labels] + 0.15 * rng.normal(size=(200, 2))
    late = np.c_[late, np.linalg.norm(late, axis=1)]
    early = np.c_[early, np.linalg.norm(early, axis=1)]
    acts = ActivationSet(
        clouds={"early": early, "late": late},
        sample_index={"early": np.arange(200), "late": np.arange(200)},
        labels=labels,
        hierarchy=hierarchy(),
        reduction="test",
    )
    return layer_mapper(acts, lens="pca", min_samples=4)


@functools.cache
def probe_results() -> dict[str, object]:
    from tda_activations.probes.correlation_order import SURROGATES, CorrelationOrderProfile
    from tda_activations.probes.invariance import (
        EquivarianceResult,
        EquivarianceRow,
        InvarianceResult,
        InvarianceRow,
        SeparabilityResult,
        SeparabilityRow,
    )
    from tda_activations.probes.mean_dimension import (
        MeanDimensionProfile,
        ModelMeanDimensions,
        TotalIndices,
    )

    layers = ("input", "conv1", "conv2", "fc")
    mdp = MeanDimensionProfile(
        layers=layers,
        n_units=(256, 512, 256, 10),
        layer_given_input=[1.0, 1.3, 1.6, 1.9],
        layer_given_input_se=[0, 0.1, 0.1, 0.2],
        output_given_layer=[1.9, 1.7, 1.4, 1.0],
        output_given_layer_se=[0.2, 0.1, 0.1, 0],
        n_components=(16, 16, 16, 10),
        explained_variance_ratio=[1, 0.9, 0.9, 1],
        n_rows=100,
        seed=0,
    )
    h, w = 4, 5
    idx = np.arange(2 * h * w, dtype=float).reshape(2, h * w) / 10
    ti = TotalIndices(
        output_names=("0", "1"),
        feature_names=tuple(f"x[0,{i // w},{i % w}]" for i in range(h * w)),
        indices=idx,
        index_se=0.1 * idx,
        variances=np.array([10.0, 20.0]),
        mean_dimensions=idx.sum(1) / [10, 20],
        mean_dimension_se=[0.1, 0.1],
        pooled_mean_dimension=1.5,
        pooled_mean_dimension_se=0.1,
        n_rows=50,
        seed=0,
        features="inputs",
        feature_shape=(1, h, w),
    )
    ti_pca = TotalIndices(
        output_names=("0",),
        feature_names=("pc0", "pc1"),
        indices=[[1.0, 2.0]],
        index_se=[[0.1, 0.1]],
        variances=[3.0],
        mean_dimensions=[1.0],
        mean_dimension_se=[0.05],
        pooled_mean_dimension=1.0,
        pooled_mean_dimension_se=0.05,
        n_rows=50,
        seed=0,
        features="pca",
    )
    mmd = ModelMeanDimensions(models=("mlp", "lenet"), results=(ti, ti))
    cop = CorrelationOrderProfile(
        layers=layers,
        n_units=(256, 512, 256, 10),
        true_accuracy=0.95,
        accuracy=np.array([[0.3, 0.2, 0.1], [0.6, 0.5, 0.2], [0.9, 0.85, 0.3], [0.94, 0.93, 0.5]]),
        chance_accuracy=0.1,
        n_surrogates=500,
        class_shrinkage=np.zeros((4, 3)),
        pooled_shrinkage=np.zeros(4),
        classes=(0, 1, 2),
        seed=0,
    )
    assert len(SURROGATES) == 3
    inv_rows = tuple(
        InvarianceRow(l, k, 0.8 - 0.2 * k, 0.7 - 0.2 * k, 100, 0) for k, l in enumerate(layers[1:])
    )
    inv = InvarianceResult(rows=inv_rows, group=("identity", "hflip"), n_images=20)
    inv2 = InvarianceResult(rows=inv_rows[:2], group=("identity", "hflip"), n_images=20)
    eq = EquivarianceResult(
        rows=tuple(
            EquivarianceRow(l, k, t, "conv", 0.1 * k + (t == "rot90") * 0.2, 0.5, np.nan, 0.8)
            for k, l in enumerate(layers[1:])
            for t in ("hflip", "rot90")
        ),
        accuracy_original=0.95,
        n_train=50,
        n_test=20,
    )
    sep = SeparabilityResult(
        rows=tuple(
            SeparabilityRow(l, k, 1 + k, 2.0, 1.0, 0.5 * k, 100, 8) for k, l in enumerate(layers)
        )
    )
    return {
        "mdp": mdp,
        "ti": ti,
        "ti_pca": ti_pca,
        "mmd": mmd,
        "cop": cop,
        "inv": inv,
        "inv2": inv2,
        "eq": eq,
        "sep": sep,
    }


def architecture_report():
    from torch import nn

    from tda_activations.probes.architecture import architecture_metrics

    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 7 * 7, 10),
    )
    return architecture_metrics(net, input_shape=(1, 16, 16))


def sensitivity_table() -> pd.DataFrame:
    rows = []
    for measure in ("sliced_wasserstein", "linear_cka"):
        for k in (1, 2, 4, 8, 16):
            for seed in range(3):
                rows.append(
                    {
                        "measure": measure,
                        "n_components": k,
                        "seed": seed,
                        "distance": (1.0 / k) * (1 if measure == "linear_cka" else 2) + 0.01 * seed,
                    }
                )
    return pd.DataFrame(rows)


def correspondence_table() -> pd.DataFrame:
    rows = []
    for measure in ("sliced_wasserstein", "linear_cka"):
        for depth in range(6):
            for pair in range(3):
                rows.append(
                    {
                        "measure": measure,
                        "depth": depth,
                        "pair": pair,
                        "accuracy": min(1.0, 0.3 + 0.1 * depth + 0.05 * pair),
                    }
                )
    return pd.DataFrame(rows)


# ------------------------------------------------------- every figure function


def _cases():
    """(name, function, builder of (args, kwargs)) for every figure function."""
    return [
        ("persistence_diagram", tp.persistence_diagram, lambda: ((fixed_diagrams(),), {})),
        (
            "persistence_diagram_array",
            tp.persistence_diagram,
            lambda: ((np.array([[0, 1.0], [0.5, np.inf]]),), {}),
        ),
        ("barcode", tp.barcode, lambda: ((fixed_diagrams(),), {})),
        ("betti_curves", tp.betti_curves, lambda: ((fixed_layer_diagrams(),), {})),
        (
            "betti_curves_many",
            tp.betti_curves,
            lambda: ((fixed_layer_diagrams(12),), {"scale": "relative"}),
        ),
        ("layer_heatmap", tp.layer_heatmap, lambda: ((fixed_matrix(),), {"blocks": "auto"})),
        (
            "layer_heatmap_similarity",
            tp.layer_heatmap,
            lambda: ((fixed_matrix("similarity"),), {"annotate": True}),
        ),
        ("cross_model_heatmap", tp.cross_model_heatmap, lambda: ((fixed_models_matrix(),), {})),
        ("layer_embedding", tp.layer_embedding, lambda: ((fixed_models_matrix(),), {})),
        ("mapper_pie_graph", tp.mapper_pie_graph, lambda: ((fixed_pie_data(),), {})),
        (
            "mapper_pie_graph_layer",
            tp.mapper_pie_graph,
            lambda: ((mapper_result(),), {"layer": "late"}),
        ),
        ("class_dendrogram", tp.class_dendrogram, lambda: ((mapper_result(),), {"layer": "late"})),
        ("hierarchy_trend", tp.hierarchy_trend, lambda: ((mapper_result(),), {})),
        (
            "sensitivity_curve",
            tp.sensitivity_curve,
            lambda: ((sensitivity_table(),), {"logx": True}),
        ),
        ("correspondence_curve", tp.correspondence_curve, lambda: ((correspondence_table(),), {})),
        (
            "mean_dimension_profile",
            tp.mean_dimension_profile,
            lambda: ((probe_results()["mdp"],), {}),
        ),
        (
            "model_mean_dimensions",
            tp.model_mean_dimensions,
            lambda: ((probe_results()["mmd"],), {}),
        ),
        ("index_heatmap", tp.index_heatmap, lambda: ((probe_results()["ti"],), {"output": "1"})),
        (
            "correlation_order_accuracy",
            tp.correlation_order_accuracy,
            lambda: ((probe_results()["cop"],), {}),
        ),
        ("invariance_profile", tp.invariance_profile, lambda: ((probe_results()["inv"],), {})),
        (
            "invariance_profile_models",
            tp.invariance_profile,
            lambda: (({"a": probe_results()["inv"], "b": probe_results()["inv2"]},), {}),
        ),
        ("equivariance_profile", tp.equivariance_profile, lambda: ((probe_results()["eq"],), {})),
        ("separability_profile", tp.separability_profile, lambda: ((probe_results()["sep"],), {})),
        ("architecture_profile", tp.architecture_profile, lambda: ((architecture_report(),), {})),
    ]


CASES = _cases()


def _rc_snapshot() -> dict:
    return copy.deepcopy({k: v for k, v in matplotlib.rcParams.items()})


@pytest.mark.parametrize("name,func,build", CASES, ids=[c[0] for c in CASES])
def test_returns_axes_accepts_ax_and_leaves_rcparams(name, func, build):
    args, kwargs = build()
    before = _rc_snapshot()
    n_figs = len(plt.get_fignums())
    ax = func(*args, **kwargs)
    assert isinstance(ax, Axes)
    assert len(plt.get_fignums()) == n_figs + 1  # exactly one new figure without ax=
    fig, given = plt.subplots(1, 2)
    n_figs = len(plt.get_fignums())
    out = func(*args, ax=given[1], **kwargs)
    assert out is given[1]
    assert len(plt.get_fignums()) == n_figs  # drew into the given axes, no new figure
    assert given[1].has_data() or given[1].texts or given[1].patches
    fig.canvas.draw()  # renders without error
    assert _rc_snapshot() == before
    assert tp.figure_provenance(fig)[0]["function"].startswith("tda_activations.plot.")


def test_no_show_or_savefig(monkeypatch):
    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append("show"))
    monkeypatch.setattr(
        matplotlib.figure.Figure, "savefig", lambda *a, **k: calls.append("savefig")
    )
    for _name, func, build in CASES:
        args, kwargs = build()
        func(*args, **kwargs)
        plt.close("all")
    assert calls == []


def test_plot_result_dispatches_on_type():
    probes = probe_results()
    assert tp.plot_result(fixed_diagrams()).get_xlabel() == "birth"
    assert tp.plot_result(fixed_matrix()).images
    assert tp.plot_result(fixed_layer_diagrams()).get_ylabel().startswith("Betti")
    assert tp.plot_result(probes["cop"]).get_ylabel() == "accuracy"
    assert tp.plot_result(mapper_result()).get_ylabel() == "weighted node purity"
    with pytest.raises(TypeError, match="no default figure"):
        tp.plot_result(object())


# ------------------------------------------------------------ what is drawn


def test_heatmap_draws_the_values_and_names_the_layers():
    m = fixed_matrix()
    ax = tp.layer_heatmap(m, blocks="auto")
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), m.values)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(m.row_labels)
    # separators at the stage boundaries: conv1 | layer1.* | layer2.* | layer3.* | linear
    hlines = sorted(l.get_ydata()[0] for l in ax.lines if l.get_ydata()[0] == l.get_ydata()[1])
    assert hlines == [0.5, 2.5, 4.5, 6.5]
    assert ax.images[0].get_cmap().name.startswith("magma_r")
    ax2 = tp.layer_heatmap(fixed_matrix("similarity"))
    assert ax2.images[0].get_cmap().name.startswith("viridis")
    signed = LayerMatrix(
        values=[[1.0, -0.5], [-0.5, 1.0]],
        row_labels=("a", "b"),
        col_labels=("a", "b"),
        measure="corr",
        kind="similarity",
    )
    im = tp.layer_heatmap(signed).images[0]
    assert im.get_cmap().name.startswith("RdBu_r") and im.get_clim() == (-1.0, 1.0)


def test_heatmap_blocks_from_positions_mapping_and_function():
    m = fixed_matrix(n=4)

    def hlines(ax):
        return sorted(l.get_ydata()[0] for l in ax.lines if l.get_ydata()[0] == l.get_ydata()[1])

    assert hlines(tp.layer_heatmap(m, blocks=[2])) == [1.5]
    assert hlines(
        tp.layer_heatmap(m, blocks={l: str(i > 0) for i, l in enumerate(m.row_labels)})
    ) == [0.5]
    assert hlines(tp.layer_heatmap(m, blocks=lambda l: l[:2])) == [0.5, 2.5]
    with pytest.raises(ValueError, match="boundaries"):
        tp.layer_heatmap(m, blocks=[0])
    with pytest.raises(ValueError, match="blocks="):
        tp.layer_heatmap(m, blocks="stages")


def test_persistence_diagram_points_and_essential_bars():
    dg = fixed_diagrams()
    ax = tp.persistence_diagram(dg)
    offsets = [np.asarray(c.get_offsets()) for c in ax.collections]
    finite = [o for o in offsets if o.size and np.isfinite(o).all()]
    np.testing.assert_allclose(finite[0], dg.finite(0))
    # essential bars: one triangle per essential class, on the infinity line above all deaths
    ess = [
        o
        for o, c in zip(offsets, ax.collections)
        if c.get_paths() and o.shape[0] in (1,) and o[0, 1] > 1.4
    ]
    births = sorted(float(o[0, 0]) for o in ess)
    assert births == sorted([0.0, 1.0])
    assert ax.get_yticklabels()[-1].get_text() == "$\\infty$"
    ax = tp.persistence_diagram(dg, dims=1, essential=False)
    assert len(ax.collections) == 1


def test_barcode_keeps_the_longest_bars():
    rng = np.random.default_rng(0)
    b = rng.uniform(0, 1, 30)
    dgm = np.c_[b, b + rng.uniform(0, 1, 30)]
    ax = tp.barcode([dgm], max_bars=10)
    segs = ax.collections[0].get_segments()
    assert len(segs) == 10
    lengths = sorted(s[1][0] - s[0][0] for s in segs)
    np.testing.assert_allclose(lengths, np.sort(dgm[:, 1] - dgm[:, 0])[-10:])
    assert "20 shorter not shown" in ax.get_legend().get_texts()[0].get_text()


def test_betti_curves_count_alive_bars_by_brute_force():
    layers = fixed_layer_diagrams(3)
    grid = np.linspace(0, 2.5, 101)
    ax = tp.betti_curves(layers, dim=1, grid=grid)
    for line, dg in zip(ax.lines, layers.values()):
        bars = dg[1]
        expected = [sum(1 for b, d in bars if b <= t < d) for t in grid]
        np.testing.assert_array_equal(line.get_ydata(), expected)


def test_embedding_recovers_euclidean_configuration_and_matches_sklearn_stress():
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(1)
    pts = rng.normal(size=(9, 2))
    labels = [f"m{i // 3}/l{i % 3}" for i in range(9)]
    m = LayerMatrix(
        values=squareform(pdist(pts)),
        row_labels=labels,
        col_labels=labels,
        measure="d",
        kind="distance",
    )
    df = tp.embed_layers(m)
    xy = df[["x", "y"]].to_numpy()
    np.testing.assert_allclose(squareform(pdist(xy)), squareform(pdist(pts)), atol=1e-9)
    assert list(df["model"].unique()) == ["m0", "m1", "m2"] and list(df["depth"][:3]) == [0, 1, 2]
    metric = tp.embed_layers(m, method="metric", seed=0)[["x", "y"]].to_numpy()
    np.testing.assert_allclose(squareform(pdist(metric)), squareform(pdist(pts)), atol=1e-2)
    # a similarity is read as a kernel: sqrt(s_ii + s_jj - 2 s_ij); a linear Gram matrix
    # gives back the Euclidean configuration
    ms = LayerMatrix(
        values=pts @ pts.T, row_labels=labels, col_labels=labels, measure="k", kind="similarity"
    )
    d = squareform(pdist(tp.embed_layers(ms)[["x", "y"]].to_numpy()))
    np.testing.assert_allclose(d, squareform(pdist(pts)), atol=1e-9)
    one_minus = tp.embed_layers(
        LayerMatrix(
            values=1 - squareform(pdist(pts)),
            row_labels=labels,
            col_labels=labels,
            measure="s",
            kind="similarity",
        ),
        to_distance="one_minus",
    )
    np.testing.assert_allclose(
        squareform(pdist(one_minus[["x", "y"]].to_numpy())), squareform(pdist(pts)), atol=1e-9
    )
    ax = tp.layer_embedding(m)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "m0",
        "m1",
        "m2",
        "first layer",
        "last layer",
    ]


def test_pie_wedges_are_the_node_compositions():
    from matplotlib.patches import Wedge

    data = fixed_pie_data()
    ax = tp.mapper_pie_graph(data)
    wedges = [p for p in ax.patches if isinstance(p, Wedge) and p.get_facecolor()[3] > 0]
    by_node: dict = {}
    for w in wedges:
        by_node.setdefault(tuple(np.round(w.center, 6)), []).append((w.theta2 - w.theta1) / 360.0)
    for i, pos in enumerate(np.asarray(data.positions)):
        got = sorted(by_node[tuple(np.round(pos, 6))])
        np.testing.assert_allclose(got, sorted(f for f in data.fractions[i] if f > 0))
    radii = {tuple(np.round(w.center, 6)): w.r for w in wedges}
    r = np.array([radii[tuple(np.round(p, 6))] for p in np.asarray(data.positions)])
    big = np.asarray(data.sizes) >= 10
    np.testing.assert_allclose((r[big] / r[big].max()) ** 2, np.asarray(data.sizes)[big] / 60)


def test_pie_graph_from_layer_mapper_matches_its_composition():
    from matplotlib.patches import Wedge

    res = mapper_result()
    comp = res.compositions["late"]["coarse"]
    ax = tp.mapper_pie_graph(res, layer="late", level="coarse", colors=["#000000", "#ffffff"])
    fills = [p for p in ax.patches if isinstance(p, Wedge) and p.get_facecolor()[3] > 0]
    assert len(fills) == int((comp.counts > 0).sum())
    assert ax.get_title() == "late (coarse)"


def test_class_dendrogram_matches_scipy_and_colours_by_group():
    from scipy.cluster.hierarchy import dendrogram

    from tda_activations.mapper import class_graph

    res = mapper_result()
    cg = class_graph(res.compositions["late"]["fine"])
    ax = tp.class_dendrogram(cg, hierarchy=hierarchy())
    expected = dendrogram(cg.linkage(), no_plot=True, labels=list(cg.class_names))["ivl"]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == expected
    colors = {t.get_text(): t.get_color() for t in ax.get_xticklabels()}
    assert colors["a"] == colors["b"] != colors["c"] == colors["d"]


def test_correspondence_curve_averages_repeats_and_draws_chance():
    df = correspondence_table()
    ax = tp.correspondence_curve(df)
    line = ax.lines[0]
    expected = df[df.measure == "sliced_wasserstein"].groupby("depth")["accuracy"].mean().to_numpy()
    np.testing.assert_allclose(line.get_ydata(), expected)
    assert any(
        l.get_linestyle() == ":" and l.get_ydata()[0] == pytest.approx(1 / 6) for l in ax.lines
    )


def test_index_heatmap_shows_the_normalised_indices():
    ti = probe_results()["ti"]
    ax = tp.index_heatmap(ti, output="1")
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), ti.heatmap("1")[0])
    img = np.ones((1, 4, 5))
    ax = tp.index_heatmap(ti, image=img)
    assert len(ax.images) == 2


@functools.cache
def experiment_results():
    """Real (tiny) results of the experiments stage: sensitivity and layer correspondence."""
    from tda_activations import experiments as ex
    from tda_activations.types import ActivationSet

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    models = {}
    for s in range(2):
        x = rng.normal(size=(60, 6)) + labels[:, None]
        clouds = {}
        for k in range(3):
            x = np.tanh(x @ rng.normal(size=(6, 6)))
            clouds[f"l{k}"] = x
        models[f"seed{s}"] = ActivationSet(
            clouds=clouds,
            sample_index={l: np.arange(60) for l in clouds},
            labels=labels,
            hierarchy=hierarchy(),
            reduction="test",
        )
    sens = ex.sensitivity(
        models["seed0"], measures=["linear_cka", "procrustes"], fractions=(0.5, 0.8)
    )
    corr = ex.layer_correspondence(models, measures=["linear_cka"], n_permutations=9, n_bootstrap=9)
    return sens, corr


def test_experiment_results_are_drawn_from_their_tables():
    sens, corr = experiment_results()
    ax = tp.sensitivity_curve(sens, layer="l1")
    curves = sens.curves.to_pandas()
    sub = curves[(curves.layer == "l1") & (curves.measure == curves.measure.iloc[0])]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), sub["fraction_removed"])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), sub["dissimilarity"])
    ax = tp.sensitivity_curve(sens, layer="l1", normalize=True)
    assert max(np.nanmax(np.abs(l.get_ydata())) for l in ax.lines) == pytest.approx(1.0)
    ax = tp.correspondence_curve(corr)
    m = corr.matches.to_pandas()
    np.testing.assert_allclose(ax.lines[0].get_ydata(), m.groupby("depth_a")["credit"].mean())
    chance = float(corr.table.to_pandas()["chance"].mean())
    assert any(l.get_ydata()[0] == pytest.approx(chance) for l in ax.lines[1:])
    assert tp.plot_result(sens).get_xlabel().startswith("fraction")
    assert tp.plot_result(corr).get_ylabel() == "correspondence accuracy"
    with pytest.raises(ValueError, match="unknown layer"):
        tp.sensitivity_curve(sens, layer="l9")


# -------------------------------------------------------------------- bad input


def test_bad_input_gets_clear_errors():
    with pytest.raises(TypeError, match="LayerMatrix"):
        tp.layer_heatmap(np.eye(3))
    with pytest.raises(TypeError, match="Diagrams"):
        tp.persistence_diagram("dgm")
    with pytest.raises(ValueError, match="not computed"):
        tp.persistence_diagram(fixed_diagrams(), dims=[2])
    with pytest.raises(ValueError, match="maxdim"):
        tp.betti_curves(fixed_layer_diagrams(), dim=2)
    with pytest.raises(ValueError, match="layer="):
        tp.mapper_pie_graph(mapper_result())
    with pytest.raises(ValueError, match="unknown layer"):
        tp.mapper_pie_graph(mapper_result(), layer="latte")
    res = mapper_result()
    with pytest.raises(ValueError, match="compositions="):
        tp.mapper_pie_graph(res.graphs["late"])
    with pytest.raises(ValueError, match="square"):
        tp.layer_embedding(
            LayerMatrix(
                values=np.ones((2, 3)),
                row_labels="ab",
                col_labels="abc",
                measure="d",
                kind="distance",
            )
        )
    with pytest.raises(ValueError, match="NaN"):
        tp.layer_embedding(
            LayerMatrix(
                values=[[0, np.nan], [np.nan, 0]],
                row_labels="ab",
                col_labels="ab",
                measure="d",
                kind="distance",
            )
        )
    with pytest.raises(ValueError, match="row_model"):
        tp.cross_model_heatmap(fixed_matrix())
    with pytest.raises(TypeError, match="Axes"):
        tp.layer_heatmap(fixed_matrix(), ax="left")
    with pytest.raises(ValueError, match="features='inputs'"):
        tp.index_heatmap(probe_results()["ti_pca"])
    with pytest.raises(TypeError, match="MeanDimensionProfile"):
        tp.mean_dimension_profile(probe_results()["cop"])
    with pytest.raises(ValueError, match="pass x="):
        tp.sensitivity_curve(pd.DataFrame({"foo": [1], "distance": [1.0]}))
    with pytest.raises(TypeError, match="to_pandas"):
        tp.correspondence_curve([1, 2, 3])
    with pytest.raises(ValueError, match="unknown palette"), tp.paper_style(palette="okabe"):
        pass


# ---------------------------------------------------------------- paper style


def test_paper_style_changes_rc_only_inside_the_block():
    before = _rc_snapshot()
    with tp.paper_style(column="double", font_size=9) as style:
        assert matplotlib.rcParams["font.size"] == 9
        assert matplotlib.rcParams["font.sans-serif"][0] == "DejaVu Sans"
        assert matplotlib.rcParams["svg.hashsalt"] == "tda_activations"
        assert matplotlib.rcParams["pdf.fonttype"] == 42
        assert style.figsize[0] == tp.COLUMN_WIDTHS["double"]
        assert (
            tuple(matplotlib.rcParams["axes.prop_cycle"].by_key()["color"])
            == tp.PALETTES["okabe_ito"]
        )
        fig, _ = plt.subplots()
        assert tuple(fig.get_size_inches()) == pytest.approx(style.figsize)
    assert _rc_snapshot() == before
    with pytest.raises(RuntimeError), tp.paper_style():
        raise RuntimeError("inside")
    assert _rc_snapshot() == before


def test_palettes_are_distinct_hex_colours():
    import matplotlib.colors as mc

    for name, colors in tp.PALETTES.items():
        assert len(set(colors)) == len(colors), name
        assert all(mc.is_color_like(c) for c in colors)
    assert tp.categorical_colors(10) == tp.PALETTES["tol_muted"]
    assert len(set(tp.categorical_colors(25))) == 25


# ----------------------------------------------------------------------- save


def test_save_writes_three_formats_and_a_sidecar(tmp_path):
    m = fixed_matrix()
    with tp.paper_style():
        ax = tp.layer_heatmap(m)
        out = tp.save(
            ax.figure, tmp_path / "fig" / "heatmap.pdf", metadata={"seed": 0, "arr": np.arange(3)}
        )
    assert sorted(out) == ["json", "pdf", "png", "svg"]
    assert out["pdf"].read_bytes()[:4] == b"%PDF"
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in out["svg"].read_bytes()[:400]
    side = json.loads(out["json"].read_text())
    from tda_activations import __version__

    assert side["package"]["version"] == __version__
    assert side["metadata"] == {"seed": 0, "arr": [0, 1, 2]}
    src = side["sources"][0]
    assert src["function"] == "tda_activations.plot.layer_heatmap"
    assert src["result_fingerprint"] == tp.result_fingerprint(m)
    assert src["measure"] == m.measure
    assert side["figure"]["dpi"] == 300.0
    # nothing else was written (no temporary files left)
    assert sorted(p.name for p in (tmp_path / "fig").iterdir()) == [
        "heatmap.json",
        "heatmap.pdf",
        "heatmap.png",
        "heatmap.svg",
    ]


def test_save_is_reproducible_and_fingerprints_follow_content(tmp_path):
    m = fixed_matrix()
    with tp.paper_style():
        ax = tp.layer_heatmap(m)  # a fresh figure, never drawn before the first save
        a = tp.save(ax.figure, tmp_path / "a", formats=("pdf", "svg"))
        b = tp.save(ax.figure, tmp_path / "b", formats=("pdf", "svg"))
        again = tp.save(tp.layer_heatmap(m).figure, tmp_path / "c", formats=("pdf",))
    assert a["pdf"].read_bytes() == b["pdf"].read_bytes()
    assert a["svg"].read_bytes() == b["svg"].read_bytes()
    assert again["pdf"].read_bytes() == a["pdf"].read_bytes()
    other = LayerMatrix(
        values=m.values * 2,
        row_labels=m.row_labels,
        col_labels=m.col_labels,
        measure=m.measure,
        kind="distance",
    )
    assert tp.result_fingerprint(other) != tp.result_fingerprint(m)
    assert tp.result_fingerprint(fixed_matrix()) == tp.result_fingerprint(m)


def test_save_rejects_bad_formats_and_writes_nothing(tmp_path):
    ax = tp.layer_heatmap(fixed_matrix())
    with pytest.raises(ValueError, match="formats"):
        tp.save(ax.figure, tmp_path / "x", formats=("pdf", "jpeg"))
    with pytest.raises(TypeError, match="Figure"):
        tp.save("figure", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
    out = tp.save(ax, tmp_path / "y", formats="png")  # Axes accepted, one format
    assert sorted(out) == ["json", "png"]


# ----------------------------------------------------------- image comparison


# ------------------------------------------------------- human labels and layout rules


def test_figure_label_gives_every_registered_measure_a_short_readable_name():
    from tda_activations.experiments import measures as em
    from tda_activations.homology.distances import diagram_distance_names, get_diagram_distance
    from tda_activations.similarity import available_measures, get_measure

    labels = {}
    for name in available_measures():
        m = get_measure(name)
        lab = tp.figure_label(m)
        labels[name] = lab
        assert "[" not in lab and "_" not in lab and "=False" not in lab, (name, lab)
        # the registry name, the full id and the object name the same family
        assert tp.figure_label(m.label).split(" (")[0] == lab.split(" (")[0]
        assert tp.figure_label(name).split(" (")[0] == lab.split(" (")[0]
    assert len(set(labels.values())) == len(labels), labels  # no two measures share a label
    assert labels["linear_cka"] == "linear CKA"
    assert labels["linear_cka_debiased"] == "debiased linear CKA"
    assert labels["knn_jaccard"] == "kNN Jaccard (k=10)"
    for name in diagram_distance_names():
        params = {"order": 1, "internal_p": 2} if name == "wasserstein" else {}
        d = get_diagram_distance(name, **params)
        for dim in (0, 1):
            lab = tp.figure_label(d, dim=dim)
            assert f"(H{dim}" in lab and "_" not in lab, lab
    assert (
        tp.figure_label(get_diagram_distance("sliced_wasserstein"), dim=1)
        == "sliced Wasserstein (H1, M=50)"
    )
    assert tp.figure_label("bottleneck[H0]") == "bottleneck (H0)"
    assert (
        tp.figure_label("wasserstein[H1,q=2.0,p=inf,essential=drop]")
        == "Wasserstein (H1, q=2, p=inf, essential=drop)"
    )
    exp = [tp.figure_label(m) for m in em.all_measures()]
    assert len(set(exp)) == len(exp) and not any("[" in lab for lab in exp), exp
    # an unknown family keeps its name, readable
    assert tp.figure_label("my_measure[a=1]") == "my measure"


def test_figure_label_rejects_what_it_cannot_name():
    from tda_activations.homology.distances import get_diagram_distance

    with pytest.raises(TypeError, match="measure id"):
        tp.figure_label(3.5)
    with pytest.raises(ValueError, match="dim="):
        tp.figure_label(get_diagram_distance("bottleneck"))
    with pytest.raises(ValueError, match="unbalanced"):
        tp.figure_label("cca[summary=mean")


def test_heatmap_colorbar_is_labelled_with_the_human_label():
    m = LayerMatrix(
        values=np.eye(3),
        row_labels=["a", "b", "c"],
        col_labels=["a", "b", "c"],
        measure="linear_cka[debiased=True,form=auto]",
        kind="similarity",
    )
    ax = tp.layer_heatmap(m)
    cbar_ax = next(a for a in ax.figure.axes if a is not ax)
    assert cbar_ax.get_ylabel() == "debiased linear CKA"


def test_one_sizing_rule_for_heatmaps():
    with tp.paper_style(column="double"):
        width = matplotlib.rcParams["figure.figsize"][0]
        base = matplotlib.rcParams["ytick.labelsize"]
        (w3, h3), f3 = tp.heatmap_geometry(
            3, 3, row_labels=["layer1"] * 3, col_labels=["layer1"] * 3
        )
        labels18 = [f"layer{i}.conv" for i in range(18)]
        (w18, h18), f18 = tp.heatmap_geometry(18, 18, row_labels=labels18, col_labels=labels18)
    # a small matrix neither fills the column nor gets fonts above the tick size in force
    assert w3 < 0.5 * width and f3 <= base
    # 18 layers fill the column exactly (no empty margin) with ticks of at least 5 pt
    assert w18 == pytest.approx(width) and f18 >= 5.0
    assert h18 > h3
    with tp.paper_style(column="single"):
        (_, _), f_single = tp.heatmap_geometry(18, 18, row_labels=labels18, col_labels=labels18)
    assert 5.0 <= f_single <= f18
    with pytest.raises(ValueError, match="non-empty"):
        tp.heatmap_geometry(0, 3)
    # a new figure is sized by the rule
    m = fixed_matrix(n=3)
    with tp.paper_style(column="double"):
        ax = tp.layer_heatmap(m)
        (w, h), font = tp.heatmap_geometry(
            3, 3, row_labels=m.row_labels, col_labels=m.col_labels, title=False
        )
        assert tuple(ax.figure.get_size_inches()) == pytest.approx((w, h))
        assert ax.get_xticklabels()[0].get_fontsize() == pytest.approx(font)


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("models", [1, 2])
def test_cross_model_titles_clear_model_names_and_colour_bar(models):
    rng = np.random.default_rng(0)
    if models == 1:
        rows = [f"resnet18/layer{i}" for i in range(18)]
        cols = [f"vit/block{i}" for i in range(16)]
        m = LayerMatrix(
            values=rng.random((18, 16)),
            row_labels=rows,
            col_labels=cols,
            measure="linear_cka",
            kind="similarity",
        )
        kw = {"row_model": "resnet18", "col_model": "vit"}
    else:
        m = fixed_models_matrix()
        kw = {}
    with tp.paper_style(column="double"):
        ax = tp.cross_model_heatmap(m, title="resnet18 x vit", **kw)
        fig = ax.figure
        fig.draw_without_rendering()
        r = fig.canvas.get_renderer()
        title = ax.title.get_window_extent(r)
        others = [a for a in fig.axes if a is not ax]
        texts = [
            t
            for a in [ax, *ax.child_axes, *others]
            for t in [*a.get_xticklabels(), *a.get_yticklabels(), a.xaxis.label, a.yaxis.label]
            if t.get_text() and t.get_visible()
        ]
        for t in texts:
            assert not _overlap(title, t.get_window_extent(r)), t.get_text()
        cbar = next(a for a in others if a.get_ylabel()).get_tightbbox(r)
        for t in [
            *ax.get_yticklabels(),
            ax.yaxis.label,
            *(lbl for c in ax.child_axes for lbl in c.get_yticklabels()),
        ]:
            if t.get_text():
                assert not _overlap(cbar, t.get_window_extent(r)), t.get_text()


def test_cross_model_heatmap_with_too_many_layers_to_name_keeps_a_title():
    labels = [f"m{k}/l{i}" for k in range(3) for i in range(20)]  # 60 > 40: no layer ticks
    m = LayerMatrix(
        values=np.eye(60),
        row_labels=labels,
        col_labels=labels,
        measure="linear_cka",
        kind="similarity",
    )
    ax = tp.cross_model_heatmap(m, title="every layer of every model")
    assert ax.get_title() == "every layer of every model"
    assert [t.get_text() for c in ax.child_axes for t in c.get_xticklabels()] == ["m0", "m1", "m2"]


def test_layer_embedding_names_the_ends_marks_stages_and_keeps_the_legend_outside():
    labels = [
        f"{m}/{s}"
        for m in ("a", "b")
        for s in ("conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "fc")
    ]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(len(labels), 2))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    m = LayerMatrix(values=d, row_labels=labels, col_labels=labels, measure="x", kind="distance")
    ax = tp.layer_embedding(m)
    names = sorted(t.get_text() for t in ax.texts)
    assert names == ["conv1", "conv1", "fc", "fc"]
    leg = ax.get_legend()
    assert [t.get_text() for t in leg.get_texts()] == [
        "a",
        "b",
        "first layer",
        "last layer",
        "stage start",
    ]
    fig = ax.figure
    fig.draw_without_rendering()
    r = fig.canvas.get_renderer()
    assert not _overlap(leg.get_window_extent(r), ax.get_window_extent(r))
    # each model's two stage starts (layer1.0, layer2.0) are marked with a diamond
    diamonds = [
        c
        for c in ax.collections
        if c.get_offsets().shape[0] == 2 and c.get_paths() and len(c.get_paths()[0].vertices) == 5
    ]
    assert len(diamonds) == 2


def test_pie_nodes_never_overlap():
    from tda_activations.mapper import PieChartData

    rng = np.random.default_rng(0)
    n = 30
    pos = 0.05 * rng.normal(size=(n, 2))  # a crowded component
    pos[3] = pos[4]  # two nodes on the same spot
    fr = np.tile([0.5, 0.5], (n, 1))
    data = PieChartData(
        node_ids=tuple(f"n{i}" for i in range(n)),
        positions=pos,
        sizes=rng.integers(5, 50, n),
        fractions=fr,
        group_names=("a", "b"),
        colors=("#1f77b4", "#ff7f0e"),
        edges=[[0, 1]],
        level="fine",
        label="l",
    )
    ax = tp.mapper_pie_graph(data)
    rings = [p for p in ax.patches if p.get_facecolor()[3] == 0]  # the outline of each node
    assert len(rings) == n
    c = np.array([p.center for p in rings])
    r = np.array([p.r for p in rings])
    dist = np.sqrt(((c[:, None] - c[None]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    assert (dist >= (r[:, None] + r[None, :]) - 1e-9).all()


def _image_persistence_diagram(ax):
    tp.persistence_diagram(fixed_diagrams("layer2.0.conv1"), ax=ax)


def _image_barcode(ax):
    tp.barcode(fixed_diagrams("layer2.0.conv1"), ax=ax)


def _image_betti_curves(ax):
    tp.betti_curves(fixed_layer_diagrams(), ax=ax)


def _image_layer_heatmap(ax):
    tp.layer_heatmap(fixed_matrix(), ax=ax, blocks="auto")


def _image_cross_model_heatmap(ax):
    tp.cross_model_heatmap(fixed_models_matrix(), ax=ax, title="three models")


def _image_layer_embedding(ax):
    tp.layer_embedding(fixed_models_matrix(), ax=ax)


def _image_mapper_pie_graph(ax):
    tp.mapper_pie_graph(fixed_pie_data(), ax=ax)


def _image_sensitivity_curve(ax):
    tp.sensitivity_curve(sensitivity_table(), ax=ax, logx=True)


def _image_correlation_order_accuracy(ax):
    tp.correlation_order_accuracy(probe_results()["cop"], ax=ax)


IMAGES = {
    name[len("_image_") :]: f for name, f in sorted(globals().items()) if name.startswith("_image_")
}


def render_image(name: str, path: Path) -> None:
    """Draw figure ``name`` with fixed data in the pinned style and write it as a PNG."""
    with tp.paper_style(dpi=100, aspect=0.8):
        fig, ax = plt.subplots()
        IMAGES[name](ax)
        fig.savefig(path, metadata={"Software": None})
        plt.close(fig)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_matches_baseline(name, tmp_path):
    baseline = BASELINES / f"{name}.png"
    if REGENERATE:
        BASELINES.mkdir(parents=True, exist_ok=True)
        render_image(name, baseline)
        pytest.skip(f"regenerated {baseline}")
    if not baseline.exists():
        pytest.fail(
            f"no baseline {baseline}; create it with `python -m tests.test_plot --regenerate`"
        )
    actual = tmp_path / f"{name}.png"
    render_image(name, actual)
    err = compare_images(str(baseline), str(actual), tol=IMAGE_TOL)
    assert err is None, (
        f"{err}\nIf the change is intended, regenerate with `python -m tests.test_plot --regenerate` "
        "and look at the new PNGs before committing them."
    )


def _main(argv: list[str]) -> int:
    if "--regenerate" not in argv:
        print(
            "usage: python -m tests.test_plot --regenerate   (rewrites tests/baseline_images/plot/*.png)"
        )
        return 2
    BASELINES.mkdir(parents=True, exist_ok=True)
    for name in sorted(IMAGES):
        render_image(name, BASELINES / f"{name}.png")
        print(f"wrote {BASELINES / name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
