"""Invariance of a network's layers to a group of transformations.

:func:`invariance_scores` - for every unit, the variance of its activation
across the transformations of one image (averaged over images), divided by
its variance across all images and their transformations; pooled per layer.
By the law of total variance the score lies in ``[0, 1]``: 0 = invariant,
1 = the unit varies across transformations as much as across images.

The sibling probes live in :mod:`.equivariance` (Lenc and Vedaldi's linear maps
``M_g``) and :mod:`.separability` (class separability by layer); every probe
returns a frozen result whose ``to_pandas()`` is one row per layer (or per layer
and transform).  Activations are read with forward hooks (registered in ``try``,
removed in ``finally``), under :func:`torch.inference_mode`, with the model's
training mode restored afterwards.
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
from .._tables import rows_to_pandas
from .._torch import check_model, eval_mode
from ..types import ImageDataset, compact_repr, unknown_name_error
from ._cost import n_batches
from ._hooks import LayerHooks
from ._images import GroupLike, _forward, _images_of, _resolve_layers, _subsample, default_layers

# The equivariance and separability probes have their own modules; imported here so that
# ``tda_activations.probes.invariance`` keeps offering every name it offered before the split.
from .equivariance import EquivarianceResult, EquivarianceRow, equivariance
from .separability import (
    SeparabilityResult,
    SeparabilityRow,
    class_separability,
    layer_outputs,
    separability_of_features,
)
from .transforms import as_group

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
        return rows_to_pandas(self.rows, InvarianceRow)


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
    model, arr, transforms, layers = _invariance_plan(
        model, images, group, layers, batch_size, max_images, seed
    )
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(_invariance_cost(model, arr, transforms, layers, batch_size))
    within: dict[str, np.ndarray] = {}
    moments = {layer: _Moments() for layer in layers}
    with (
        eval_mode(model),
        torch.inference_mode(),
        LayerHooks(model, layers) as hooks,
        progress_bar(
            total=n_batches(arr.shape[0], batch_size),
            desc="invariance_scores",
            unit="batch",
            enabled=progress,
        ) as bar,
    ):
        for start in range(0, arr.shape[0], batch_size):
            _invariance_batch(
                model,
                hooks,
                torch.as_tensor(arr[start : start + batch_size]),
                transforms,
                layers,
                within,
                moments,
            )
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
        rows=tuple(rows),
        group=tuple(t.name for t in transforms),
        n_images=int(n),
        params={"max_images": max_images, "seed": seed, "dead_tol": dead_tol},
    )


def _invariance_plan(
    model: nn.Module,
    images: Any,
    group: Any,
    layers: Sequence[str] | None,
    batch_size: int,
    max_images: int | None,
    seed: int,
) -> tuple[nn.Module, np.ndarray, tuple[Any, ...], tuple[str, ...]]:
    model = check_model(model)
    arr = _images_of(images)
    transforms = as_group(group)
    layers = _resolve_layers(model, arr, layers)
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    idx = _subsample(arr.shape[0], max_images, seed)
    return model, arr[idx], tuple(transforms), tuple(layers)


def _invariance_batch(
    model: nn.Module,
    hooks: LayerHooks,
    x: torch.Tensor,
    transforms: Sequence[Any],
    layers: Sequence[str],
    within: dict[str, Any],
    moments: dict[str, _Moments],
) -> None:
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


def _invariance_cost(
    model: nn.Module,
    arr: np.ndarray,
    transforms: Sequence[Any],
    layers: Sequence[str],
    batch_size: int,
) -> CostEstimate:
    """Time one batch (every transform, every layer's statistics), times the batches."""
    total = n_batches(arr.shape[0], batch_size)
    start = time.perf_counter()
    with eval_mode(model), torch.inference_mode(), LayerHooks(model, layers) as hooks:
        _invariance_batch(
            model,
            hooks,
            torch.as_tensor(arr[:batch_size]),
            transforms,
            layers,
            {},
            {layer: _Moments() for layer in layers},
        )
    one = time.perf_counter() - start
    return CostEstimate(
        what="invariance_scores",
        units=total,
        unit="batch",
        seconds=max(one * total, 1e-6),
        detail=f"{arr.shape[0]} images x {len(transforms)} transforms, "
        f"{len(layers)} layers; one batch timed at {one:.2f} s",
    )


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
    model, arr, transforms, layers_ = _invariance_plan(
        model, images, group, layers, batch_size, max_images, seed
    )
    return _invariance_cost(model, arr, transforms, layers_, batch_size)
