"""Diagram distances and vectorisations against persim, GUDHI and Hera, plus known values."""

from __future__ import annotations

import importlib
import math

import gudhi
import gudhi.hera as hera
import numpy as np
import persim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from persim.persistent_entropy import persistent_entropy

from tda_activations.homology import (
    betti_curve,
    betti_curve_distance,
    bottleneck_distance,
    diagram_distance,
    diagram_distance_names,
    get_diagram_distance,
    landscape,
    persistence,
    persistence_entropy,
    persistence_image,
    sliced_wasserstein_distance,
    total_persistence,
    wasserstein_distance,
)


@pytest.fixture(scope="module")
def rips_diagrams():
    """H1 diagrams of small activation-like clouds (many bars near the diagonal)."""
    out = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(90, 4)) @ rng.normal(size=(4, 20))
        out.append(persistence(np.maximum(z + rng.normal(size=20), 0), maxdim=1)[1])
    return out


def _random_dgm(rng, k, scale=5.0):
    b = rng.uniform(0, scale, k)
    return np.c_[b, b + rng.exponential(1.0, k)]


# ---------------------------------------------------------------- sliced Wasserstein


@pytest.mark.parametrize("m", [1, 10, 50])
def test_sliced_wasserstein_equals_persim(rips_diagrams, m):
    d = rips_diagrams
    for a, b in [(0, 1), (2, 3), (4, 5)]:
        ours = sliced_wasserstein_distance(d[a], d[b], n_directions=m)
        assert abs(ours - persim.sliced_wasserstein(d[a], d[b], M=m)) < 1e-9


def test_sliced_wasserstein_empty_and_identical():
    rng = np.random.default_rng(0)
    a = _random_dgm(rng, 12)
    empty = np.zeros((0, 2))
    assert abs(sliced_wasserstein_distance(a, empty) - persim.sliced_wasserstein(a, empty)) < 1e-9
    assert sliced_wasserstein_distance(a, a) == 0.0
    assert sliced_wasserstein_distance(empty, empty) == 0.0


# ------------------------------------------------------------------------ bottleneck


def test_bottleneck_known_values():
    assert bottleneck_distance([[0.0, 2.0]], [[0.0, 3.0]]) == 1.0
    assert bottleneck_distance([[0.0, 2.0]], []) == 1.0  # to the diagonal: (d - b) / 2
    assert bottleneck_distance([], []) == 0.0


def test_bottleneck_equals_gudhi_and_persim(rips_diagrams):
    d = rips_diagrams
    for a in range(len(d)):
        for b in range(a + 1, len(d)):
            ours = bottleneck_distance(d[a], d[b])
            assert ours == pytest.approx(gudhi.bottleneck_distance(d[a], d[b]), rel=1e-12)
            assert ours == pytest.approx(persim.bottleneck(d[a], d[b]), rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 9), st.integers(0, 9))
def test_bottleneck_property_against_persim_and_hera(seed, k1, k2):
    rng = np.random.default_rng(seed)
    # coarse values create ties, the hard case for exactness
    a = np.round(_random_dgm(rng, k1), 1)
    b = np.round(_random_dgm(rng, k2), 1)
    ours = bottleneck_distance(a, b)
    assert ours == pytest.approx(persim.bottleneck(a, b), rel=1e-12, abs=1e-12)
    assert ours == pytest.approx(hera.bottleneck_distance(a, b, 0), rel=1e-12, abs=1e-12)
    # the pairs found by KD-tree ball queries (large diagrams) give the same value
    from unittest import mock

    dist_mod = importlib.import_module("tda_activations.homology.distances")
    with mock.patch.object(dist_mod, "DENSE_BOTTLENECK_PAIRS", 0):
        assert bottleneck_distance(a, b) == ours


