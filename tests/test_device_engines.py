"""Device engines of the all-pairs matrices: sliced Wasserstein and linear CKA on a torch device.

The torch code runs here on the CPU device and is checked against the NumPy engines (and
persim for the sliced Wasserstein distance); the same checks run on CUDA where a GPU exists
and are skipped with a message elsewhere.
"""

from __future__ import annotations

import importlib

import numpy as np
import persim
import pytest
import torch

from tda_activations.homology import cross_distance_matrix, distance_matrix
from tda_activations.similarity import cross_similarity_matrix, similarity_matrix
from tda_activations.types import ActivationSet, ClassHierarchy

_dist = importlib.import_module("tda_activations.homology.distances")
_cka = importlib.import_module("tda_activations.similarity.cka")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]


def _diagrams(seed: int, count: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for k in range(count):
        size = int(rng.integers(0, 40)) if k else 0  # the first one is empty
        births = rng.uniform(0, 2, size)
        out[f"d{k}"] = np.c_[births, births + rng.exponential(0.5, size)]
    return out


@pytest.mark.parametrize("device", DEVICES)
def test_sliced_wasserstein_on_a_device_equals_the_cpu_engine(device, monkeypatch):
    monkeypatch.setattr(_dist, "DEVICE_BLOCK_BYTES", 200_000)  # several blocks of pairs
    dgms = _diagrams(0, 9)
    ref = distance_matrix(dgms, metric="sliced_wasserstein", n_directions=20)
    got = distance_matrix(dgms, metric="sliced_wasserstein", n_directions=20, device=device)
    assert got.params["device"] == device and "device" not in ref.params
    np.testing.assert_allclose(got.values, ref.values, rtol=1e-13, atol=1e-15)
    assert np.array_equal(got.values, got.values.T) and not np.diagonal(got.values).any()
    again = distance_matrix(dgms, metric="sliced_wasserstein", n_directions=20, device=device)
    assert np.array_equal(again.values, got.values)  # the same bits on a second run
    # and against persim, which we did not write
    a, b = dgms["d1"], dgms["d2"]
    assert got.value("d1", "d2") == pytest.approx(persim.sliced_wasserstein(a, b, M=20), rel=1e-12)
    rows, cols = dict(list(dgms.items())[:3]), dict(list(dgms.items())[3:])
    cref = cross_distance_matrix(rows, cols, metric="sliced_wasserstein", n_directions=20)
    cgot = cross_distance_matrix(
        rows, cols, metric="sliced_wasserstein", n_directions=20, device=device
    )
    np.testing.assert_allclose(cgot.values, cref.values, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("device", DEVICES)
def test_sliced_wasserstein_on_a_device_handles_essential_bars(device):
    dgms = _diagrams(1, 4)
    dgms["e1"] = np.array([[0.0, np.inf], [0.1, 0.5]])
    dgms["e2"] = np.array([[0.3, np.inf], [0.2, 0.4]])
    for essential in ("match", "drop"):
        ref = distance_matrix(dgms, metric="sliced_wasserstein", essential=essential)
        got = distance_matrix(dgms, metric="sliced_wasserstein", essential=essential, device=device)
        np.testing.assert_allclose(got.values, ref.values, rtol=1e-13, atol=1e-15)
    got = distance_matrix(dgms, metric="sliced_wasserstein", device=device)
    assert np.isinf(got.value("d1", "e1")) and np.isfinite(got.value("e1", "e2"))


def _acts(seed: int, n: int = 50) -> ActivationSet:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    clouds = {"l0": x}
    for i, w in enumerate([9, 4, 13]):
        x = np.maximum(x @ rng.normal(size=(x.shape[1], w)), 0) + 0.05 * rng.normal(size=(n, w))
        clouds[f"l{i + 1}"] = x
    return ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(n) for k in clouds},
        labels=np.arange(n) % 3,
        hierarchy=ClassHierarchy(class_names=("a", "b", "c")),
        reduction="top_l2",
        params={},
        model_fingerprint=f"model{seed}",
        data_fingerprint="data",
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("debiased", [False, True])
def test_linear_cka_on_a_device_equals_the_cpu_engine(device, debiased, monkeypatch):
    monkeypatch.setattr(_cka, "BATCH_WIDTH", 16)  # several blocks of stacked clouds
    a, b = _acts(0), _acts(1)
    ref = similarity_matrix(a, measure="linear_cka", debiased=debiased)
    got = similarity_matrix(a, measure="linear_cka", debiased=debiased, device=device)
    assert got.params["device"] == device
    np.testing.assert_allclose(got.values, ref.values, rtol=1e-12, atol=1e-14)
    # the same bits on a second run (no atomic additions: a resumed run must reproduce)
    again = similarity_matrix(a, measure="linear_cka", debiased=debiased, device=device)
    assert np.array_equal(again.values, got.values)
    cref = cross_similarity_matrix(a, b, measure="linear_cka", debiased=debiased)
    cgot = cross_similarity_matrix(a, b, measure="linear_cka", debiased=debiased, device=device)
    np.testing.assert_allclose(cgot.values, cref.values, rtol=1e-12, atol=1e-14)


def test_measures_without_a_device_engine_say_so_and_gram_form_clouds_go_too():
    with pytest.raises(ValueError, match="bottleneck distance has no device engine"):
        distance_matrix(_diagrams(2, 3), metric="bottleneck", device="cpu")
    with pytest.raises(ValueError, match="has no device engine; leave device=None"):
        similarity_matrix(_acts(0), measure="procrustes", device="cpu")
    wide = _acts(0, n=8)  # 9 and 13 features on 8 points: the Gram form on the CPU
    np.testing.assert_allclose(
        similarity_matrix(wide, measure="linear_cka", device="cpu").values,
        similarity_matrix(wide, measure="linear_cka").values,
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.skipif(torch.cuda.device_count() >= 8, reason="this machine has a cuda:7")
def test_a_missing_device_is_a_clear_error():
    with pytest.raises(ValueError, match="'cuda:7' does not exist on this machine; available"):
        distance_matrix(_diagrams(3, 3), metric="sliced_wasserstein", device="cuda:7")
    with pytest.raises(ValueError, match="'cuda:7' does not exist on this machine; available"):
        similarity_matrix(_acts(0), measure="linear_cka", device="cuda:7")
