"""Given-data total indices and mean dimension: analytic cases, peers, models, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tda_activations.probes.mean_dimension import (
    InversePCA,
    ModelMeanDimensions,
    fit_pca,
    logit_mean_dimensions,
    logit_total_indices,
    mean_dimension_profile,
    product_of_marginals,
    total_indices,
)

SQ3 = math.sqrt(3.0)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a shared 2-core machine a second thread is far slower, not faster."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def uniform(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Independent zero-mean, unit-variance features."""
    return np.random.default_rng(seed).uniform(-SQ3, SQ3, size=(n, d))


def close(estimate: float, truth: float, se: float, *, k: float = 4.0, floor: float = 1e-9) -> bool:
    return abs(estimate - truth) <= k * max(se, floor)


# ------------------------------------------------------------------ analytic cases


def test_additive_function_has_mean_dimension_one() -> None:
    x = uniform(4000, 4)
    f = lambda z: 2 * z[:, 0] + np.sin(z[:, 1]) + z[:, 2] ** 2  # noqa: E731  (x3 ignored)
    ti = total_indices(f, x, seed=1)
    md, se = ti.mean_dimensions[0], ti.mean_dimension_se[0]
    assert close(md, 1.0, se) and abs(md - 1.0) < 0.1
    # each total index of an additive function is the variance of its term
    var_terms = [4.0, np.var(np.sin(x[:, 1]), ddof=1), np.var(x[:, 2] ** 2, ddof=1)]
    for i, v in enumerate(var_terms):
        assert close(ti.indices[0, i], v, ti.index_se[0, i])


@pytest.mark.parametrize("k", [2, 3, 4])
def test_product_of_k_independent_zero_mean_features_has_mean_dimension_k(k: int) -> None:
    x = uniform(4000, k + 1, seed=k)
    ti = total_indices(lambda z: np.prod(z[:, :k], axis=1), x, seed=0)
    md, se = ti.mean_dimensions[0], ti.mean_dimension_se[0]
    assert close(md, float(k), se), (md, se)
    assert abs(md - k) / k < 0.15
    # every factor has total index Var f = 1 (all the variance is the top interaction)
    assert np.allclose(ti.normalized_indices[0, :k], 1.0, atol=0.2)


def test_ignored_feature_gets_exactly_zero_even_when_correlated() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=2000)
    x = np.stack([a, a + 0.1 * rng.normal(size=2000), rng.normal(size=2000)], axis=1)
    ti = total_indices(lambda z: z[:, 0] * z[:, 2], x)
    assert ti.indices[0, 1] == 0.0 and ti.index_se[0, 1] == 0.0
    assert ti.indices[0, 0] > 0 and ti.indices[0, 2] > 0


def test_ishigami_total_indices_match_the_known_values() -> None:
    # Ishigami (a=7, b=0.1) on U(-pi, pi)^3: analytic total Sobol' indices
    x = np.random.default_rng(0).uniform(-np.pi, np.pi, size=(20000, 3))
    f = lambda z: np.sin(z[:, 0]) + 7 * np.sin(z[:, 1]) ** 2 + 0.1 * z[:, 2] ** 4 * np.sin(z[:, 0])  # noqa: E731
    ti = total_indices(f, x)
    var = 0.5 + 7**2 / 8 + 0.1 * np.pi**4 / 5 + 0.1**2 * np.pi**8 / 18
    st = (
        np.array(
            [
                0.5 * (1 + 0.1 * np.pi**4 / 5) ** 2 + 8 * 0.1**2 * np.pi**8 / 225,
                7**2 / 8,
                8 * 0.1**2 * np.pi**8 / 225,
            ]
        )
        / var
    )
    assert np.allclose(ti.normalized_indices[0], [0.5576, 0.4424, 0.2437], atol=0.02)
    assert np.allclose(st, [0.5576, 0.4424, 0.2437], atol=5e-4)  # the formula itself
    assert close(ti.mean_dimensions[0], st.sum(), ti.mean_dimension_se[0])


