"""Invariance, equivariance and class separability of a network's layers.

Three probes, each returning a frozen result with a ``to_pandas()`` table (one
row per layer, or per layer and transform):

* :func:`invariance_scores` - for every unit, the variance of its activation
  across the transformations of one image (averaged over images), divided by
  its variance across all images and their transformations; pooled per layer.
  By the law of total variance the score lies in ``[0, 1]``: 0 = invariant,
  1 = the unit varies across transformations as much as across images.
* :func:`equivariance` - Lenc and Vedaldi (2015): fit a linear map ``M_g`` by
  ridge regression so that ``phi(g x) ~ M_g phi(x)`` on the training split,
  report the normalised residual on the test split, the residual of
  ``M_g = identity`` (invariance as a special case), and the accuracy of the
  network when ``phi(g x)`` is replaced by ``M_g phi(x)``.
* :func:`class_separability` - mean inter-class over mean intra-class distance
  and the Fisher criterion ``tr(S_B) / tr(S_W)`` per layer.

Activations are read with forward hooks (registered in ``try``, removed in
``finally``), under :func:`torch.inference_mode`, with the model's training
mode restored afterwards.  Layer names are ``named_modules()`` paths; the
second call of a module in one forward pass is ``name:1``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._progress import CostEstimate, announce_cost, progress_bar, progress_enabled
from .._select import resolve_layer_names
from .._torch import check_model, eval_mode
from ..types import ActivationSet, ImageDataset, Split, compact_repr, unknown_name_error
from ._cost import n_batches
from ._hooks import LayerHooks, as_inputs
from .transforms import TensorFn, Transform, as_group

__all__ = [
    "EquivarianceResult",
    "EquivarianceRow",
    "InvarianceResult",
    "InvarianceRow",
    "SeparabilityResult",
    "SeparabilityRow",
    "class_separability",
    "default_layers",
    "equivariance",
    "invariance_scores",
    "invariance_scores_cost",
    "layer_outputs",
    "separability_of_features",
]

log = logging.getLogger(__name__)

GroupLike = str | Transform | Sequence[Transform | TensorFn]


# ----------------------------------------------------------------------- capture


def _images_of(data: Any, *, name: str = "images") -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    x, _ = as_inputs(data, name=name)  # the probes' one input check (numeric, finite, non-empty)
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have shape (n, channels, height, width) or be an ImageDataset; got "
            f"shape {x.shape}"
        )
    return x


def _forward(model: nn.Module, hooks: LayerHooks, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    hooks.reset()
    out = model(x)
    return dict(hooks.outputs), out


def default_layers(model: nn.Module, example: Any) -> tuple[str, ...]:
    """All convolution and linear layers of ``model``, in forward order.

    Parameters
    ----------
    model
        The network.
    example
        One batch of inputs (array, tensor or :class:`ImageDataset`; only the
        first image is used).

    Returns
    -------
    tuple of str
        ``named_modules()`` paths (``name:k`` for repeated calls).
    """
    from ._hooks import default_layers as _default_layers

    return _default_layers(check_model(model), _images_of(example)[:1])


def _resolve_layers(model: nn.Module, images: np.ndarray, layers: Sequence[str] | str | None) -> tuple[str, ...]:
    found = default_layers(model, images)
    if layers is None:
        if not found:
            raise ValueError("the model has no convolution or linear layer; name the layers to probe")
        return found
    # Every module path, each followed by its repeated calls (``name:k``) in forward order.
    available: list[str] = []
    for name, _ in model.named_modules():
        if name:
            available.append(name)
            available.extend(f for f in found if f.startswith(name + ":"))
    return resolve_layer_names(available, layers)


def _subsample(n: int, max_n: int | None, seed: int) -> np.ndarray:
    if max_n is None or n <= max_n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_n, replace=False))


# --------------------------------------------------------------------- invariance


@dataclass(frozen=True)
class InvarianceRow:
    """Invariance of one layer.

    Attributes
    ----------
    layer, depth
        Layer name and its position in the probed list (0 = first).
    score
        Pooled score: sum over units of the within-orbit variance divided by
        the sum of the total variance (0 = invariant, at most 1).
    median_unit_score
        Median over live units of the per-unit ratio.
    n_units, n_dead_units
        Units in the layer output, and units with (near) zero total variance
        (excluded from both scores).
    """

    layer: str
    depth: int
    score: float
    median_unit_score: float
    n_units: int
    n_dead_units: int

    __repr__ = compact_repr


@dataclass(frozen=True)
class InvarianceResult:
    """Invariance scores by layer for one model, one image set and one group.

    Attributes
    ----------
    rows
        One :class:`InvarianceRow` per layer, in forward order.
    group
        Names of the transforms of the group.
    n_images
        Number of images.
    params
        Parameters of the run (recorded for provenance).
    """

    rows: tuple[InvarianceRow, ...]
    group: tuple[str, ...]
    n_images: int
    params: Mapping[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "group", tuple(self.group))
        object.__setattr__(self, "params", dict(self.params))

    @property
    def layers(self) -> tuple[str, ...]:
        """Probed layers in order."""
        return tuple(r.layer for r in self.rows)

    def score(self, layer: str) -> float:
        """The pooled score of ``layer``."""
        for r in self.rows:
            if r.layer == layer:
                return r.score
        raise unknown_name_error("layer", layer, self.layers)

    def to_pandas(self) -> Any:
        """One row per layer: ``layer, depth, score, median_unit_score, n_units, n_dead_units``."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.rows])


