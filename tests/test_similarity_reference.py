"""Similarity measures checked against code and numbers we did not write.

* Kornblith et al.'s published demonstration of their reference CKA code
  (google-research/google-research, ``representation_similarity/Demo.ipynb``,
  "Similarity of Neural Network Representations Revisited", ICML 2019): its inputs
  are rebuilt here and our values compared with the values printed in the notebook
  (5 decimals), plus the invariance facts the notebook asserts.
* rsatoolbox (RDMs and RDM comparisons), dcor (distance correlation), scikit-learn
  (CCA by NIPALS), scipy (orthogonal Procrustes), GUDHI (Rips persistence of the
  RTD cross-barcode matrix) and, where installed, the torch-cka package (minibatch CKA).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from tda_activations import similarity as sim

# --------------------------------------------------------------------- Kornblith et al.


def _demo_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs of Demo.ipynb: ``np.random.seed(1337); X = randn(100, 10);
    Y = randn(100, 10) + X``, then ``transform = randn(10, 10)`` (legacy RandomState
    streams are reproducible across NumPy versions)."""
    rs = np.random.RandomState(1337)
    x = rs.randn(100, 10)
    y = rs.randn(100, 10) + x
    transform = rs.randn(10, 10)
    return x, y, transform


# Values printed by Demo.ipynb (outputs of its cells, 5 decimals).
DEMO_LINEAR_CKA = 0.55761  # "Linear CKA from Examples/Features"
DEMO_RBF_CKA_HALF_MEDIAN = 0.65483  # "RBF CKA" with threshold 0.5
DEMO_LINEAR_CKA_DEBIASED = 0.51346  # "Linear CKA from Examples/Features (Debiased)"
DEMO_CCA_MEAN_SQUARED = 0.54312  # "Mean Squared CCA Correlation" (their cca does not centre)
PRINTED = 0.5e-5  # half a unit of the 5th decimal


@pytest.mark.parametrize("form", ["gram", "feature", "auto"])
def test_linear_cka_matches_published_demo(form):
    x, y, _ = _demo_inputs()
    assert abs(sim.LinearCKA(form=form)(x, y) - DEMO_LINEAR_CKA) <= PRINTED
    assert abs(sim.LinearCKA(form=form, debiased=True)(x, y) - DEMO_LINEAR_CKA_DEBIASED) <= PRINTED


def test_gram_and_feature_forms_agree_to_rounding():
    x, y, _ = _demo_inputs()
    for debiased in (False, True):
        g = sim.LinearCKA(form="gram", debiased=debiased)(x, y)
        f = sim.LinearCKA(form="feature", debiased=debiased)(x, y)
        assert g == pytest.approx(f, abs=1e-12)


def test_rbf_cka_matches_published_demo():
    x, y, _ = _demo_inputs()
    assert abs(sim.RBFCKA(bandwidth_fraction=0.5)(x, y) - DEMO_RBF_CKA_HALF_MEDIAN) <= PRINTED


def test_cca_matches_published_demo_without_centring():
    x, y, _ = _demo_inputs()
    assert abs(sim.CCA(center=False)(x, y) - DEMO_CCA_MEAN_SQUARED) <= PRINTED
    # our default centres (translation invariance): a different, documented value
    assert abs(sim.CCA()(x, y) - DEMO_CCA_MEAN_SQUARED) > 1e-3


def test_invariance_facts_of_the_demo():
    x, y, transform = _demo_inputs()
    _, orthogonal = np.linalg.eigh(transform.T @ transform)
    cka, cca = sim.get_measure("linear_cka"), sim.CCA(center=False)
    base = cka(x, y)
    assert cka(x @ orthogonal, y) == pytest.approx(base, abs=1e-10)
    assert not np.isclose(cka(x @ transform, y), base)  # changed by a generic linear map
    assert cca(x @ orthogonal, y) == pytest.approx(cca(x, y), abs=1e-10)
    assert cca(x @ transform, y) == pytest.approx(cca(x, y), abs=1e-10)
    assert cca(x * 1.337, y) == pytest.approx(cca(x, y), abs=1e-10)
    assert cka(x * 1.337, y) == pytest.approx(base, abs=1e-10)


def test_minibatch_cka_with_one_batch_is_debiased_cka():
    x, y, _ = _demo_inputs()
    one = sim.MinibatchCKA(batch_size=1000)(x, y)
    assert one == pytest.approx(DEMO_LINEAR_CKA_DEBIASED, abs=PRINTED)
    assert one == pytest.approx(sim.LinearCKA(debiased=True)(x, y), abs=1e-12)


# ------------------------------------------------------------------------- rsatoolbox

rsatoolbox = pytest.importorskip("rsatoolbox")


def _rsa_tb(x, y, rdm_method, compare_method):
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm, compare

    ra = calc_rdm(Dataset(x), method=rdm_method)
    rb = calc_rdm(Dataset(y), method=rdm_method)
    return float(np.asarray(compare(ra, rb, method=compare_method)).ravel()[0])