def test_estimator_converges_and_standard_error_shrinks_like_root_n() -> None:
    f = lambda z: z[:, 0] * z[:, 1] + z[:, 2]  # noqa: E731  var 2, sum of total indices 3 -> MD 1.5
    ses, errs = [], []
    for n in (500, 8000):
        mds = []
        for seed in range(3):
            ti = total_indices(f, uniform(n, 3, seed=100 + seed), seed=seed)
            mds.append(ti.mean_dimensions[0])
            if seed == 0:
                ses.append(ti.mean_dimension_se[0])
        errs.append(np.mean(np.abs(np.array(mds) - 1.5)))
    ratio = ses[0] / ses[1]
    assert 2.5 < ratio < 6.5  # sqrt(16) = 4
    assert errs[1] < errs[0] and errs[1] < 0.05


def test_standard_error_is_calibrated_across_seeds() -> None:
    f = lambda z: z[:, 0] * z[:, 1] + z[:, 2]  # noqa: E731
    mds, ses = [], []
    for seed in range(30):
        ti = total_indices(f, uniform(400, 3, seed=seed), seed=seed)
        mds.append(ti.mean_dimensions[0])
        ses.append(ti.mean_dimension_se[0])
    spread = np.std(mds, ddof=1)
    assert 0.6 < np.mean(ses) / spread < 1.6


def test_vector_outputs_and_pooled_mean_dimension() -> None:
    x = uniform(3000, 3, seed=5)
    f = lambda z: np.stack([z[:, 0] + z[:, 1], 3 * z[:, 0] * z[:, 1] * z[:, 2]], axis=1)  # noqa: E731
    ti = total_indices(f, x, output_names=["sum", "prod"])
    assert ti.output_names == ("sum", "prod")
    assert abs(ti.mean_dimensions[0] - 1) < 0.1 and abs(ti.mean_dimensions[1] - 3) < 0.4
    # pooled: (2*1 + 9*3) / (2 + 9)
    assert close(ti.pooled_mean_dimension, 29 / 11, ti.pooled_mean_dimension_se)
    table = ti.to_pandas()
    assert list(table.columns) == [
        "output",
        "feature",
        "total_index",
        "total_index_se",
        "normalized_total_index",
    ]
    assert len(table) == 6
    per_output = ti.output_table()
    assert np.allclose(per_output["mean_dimension"], ti.mean_dimensions)
    assert ti.summary().startswith(f"mean dimension {ti.pooled_mean_dimension:.4g} ")
    with pytest.raises(ValueError):
        ti.indices[0, 0] = 1.0  # read-only


def test_feature_groups_swap_together() -> None:
    x = uniform(3000, 4, seed=2)
    # a product of two *groups* is of dimension 2 in the groups, 4 in the single features
    f = lambda z: (z[:, 0] + z[:, 1]) * (z[:, 2] + z[:, 3])  # noqa: E731
    grouped = total_indices(f, x, feature_groups=[[0, 1], [2, 3]], feature_names=["a", "b"])
    single = total_indices(f, x)
    assert grouped.feature_names == ("a", "b") and grouped.feature_shape is None
    assert abs(grouped.mean_dimensions[0] - 2) < 0.25
    assert abs(single.mean_dimensions[0] - 2) < 0.25  # each feature is in one pair only


def test_seeded_and_deterministic() -> None:
    x = uniform(500, 3)
    f = lambda z: z[:, 0] * z[:, 1]  # noqa: E731
    a, b = total_indices(f, x, seed=7), total_indices(f, x, seed=7)
    c = total_indices(f, x, seed=8)
    assert np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)
    # the batch size does not change the numbers
    d = total_indices(f, x, seed=7, batch_size=7)
    assert np.allclose(a.indices, d.indices)