class _Moments:
    """Streaming per-unit count, mean and sum of squared deviations (Chan et al.)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def update(self, rows: np.ndarray) -> None:
        nb = rows.shape[0]
        mb = rows.mean(axis=0)
        m2b = ((rows - mb) ** 2).sum(axis=0)
        if self.mean is None:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        assert self.m2 is not None
        n = self.n + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + delta**2 * (self.n * nb / n)
        self.n = n


def invariance_scores(
    model: nn.Module,
    images: ImageDataset | np.ndarray | torch.Tensor,
    *,
    group: GroupLike = "flips",
    layers: Sequence[str] | None = None,
    batch_size: int = 64,
    max_images: int | None = 500,
    seed: int = 0,
    dead_tol: float = 1e-12,
    progress: bool | None = None,
) -> InvarianceResult:
    """Per-layer invariance of a network's units to a group of transformations.

    For unit ``u`` and images ``x_i`` with orbits ``{g x_i : g in G}``::

        within_u = mean_i  var_g  phi_u(g x_i)
        total_u  = var_{i,g}      phi_u(g x_i)
        score    = sum_u within_u / sum_u total_u        (0 = invariant, <= 1)

    (population variances), over units whose total variance exceeds
    ``dead_tol`` times the largest one.  Every element of a layer's output is a
    unit (a channel at one position for convolutional maps).

    Parameters
    ----------
    model
        The network (its training mode is restored afterwards).
    images
        Images ``(n, c, h, w)`` or an :class:`ImageDataset`.
    group
        A group name (see :func:`~.transforms.named_group`), a transform or a
        list of transforms/callables.  Include the identity to compare each
        image with itself.
    layers
        Layer names; ``None`` for every convolution and linear layer.
    batch_size
        Images per forward pass (each is run once per transform).
    max_images
        Use a random subset of this many images (``None``: all).
    seed
        Seed of that subset.
    dead_tol
        Relative variance under which a unit counts as dead.
    progress
        Show a progress bar over the batches (``None``: in a terminal or notebook).  The
        estimate of :func:`invariance_scores_cost` is logged first (INFO) whenever a bar
        or INFO logging is on.

    Returns
    -------
    InvarianceResult
        One row per layer.
    """
    model, arr, transforms, layers = _invariance_plan(model, images, group, layers, batch_size,
                                                      max_images, seed)
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(_invariance_cost(model, arr, transforms, layers, batch_size))
    within: dict[str, np.ndarray] = {}
    moments = {layer: _Moments() for layer in layers}
    with eval_mode(model), torch.inference_mode(), LayerHooks(model, layers) as hooks, \
            progress_bar(total=n_batches(arr.shape[0], batch_size), desc="invariance_scores",
                         unit="batch", enabled=progress) as bar:
        for start in range(0, arr.shape[0], batch_size):
            _invariance_batch(model, hooks, torch.as_tensor(arr[start : start + batch_size]),
                              transforms, layers, within, moments)
            bar.update(1)
    rows = []
    n = arr.shape[0]
    for depth, layer in enumerate(layers):
        m = moments[layer]
        assert m.m2 is not None
        total = m.m2 / m.n
        wmean = within[layer] / n
        live = total > dead_tol * max(float(total.max()), np.finfo(float).tiny)
        if live.any():
            score = float(wmean[live].sum() / total[live].sum())
            med = float(np.median(wmean[live] / total[live]))
        else:
            score = med = math.nan
        rows.append(InvarianceRow(layer, depth, score, med, int(total.size), int((~live).sum())))
    return InvarianceResult(
        rows=tuple(rows), group=tuple(t.name for t in transforms), n_images=int(n),
        params={"max_images": max_images, "seed": seed, "dead_tol": dead_tol},
    )


def _invariance_plan(model: nn.Module, images: Any, group: Any, layers: Sequence[str] | None,
                     batch_size: int, max_images: int | None, seed: int) -> tuple[
        nn.Module, np.ndarray, tuple[Any, ...], tuple[str, ...]]:
    model = check_model(model)
    arr = _images_of(images)
    transforms = as_group(group)
    layers = _resolve_layers(model, arr, layers)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    idx = _subsample(arr.shape[0], max_images, seed)
    return model, arr[idx], tuple(transforms), tuple(layers)


def _invariance_batch(model: nn.Module, hooks: LayerHooks, x: torch.Tensor,
                      transforms: Sequence[Any], layers: Sequence[str],
                      within: dict[str, Any], moments: dict[str, _Moments]) -> None:
    """Run one batch through every transform; add its orbit variances and moments."""
    per_g: list[dict[str, torch.Tensor]] = []
    for t in transforms:
        outs, _ = _forward(model, hooks, t(x))
        per_g.append(outs)
    for layer in layers:
        missing = [t.name for t, o in zip(transforms, per_g) if layer not in o]
        if missing:
            raise ValueError(f"layer {layer!r} was not called in the forward pass")
        stack = torch.stack([o[layer].flatten(1) for o in per_g]).double().numpy()
        w = stack.var(axis=0).sum(axis=0)  # sum over images of var over the orbit
        within[layer] = within.get(layer, 0.0) + w
        moments[layer].update(stack.reshape(-1, stack.shape[-1]))


def _invariance_cost(model: nn.Module, arr: np.ndarray, transforms: Sequence[Any],
                     layers: Sequence[str], batch_size: int) -> CostEstimate:
    """Time one batch (every transform, every layer's statistics), times the batches."""
    total = n_batches(arr.shape[0], batch_size)
    start = time.perf_counter()
    with eval_mode(model), torch.inference_mode(), LayerHooks(model, layers) as hooks:
        _invariance_batch(model, hooks, torch.as_tensor(arr[:batch_size]), transforms, layers,
                          {}, {layer: _Moments() for layer in layers})
    one = time.perf_counter() - start
    return CostEstimate(what="invariance_scores", units=total, unit="batch",
                        seconds=max(one * total, 1e-6),
                        detail=f"{arr.shape[0]} images x {len(transforms)} transforms, "
                               f"{len(layers)} layers; one batch timed at {one:.2f} s")


def invariance_scores_cost(
    model: nn.Module,
    images: ImageDataset | np.ndarray | torch.Tensor,
    *,
    group: GroupLike = "flips",
    layers: Sequence[str] | None = None,
    batch_size: int = 64,
    max_images: int | None = 500,
    seed: int = 0,
) -> CostEstimate:
    """What :func:`invariance_scores` with these arguments will cost, before running it.

    Parameters
    ----------
    model, images, group, layers, batch_size, max_images, seed
        As for :func:`invariance_scores` (checked the same way).

    Returns
    -------
    CostEstimate
        ``units``: batches of ``batch_size`` images (each run once per transform);
        ``seconds``: one batch timed, times the number of batches.
    """
    model, arr, transforms, layers_ = _invariance_plan(model, images, group, layers, batch_size,
                                                       max_images, seed)
    return _invariance_cost(model, arr, transforms, layers_, batch_size)


# ------------------------------------------------------------------- equivariance


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
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.rows])


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


