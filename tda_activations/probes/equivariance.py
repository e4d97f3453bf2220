"""Equivariance of a network's layers (Lenc and Vedaldi, 2015).

:func:`equivariance` fits a linear map ``M_g`` by ridge regression so that
``phi(g x) ~ M_g phi(x)`` on the training split, and reports the normalised
residual on the test split, the residual of ``M_g = identity`` (invariance as a
special case), and the accuracy of the network when ``phi(g x)`` is replaced by
``M_g phi(x)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._tables import rows_to_pandas
from .._torch import check_model, eval_mode
from ..types import Split, compact_repr
from ._hooks import LayerHooks
from ._images import GroupLike, _forward, _resolve_layers, _subsample
from .transforms import Transform, as_group

__all__ = ["EquivarianceResult", "EquivarianceRow", "equivariance"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EquivarianceRow:
    """Equivariance of one layer to one transform.

    Attributes
    ----------
    layer, depth, transform
        Layer name, its position among the probed layers, transform name.
    structure
        ``"conv"``: ``M_g`` moves the feature map by the transform's spatial
        action then mixes channels (a 1x1 convolution with bias), as in Lenc and
        Vedaldi; ``"dense"``: ``M_g`` is a full affine map of the flattened output.
    residual
        Held-out ``sum ||phi(g x) - M_g phi(x)||^2`` over ``sum ||phi(g x) - mean||^2``
        (fraction of variance unexplained; 0 = exactly equivariant).
    identity_residual
        The same with ``M_g`` the identity (0 = invariant).
    accuracy_replaced
        Test accuracy when the network runs on ``g x`` with this layer's output
        replaced by ``M_g phi(x)`` (NaN when accuracy was not asked for).
    accuracy_transformed
        Test accuracy of the network on ``g x``.
    """

    layer: str
    depth: int
    transform: str
    structure: str
    residual: float
    identity_residual: float
    accuracy_replaced: float
    accuracy_transformed: float

    __repr__ = compact_repr


@dataclass(frozen=True)
class EquivarianceResult:
    """Equivariance by layer and transform for one model.

    Attributes
    ----------
    rows
        One :class:`EquivarianceRow` per (layer, transform).
    accuracy_original
        Test accuracy of the model on the untransformed images.
    n_train, n_test
        Images used to fit the maps and to test them.
    params
        Parameters of the run (recorded for provenance).
    """

    rows: tuple[EquivarianceRow, ...]
    accuracy_original: float
    n_train: int
    n_test: int
    params: Mapping[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "params", dict(self.params))

    def to_pandas(self) -> Any:
        """One row per (layer, transform) with the fields of :class:`EquivarianceRow`."""
        return rows_to_pandas(self.rows, EquivarianceRow)


class _RidgeAccumulator:
    """Normal equations of ``Y ~ [X, 1] A`` accumulated batch by batch."""

    def __init__(self) -> None:
        self.xtx: np.ndarray | None = None
        self.xty: np.ndarray | None = None

    def update(self, x: np.ndarray, y: np.ndarray) -> None:
        xa = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
        if self.xtx is None:
            self.xtx = xa.T @ xa
            self.xty = xa.T @ y
        else:
            assert self.xty is not None
            self.xtx += xa.T @ xa
            self.xty += xa.T @ y

    def solve(self, ridge: float) -> np.ndarray:
        assert self.xtx is not None and self.xty is not None
        d = self.xtx.shape[0] - 1
        n = self.xtx[d, d]
        sums = self.xtx[:d, d]
        # penalty relative to the mean variance of the (centred) features
        scale = (np.trace(self.xtx[:d, :d]) - float(sums @ sums) / n) / max(d, 1)
        reg = np.eye(d + 1) * ridge * max(scale, np.finfo(float).tiny)
        reg[d, d] = 0.0  # the bias is not penalised
        return np.linalg.lstsq(self.xtx + reg, self.xty, rcond=None)[0]


def _dense_fit(
    x: np.ndarray, y: np.ndarray, ridge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ridge regression ``y ~ x W + b``; returns (W or dual coefficients, means) as a predictor."""
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    n, d = xc.shape
    scale = float((xc**2).sum()) / max(d, 1)
    lam = ridge * max(scale, np.finfo(float).tiny)
    if d <= n:
        w = np.linalg.solve(xc.T @ xc + lam * np.eye(d), xc.T @ yc)
    else:  # dual form: W = X^T (X X^T + lam I)^-1 Y
        w = xc.T @ np.linalg.solve(xc @ xc.T + lam * np.eye(n), yc)
    return w, mx, my