RSA_PAIRS = [
    # (our rdm, rsatoolbox rdm, our comparison, rsatoolbox comparison)
    ("squared_euclidean", "euclidean", "pearson", "corr"),
    ("euclidean", "euclidean", "spearman", "spearman"),
    ("squared_euclidean", "euclidean", "spearman", "spearman"),
    ("euclidean", "euclidean", "kendall_tau_b", "kendall"),
    ("euclidean", "euclidean", "kendall_tau_a", "tau-a"),
    ("correlation", "correlation", "pearson", "corr"),
    ("correlation", "correlation", "spearman", "spearman"),
    ("correlation", "correlation", "kendall_tau_b", "kendall"),
    ("correlation", "correlation", "kendall_tau_a", "tau-a"),
]


@pytest.mark.parametrize("ours_rdm,tb_rdm,ours_cmp,tb_cmp", RSA_PAIRS)
def test_rsa_agrees_with_rsatoolbox(ours_rdm, tb_rdm, ours_cmp, tb_cmp):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 12))
    y = np.tanh(x @ rng.normal(size=(12, 7))) + 0.3 * rng.normal(size=(40, 7))
    ours = sim.RSA(rdm=ours_rdm, compare=ours_cmp)(x, y)
    assert ours == pytest.approx(_rsa_tb(x, y, tb_rdm, tb_cmp), abs=1e-6)


@pytest.mark.parametrize(
    "ours_cmp,tb_cmp",
    [("kendall_tau_a", "tau-a"), ("kendall_tau_b", "kendall"), ("spearman", "spearman")],
)
def test_rsa_with_tied_rdms_agrees_with_rsatoolbox(ours_cmp, tb_cmp):
    # small integers: many tied distances; 32 rows keep the centring exact in binary
    rng = np.random.default_rng(4)
    x = rng.integers(0, 3, size=(32, 2)).astype(float)
    y = rng.integers(0, 3, size=(32, 3)).astype(float)
    ours = sim.RSA(rdm="squared_euclidean", compare=ours_cmp)(x, y)
    assert ours == pytest.approx(_rsa_tb(x, y, "euclidean", tb_cmp), abs=1e-6)


def test_rdm_vectors_equal_rsatoolbox_rdms():
    from rsatoolbox.data import Dataset
    from rsatoolbox.rdm import calc_rdm

    rng = np.random.default_rng(5)
    x = rng.normal(size=(25, 6)) + 3.0
    tb_sq = calc_rdm(Dataset(x), method="euclidean").get_vectors()[0]
    np.testing.assert_allclose(
        sim.rdm_vector(x, rdm="squared_euclidean") / x.shape[1], tb_sq, rtol=1e-9, atol=1e-12
    )
    tb_corr = calc_rdm(Dataset(x), method="correlation").get_vectors()[0]
    np.testing.assert_allclose(sim.rdm_vector(x, rdm="correlation"), tb_corr, atol=1e-12)


# ---------------------------------------------------------------------- other peers


def test_distance_correlation_agrees_with_dcor():
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(6)
    x = rng.normal(size=(60, 5))
    y = np.sin(x[:, :3]) + 0.2 * rng.normal(size=(60, 3))
    assert sim.DistanceCorrelation()(x, y) == pytest.approx(
        float(dcor.distance_correlation(x, y)), abs=1e-10
    )


def test_canonical_correlations_agree_with_sklearn_cca():
    from sklearn.cross_decomposition import CCA as SklearnCCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = x @ rng.normal(size=(4, 3)) + rng.normal(size=(200, 3))
    model = SklearnCCA(n_components=3, scale=False, max_iter=100000, tol=1e-15).fit(x, y)
    xs, ys = model.transform(x, y)
    theirs = [abs(np.corrcoef(xs[:, i], ys[:, i])[0, 1]) for i in range(3)]
    np.testing.assert_allclose(sim.canonical_correlations(x, y), theirs, atol=1e-6)


def _unit(x):
    xc = x - x.mean(0)
    return xc / np.linalg.norm(xc)


@pytest.mark.parametrize("widths", [(6, 6), (6, 4)])
def test_procrustes_agrees_with_scipy_orthogonal_procrustes(widths):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, widths[0]))
    y = x[:, : widths[1]] @ rng.normal(size=(widths[1], widths[1])) + 0.5 * rng.normal(
        size=(50, widths[1])
    )
    a, b = _unit(x), _unit(y)
    b = np.hstack([b, np.zeros((50, widths[0] - widths[1]))])  # zero-pad the narrower
    r, _ = scipy.linalg.orthogonal_procrustes(b, a)
    squared = float(np.linalg.norm(a - b @ r) ** 2)
    assert sim.ProcrustesDistance()(x, y) == pytest.approx(squared, abs=1e-10)
    assert sim.ProcrustesDistance(euclidean=True)(x, y) == pytest.approx(
        math.sqrt(squared), abs=1e-10
    )
    angle = math.acos(float(np.sum(a * (b @ r))))
    assert sim.AngularShapeMetric(alpha=1.0)(x, y) == pytest.approx(angle, abs=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7])
