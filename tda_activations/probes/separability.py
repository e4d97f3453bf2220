"""Class separability of a network's layers.

:func:`class_separability` - mean inter-class over mean intra-class distance and the
Fisher criterion ``tr(S_B) / tr(S_W)`` per layer of an activation set;
:func:`layer_outputs` gives the whole (flattened) layer outputs it calls for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from .._tables import rows_to_pandas
from .._torch import check_model
from ..types import ActivationSet, ImageDataset, compact_repr
from ._images import _subsample

__all__ = [
    "SeparabilityResult",
    "SeparabilityRow",
    "class_separability",
    "layer_outputs",
    "separability_of_features",
]


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
        return rows_to_pandas(self.rows, SeparabilityRow)


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
        raise ValueError(
            f"give one label per point: {y.shape[0] if y.ndim else 0} labels, {x.shape[0]} points"
        )
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
        layer=layer,
        depth=depth,
        distance_ratio=inter / intra if intra > 0 else math.inf,
        mean_inter_distance=inter,
        mean_intra_distance=intra,
        fisher_criterion=sb / sw if sw > 0 else math.inf,
        n_points=int(x.shape[0]),
        dim=int(x.shape[1]),
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
    return SeparabilityResult(
        rows=tuple(rows), level=level, params={"max_points": max_points, "seed": seed}
    )


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

    return extract(
        check_model(model),
        dataset,
        layers=None if layers is None else list(layers),
        reduction="flatten",
        batch_size=batch_size,
    )
