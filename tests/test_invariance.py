"""Invariance, equivariance, separability and the group-invariant prototype: cases with known
answers (circular convolutions and pooling), NumPy / scikit-learn / SciPy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist, squareform
from sklearn.metrics import calinski_harabasz_score
from torch import nn

from tda_activations.datasets import load_digits
from tda_activations.probes import transforms as T
from tda_activations.probes.invariance import (
    class_separability,
    equivariance,
    invariance_scores,
    layer_outputs,
    separability_of_features,
)
from tda_activations.probes.prototype import fit_group_invariant_prototype
from tda_activations.types import Split


class CircularNet(nn.Module):
    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1, padding_mode="circular")
        self.conv2 = nn.Conv2d(6, 6, 3, stride=stride, padding=1, padding_mode="circular")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(self.pool(h).flatten(1))


@pytest.fixture(scope="module")
def digits() -> Split:
    d = load_digits()
    return Split(train=d.train.subset(np.arange(300)), test=d.test.subset(np.arange(200)))


@pytest.fixture(scope="module")
def net() -> CircularNet:
    torch.manual_seed(0)
    return CircularNet()


SHIFTS = T.translation_group([(0, 0), (0, 1), (2, 3), (-1, 0)], mode="circular")


# ------------------------------------------------------------------ transforms


def test_transforms_match_numpy() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 6)).astype(np.float32)
    assert np.array_equal(T.apply_transform(x, T.hflip()), x[..., ::-1])
    assert np.array_equal(T.apply_transform(x, T.vflip()), x[..., ::-1, :])
    assert np.array_equal(T.apply_transform(x, T.rot90(1)), np.rot90(x, 1, axes=(2, 3)))
    assert np.array_equal(
        T.apply_transform(x, T.translate(1, -2)), np.roll(x, (1, -2), axis=(2, 3))
    )
    z = T.apply_transform(x, T.translate(1, -2, mode="zeros"))
    ref = np.zeros_like(x)
    ref[:, :, 1:, :-2] = x[:, :, :-1, 2:]
    assert np.array_equal(z, ref)
    assert np.array_equal(T.apply_transform(x, T.custom(lambda t: t * 2, name="double")), 2 * x)
    assert T.rot90(4).kind == "identity" and T.translate(0, 0).kind == "identity"


def test_dihedral_group_is_closed() -> None:
    x = torch.as_tensor(np.random.default_rng(1).normal(size=(1, 1, 5, 5)).astype(np.float32))
    group = T.dihedral_group()
    images = [g(x) for g in group]
    for g in group:
        for h in group:
            gh = g(h(x))
            assert any(torch.equal(gh, im) for im in images)


def test_group_errors() -> None:
    with pytest.raises(ValueError, match="did you mean.*'flips'"):
        T.as_group("flipz")
    with pytest.raises(ValueError, match="at least one"):
        T.as_group([])
    with pytest.raises(ValueError, match="unique"):
        T.as_group([T.hflip(), T.hflip()])
    with pytest.raises(TypeError, match="whole pixels"):
        T.translate(0.5, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        T.translate(1, 1, mode="reflect")
    with pytest.raises(ValueError, match="structure='dense'"):
        T.custom(lambda t: t).spatial_action(torch.zeros(1, 1, 2, 2), input_size=(4, 4))


# ------------------------------------------------------------------ invariance


def test_global_pool_after_circular_convs_is_invariant(net: CircularNet, digits: Split) -> None:
    res = invariance_scores(net, digits.test, group=SHIFTS, layers=["conv1", "conv2", "pool", "fc"])
    assert res.score("pool") < 1e-9 and res.score("fc") < 1e-9
    assert res.score("conv1") > 0.2 and res.score("conv2") > 0.2
    df = res.to_pandas()
    assert list(df["layer"]) == ["conv1", "conv2", "pool", "fc"]
    assert ((df["score"] >= 0) & (df["score"] <= 1)).all()


def test_invariance_score_matches_numpy(net: CircularNet, digits: Split) -> None:
    images = np.array(digits.test.images[:50])
    group = T.flip_group()
    res = invariance_scores(net, images, group=group, layers=["conv2"], batch_size=16)
    with torch.no_grad():  # the hook sees conv2's raw output (before the relu)
        feats = np.stack(
            [net.conv2(torch.relu(net.conv1(g(torch.as_tensor(images))))).numpy() for g in group]
        )
    flat = feats.reshape(len(group), images.shape[0], -1).astype(np.float64)
    within = flat.var(axis=0).mean(axis=0)
    total = flat.reshape(-1, flat.shape[-1]).var(axis=0)
    assert res.score("conv2") == pytest.approx(within.sum() / total.sum(), rel=1e-6)
    assert res.rows[0].median_unit_score == pytest.approx(np.median(within / total), rel=1e-6)


def test_hooks_removed_and_mode_restored(net: CircularNet, digits: Split) -> None:
    net.train()
    invariance_scores(net, digits.test.images[:8], group="hflip", layers=["conv1"])
    equivariance(net, digits, group="hflip", layers=["conv1"], max_train=20, max_test=10)
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())
    net.eval()


def test_invariance_errors(net: CircularNet, digits: Split) -> None:
    with pytest.raises(ValueError, match="did you mean 'conv1'"):
        invariance_scores(net, digits.test, layers=["convv1"])
    with pytest.raises(ValueError, match="channels, height, width"):
        invariance_scores(net, np.zeros((3, 8, 8)))
    with pytest.raises(TypeError, match="Split"):
        equivariance(net, digits.test)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only the identity"):
        equivariance(net, digits, group=[T.identity()])
    with pytest.raises(ValueError, match="structure='conv'"):
        equivariance(
            net,
            digits,
            group=[T.custom(lambda t: t, name="same")],
            layers=["conv1"],
            structure="conv",
        )


# ---------------------------------------------------------------- equivariance


def test_circular_conv_is_equivariant_to_circular_shifts(net: CircularNet, digits: Split) -> None:
    res = equivariance(net, digits, group=SHIFTS, layers=["conv1", "conv2", "pool"], ridge=1e-8)
    df = res.to_pandas().set_index(["layer", "transform"])
    conv = df.loc[["conv1", "conv2"]]
    assert (conv["structure"] == "conv").all()
    assert (conv["residual"] < 1e-6).all()
    assert (conv["identity_residual"] > 0.1).all()  # equivariant, not invariant
    assert (df.loc["pool", "identity_residual"] < 1e-9).all()  # invariance: M_g = identity works
    # an (almost) exact M_g leaves the network's decisions unchanged
    assert np.allclose(df["accuracy_replaced"], df["accuracy_transformed"], atol=1 / res.n_test)


def test_strided_map_uses_scaled_shift(digits: Split) -> None:
    torch.manual_seed(1)
    strided = CircularNet(stride=2)
    group = [T.translate(2, 4), T.translate(0, 2)]
    res = equivariance(
        strided, digits, group=group, layers=["conv2"], ridge=1e-8, with_accuracy=False
    )
    assert (res.to_pandas()["residual"] < 1e-6).all()
    assert np.isnan(res.to_pandas()["accuracy_replaced"]).all()


def test_dense_fit_primal_and_dual(net: CircularNet, digits: Split) -> None:
    small = Split(train=digits.train.subset(np.arange(40)), test=digits.test.subset(np.arange(30)))
    # conv1 flattened has 384 dims > 40 training images: the dual form; fc has 10: the primal
    res = equivariance(
        net, small, group="hflip", layers=["conv1", "fc"], structure="dense", with_accuracy=False
    )
    df = res.to_pandas()
    assert (df["structure"] == "dense").all() and np.isfinite(df["residual"]).all()
    assert (df["residual"] >= 0).all()
    # flips of a circular net: the fitted map beats the identity on held-out data
    assert (df["residual"] <= df["identity_residual"] + 1e-9).all()


# ---------------------------------------------------------------- separability


def test_separability_matches_scipy_and_sklearn() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(loc=c, size=(30, 5)) for c in (0.0, 3.0, 6.0)])
    y = np.repeat([0, 1, 2], 30)
    row = separability_of_features(x, y)
    d = squareform(pdist(x))
    same = y[:, None] == y[None, :]
    off = ~np.eye(len(y), dtype=bool)
    assert row.mean_intra_distance == pytest.approx(d[same & off].mean())
    assert row.mean_inter_distance == pytest.approx(d[~same].mean())
    k, n = 3, len(y)
    assert row.fisher_criterion == pytest.approx(calinski_harabasz_score(x, y) * (k - 1) / (n - k))
    with pytest.raises(ValueError, match="two classes"):
        separability_of_features(x, np.zeros(len(y), dtype=int))
    with pytest.raises(ValueError, match="one label per point"):
        separability_of_features(x, y[:-1])


# ------------------------------------------------------------------- prototype


def test_prototype_is_flip_invariant_and_matches_sklearn(digits: Split) -> None:
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    proto = fit_group_invariant_prototype(digits.train, group="flips", n_components=16)
    res = invariance_scores(
        proto, digits.test, group="flips", layers=["representation", "reduction", "classifier"]
    )
    assert all(r.score < 1e-10 for r in res.rows)
    # max pooling over the orbit is invariant too
    proto_max = fit_group_invariant_prototype(
        digits.train, group="flips", pooling="max", n_components=16
    )
    assert (
        invariance_scores(proto_max, digits.test, group="flips", layers=["reduction"]).rows[0].score
        < 1e-10
    )

    # the torch layers reproduce the scikit-learn pipeline on the orbit-averaged pixels
    def orbit_mean(images: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.array(images))
        return torch.stack([g(t).flatten(1) for g in T.flip_group()]).mean(0).double().numpy()

    z = orbit_mean(digits.train.images)
    pca = PCA(16, random_state=0).fit(z)
    clf = LogisticRegression(max_iter=2000, random_state=0).fit(
        pca.transform(z), digits.train.labels
    )
    expected = clf.predict(pca.transform(orbit_mean(digits.test.images)))
    with torch.no_grad():
        got = proto(torch.as_tensor(np.array(digits.test.images))).argmax(1).numpy()
    assert (got == expected).mean() > 0.99
    acts = layer_outputs(proto, digits.test, layers=["representation", "reduction"])
    sep = class_separability(acts).to_pandas()
    assert list(sep["layer"]) == ["representation", "reduction"]
    assert (sep["distance_ratio"] > 1).all()
    assert acts.predictions is not None and (acts.predictions == got).all()


def test_cli_prototype_separability(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from tda_activations.cli.probes_invariance import app

    out = tmp_path / "sep.csv"
    result = CliRunner().invoke(
        app, ["separability", "prototype", "--group", "hflip", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "fisher_criterion" in result.output and out.exists()
