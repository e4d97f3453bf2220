"""Correlation-order probe: XOR, an analytic first-order case, peers, hooks, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from tda_activations.datasets import flat_hierarchy
from tda_activations.probes._hooks import (
    LayerCapture,
    OutputReplacement,
    capture_outputs,
    default_layers,
    evaluation,
)
from tda_activations.probes.correlation_order import (
    SURROGATES,
    CorrelationOrderProfile,
    _fit_gaussian,
    correlation_order,
    ledoit_wolf_shrinkage,
)
from tda_activations.types import ImageDataset, Split


def make_xor(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from tda_activations.datasets import make_xor as mk
    except ImportError:  # pragma: no cover - before the datasets stage lands
        rng = np.random.default_rng(seed)
        corners = rng.choice([-1.0, 1.0], size=(n, 2))
        x = corners + 0.25 * rng.normal(size=(n, 2))
        return x, (corners[:, 0] * corners[:, 1] < 0).astype(np.int64)
    return mk(n, seed=seed)


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, *, steps: int = 300, seed: int = 0
) -> nn.Module:
    torch.manual_seed(seed)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def xor_model() -> tuple[nn.Module, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    fit, test = make_xor(1000, seed=0), make_xor(1000, seed=1)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)
    )
    return train(model, *fit), fit, test


# ---------------------------------------------------------------------------- XOR


# Margins of the trained nets below (benchmarks/margins_trained_tests.py: init seeds 0-4, 1 and
# 2 torch threads, results/margins_trained_tests.txt): XOR true accuracy 1.000 in all 10 runs
# (asserted > 0.97), logits first-order 1.000 (> 0.95), |second - limit| <= 0.023 (< 0.05);
# mean-shift case: true >= 0.9985 (> 0.95), |first/full - true| <= 0.001 (< 0.03),
# |second - 0.5| <= 0.0075 (< 0.05); CLI linear digits accuracy 0.928-0.937 (> 0.85).


def test_xor_input_information_is_purely_second_order(xor_model) -> None:
    model, fit, test = xor_model
    prof = correlation_order(model, test, fit_data=fit, n_draws=2, seed=0)
    assert isinstance(prof, CorrelationOrderProfile)
    assert prof.layers == ("input", "0", "2", "4")
    assert prof.true_accuracy > 0.97
    assert prof.chance_accuracy == pytest.approx(0.5, abs=0.01)
    row = prof.accuracy[0]
    first, second = (
        prof.accuracy_of("class_means_pooled_cov")[0],
        prof.accuracy_of("class_means_class_covs")[0],
    )
    se = math.sqrt(0.25 / prof.n_surrogates)
    assert abs(first - 0.5) < 4 * se + 0.01  # class means are equal: chance
    # a Gaussian with the class covariance puts x1*x2 on the class's side with probability
    # 1/2 + arcsin(rho)/pi (rho the class correlation): the best any classifier can do on it
    x, y = test
    rho = np.corrcoef(x[y == 0].T)[0, 1]
    limit = 0.5 + math.asin(rho) / math.pi
    assert second > 0.8 and abs(second - limit) < 0.05
    assert abs(row[2] - second) < 0.05  # pooled mean = class means here
    # the logits layer carries the class in its means (first order)
    assert prof.accuracy_of("class_means_pooled_cov")[-1] > 0.95
    table = prof.to_pandas()
    assert list(table["layer"]) == list(prof.layers)
    assert {f"acc_{s}" for s in SURROGATES} <= set(table.columns)


def test_first_order_case_mean_shift_with_shared_covariance() -> None:
    # two Gaussian classes that differ only in their means, a linear classifier
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.6], [0.6, 1.0]])
    chol = np.linalg.cholesky(cov)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, size=n)
        x = rng.normal(size=(n, 2)) @ chol.T + np.where(y[:, None] == 1, 1.5, -1.5) * np.array(
            [1.0, -1.0]
        )
        return x, y

    fit, test = sample(2000), sample(2000)
    model = train(nn.Sequential(nn.Linear(2, 2)), *fit)
    prof = correlation_order(model, test, fit_data=fit, layers=[], include_input=True)
    true, (full, first, second) = prof.true_accuracy, prof.accuracy[0]
    assert true > 0.95
    assert abs(first - true) < 0.03 and abs(full - true) < 0.03
    assert abs(second - 0.5) < 0.05  # equal covariances carry nothing


def test_split_of_image_datasets_and_shrinkage_options(xor_model) -> None:
    model, fit, test = xor_model
    hier = flat_hierarchy(["same", "different"])

    def ds(xy: tuple[np.ndarray, np.ndarray], name: str) -> ImageDataset:
        return ImageDataset(
            images=xy[0].reshape(-1, 1, 1, 2), labels=xy[1], hierarchy=hier, name=name
        )

    net = nn.Sequential(nn.Flatten(), model)
    split = Split(train=ds(fit, "train"), test=ds(test, "test"))
    a = correlation_order(net, split, layers=["1.2"], seed=3, shrinkage=0.0)
    b = correlation_order(net, split, layers=["1.2"], seed=3, shrinkage=0.0)
    assert np.array_equal(a.accuracy, b.accuracy)
    assert np.all(a.class_shrinkage == 0.0) and np.all(a.pooled_shrinkage == 0.0)
    c = correlation_order(net, split, layers=["1.2"], seed=3, shrinkage=0.5)
    assert np.all(c.pooled_shrinkage == 0.5)
    assert a.params["n_fit"] == 1000 and a.params["n_eval"] == 1000


# -------------------------------------------------------------------- shrinkage


@pytest.mark.parametrize("shape", [(50, 5), (20, 80), (7, 300)])
def test_ledoit_wolf_matches_scikit_learn(shape: tuple[int, int]) -> None:
    from sklearn.covariance import ledoit_wolf_shrinkage as sk

    rng = np.random.default_rng(1)
    x = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1])) * 0.3 + 1.0
    assert ledoit_wolf_shrinkage(x) == pytest.approx(sk(x), rel=1e-9, abs=1e-12)
    xc = x - x.mean(axis=0)
    assert ledoit_wolf_shrinkage(xc, assume_centered=True) == pytest.approx(
        sk(xc, assume_centered=True), rel=1e-9, abs=1e-12
    )


def test_surrogate_samples_have_the_shrunk_covariance_of_scikit_learn() -> None:
    from sklearn.covariance import LedoitWolf

    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 4)) @ np.array(
        [[2, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0.5, 0], [0, 0, 0, 0.1]]
    )
    mean = x.mean(axis=0)
    g = _fit_gaussian(mean, x - mean, "ledoit_wolf")
    ref = LedoitWolf().fit(x)
    assert g.shrinkage == pytest.approx(ref.shrinkage_)
    draws = g.sample(np.broadcast_to(mean, (200_000, 4)), np.random.default_rng(0))
    assert np.allclose(draws.mean(axis=0), mean, atol=0.02)
    assert np.allclose(np.cov(draws, rowvar=False), ref.covariance_, atol=0.03)


# ------------------------------------------------------------------------- hooks


class Twice(nn.Module):
    """Calls the same linear module twice."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(3, 3)
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.lin(torch.relu(self.lin(x)))))