def test_torch_module_and_numpy_callable_agree() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    net.train()
    x = uniform(300, 4)
    a = total_indices(net, x, seed=1)
    assert net.training  # the mode is restored

    def f(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net(torch.from_numpy(z).float()).numpy()

    b = total_indices(f, x, seed=1)
    assert np.allclose(a.mean_dimensions, b.mean_dimensions, rtol=1e-5)
    assert np.allclose(a.indices, b.indices, rtol=1e-5)


# ------------------------------------------------------------------------------- PCA


def test_fit_pca_matches_scikit_learn() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6)) + 3.0
    ours = fit_pca(x)
    ref = PCA().fit(x)
    assert np.allclose(ours.variances, ref.explained_variance_)
    assert np.allclose(np.abs(ours.components), np.abs(ref.components_), atol=1e-8)
    assert np.allclose(np.abs(ours.transform(x)), np.abs(ref.transform(x)), atol=1e-8)
    part = fit_pca(x, n_components=0.9)
    ref90 = PCA(n_components=0.9).fit(x)
    assert part.n_components == ref90.n_components_
    assert math.isclose(part.explained_variance_ratio, ref90.explained_variance_ratio_.sum())


def test_inverse_pca_layer_reproduces_the_data() -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(50, 2, 3)) * [[1, 2, 3], [4, 5, 6]]).astype(np.float64)
    basis = fit_pca(x)
    z = basis.transform(x)
    # uncorrelated coordinates
    cov = np.cov(z, rowvar=False)
    assert np.allclose(cov - np.diag(np.diag(cov)), 0, atol=1e-8)
    inv = basis.inverse_layer()
    assert isinstance(inv, InversePCA)
    back = inv(torch.from_numpy(z).float()).numpy()
    assert back.shape == x.shape and np.allclose(back, x, atol=1e-4)
    trunc = fit_pca(x, n_components=2)
    coords = np.concatenate([trunc.transform(x), trunc.residual(x)], axis=1)
    back = trunc.inverse_layer(with_residual=True)(torch.from_numpy(coords).float()).numpy()
    assert np.allclose(back, x, atol=1e-4)
    with pytest.raises(ValueError, match="coordinates of shape"):
        inv(torch.zeros(3, 2))


def test_rank_deficient_inputs_keep_only_the_rank() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(100, 3)) @ rng.normal(size=(3, 10))
    assert fit_pca(x).n_components == 3
    assert math.isclose(fit_pca(x).explained_variance_ratio, 1.0)


# --------------------------------------------------------------------------- models