def test_partial_whitening_shape_metric_matches_explicit_whitening(alpha):
    """Whiten explicitly (eigh of Xc^T Xc, the netrep convention), align with scipy."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5))
    y = np.tanh(x) @ rng.normal(size=(5, 5))

    def whiten(z):
        zc = z - z.mean(0)
        lam, v = np.linalg.eigh(zc.T @ zc)
        return zc @ (v * (alpha + (1 - alpha) * lam**-0.5)) @ v.T

    xw, yw = whiten(x), whiten(y)
    r, _ = scipy.linalg.orthogonal_procrustes(yw, xw)
    cos = np.sum(xw * (yw @ r)) / (np.linalg.norm(xw) * np.linalg.norm(yw))
    assert sim.AngularShapeMetric(alpha=alpha)(x, y) == pytest.approx(math.acos(cos), abs=1e-8)


def test_shape_metric_alpha_zero_is_arccos_of_mean_canonical_correlation():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(70, 4))
    y = x @ rng.normal(size=(4, 4)) + rng.normal(size=(70, 4))
    rho = sim.canonical_correlations(x, y)
    assert sim.AngularShapeMetric(alpha=0.0)(x, y) == pytest.approx(math.acos(rho.mean()), abs=1e-9)


def test_rtd_cross_barcode_agrees_with_gudhi():
    gudhi = pytest.importorskip("gudhi")
    from scipy.spatial.distance import pdist, squareform

    rng = np.random.default_rng(10)
    t = rng.uniform(0, 2 * np.pi, 25)
    a = np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.normal(size=(25, 2))
    b = np.c_[np.cos(2 * t), np.sin(3 * t)]
    ra, rb = squareform(pdist(a)), squareform(pdist(b))
    ra, rb = ra / np.quantile(ra, 0.9), rb / np.quantile(rb, 0.9)
    ours = sim.cross_barcode(ra, rb, dim=1)
    m = ra.shape[0]
    d = np.zeros((2 * m, 2 * m))
    d[m:, :m], d[:m, m:], d[m:, m:] = ra, ra.T, np.minimum(ra, rb)
    st = gudhi.RipsComplex(distance_matrix=d).create_simplex_tree(max_dimension=2)
    st.compute_persistence(homology_coeff_field=2, min_persistence=0)
    theirs = st.persistence_intervals_in_dimension(1)

    def keep(bars):
        return np.array(sorted(map(tuple, bars[bars[:, 1] - bars[:, 0] > 1e-12])))

    assert ours.shape[0] > 0
    np.testing.assert_allclose(keep(ours), keep(theirs), atol=1e-6)


def test_rtd_is_zero_for_equivalent_clouds_and_positive_otherwise():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rtd = sim.RTD(n_subsample=40, trials=1)
    assert rtd(x, 2.5 * x @ q + 1.0) == pytest.approx(0.0, abs=1e-9)
    assert rtd(x, rng.normal(size=(40, 3))) > 0.05


def test_minibatch_cka_agrees_with_torch_cka():
    torch = pytest.importorskip("torch")
    torch_cka = pytest.importorskip("torch_cka")
    from torch import nn

    rng = np.random.default_rng(12)
    n, m = 120, 40
    x = rng.normal(size=(n, 8))
    layers = [x, np.tanh(x @ rng.normal(size=(8, 6))), np.maximum(x @ rng.normal(size=(8, 5)), 0)]
    measure = sim.MinibatchCKA(batch_size=m, seed=3)
    ours = sim.cloud_matrix({str(i): c for i, c in enumerate(layers)}, measure=measure).values

    # Feed torch-cka the same batches: our permutation, contiguous batches of m.
    from tda_activations.similarity.cka import batch_slices

    order = np.concatenate(batch_slices(n, batch_size=m, seed=3))
    widths = np.cumsum([0] + [c.shape[1] for c in layers])
    data = np.hstack(layers)[order].astype(np.float32)

    class Take(nn.Module):
        def __init__(self, lo, hi):
            super().__init__()
            self.lo, self.hi = int(lo), int(hi)

        def forward(self, z):
            return z[:, self.lo : self.hi]

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = nn.ModuleList(Take(widths[i], widths[i + 1]) for i in range(len(layers)))

        def forward(self, z):
            return [p(z) for p in self.parts]

    names = [f"parts.{i}" for i in range(len(layers))]
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(data), torch.zeros(n)),
        batch_size=m,
        shuffle=False,
    )
    ref = torch_cka.CKA(
        Stack(), Stack(), model1_name="a", model2_name="b", model1_layers=names, model2_layers=names
    )
    ref.compare(loader, loader)
    theirs = ref.export()["CKA"].numpy().astype(np.float64)
    np.testing.assert_allclose(ours, theirs, atol=2e-4)  # torch-cka works in float32