def test_hooks_address_repeated_calls_and_clean_up() -> None:
    model = Twice()
    model.train()
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    assert default_layers(model, x) == ("lin", "lin:1", "head")
    xt = torch.from_numpy(x)
    with torch.no_grad():
        first = model.lin(xt)
        second = model.lin(torch.relu(first))
    with evaluation(model):
        got0 = capture_outputs(model, x, "lin", batch_size=4)
        got1 = capture_outputs(model, x, "lin:1", batch_size=4)
        with OutputReplacement(model, "lin:1") as rep:
            rep.replacement = torch.zeros(10, 3)
            out = model(xt)
            assert rep.calls == 1
    assert np.allclose(got0, first.numpy(), atol=1e-6) and np.allclose(
        got1, second.numpy(), atol=1e-6
    )
    assert torch.allclose(out, model.head(torch.zeros(10, 3)).detach().expand(10, 2))
    assert model.training
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_hooks_are_removed_when_the_forward_pass_fails() -> None:
    model = Twice()
    with (
        pytest.raises(ValueError, match="batch size"),
        evaluation(model),
        OutputReplacement(model, "lin") as rep,
    ):
        rep.replacement = torch.zeros(2, 3)
        model(torch.zeros(5, 3))
    with pytest.raises(RuntimeError, match="boom"), LayerCapture(model, ["head"]):
        raise RuntimeError("boom")
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_correlation_order_leaves_the_model_as_it_was(xor_model) -> None:
    model, fit, test = xor_model
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    correlation_order(model, (test[0][:200], test[1][:200]), fit_data=fit, layers=["2"])
    assert model.training
    model.eval()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


# ------------------------------------------------------------------------ errors


def test_bad_inputs_fail_clearly(xor_model) -> None:
    model, fit, test = xor_model
    with pytest.raises(ValueError, match="did you mean"):
        correlation_order(model, test, fit_data=fit, layers=["3x"])
    with pytest.raises(ValueError, match="class labels"):
        correlation_order(model, test[0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        correlation_order(model, test, shrinkage=1.5)
    with pytest.raises(ValueError, match="did you mean"):
        correlation_order(model, test, shrinkage="ledoit_wolff")
    with pytest.raises(ValueError, match="fewer than 2"):
        correlation_order(model, test, fit_data=(fit[0][:3], np.array([0, 0, 1])))
    with pytest.raises(ValueError, match="no fit samples"):
        correlation_order(model, test, fit_data=(fit[0][:4], np.array([0, 0, 0, 0])))
    with pytest.raises(ValueError, match="n_draws"):
        correlation_order(model, test, n_draws=0)
    with pytest.raises(ValueError, match="no layers"):
        correlation_order(model, test, layers=[], include_input=False)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        correlation_order("model", test)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ CLI


def test_cli_corr_order(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import types

    import pandas as pd
    from typer.testing import CliRunner

    from tda_activations import models
    from tda_activations.cli.probes_meandim import app
    from tda_activations.datasets import load_digits

    data = load_digits()

    def fake(name: str, *, seed: int = 0, **_: object) -> types.SimpleNamespace:
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
        x = torch.from_numpy(np.array(data.train.images))
        return types.SimpleNamespace(
            model=train(net, x.numpy().reshape(-1, 64), data.train.labels, steps=100), data=data
        )

    monkeypatch.setattr(models, "pretrained", fake)
    out = tmp_path / "co.csv"
    res = CliRunner().invoke(app, ["corr-order", "tiny", "--shrinkage", "0.1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table["layer"]) == ["input", "1"]
    assert (table["true_accuracy"] > 0.85).all()
    assert np.allclose(table["pooled_shrinkage"], 0.1)
    res = CliRunner().invoke(app, ["corr-order", "tiny", "--layers", "nope"])
    assert res.exit_code == 2 and "unknown layer" in res.output