class Product(nn.Module):
    """logit 0 = x0 * x1, logit 1 = x0 + x1 (x2 ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        with torch.no_grad():
            self.lin.weight.copy_(torch.eye(3))
            self.lin.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.lin(x.flatten(1))
        return torch.stack([h[:, 0] * h[:, 1], h[:, 0] + h[:, 1]], dim=1)


def test_logit_indices_of_a_known_model_on_inputs() -> None:
    x = uniform(3000, 3, seed=4).astype(np.float32)
    model = Product()
    ti = logit_total_indices(model, x, features="inputs", n_rows=2000)
    assert ti.features == "inputs" and ti.feature_shape == (3,)
    assert close(ti.mean_dimensions[0], 2.0, ti.mean_dimension_se[0])
    assert close(ti.mean_dimensions[1], 1.0, ti.mean_dimension_se[1])
    assert np.all(ti.indices[:, 2] == 0.0)  # ignored input
    heat = ti.heatmap("logit[0]")
    assert heat.shape == (3,) and heat[2] == 0.0
    assert ti.heatmap().shape == (3,)


def test_logit_indices_on_pca_coordinates_are_exact_for_independent_pcs() -> None:
    # independent features of distinct variances: PCA recovers the axes, so PCA features are
    # the inputs themselves (up to sign) and the answers match the raw-input answers
    rng = np.random.default_rng(6)
    x = (rng.uniform(-SQ3, SQ3, size=(3000, 3)) * [3.0, 2.0, 0.5]).astype(np.float32)
    ti = logit_total_indices(Product(), x, features="pca", n_rows=2000)
    assert ti.features == "pca" and ti.feature_names == ("pc0", "pc1", "pc2")
    assert ti.params["explained_variance_ratio"] == pytest.approx(1.0)
    assert close(ti.mean_dimensions[0], 2.0, ti.mean_dimension_se[0])
    assert ti.normalized_indices[0, 2] < 1e-3
    with pytest.raises(ValueError, match="per-pixel heatmap"):
        ti.heatmap()
    # truncated PCA: the rest becomes one 'residual' feature and nothing is lost
    tr = logit_total_indices(Product(), x, features="pca", n_components=1, n_rows=2000)
    assert tr.feature_names == ("pc0", "residual")
    assert close(tr.mean_dimensions[0], 2.0, tr.mean_dimension_se[0])


def test_pixel_indices_of_a_conv_net_keep_the_image_shape() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    x = uniform(200, 16, seed=1).astype(np.float32).reshape(200, 1, 4, 4)
    ti = logit_total_indices(net, x, features="inputs", n_rows=50)
    assert ti.feature_shape == (1, 4, 4) and ti.feature_names[5] == "x[0,1,1]"
    assert ti.heatmap(0).shape == (1, 4, 4)
    direct = total_indices(net, x, n_rows=50)
    assert np.allclose(ti.indices, direct.indices)


def test_product_of_marginals_makes_features_independent() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    x = np.stack([a, a], axis=1)  # f = x0 + x1 on identical features: MD 1/2 (generalised)
    f = lambda z: z[:, 0] + z[:, 1]  # noqa: E731
    dep = total_indices(f, x)
    ind = total_indices(f, product_of_marginals(x, seed=1))
    assert abs(dep.mean_dimensions[0] - 0.5) < 0.05
    assert abs(ind.mean_dimensions[0] - 1.0) < 0.1
    shuffled = product_of_marginals(x, seed=1)
    assert np.array_equal(np.sort(shuffled[:, 1]), np.sort(x[:, 1]))


def tiny_classifier(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)
    )


def test_depth_profile_of_a_small_network() -> None:
    model = tiny_classifier()
    model.train()
    x = uniform(400, 4, seed=9).astype(np.float32).reshape(400, 2, 2)
    prof = mean_dimension_profile(model, x, n_rows=150, n_components=4)
    assert prof.layers == ("input", "1", "3", "5")
    assert prof.n_units == (4, 16, 8, 3)
    table = prof.to_pandas()
    assert list(table["layer"]) == list(prof.layers)
    # identities: the input given the input, and the logits given the logits, are additive
    assert close(prof.layer_given_input[0], 1.0, prof.layer_given_input_se[0])
    assert close(prof.output_given_layer[-1], 1.0, prof.output_given_layer_se[-1])
    # first linear layer: linear in the input, so mean dimension 1 again
    assert close(prof.layer_given_input[1], 1.0, prof.layer_given_input_se[1])
    # the logits given the input are computed in both sweeps and agree
    assert prof.output_given_layer[0] == prof.layer_given_input[-1]
    # layer "1" is a linear function of the input: rank 4 kept exactly, no residual
    assert prof.n_components[1] == 4 and prof.explained_variance_ratio[1] == pytest.approx(1.0)
    assert model.training
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_output_given_layer_matches_a_split_network() -> None:
    # the replacement hook gives the same numbers as evaluating the tail of the network directly
    model = tiny_classifier(1)
    x = uniform(300, 4, seed=3).astype(np.float32)
    prof = mean_dimension_profile(model, x, layers=["3"], n_rows=120, n_components=None)
    with torch.no_grad():
        acts = model[:4](torch.from_numpy(x)).numpy()
    tail = model[4:]
    basis = fit_pca(acts)
    coords = basis.transform(acts)
    direct = total_indices(nn.Sequential(basis.inverse_layer(), tail), coords, n_rows=120, seed=0)
    assert prof.output_given_layer[1] == pytest.approx(direct.pooled_mean_dimension, rel=1e-4)


def test_several_models_table() -> None:
    x = uniform(300, 4, seed=1).astype(np.float32)
    res = logit_mean_dimensions({"a": tiny_classifier(0), "b": tiny_classifier(1)}, x, n_rows=100)
    assert isinstance(res, ModelMeanDimensions)
    table = res.to_pandas()
    assert list(table["model"]) == ["a", "b"]
    assert np.all(table["md_logit_min"] <= table["md_logit_max"])
    assert np.all(table["md_pooled"] >= 0.5)


# --------------------------------------------------------------------------- errors


def test_bad_inputs_fail_clearly() -> None:
    x = uniform(50, 3)
    with pytest.raises(ValueError, match="NaN"):
        total_indices(lambda z: z[:, 0], np.where(x > 1, np.nan, x))
    with pytest.raises(ValueError, match="n_rows"):
        total_indices(lambda z: z[:, 0], x, n_rows=1)
    with pytest.raises(ValueError, match="at least 2 rows"):
        total_indices(lambda z: z[:, 0], x[:1])
    with pytest.raises(ValueError, match="one value"):
        total_indices(lambda z: z[:3, 0], x)
    with pytest.raises(TypeError, match="callable"):
        total_indices("f", x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="feature names"):
        total_indices(lambda z: z[:, 0], x, feature_names=["a"])
    with pytest.raises(ValueError, match="feature_groups"):
        total_indices(lambda z: z[:, 0], x, feature_groups=[[0, 7]])
    with pytest.raises(ValueError, match="did you mean"):
        logit_total_indices(Product(), x.astype(np.float32), features="pcaa")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="did you mean"):
        mean_dimension_profile(tiny_classifier(), uniform(50, 4).astype(np.float32), layers=["lin"])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        logit_total_indices(lambda z: z, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_components"):
        fit_pca(x, n_components=0)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        fit_pca(x, n_components=1.5)


# ------------------------------------------------------------------------------ CLI


@pytest.fixture()
def fake_zoo(monkeypatch: pytest.MonkeyPatch):
    """`pretrained` replaced by a small untrained digits classifier (no training in tests)."""
    import types

    import tda_activations.models as models
    from tda_activations.datasets import load_digits

    data = load_digits()

    def fake(name: str, *, seed: int = 0, **_: object) -> types.SimpleNamespace:
        if name != "tiny":
            raise ValueError(f"unknown zoo model {name!r}")
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(), nn.Linear(12, 10))
        return types.SimpleNamespace(model=net.eval(), data=data)

    monkeypatch.setattr(models, "pretrained", fake)
    return fake


def test_cli_meandim_and_profile(fake_zoo, tmp_path) -> None:
    import pandas as pd
    from typer.testing import CliRunner

    from tda_activations.cli.probes_meandim import app

    runner = CliRunner()
    out, idx = tmp_path / "md.csv", tmp_path / "idx.csv"
    res = runner.invoke(
        app, ["meandim", "tiny", "--n-rows", "60", "--out", str(out), "--indices-out", str(idx)]
    )
    assert res.exit_code == 0, res.output
    assert "pooled mean dimension" in res.output
    table = pd.read_csv(out)
    assert len(table) == 10 and (table["mean_dimension"] > 0.5).all()
    assert set(pd.read_csv(idx)["feature"]).issuperset({"pc0", "pc1"})
    res = runner.invoke(
        app, ["meandim-profile", "tiny", "--n-rows", "40", "--n-components", "4", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(out)["layer"]) == ["input", "1", "3"]
    res = runner.invoke(app, ["meandim", "tiny", "--features", "pixel"])
    assert res.exit_code == 2 and "unknown feature space" in res.output
    res = runner.invoke(app, ["meandim-profile", "tiny", "--n-components", "many"])
    assert res.exit_code != 0