def equivariance(
    model: nn.Module,
    data: Split,
    *,
    group: GroupLike = "flips",
    layers: Sequence[str] | None = None,
    ridge: float = 1e-3,
    structure: str = "auto",
    with_accuracy: bool = True,
    batch_size: int = 64,
    max_train: int | None = 1000,
    max_test: int | None = 500,
    seed: int = 0,
) -> EquivarianceResult:
    """Lenc-Vedaldi equivariance of each layer to each transform of a group.

    For each layer ``phi`` and transform ``g`` (identity transforms are
    skipped) a linear map ``M_g`` is fitted on ``data.train`` by ridge
    regression so that ``phi(g x) ~ M_g phi(x)``; on ``data.test`` the
    normalised residual and the accuracy of the network with ``phi(g x)``
    replaced by ``M_g phi(x)`` are reported.  Invariance is the special case
    ``M_g = identity`` (``identity_residual``).

    With ``structure="conv"`` (the default for 4-D feature maps when the
    transform's action on feature maps is known) ``M_g`` is "apply ``g`` to the
    feature map (translations scaled by the layer's stride), then a 1x1
    convolution with bias", fitted over all positions.  ``"dense"`` fits a full
    affine map of the flattened output (the dual form when it has more
    dimensions than training images).

    The replacement happens at the layer's output only: in a residual network,
    skip connections around the layer still carry ``g x``.

    Parameters
    ----------
    model
        The network.
    data
        Train split (fits ``M_g``) and test split (residuals, accuracy).
    group
        A group name, a transform or a list of transforms/callables.
    layers
        Layer names; ``None`` for every convolution and linear layer.
    ridge
        Ridge penalty, relative to the mean squared feature value.
    structure
        ``"auto"``, ``"conv"`` or ``"dense"``.
    with_accuracy
        Whether to run the network once per layer and transform with the
        replaced output (the slow part); ``False`` gives NaN accuracies.
    batch_size, max_train, max_test, seed
        Batching and random subsets of the splits.

    Returns
    -------
    EquivarianceResult
        One row per (layer, transform).
    """
    model = check_model(model)
    if not isinstance(data, Split):
        raise TypeError(
            f"data must be a Split (train and test datasets), got {type(data).__name__}"
        )
    if structure not in ("auto", "conv", "dense"):
        raise ValueError(f"structure must be 'auto', 'conv' or 'dense', got {structure!r}")
    if not (ridge >= 0 and math.isfinite(ridge)):
        raise ValueError(f"ridge must be a non-negative number, got {ridge!r}")
    transforms = tuple(t for t in as_group(group) if t.kind != "identity")
    if not transforms:
        raise ValueError("the group has only the identity; give at least one other transform")
    tr_idx = _subsample(len(data.train), max_train, seed)
    te_idx = _subsample(len(data.test), max_test, seed + 1)
    xtr = np.array(data.train.images)[tr_idx]
    xte = np.array(data.test.images)[te_idx]
    yte = np.asarray(data.test.labels)[te_idx]
    layers = _resolve_layers(model, xtr, layers)
    input_size = (xtr.shape[-2], xtr.shape[-1])
    with eval_mode(model), torch.inference_mode(), LayerHooks(model, layers) as hooks:
        maps = _fit_maps(
            model,
            hooks,
            xtr,
            layers=layers,
            transforms=transforms,
            structure=structure,
            ridge=ridge,
            batch_size=batch_size,
            input_size=input_size,
        )
        tally = _evaluate(
            model,
            hooks,
            maps,
            xte,
            yte,
            layers=layers,
            transforms=transforms,
            batch_size=batch_size,
            with_accuracy=with_accuracy,
        )
    n_te = xte.shape[0]
    rows = []
    for depth, layer in enumerate(layers):
        for t in transforms:
            key = (layer, t.name)
            sst = tally.ysq[key] - float((tally.ysum[key] ** 2).sum()) / n_te
            denom = sst if sst > 0 else math.nan
            rows.append(
                EquivarianceRow(
                    layer=layer,
                    depth=depth,
                    transform=t.name,
                    structure=maps.structs[key],
                    residual=tally.sse[key] / denom,
                    identity_residual=tally.sse_id[key] / denom,
                    accuracy_replaced=tally.correct_rep[key] / n_te if with_accuracy else math.nan,
                    accuracy_transformed=tally.correct_g[t.name] / n_te,
                )
            )
    return EquivarianceResult(
        rows=tuple(rows),
        accuracy_original=tally.correct_0 / n_te,
        n_train=int(xtr.shape[0]),
        n_test=int(n_te),
        params={
            "group": [t.name for t in transforms],
            "ridge": ridge,
            "structure": structure,
            "max_train": max_train,
            "max_test": max_test,
            "seed": seed,
        },
    )