@pytest.mark.parametrize("dense_pairs", [0, 1 << 40])  # KD-tree ball queries; dense matrix
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottleneck_of_larger_tied_diagrams_against_persim(seed, dense_pairs, monkeypatch):
    # on a half-integer grid many costs equal a point's distance to the diagonal exactly,
    # where a ball query's radius could lose a pair
    monkeypatch.setattr(
        importlib.import_module("tda_activations.homology.distances"),
        "DENSE_BOTTLENECK_PAIRS",
        dense_pairs,
    )
    rng = np.random.default_rng(seed)
    births = rng.integers(0, 12, size=(2, 150)) / 2.0
    a = np.c_[births[0], births[0] + rng.integers(1, 6, 150) / 2.0]
    b = np.c_[births[1], births[1] + rng.integers(1, 6, 150) / 2.0]
    assert bottleneck_distance(a, b) == persim.bottleneck(a, b)


def test_bottleneck_where_gudhis_exact_mode_is_wrong():
    # gudhi.bottleneck_distance(a, b, e=0) returns 1.5 here (GUDHI 3.13); every point to the
    # diagonal costs at most 1.05 and no pairing does better, as persim and Hera agree.
    a = np.array([[4.7, 6.2], [3.7, 5.8], [4.2, 4.9]])
    b = np.array([[1.1, 2.4], [3.0, 3.4], [0.7, 1.0]])
    assert bottleneck_distance(a, b) == pytest.approx(1.05, rel=1e-12)
    assert persim.bottleneck(a, b) == pytest.approx(1.05, rel=1e-12)


# ----------------------------------------------------------------------- Wasserstein


def test_wasserstein_order1_euclidean_equals_persim(rips_diagrams):
    d = rips_diagrams
    for a, b in [(0, 1), (1, 2), (3, 5)]:
        ours = wasserstein_distance(d[a], d[b], order=1, internal_p=2)
        assert ours == pytest.approx(persim.wasserstein(d[a], d[b]), rel=1e-12)


@pytest.mark.parametrize(
    "order,internal_p", [(1, math.inf), (2, math.inf), (2, 2), (3, 1), (1.5, 3)]
)
def test_wasserstein_equals_hera(rips_diagrams, order, internal_p):
    d = rips_diagrams
    for a, b in [(0, 1), (2, 4)]:
        ours = wasserstein_distance(d[a], d[b], order=order, internal_p=internal_p)
        ref = hera.wasserstein_distance(d[a], d[b], order=order, internal_p=internal_p, delta=1e-10)
        assert ours == pytest.approx(ref, rel=1e-8)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 6), st.integers(0, 6))
def test_wasserstein_property_against_hera(seed, k1, k2):
    rng = np.random.default_rng(seed)
    a, b = _random_dgm(rng, k1), _random_dgm(rng, k2)
    ours = wasserstein_distance(a, b, order=2, internal_p=math.inf)
    ref = hera.wasserstein_distance(a, b, order=2, internal_p=math.inf, delta=1e-10)
    assert ours == pytest.approx(ref, rel=1e-8, abs=1e-12)


def test_wasserstein_needs_explicit_order_and_ground_metric():
    with pytest.raises(TypeError):
        wasserstein_distance([[0.0, 1.0]], [[0.0, 2.0]], order=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="order"):
        wasserstein_distance([[0.0, 1.0]], [], order=0.5, internal_p=2)
    with pytest.raises(ValueError, match="internal_p"):
        wasserstein_distance([[0.0, 1.0]], [], order=1, internal_p=0.5)


# ------------------------------------------------------------------- essential bars


