"""Persistence: backends agree, match ripser.py, known topology, invariances, bad input."""

from __future__ import annotations

import importlib
import math
import sys

import numpy as np
import pytest
from ripser import ripser

from tda_activations._distances import pairwise_distances
from tda_activations.datasets import make_circle, make_sphere, make_two_circles
from tda_activations.homology import (
    BACKENDS,
    PersistenceTooLarge,
    bottleneck_distance,
    estimate_memory,
    greedy_subsample,
    h0_from_mst,
    persistence,
    persistence_of_distances,
)
from tda_activations.types import Diagrams


def _cloud(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d))


def _sorted(dgm):
    dgm = np.asarray(dgm, dtype=float).reshape(-1, 2)
    dgm = dgm[dgm[:, 1] > dgm[:, 0]]
    return dgm[np.lexsort((dgm[:, 1], dgm[:, 0]))]


def _pers(dgm):
    fin = dgm[np.isfinite(dgm[:, 1])]
    return np.sort(fin[:, 1] - fin[:, 0])[::-1]


# ------------------------------------------------------------------ backends agree


@pytest.mark.parametrize("coeff", [2, 3])
@pytest.mark.parametrize("threshold", ["enclosing", 2.5])
def test_backends_identical(coeff, threshold):
    x = _cloud()
    res = {
        b: persistence(x, maxdim=1, backend=b, coeff=coeff, threshold=threshold) for b in BACKENDS
    }
    ref = res["gudhi"]
    for b, dg in res.items():
        assert dg.backend == b and dg.coeff == coeff
        for d in range(2):
            assert np.array_equal(dg[d], ref[d]), (b, d)
            assert bottleneck_distance(dg, ref, dim=d) < 1e-9


def test_backends_identical_h2():
    x = _cloud(45, 3, seed=1)
    res = [persistence(x, maxdim=2, backend=b) for b in BACKENDS]
    for dg in res[1:]:
        for d in range(3):
            assert np.array_equal(dg[d], res[0][d])


def test_matches_ripser_py_bit_for_bit():
    x = _cloud(150, 8, seed=2)
    ref = ripser(x, maxdim=1)["dgms"]
    ours = persistence(x, maxdim=1)
    for d in range(2):
        assert np.array_equal(ours[d], _sorted(ref[d]))


def test_ripser_compatible_distances_reproduce_float32_ripser():
    x = np.abs(_cloud(150, 16, seed=3)).astype(np.float32)
    ref = ripser(x, maxdim=1)["dgms"]
    ours = persistence(x, maxdim=1, distances="ripser-compatible")
    for d in range(2):
        assert np.array_equal(ours[d], _sorted(ref[d]))
    exact = persistence(x, maxdim=1)
    for d in range(2):  # the exact path differs at most by float32 rounding
        assert bottleneck_distance(exact, ours, dim=d) <= 1e-6 * exact.threshold


def test_coefficient_is_passed_to_every_backend():
    # The real projective plane (Veronese embedding of the sphere): H1 over Z/2 has a
    # long bar, over Z/3 it has none.
    s = make_sphere(220, seed=0)
    x = np.c_[
        s**2,
        math.sqrt(2) * s[:, 0] * s[:, 1],
        math.sqrt(2) * s[:, 0] * s[:, 2],
        math.sqrt(2) * s[:, 1] * s[:, 2],
    ]
    for b in BACKENDS:
        z2 = _pers(persistence(x, backend=b, coeff=2)[1])
        z3 = _pers(persistence(x, backend=b, coeff=3)[1])
        assert z2[0] > 0.8 and (z3.size == 0 or z3[0] < 0.5 * z2[0]), b


def test_giotto_ph_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gph", None)
    with pytest.raises(ImportError, match="giotto-ph"):
        persistence(_cloud(20), backend="giotto-ph")


# ------------------------------------------------------------------------ thresholds


def test_enclosing_threshold_changes_no_bar():
    x = _cloud(100, 4, seed=4)
    full = persistence(x, threshold=math.inf)
    enc = persistence(x)
    assert enc.params["threshold_rule"] == "enclosing" and enc.params["complete"]
    for d in range(2):
        assert np.array_equal(full[d], enc[d])
    assert len(enc.essential(0)) == 1 and len(enc.essential(1)) == 0


def test_truncated_threshold_reports_bars_alive_as_essential():
    x = _cloud(100, 4, seed=5)
    full = persistence(x)
    t = float(np.median(full[1][:, 1]))
    cut = persistence(x, threshold=t)
    assert not cut.params["complete"] and cut.threshold <= t
    for d in range(2):
        f = full[d]
        assert np.array_equal(cut.finite(d), f[f[:, 1] <= cut.threshold])
        alive = f[(f[:, 0] <= cut.threshold) & (f[:, 1] > cut.threshold)]
        assert len(cut.essential(d)) == len(alive)