# ------------------------------------------------------------- fitting and testing M_g

_Key = tuple[str, str]  # (layer, transform name)


def _structure_of(structure: str, t: Transform, out: torch.Tensor) -> str:
    """The structure of ``M_g`` for one layer output and transform (``"auto"`` resolved)."""
    if structure != "auto":
        if structure == "conv" and (out.ndim != 4 or not t.has_spatial_action):
            raise ValueError(
                f"structure='conv' needs 4-D feature maps and a geometric transform; "
                f"{t.name!r} on an output of shape {tuple(out.shape)} does not qualify"
            )
        return structure
    return "conv" if out.ndim == 4 and t.has_spatial_action else "dense"


def _pixel_rows(m: torch.Tensor) -> np.ndarray:
    """A feature map ``(n, c, h, w)`` as float64 rows ``(n * h * w, c)``, one per position."""
    return m.permute(0, 2, 3, 1).reshape(-1, m.shape[1]).double().numpy()


@dataclass
class _Maps:
    """The fitted maps ``M_g`` by (layer, transform).

    ``"conv"``: coefficients ``(c + 1, c')`` (the last row the bias); ``"dense"``:
    ``(W, mean_x, mean_y)``.
    """

    structs: dict[_Key, str]
    coefs: dict[_Key, Any]
    input_size: tuple[int, int]

    def moved(self, t: Transform, phi: torch.Tensor) -> torch.Tensor:
        return t.spatial_action(phi, input_size=self.input_size)

    def predict(
        self, key: _Key, t: Transform, phi: torch.Tensor, target_shape: tuple[int, ...]
    ) -> torch.Tensor:
        """``M_g phi(x)`` in the shape of ``phi(g x)`` (float32)."""
        if self.structs[key] == "conv":
            a = self.coefs[key]
            m = self.moved(t, phi)
            pred = _pixel_rows(m) @ a[:-1] + a[-1]
            n, _, h, w = m.shape
            return torch.from_numpy(pred).reshape(n, h, w, -1).permute(0, 3, 1, 2).float()
        wmat, mx, my = self.coefs[key]
        pred = (phi.flatten(1).double().numpy() - mx) @ wmat + my
        return torch.from_numpy(pred).float().reshape(phi.shape[0], *target_shape)