def test_essential_policy():
    a = np.array([[0.0, np.inf], [0.5, 2.0]])
    b = np.array([[0.2, np.inf], [0.4, 1.0]])
    c = np.array([[0.0, np.inf], [0.1, np.inf]])
    # "match" agrees with GUDHI/Hera, which support points at infinity
    assert bottleneck_distance(a, b) == pytest.approx(gudhi.bottleneck_distance(a, b))
    assert wasserstein_distance(a, b, order=1, internal_p=math.inf) == pytest.approx(
        hera.wasserstein_distance(a, b, order=1, internal_p=math.inf, delta=1e-10)
    )
    # different numbers of essential bars: infinitely far apart
    for f in (
        lambda x, y, **k: bottleneck_distance(x, y, **k),
        lambda x, y, **k: wasserstein_distance(x, y, order=1, internal_p=2, **k),
        lambda x, y, **k: sliced_wasserstein_distance(x, y, **k),
        lambda x, y, **k: betti_curve_distance(x, y, **k),
    ):
        assert f(a, c) == math.inf
        assert math.isfinite(f(a, c, essential="drop"))
    # "drop" is persim's convention
    with pytest.warns(UserWarning):
        ref = persim.wasserstein(a, c)
    assert wasserstein_distance(a, c, order=1, internal_p=2, essential="drop") == pytest.approx(ref)
    fa, fb = a[np.isfinite(a[:, 1])], b[np.isfinite(b[:, 1])]
    assert sliced_wasserstein_distance(a, b) == pytest.approx(
        persim.sliced_wasserstein(fa, fb) + 0.2, abs=1e-9
    )
    # diagrams with only essential bars
    assert bottleneck_distance(c, c[::-1]) == 0.0
    assert sliced_wasserstein_distance(c, [[0.0, np.inf], [0.3, np.inf]]) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="essential"):
        bottleneck_distance(a, b, essential="keep")


def test_bad_diagrams():
    with pytest.raises(ValueError, match="NaN"):
        bottleneck_distance([[0.0, np.nan]], [])
    with pytest.raises(ValueError, match="shape"):
        bottleneck_distance([[0.0, 1.0, 2.0]], [])
    with pytest.raises(ValueError, match="precede"):
        bottleneck_distance([[1.0, 0.5]], [])
    with pytest.raises(ValueError, match="births"):
        bottleneck_distance([[np.inf, np.inf]], [])


def test_diagrams_objects_pick_dimension():
    x = np.random.default_rng(1).normal(size=(50, 3))
    a = persistence(x)
    b = persistence(x * 1.1)
    assert bottleneck_distance(a, b, dim=0) == bottleneck_distance(a[0], b[0])
    assert sliced_wasserstein_distance(a, b) == sliced_wasserstein_distance(a[1], b[1])
    with pytest.raises(IndexError):
        bottleneck_distance(a, b, dim=2)


# ---------------------------------------------------------------------- registry


def test_registry():
    names = diagram_distance_names()
    for n in (
        "bottleneck",
        "wasserstein",
        "sliced_wasserstein",
        "betti_curve",
        "landscape",
        "persistence_image",
        "entropy",
        "total_persistence",
    ):
        assert n in names
    with pytest.raises(ValueError, match="sliced_wasserstein"):
        get_diagram_distance("sliced_wasserstien")
    with pytest.raises(TypeError, match="n_direction"):
        get_diagram_distance("bottleneck", n_direction=3)
    sw = get_diagram_distance("sliced_wasserstein", n_directions=20)
    assert sw.measure_name(1) == "sliced_wasserstein[H1,M=20]"
    w = get_diagram_distance("wasserstein", order=2, internal_p=math.inf)
    assert w.measure_name(0) == "wasserstein[H0,q=2.0,p=inf]" and w.is_metric
    a, b = [[0.0, 1.0]], [[0.5, 2.0]]
    assert diagram_distance(a, b, metric="wasserstein", order=2, internal_p=math.inf) == (
        wasserstein_distance(a, b, order=2, internal_p=math.inf)
    )


# ------------------------------------------------------------------- vectorisations


def test_betti_curve_matches_gudhi(rips_diagrams):
    from gudhi.representations import BettiCurve

    d = rips_diagrams[0]
    grid = np.linspace(d.min(), d[:, 1].max(), 60)
    ref = BettiCurve(predefined_grid=grid).fit_transform([d])[0]
    assert np.array_equal(betti_curve(d, grid=grid), ref)
    h0 = np.array([[0.0, 1.0], [0.0, np.inf]])
    assert betti_curve(h0, grid=[0.0, 0.5, 1.0, 7.0]).tolist() == [2, 2, 1, 1]