def test_h0_from_mst_equals_engines():
    x = _cloud(200, 5, seed=6)
    auto = persistence(x, maxdim=0)
    assert auto.backend == "mst"
    assert np.array_equal(auto[0], persistence(x, maxdim=0, backend="ripser")[0])
    dist = pairwise_distances(x)
    t = float(np.quantile(dist, 0.01))
    cut = _sorted(h0_from_mst(dist.astype(np.float32).astype(float), threshold=t))
    ref = persistence(x, maxdim=0, backend="gudhi", threshold=t)
    assert np.array_equal(cut, _sorted(ref[0]))


# ------------------------------------------------------------------ topology sanity


def _dominant(dgm, k):
    p = _pers(dgm)
    nxt = p[k] if p.size > k else 0.0
    return p.size >= k and p[k - 1] > 3 * max(nxt, 1e-12)


def test_noisy_circle_has_one_dominant_h1_bar():
    dg = persistence(make_circle(100, noise=0.05, seed=0), maxdim=1)
    assert _dominant(dg[1], 1)


def test_two_circles_have_two_dominant_h1_bars():
    dg = persistence(make_two_circles(160, noise=0.03, seed=1), maxdim=1)
    assert _dominant(dg[1], 2)


def test_torus_has_two_h1_and_one_h2():
    # flat (Clifford) torus on a jittered grid: uniform enough for clean bars at n = 225
    rng = np.random.default_rng(0)
    u, v = np.meshgrid(
        np.linspace(0, 2 * np.pi, 15, endpoint=False), np.linspace(0, 2 * np.pi, 15, endpoint=False)
    )
    u = u.ravel() + rng.normal(0, 0.02, u.size)
    v = v.ravel() + rng.normal(0, 0.02, v.size)
    x = np.c_[np.cos(u), np.sin(u), np.cos(v), np.sin(v)]
    dg = persistence(x, maxdim=2)
    assert _dominant(dg[1], 2)
    assert _dominant(dg[2], 1)


def test_sphere_has_one_h2():
    dg = persistence(make_sphere(150, noise=0.01, seed=2), maxdim=2)
    assert _dominant(dg[2], 1)
    assert _pers(dg[1]).max() < 0.5 * _pers(dg[2]).max()  # no dominant loop


def test_h0_of_distinct_points_has_n_minus_one_finite_bars():
    x = _cloud(77, 3, seed=7)
    dg = persistence(x, maxdim=1)
    assert len(dg.finite(0)) == 76 and len(dg.essential(0)) == 1
    assert np.all(dg.finite(0)[:, 0] == 0)


@pytest.mark.parametrize("precision,tol", [("float64", 1e-9), ("float32", 1e-6)])
def test_invariant_to_rotation_translation_and_order(precision, tol):
    x = make_circle(90, noise=0.1, seed=3, ambient_dim=5)
    rng = np.random.default_rng(8)
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    moved = (x @ q + rng.normal(size=5) * 3)[rng.permutation(len(x))]
    a = persistence(x, precision=precision, backend="gudhi")
    b = persistence(moved, precision=precision, backend="gudhi")
    for d in range(2):
        assert bottleneck_distance(a, b, dim=d) <= tol * a.threshold


# ---------------------------------------------------------------------- duplicates


def test_duplicates_do_not_create_bars():
    rng = np.random.default_rng(9)
    x = np.maximum(rng.normal(size=(80, 6)) + 0.3, 0)  # ReLU-like: some rows repeat
    x[:10] = 0.0
    dup = np.concatenate([x, x[:30], x[5:7]])
    a = persistence(np.unique(x, axis=0))
    b = persistence(dup)
    assert b.params["n_used"] == len(np.unique(x, axis=0))
    for d in range(2):
        assert np.array_equal(a[d], b[d])
    assert np.all(b.finite(0)[:, 1] > 1e-3)


# ----------------------------------------------------------------- distance matrices


def test_distance_matrix_input_matches_cloud():
    x = _cloud(80, 4, seed=10)
    dist = pairwise_distances(x)
    a = persistence(x)
    b = persistence_of_distances(dist)
    c = persistence(dist, metric="precomputed")
    assert b.metric == "precomputed"
    for d in range(2):
        assert np.array_equal(a[d], b[d]) and np.array_equal(b[d], c[d])


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda m: m + np.eye(len(m)), "diagonal"),
        (lambda m: np.triu(m), "symmetric"),
        (lambda m: np.where(np.eye(len(m)) > 0, 0, np.nan), "NaN"),
        (lambda m: -m, "negative"),
        (lambda m: m[:, :-1], "square"),
    ],
)
def test_bad_distance_matrices(mutate, match):
    dist = pairwise_distances(_cloud(10, 3))
    with pytest.raises(ValueError, match=match):
        persistence_of_distances(mutate(dist))


