"""Experiments on zoo LeNets from different seeds: the shipped weights, the same on every machine.

The LeNets (default settings, seeds 0-2) load from the weights shipped with the package,
so what these tests assert about them holds everywhere; only float32 inference noise
differs between machines and thread counts, and every threshold below keeps a margin far
above it.  Values measured with 1 and 2 torch threads (identical to 4 decimals;
benchmarks/results/margins_trained_tests.txt): correspondence accuracy / chance 3.17
(linear CKA) and 4.17 (H0 sliced Wasserstein), p = 0.005 for both (the smallest possible
with 199 permutations); depth-gap Spearman of linear CKA 0.51; sensitivity
``spearman_fraction`` 1.0 for both measures.
"""

from __future__ import annotations

import numpy as np
import pytest

from tda_activations import experiments as ex

#: The id of linear CKA with its defaults (the key of every experiment table).
CKA = "linear_cka[debiased=False,form=auto]"


@pytest.fixture(scope="module")
def lenets(tmp_path_factory):
    cache = tmp_path_factory.mktemp("weights")
    out = ex.zoo_activations("lenet", seeds=(0, 1, 2), n_images=150, cache=cache)
    assert not (cache / "models").exists()  # shipped weights: nothing trained
    return out


def test_zoo_activations_share_images(lenets) -> None:
    a, b = lenets["seed0"], lenets["seed1"]
    assert list(lenets) == ["seed0", "seed1", "seed2"]
    assert a.layers == b.layers and len(a.layers) == 5  # 2 conv + 3 linear
    assert a.data_fingerprint == b.data_fingerprint and a.model_fingerprint != b.model_fingerprint
    assert np.array_equal(a.labels, b.labels) and a.cloud(a.layers[0]).shape[0] == 150


def test_correspondence_and_monotonicity_on_lenets(lenets) -> None:
    ms = ["linear_cka", ex.layer_measure("H0:sliced_wasserstein", n_jobs=1)]
    r = ex.layer_correspondence(lenets, measures=ms, n_permutations=199, n_bootstrap=200)
    df = r.to_pandas().set_index("measure")
    # seeds of one small, briefly trained architecture: at least twice chance (1/5), and the permutation
    # test agrees (linear CKA is far from perfect here: fc1 of the other model is closest to every fc layer)
    assert (df["accuracy"] >= 2 * df["chance"]).all()
    assert (df["p_value"] < 0.05).all()
    assert r.matrix("linear_cka", "seed0", "seed2").shape == (5, 5)
    from scipy.stats import spearmanr

    m = ex.layer_monotonicity(lenets["seed0"], measures=ms, n_permutations=99)
    summary = m.to_pandas().set_index("measure")
    for name in summary.index:  # the statistic is scipy's Spearman over the matrix's upper triangle
        mat = m.matrix(name).values
        dis = 1 - mat if name == CKA else mat
        iu = np.triu_indices(5, 1)
        ref = spearmanr(iu[1] - iu[0], ((dis + dis.T) / 2)[iu]).statistic
        assert summary.loc[name, "spearman_depth_gap"] == pytest.approx(ref)
    assert summary.loc[CKA, "spearman_depth_gap"] > 0


def test_sensitivity_on_a_lenet_layer(lenets) -> None:
    acts = lenets["seed0"]
    layer = acts.layers[2]
    r = ex.sensitivity(
        acts, layers=[layer], measures=["procrustes", "linear_cka"], fractions=(0.3, 0.6, 0.9)
    )
    per = r.per_layer.to_pandas()
    assert (per["spearman_fraction"] > 0.9).all()
    c = r.curves.to_pandas()
    assert (c["depth"] == 2).all() and c["probe_accuracy"].notna().all()


def test_different_architectures_are_refused(lenets, tmp_path) -> None:
    mlp = ex.zoo_activations("mlp", seeds=(0,), n_images=150, cache=tmp_path)
    with pytest.raises(ValueError, match="different layers"):
        ex.layer_correspondence(
            {"lenet": lenets["seed0"], "mlp": mlp["seed0"]}, measures="linear_cka"
        )
    with pytest.raises(ValueError, match="images"):
        ex.zoo_activations("mlp", seeds=(0,), n_images=2000, source="test", cache=tmp_path)
    with pytest.raises(ValueError, match="distinct"):
        ex.zoo_activations("mlp", seeds=(0, 0), cache=tmp_path)