def _fit_maps(
    model: nn.Module,
    hooks: LayerHooks,
    xtr: np.ndarray,
    *,
    layers: Sequence[str],
    transforms: Sequence[Transform],
    structure: str,
    ridge: float,
    batch_size: int,
    input_size: tuple[int, int],
) -> _Maps:
    """Fit every ``M_g`` on the training images, batch by batch.

    Normal equations for ``"conv"``, stacked outputs for ``"dense"``.
    """
    maps = _Maps(structs={}, coefs={}, input_size=input_size)
    acc_conv: dict[_Key, _RidgeAccumulator] = {}
    dense_x: dict[str, list[np.ndarray]] = {}
    dense_y: dict[_Key, list[np.ndarray]] = {}
    for start in range(0, xtr.shape[0], batch_size):
        x = torch.as_tensor(xtr[start : start + batch_size])
        base, _ = _forward(model, hooks, x)
        for t in transforms:
            outs, _ = _forward(model, hooks, t(x))
            for layer in layers:
                key = (layer, t.name)
                phi, phig = base[layer], outs[layer]
                s = maps.structs.setdefault(key, _structure_of(structure, t, phi))
                if s == "conv":
                    acc_conv.setdefault(key, _RidgeAccumulator()).update(
                        _pixel_rows(maps.moved(t, phi)), _pixel_rows(phig)
                    )
                else:
                    dense_y.setdefault(key, []).append(phig.flatten(1).double().numpy())
        for layer in layers:
            if any(maps.structs[(layer, t.name)] == "dense" for t in transforms):
                dense_x.setdefault(layer, []).append(base[layer].flatten(1).double().numpy())
    for layer in layers:
        for t in transforms:
            key = (layer, t.name)
            if maps.structs[key] == "conv":
                maps.coefs[key] = acc_conv[key].solve(ridge)
            else:
                maps.coefs[key] = _dense_fit(
                    np.concatenate(dense_x[layer]), np.concatenate(dense_y[key]), ridge
                )
    return maps


@dataclass
class _Tally:
    """Sums over the test images.

    Squared errors of ``M_g`` and of the identity, the sums and squares of ``phi(g x)`` (for
    its total variance), correct predictions.
    """

    sse: dict[_Key, float] = field(default_factory=dict)
    sse_id: dict[_Key, float] = field(default_factory=dict)
    ysum: dict[_Key, Any] = field(default_factory=dict)
    ysq: dict[_Key, float] = field(default_factory=dict)
    correct_rep: dict[_Key, int] = field(default_factory=dict)
    correct_g: dict[str, int] = field(default_factory=dict)
    correct_0: int = 0


def _evaluate(
    model: nn.Module,
    hooks: LayerHooks,
    maps: _Maps,
    xte: np.ndarray,
    yte: np.ndarray,
    *,
    layers: Sequence[str],
    transforms: Sequence[Transform],
    batch_size: int,
    with_accuracy: bool,
) -> _Tally:
    """Residuals of ``M_g`` and of the identity, and the accuracies, on the test images."""
    keys = [(layer, t.name) for layer in layers for t in transforms]
    tally = _Tally(
        sse=dict.fromkeys(keys, 0.0),
        sse_id=dict.fromkeys(keys, 0.0),
        ysq=dict.fromkeys(keys, 0.0),
        correct_rep=dict.fromkeys(keys, 0),
        correct_g={t.name: 0 for t in transforms},
    )
    for start in range(0, xte.shape[0], batch_size):
        x = torch.as_tensor(xte[start : start + batch_size])
        labels = yte[start : start + batch_size]
        base, logits = _forward(model, hooks, x)
        tally.correct_0 += int((logits.argmax(1).numpy() == labels).sum())
        for t in transforms:
            gx = t(x)
            outs, logits_g = _forward(model, hooks, gx)
            tally.correct_g[t.name] += int((logits_g.argmax(1).numpy() == labels).sum())
            for layer in layers:
                key = (layer, t.name)
                phig = outs[layer]
                pred = maps.predict(key, t, base[layer], tuple(phig.shape[1:]))
                yg = phig.double().numpy()
                tally.sse[key] += float(((yg - pred.double().numpy()) ** 2).sum())
                if base[layer].shape == phig.shape:
                    tally.sse_id[key] += float(((yg - base[layer].double().numpy()) ** 2).sum())
                else:
                    tally.sse_id[key] = math.nan
                flat = yg.reshape(yg.shape[0], -1)
                tally.ysum[key] = tally.ysum.get(key, 0.0) + flat.sum(axis=0)
                tally.ysq[key] += float((flat**2).sum())
                if with_accuracy:
                    hooks.replace = {layer: pred}
                    try:
                        _, logits_r = _forward(model, hooks, gx)
                    finally:
                        hooks.replace = {}
                    tally.correct_rep[key] += int((logits_r.argmax(1).numpy() == labels).sum())
    return tally
