"""Numerics, bad input and the all-pairs LayerMatrix API of the similarity stage."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tda_activations import similarity as sim
from tda_activations.types import ActivationSet, ClassHierarchy

FAST = {
    "rtd": {"n_subsample": 30, "trials": 1},
    "minibatch_cka": {"batch_size": 16},
    "knn_jaccard": {"k": 5},
    "knn_jaccard_distance": {"k": 5},
}


def _m(name):
    return sim.get_measure(name, **FAST.get(name, {}))


def _pair(n=40, p=5, q=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    return x, np.tanh(x @ rng.normal(size=(p, q))) + 0.3 * rng.normal(size=(n, q))


# ------------------------------------------------------------------------ numerics


@pytest.mark.parametrize(
    "make",
    [
        lambda: sim.LinearCKA(debiased=True),
        lambda: sim.RBFCKA(debiased=True),
        lambda: sim.MinibatchCKA(),
    ],
)
def test_debiased_hsic_needs_four_points(make):
    x = np.arange(9.0).reshape(3, 3) ** 2
    with pytest.raises(ValueError, match="at least 4"):
        make()(x, x)


def test_u_centre_needs_four_points():
    with pytest.raises(ValueError, match="at least 4 points"):
        sim.u_centre(np.eye(3))


@pytest.mark.parametrize("name", ["cca_mean_squared", "cca_mean", "svcca", "pwcca"])
def test_cca_with_width_at_least_n_warns_and_every_correlation_is_one(name):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 25)), rng.normal(size=(20, 30))
    with pytest.warns(sim.MeaninglessValueWarning, match="equal 1 by construction"):
        value = sim.get_measure(name)(x, y)
    if name != "svcca":  # SVCCA's truncation leaves fewer directions, not all forced to 1
        assert value == pytest.approx(1.0, abs=1e-9)


def test_ridge_cca_regularises_without_warning():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 25)), rng.normal(size=(20, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = sim.CCA(ridge=1.0)(x, y)
    assert 0.0 < value < 0.9
    assert sim.CCA(ridge=1.0)(x, x) == pytest.approx(1.0, abs=1e-9)


def test_cca_counts_correlations_up_to_the_rank():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 3))
    x_rank_deficient = np.hstack([x, x @ rng.normal(size=(3, 4))])  # width 7, rank 3
    y = x @ rng.normal(size=(3, 5)) + 0.1 * rng.normal(size=(50, 5))
    rho = sim.canonical_correlations(x_rank_deficient, y)
    assert rho.shape == (3,)
    np.testing.assert_allclose(rho, sim.canonical_correlations(x, y), atol=1e-9)


@pytest.mark.parametrize("name", sim.available_measures())
def test_constant_units_give_no_nan(name):
    x, y = _pair()
    x_const = np.hstack([x, np.full((x.shape[0], 2), 7.0), np.zeros((x.shape[0], 1))])
    m = _m(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from 0/0 either
        v_const, v = m(x_const, y), m(x, y)
    assert np.isfinite(v_const)
    if m.properties.invariant_to("translation") and name != "pwcca":
        # a constant unit vanishes after centring
        assert v_const == pytest.approx(v, abs=1e-9)


def test_correlation_rdm_with_a_flat_pattern_warns_and_stays_finite():
    x, y = _pair()
    x[3] = 2.0  # this sample's pattern has zero variance across units
    with pytest.warns(RuntimeWarning, match="zero variance"):
        value = sim.RSA(rdm="correlation", compare="pearson")(x, y)
    assert np.isfinite(value)


@pytest.mark.parametrize("name", sim.available_measures())
def test_a_cloud_of_identical_points_is_a_clear_error(name):
    x, _ = _pair()
    with pytest.raises(ValueError, match="same|constant|coincide|zero"):
        _m(name)(np.ones_like(x), x)


def test_float64_accumulation_and_offsets():
    x, y = _pair(n=200, p=20, q=10)
    cka = sim.get_measure("linear_cka")
    x32 = x.astype(np.float32)
    assert cka(x32, y) == pytest.approx(cka(x32.astype(np.float64), y), abs=1e-13)
    assert cka(x + 1e4, y) == pytest.approx(cka(x, y), abs=1e-9)
    assert sim.LinearCKA(debiased=True)(x + 1e4, y) == pytest.approx(
        sim.LinearCKA(debiased=True)(x, y), abs=1e-9
    )


def test_auto_form_uses_gram_when_width_reaches_n():
    m = sim.LinearCKA()
    assert "gram" in m.prepare(np.random.default_rng(0).normal(size=(10, 12))).stats
    assert "gram" not in m.prepare(np.random.default_rng(0).normal(size=(30, 12))).stats


def test_minibatch_cka_estimates_debiased_cka():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3000, 8))
    y = x @ rng.normal(size=(8, 6)) + 2.0 * rng.normal(size=(3000, 6))
    full = sim.LinearCKA(debiased=True)(x, y)
    mini = sim.MinibatchCKA(batch_size=300)(x, y)
    assert abs(mini - full) < 0.02
    assert sim.MinibatchCKA(batch_size=300, seed=1)(x, y) != mini  # the seed matters


# ---------------------------------------------------------------------- bad input


def test_bad_input_messages():
    x, y = _pair()
    cka = sim.get_measure("linear_cka")
    with pytest.raises(ValueError, match="2-D"):
        cka(x[:, 0], y)
    with pytest.raises(ValueError, match="non-finite"):
        cka(np.where(np.eye(40, 5) > 0, np.nan, x), y)
    with pytest.raises(ValueError, match="same samples"):
        cka(x, y[:-1])
    with pytest.raises(TypeError, match="numeric"):
        cka(np.array([["a", "b"], ["c", "d"]]), y)
    with pytest.raises(ValueError, match="did you mean 'linear_cka'"):
        sim.get_measure("linear_cak")
    with pytest.raises(TypeError, match="linear_cka"):
        sim.get_measure("linear_cka", bandwidth=3)
    with pytest.raises(ValueError, match="prepared by"):
        cka.score(sim.RBFCKA().prepare(x), cka.prepare(y))
    with pytest.raises(TypeError, match="PreparedCloud"):
        cka.score(x, y)
    with pytest.raises(ValueError, match="not the cosine"):
        sim.angular_distance("cca_mean")
    with pytest.raises(ValueError, match="not a similarity"):
        sim.one_minus_similarity("procrustes")
    with pytest.raises(ValueError, match="form"):
        sim.LinearCKA(form="both")
    with pytest.raises(ValueError, match="alpha"):
        sim.AngularShapeMetric(alpha=1.5)
    with pytest.raises(ValueError, match="RDM comparison"):
        sim.RSA(compare="spearmann")
    with pytest.raises(ValueError, match="at least 41"):
        sim.KNNJaccard(k=40)(x, y)
    with pytest.raises(ValueError, match="k must be"):
        sim.KNNJaccard(k=0)


# --------------------------------------------------------------------- LayerMatrix


def _acts(seed=0, *, n=60, fingerprint="data0", shuffle_layer=None):
    labels = np.random.default_rng(100).integers(0, 3, n)  # the same samples for every model
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    clouds = {"conv1": x}
    for i, w in enumerate([8, 5, 12]):
        x = np.maximum(x @ rng.normal(size=(x.shape[1], w)), 0) + 0.05 * rng.normal(size=(n, w))
        clouds[f"layer{i + 1}.conv"] = x
    index = {k: np.arange(n) for k in clouds}
    if shuffle_layer:
        index[shuffle_layer] = rng.permutation(n)
    return ActivationSet(
        clouds=clouds,
        sample_index=index,
        labels=labels,
        hierarchy=ClassHierarchy(class_names=("a", "b", "c")),
        reduction="top_l2",
        params={"seed": 0},
        model_fingerprint=f"model{seed}",
        data_fingerprint=fingerprint,
    )


@pytest.mark.parametrize(
    "name", ["linear_cka", "minibatch_cka", "pwcca", "procrustes", "linear_cka_angular", "rsa"]
)
def test_similarity_matrix_matches_pairwise_calls(name):
    acts = _acts()
    mat = sim.similarity_matrix(acts, measure=name, **FAST.get(name, {}))
    m = _m(name)
    assert mat.row_labels == acts.layers and mat.kind == m.kind and mat.measure == m.id
    for i, a in enumerate(acts.layers):
        for j, b in enumerate(acts.layers):
            expected = m(acts.cloud(a), acts.cloud(b)) if i != j else m.properties.identity_value
            assert mat.values[i, j] == pytest.approx(expected, abs=1e-7)
    assert mat.params["reduction"] == "top_l2" and "top_l2" in mat.params["conv_maps"]
    assert mat.params["n_points"] == 60


def test_similarity_matrix_layers_and_params():
    acts = _acts()
    mat = sim.similarity_matrix(
        acts, measure="linear_cka", layers=["layer3.conv", "conv1"], debiased=True
    )
    assert mat.row_labels == ("layer3.conv", "conv1")
    assert mat.params["measure_params"]["debiased"] is True
    with pytest.raises(ValueError, match="did you mean"):
        sim.similarity_matrix(acts, layers=["layer9.conv"])


def test_similarity_matrix_refuses_layers_with_different_point_sets():
    with pytest.raises(ValueError, match="different point sets"):
        sim.similarity_matrix(_acts(shuffle_layer="layer2.conv"))


def test_cross_similarity_matrix_between_models():
    a, b = _acts(0), _acts(1)
    mat = sim.cross_similarity_matrix(
        a, b, measure="minibatch_cka", batch_size=16, layers_b=["conv1", "layer3.conv"]
    )
    assert mat.shape == (4, 2)
    m = sim.MinibatchCKA(batch_size=16)
    assert mat.value("layer2.conv", "layer3.conv") == pytest.approx(
        m(a.cloud("layer2.conv"), b.cloud("layer3.conv")), abs=1e-12
    )
    assert mat.params["rows"]["model_fingerprint"] == "model0"
    assert mat.params["cols"]["model_fingerprint"] == "model1"


def test_cross_similarity_matrix_refuses_other_data():
    with pytest.raises(ValueError, match="different data"):
        sim.cross_similarity_matrix(_acts(0), _acts(1, fingerprint="other"))
    with pytest.raises(ValueError, match="same samples"):
        sim.cross_similarity_matrix(_acts(0, n=60), _acts(1, n=50))


def test_cloud_matrix_on_plain_clouds():
    x, y = _pair()
    mat = sim.cloud_matrix({"x": x, "y": y}, measure="shape_angular", alpha=0.5)
    assert mat.kind == "distance" and mat.values[0, 0] == 0.0
    assert mat.values[0, 1] == pytest.approx(sim.AngularShapeMetric(alpha=0.5)(x, y))
    with pytest.raises(ValueError, match="different numbers of points"):
        sim.cloud_matrix({"x": x, "y": y[:-2]})