def test_betti_curve_distance_is_the_exact_integral(rips_diagrams):
    a, b = rips_diagrams[0], rips_diagrams[1]
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    grid = np.linspace(lo, hi, 200001)
    numeric = np.abs(betti_curve(a, grid=grid) - betti_curve(b, grid=grid)).sum() * (
        grid[1] - grid[0]
    )
    assert betti_curve_distance(a, b) == pytest.approx(numeric, rel=1e-3)
    assert betti_curve_distance([[0.0, 1.0]], [[0.0, 3.0]]) == 2.0


def test_landscape_matches_gudhi(rips_diagrams):
    from gudhi.representations import Landscape

    d = rips_diagrams[2]
    lo, hi = float(d.min()), float(d[:, 1].max())
    ref = Landscape(num_landscapes=4, resolution=80, sample_range=[lo, hi]).fit_transform([d])[0]
    ours = landscape(d, grid=np.linspace(lo, hi, 80), n_layers=4)
    # GUDHI scales landscapes by sqrt(2) (rotated coordinates); ours are Bubenik's
    np.testing.assert_allclose(ours * math.sqrt(2), ref.reshape(4, 80), rtol=1e-12, atol=1e-14)
    assert landscape([[0.0, 2.0]], grid=[1.0], n_layers=2).tolist() == [[1.0], [0.0]]


def test_persistence_image_matches_persim():
    rng = np.random.default_rng(3)
    d = _random_dgm(rng, 15, scale=2.0)
    pim = persim.PersistenceImager(
        birth_range=(0.0, 2.0),
        pers_range=(0.0, 4.0),
        pixel_size=0.25,
        kernel_params={"sigma": [[0.09, 0.0], [0.0, 0.09]]},
    )
    ref = pim.transform(d, skew=True)
    ours = persistence_image(
        d, birth_range=(0.0, 2.0), pers_range=(0.0, 4.0), resolution=(8, 16), sigma=0.3
    )
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_entropy_matches_persim_and_gudhi(rips_diagrams):
    from gudhi.representations import Entropy

    d = rips_diagrams[3]
    assert persistence_entropy(d) == pytest.approx(persistent_entropy(d)[0], rel=1e-12)
    assert persistence_entropy(d) == pytest.approx(
        Entropy(mode="scalar").fit_transform([d])[0][0], rel=1e-12
    )
    assert persistence_entropy(d, normalize=True) == pytest.approx(
        persistent_entropy(d, normalize=True)[0], rel=1e-12
    )
    assert persistence_entropy(np.zeros((0, 2))) == 0.0
    assert persistence_entropy([[0.0, np.inf]]) == 0.0


def test_total_persistence_is_a_wasserstein_distance_to_the_empty_diagram(rips_diagrams):
    d = rips_diagrams[4]
    for q in (1.0, 2.0):
        w = wasserstein_distance(d, np.zeros((0, 2)), order=q, internal_p=math.inf)
        assert total_persistence(d, order=q) == pytest.approx(2**q * w**q, rel=1e-12)
    assert total_persistence([[0.0, 2.0], [1.0, np.inf]]) == 2.0


@pytest.mark.parametrize(
    "name", ["betti_curve", "landscape", "persistence_image", "entropy", "total_persistence"]
)
def test_vectorisation_distances_are_pseudometrics(rips_diagrams, name):
    dist = get_diagram_distance(name)
    prep = dist.prepare_many(rips_diagrams)
    m = np.array([[dist.pair(a, b) for b in prep] for a in prep])
    assert np.allclose(np.diag(m), 0) and np.allclose(m, m.T)
    assert (m >= 0).all() and m[0, 1] > 0
    i, j, k = 0, 1, 2
    assert m[i, k] <= m[i, j] + m[j, k] + 1e-9


def test_docstring_examples():
    import doctest
    import importlib

    for name in ("distances", "matrix", "rips", "large", "vectorize"):
        mod = importlib.import_module(f"tda_activations.homology.{name}")
        assert doctest.testmod(mod).failed == 0, name