def test_other_metrics_use_scipy():
    x = np.abs(_cloud(60, 4, seed=11))
    from scipy.spatial.distance import pdist, squareform

    for metric in ("cityblock", "chebyshev"):
        a = persistence(x, metric=metric)
        b = persistence_of_distances(squareform(pdist(x, metric=metric)))
        for d in range(2):
            assert np.array_equal(a[d], b[d])
    with pytest.raises(ValueError, match="metric"):
        persistence(x, metric="no-such-metric")


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "cloud,exc,match",
    [
        (np.array([[0.0, np.nan], [1.0, 1.0]]), ValueError, "NaN"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), ValueError, "infinite"),
        (np.arange(5.0), ValueError, "1-D"),
        (np.zeros((0, 3)), ValueError, "empty"),
        (np.zeros((2, 2, 2)), ValueError, "2-D"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
    ],
)
def test_bad_clouds(cloud, exc, match):
    with pytest.raises(exc, match=match):
        persistence(cloud)


def test_bad_options():
    x = _cloud(10, 2)
    with pytest.raises(ValueError, match="prime"):
        persistence(x, coeff=4)
    with pytest.raises(ValueError, match="maxdim"):
        persistence(x, maxdim=-1)
    with pytest.raises(ValueError, match="gudhi"):
        persistence(x, backend="gudi")
    with pytest.raises(ValueError, match="float32"):
        persistence(x, backend="ripser", precision="float64")
    with pytest.raises(ValueError, match="threshold"):
        persistence(x, threshold=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        persistence(x, threshold="median")


def test_one_and_two_points():
    one = persistence([[1.0, 2.0]], maxdim=2)
    assert np.array_equal(one[0], [[0.0, np.inf]]) and len(one[1]) == 0 and len(one[2]) == 0
    same = persistence([[1.0, 2.0], [1.0, 2.0]])  # duplicates of one point
    assert np.array_equal(same[0], [[0.0, np.inf]])
    two = persistence([[0.0, 0.0], [3.0, 4.0]])
    assert np.array_equal(two[0], [[0.0, 5.0], [0.0, np.inf]]) and len(two[1]) == 0


# --------------------------------------------------------------------- large clouds


def test_greedy_subsample_matches_ripser_greedy_permutation():
    from ripser.ripser import get_greedy_perm

    x = _cloud(300, 5, seed=12)
    sub = greedy_subsample(x, n_points=40)
    idx, lambdas, _ = get_greedy_perm(x, n_perm=40)
    assert np.array_equal(sub.indices, idx)
    np.testing.assert_allclose(sub.insertion_radii[1:], lambdas[:-1], rtol=1e-12)
    np.testing.assert_allclose(sub.covering_radius, lambdas[-1], rtol=1e-12)
    brute = pairwise_distances(x)[:, sub.indices].min(axis=1).max()
    assert sub.covering_radius == pytest.approx(brute, rel=1e-12)
    assert sub.bottleneck_bound == 2 * sub.covering_radius


def test_subsample_error_bound_holds():
    x = make_circle(400, noise=0.1, seed=4)
    full = persistence(x, precision="float64", backend="gudhi")
    sub = persistence(x, max_points=60, seed=0, precision="float64", backend="gudhi")
    info = sub.params["subsample"]
    assert info["n_points"] == 60 and info["n_total"] == 400
    for d in range(2):
        assert bottleneck_distance(full, sub, dim=d) <= info["bottleneck_bound"] + 1e-12


def test_memory_refusal_and_fallback():
    x = _cloud(300, 3, seed=13)
    need = estimate_memory(300, maxdim=1).bytes
    dense = estimate_memory(300, maxdim=1, edge_fraction=0.0).bytes
    assert estimate_memory(600, maxdim=1).bytes > 3 * need
    assert estimate_memory(300, maxdim=2).bytes > need
    # the distance matrices alone do not fit: refused before anything is computed
    with pytest.raises(PersistenceTooLarge, match="max_points"):
        persistence(x, memory_limit=dense / 2)
    # the H1 shortcut's edges are counted: the truncated filtration fits where the full one
    # would not, and the diagrams are those of the unchecked run
    free = persistence(x, memory_limit=None)
    counted = persistence(x, memory_limit=need)
    edges = counted.params["edges_in_filtration"]
    frac = edges / (300 * 299 / 2)
    assert 0 < frac < 0.5
    assert (
        edges
        == (np.count_nonzero(_engine_dist(x) <= counted.params["engine_threshold"]) - 300) // 2
    )
    truncated = estimate_memory(300, maxdim=1, edge_fraction=frac, shortcut=True).bytes
    assert counted.params["memory_estimate_gib"] == pytest.approx(truncated / 2**30)
    fits = persistence(x, memory_limit=1.001 * truncated)
    assert truncated < need and fits.params["exact"] and "subsample" not in fits.params
    for d in range(2):
        assert np.array_equal(fits[d], free[d])
    with pytest.raises(PersistenceTooLarge, match="edges up to the threshold"):
        persistence(x, memory_limit=0.999 * truncated)
    dg = persistence(x, memory_limit=0.999 * truncated, on_too_large="subsample")
    info = dg.params["subsample"]
    assert not dg.params["exact"] and info["bottleneck_bound"] == 2 * info["covering_radius"]
    # sized with the edge fraction just counted, and checked again on the subsample
    assert info["n_points"] < 300 and dg.params["memory_estimate_gib"] * 2**30 <= 0.999 * truncated
    assert isinstance(dg, Diagrams) and dg.n_points == 300
    dg = persistence(x, memory_limit=dense / 2, on_too_large="subsample")
    assert dg.params["subsample"]["n_points"] < 300


def _engine_dist(x):
    from tda_activations._distances import pairwise_distances

    return pairwise_distances(np.asarray(x, dtype=np.float64)).astype(np.float32)


# ------------------------------------------------ truncated run below the enclosing radius

_rips = importlib.import_module("tda_activations.homology.rips")


def _rng_brute(dist):
    n = len(dist)
    best = 0.0
    for u in range(n):
        for v in range(u + 1, n):
            m = np.maximum(dist[u], dist[v])
            if not (m < dist[u, v]).any():
                best = max(best, dist[u, v])
    return best


@pytest.mark.parametrize("kind", ["gauss", "grid", "dupes"])
def test_h1_birth_bound_is_the_longest_relative_neighbourhood_edge(kind):
    rng = np.random.default_rng(14)
    if kind == "gauss":
        x = rng.normal(size=(60, 3))
    elif kind == "grid":  # many equal distances
        x = np.array([[i, j] for i in range(7) for j in range(8)], dtype=float)
    else:
        x = np.round(rng.normal(size=(60, 2)), 1)
    dist = pairwise_distances(x).astype(np.float32).astype(float)
    assert _rips.h1_birth_bound(dist) == _rng_brute(dist)
    births = persistence(x)[1][:, 0]
    assert births.size == 0 or births.max() <= _rips.h1_birth_bound(dist)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["relu", "grid", "circles"])