def _dense_fit(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        raise TypeError(f"data must be a Split (train and test datasets), got {type(data).__name__}")
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

    def struct_of(t: Transform, out: torch.Tensor) -> str:
        if structure != "auto":
            if structure == "conv" and (out.ndim != 4 or not t.has_spatial_action):
                raise ValueError(
                    f"structure='conv' needs 4-D feature maps and a geometric transform; "
                    f"{t.name!r} on an output of shape {tuple(out.shape)} does not qualify"
                )
            return structure
        return "conv" if out.ndim == 4 and t.has_spatial_action else "dense"

    def moved(t: Transform, phi: torch.Tensor) -> torch.Tensor:
        return t.spatial_action(phi, input_size=input_size)

    def conv_rows(t: Transform, phi: torch.Tensor) -> np.ndarray:
        m = moved(t, phi)
        return m.permute(0, 2, 3, 1).reshape(-1, m.shape[1]).double().numpy()

    keys = [(layer, t.name) for layer in layers for t in transforms]
    structs: dict[tuple[str, str], str] = {}
    acc_conv: dict[tuple[str, str], _RidgeAccumulator] = {}
    dense_x: dict[str, list[np.ndarray]] = {}
    dense_y: dict[tuple[str, str], list[np.ndarray]] = {}

    with eval_mode(model), torch.inference_mode(), LayerHooks(model, layers) as hooks:
        # ---- fit on the training split
        for start in range(0, xtr.shape[0], batch_size):
            x = torch.as_tensor(xtr[start : start + batch_size])
            base, _ = _forward(model, hooks, x)
            for t in transforms:
                outs, _ = _forward(model, hooks, t(x))
                for layer in layers:
                    key = (layer, t.name)
                    phi, phig = base[layer], outs[layer]
                    s = structs.setdefault(key, struct_of(t, phi))
                    if s == "conv":
                        target = phig.permute(0, 2, 3, 1).reshape(-1, phig.shape[1]).double().numpy()
                        acc_conv.setdefault(key, _RidgeAccumulator()).update(conv_rows(t, phi), target)
                    else:
                        dense_y.setdefault(key, []).append(phig.flatten(1).double().numpy())
            for layer in layers:
                if any(structs[(layer, t.name)] == "dense" for t in transforms):
                    dense_x.setdefault(layer, []).append(base[layer].flatten(1).double().numpy())
        maps: dict[tuple[str, str], Any] = {}
        for key in keys:
            if structs[key] == "conv":
                maps[key] = acc_conv[key].solve(ridge)
            else:
                maps[key] = _dense_fit(np.concatenate(dense_x[key[0]]), np.concatenate(dense_y[key]), ridge)
        dense_x.clear()
        dense_y.clear()

        def predict(key: tuple[str, str], t: Transform, phi: torch.Tensor) -> torch.Tensor:
            if structs[key] == "conv":
                a = maps[key]
                rows = conv_rows(t, phi)
                pred = rows @ a[:-1] + a[-1]
                m = moved(t, phi)
                n, _, h, w = m.shape
                return torch.from_numpy(pred).reshape(n, h, w, -1).permute(0, 3, 1, 2).float()
            wmat, mx, my = maps[key]
            flat = phi.flatten(1).double().numpy()
            pred = (flat - mx) @ wmat + my
            return torch.from_numpy(pred).float().reshape(phi.shape[0], *_target_shape[key])

        # ---- evaluate on the test split
        sse = dict.fromkeys(keys, 0.0)
        sse_id = dict.fromkeys(keys, 0.0)
        ysum: dict[tuple[str, str], np.ndarray] = {}
        ysq = dict.fromkeys(keys, 0.0)
        correct_rep = dict.fromkeys(keys, 0)
        correct_g = {t.name: 0 for t in transforms}
        correct_0 = 0
        _target_shape: dict[tuple[str, str], tuple[int, ...]] = {}
        for start in range(0, xte.shape[0], batch_size):
            x = torch.as_tensor(xte[start : start + batch_size])
            labels = yte[start : start + batch_size]
            base, logits = _forward(model, hooks, x)
            correct_0 += int((logits.argmax(1).numpy() == labels).sum())
            for t in transforms:
                gx = t(x)
                outs, logits_g = _forward(model, hooks, gx)
                correct_g[t.name] += int((logits_g.argmax(1).numpy() == labels).sum())
                for layer in layers:
                    key = (layer, t.name)
                    phig = outs[layer]
                    _target_shape[key] = tuple(phig.shape[1:])
                    pred = predict(key, t, base[layer])
                    yg = phig.double().numpy()
                    sse[key] += float(((yg - pred.double().numpy()) ** 2).sum())
                    if base[layer].shape == phig.shape:
                        sse_id[key] += float(((yg - base[layer].double().numpy()) ** 2).sum())
                    else:
                        sse_id[key] = math.nan
                    flat = yg.reshape(yg.shape[0], -1)
                    ysum[key] = ysum.get(key, 0.0) + flat.sum(axis=0)
                    ysq[key] += float((flat**2).sum())
                    if with_accuracy:
                        hooks.replace = {layer: pred}
                        try:
                            _, logits_r = _forward(model, hooks, gx)
                        finally:
                            hooks.replace = {}
                        correct_rep[key] += int((logits_r.argmax(1).numpy() == labels).sum())
    n_te = xte.shape[0]
    rows = []
    for depth, layer in enumerate(layers):
        for t in transforms:
            key = (layer, t.name)
            sst = ysq[key] - float((ysum[key] ** 2).sum()) / n_te
            denom = sst if sst > 0 else math.nan
            rows.append(EquivarianceRow(
                layer=layer, depth=depth, transform=t.name, structure=structs[key],
                residual=sse[key] / denom, identity_residual=sse_id[key] / denom,
                accuracy_replaced=correct_rep[key] / n_te if with_accuracy else math.nan,
                accuracy_transformed=correct_g[t.name] / n_te,
            ))
    return EquivarianceResult(
        rows=tuple(rows), accuracy_original=correct_0 / n_te, n_train=int(xtr.shape[0]),
        n_test=int(n_te),
        params={"group": [t.name for t in transforms], "ridge": ridge, "structure": structure,
                "max_train": max_train, "max_test": max_test, "seed": seed},
    )


# ----------------------------------------------------------------- separability


@dataclass(frozen=True)
class SeparabilityRow:
    """Class separability of one layer.

    Attributes
    ----------
    layer, depth
        Layer name and position.
    distance_ratio
        Mean Euclidean distance between points of different classes over the
        mean distance between distinct points of the same class (> 1 = classes
        apart).
    mean_inter_distance, mean_intra_distance
        The two means.
    fisher_criterion
        ``tr(S_B) / tr(S_W)``: between-class scatter (class sizes as weights)
        over within-class scatter.
    n_points, dim
        Points used and their dimension.
    """

    layer: str
    depth: int
    distance_ratio: float
    mean_inter_distance: float
    mean_intra_distance: float
    fisher_criterion: float
    n_points: int
    dim: int

    __repr__ = compact_repr


@dataclass(frozen=True)
class SeparabilityResult:
    """Class separability by layer.

    Attributes
    ----------
    rows
        One :class:`SeparabilityRow` per layer, in forward order.
    level
        Level of the class hierarchy whose groups are separated.
    params
        Parameters of the run (recorded for provenance).
    """

    rows: tuple[SeparabilityRow, ...]
    level: str = "fine"
    params: Mapping[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "params", dict(self.params))

    def to_pandas(self) -> Any:
        """One row per layer with the fields of :class:`SeparabilityRow`."""
        import pandas as pd

        return pd.DataFrame([r.__dict__ for r in self.rows])


def separability_of_features(
    features: np.ndarray, labels: np.ndarray, *, layer: str = "features", depth: int = 0
) -> SeparabilityRow:
    """Distance ratio and Fisher criterion of labelled points.

    Parameters
    ----------
    features
        Points ``(n, dim)``.
    labels
        Integer class of each point; at least two classes, and at least one
        class with two points.
    layer, depth
        Recorded in the row.

    Returns
    -------
    SeparabilityRow
    """
    from scipy.spatial.distance import pdist

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (points, dim), got shape {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"give one label per point: {y.shape[0] if y.ndim else 0} labels, {x.shape[0]} points")
    if not np.isfinite(x).all():
        raise ValueError(f"layer {layer!r}: features contain NaN or infinity")
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2 or counts.max() < 2:
        raise ValueError("separability needs at least two classes and a class with two points")
    # Direct per-pair distances (pdist), not scikit-learn's Gram identity: those depend on
    # the BLAS thread count in the last bits, so a resumed batch run would not match.
    d_u = pdist(x)
    iu = np.triu_indices(x.shape[0], k=1)
    same_u = y[iu[0]] == y[iu[1]]
    intra = float(d_u[same_u].mean())
    inter = float(d_u[~same_u].mean())
    mu = x.mean(axis=0)
    sw = sb = 0.0
    for c in classes:
        xc = x[y == c]
        mc = xc.mean(axis=0)
        sw += float(((xc - mc) ** 2).sum())
        sb += xc.shape[0] * float(((mc - mu) ** 2).sum())
    return SeparabilityRow(
        layer=layer, depth=depth, distance_ratio=inter / intra if intra > 0 else math.inf,
        mean_inter_distance=inter, mean_intra_distance=intra,
        fisher_criterion=sb / sw if sw > 0 else math.inf, n_points=int(x.shape[0]), dim=int(x.shape[1]),
    )


def class_separability(
    acts: ActivationSet, *, level: str = "fine", max_points: int | None = 2000, seed: int = 0
) -> SeparabilityResult:
    """Class separability (distance ratio, Fisher criterion) of every layer of an activation set.

    Parameters
    ----------
    acts
        Per-layer point clouds with labels (from ``extract`` or :func:`layer_outputs`).
    level
        Hierarchy level of the labels (``"fine"``, ``"coarse"``, ...).
    max_points
        Random subset size per layer (distances are quadratic in it).
    seed
        Seed of the subset.

    Returns
    -------
    SeparabilityResult
    """
    if not isinstance(acts, ActivationSet):
        raise TypeError(f"acts must be an ActivationSet, got {type(acts).__name__}")
    rows = []
    for depth, layer in enumerate(acts.layers):
        cloud = np.asarray(acts.cloud(layer))
        labels = acts.point_labels(layer, level)
        idx = _subsample(cloud.shape[0], max_points, seed)
        rows.append(separability_of_features(cloud[idx], labels[idx], layer=layer, depth=depth))
    return SeparabilityResult(rows=tuple(rows), level=level,
                              params={"max_points": max_points, "seed": seed})


def layer_outputs(
    model: nn.Module,
    dataset: ImageDataset,
    *,
    layers: Sequence[str] | None = None,
    batch_size: int = 128,
) -> ActivationSet:
    """Whole layer outputs, flattened to one vector per image, as an :class:`ActivationSet`.

    Unlike a top-l2 or random-position reduction this keeps every unit, which
    is what class separability of a representation (or of the group-invariant
    prototype) calls for: :func:`tda_activations.extract.extract` with
    ``reduction="flatten"``.

    Parameters
    ----------
    model
        The network.
    dataset
        Labelled images.
    layers
        Layer names; ``None`` for every convolution and linear layer.
    batch_size
        Images per forward pass.

    Returns
    -------
    ActivationSet
        One point per image and layer; predictions recorded.
    """
    from ..extract import extract

    return extract(check_model(model), dataset, layers=None if layers is None else list(layers),
                   reduction="flatten", batch_size=batch_size)