def test_truncated_run_gives_the_full_diagrams(monkeypatch, seed, kind):
    rng = np.random.default_rng(seed)
    if kind == "relu":
        x = np.maximum(rng.normal(size=(240, 3)) @ rng.normal(size=(3, 10)), 0)
    elif kind == "grid":
        x = np.array(
            [[i, j, (i * j + seed) % 3] for i in range(15) for j in range(16)], dtype=float
        )
    else:
        x = make_two_circles(240, noise=0.05 * (seed + 1), seed=seed)
    short = persistence(x, backend="gudhi")
    assert "h1_birth_bound" in short.params
    if kind == "grid":  # the truncated run suffices here (on circles it must be retried)
        assert short.params["engine_threshold"] < short.threshold
    monkeypatch.setattr(_rips, "_SHORTCUT_MIN_POINTS", 10**9)
    full = persistence(x, backend="gudhi")
    assert "h1_birth_bound" not in full.params
    for d in range(2):
        assert np.array_equal(short[d], full[d])


def test_backends_identical_with_the_h1_shortcut():
    x = np.array([[i, j, (i * j + 1) % 3] for i in range(15) for j in range(16)], dtype=float)
    res = [persistence(x, backend=b) for b in BACKENDS]
    assert all(r.params["engine_threshold"] < r.threshold for r in res)
    for dg in res[1:]:
        for d in range(2):
            assert np.array_equal(dg[d], res[0][d])


def test_exact_distances():
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(15)
    x = rng.normal(size=(150, 30)) + 1e3  # far from the origin: the Gram identity alone fails
    x[7] = x[3]
    x[9] = x[8] + 1e-9
    dist = pairwise_distances(x)
    ref = squareform(pdist(x))
    assert np.array_equal(dist, dist.T) and np.all(np.diag(dist) == 0)
    assert dist[3, 7] == 0.0 and dist[8, 9] == pytest.approx(ref[8, 9], rel=1e-6)
    off = ref > 0
    assert np.max(np.abs(dist - ref)[off] / ref[off]) < 1e-12
