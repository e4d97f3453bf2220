"""Neighbourhood and dependence measures: k-NN Jaccard overlap and distance correlation.

* :class:`KNNJaccard` -- for every sample, the Jaccard index of its ``k`` nearest
  neighbours (Euclidean, itself excluded) in the two clouds, averaged over samples.
  ``1 -`` it is a metric (an average of Jaccard distances between sets).  Ties among
  neighbour distances (duplicated points) are broken by the lower sample index.
* :class:`DistanceCorrelation` -- Szekely, Rizzo & Bakirov (2007): the (biased,
  V-statistic) distance correlation ``dCor`` between the clouds, from their
  doubly centred Euclidean distance matrices, in ``[0, 1]``; memory ``O(n^2)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._base import Measure, MeasureProperties, PreparedCloud, centred, register_measure
from .cka import double_centre

__all__ = ["DistanceCorrelation", "KNNJaccard", "knn_indices"]

_EUCLIDEAN_INVARIANCES = frozenset(
    {"orthogonal", "isotropic_scaling", "translation", "permutation"}
)


def knn_indices(x: np.ndarray, *, k: int, block: int = 1024) -> np.ndarray:
    """Indices ``(n, k)`` of each point's ``k`` nearest neighbours, the point itself excluded.

    Exact squared Euclidean distances (SciPy's ``cdist``, evaluated directly per pair:
    the Gram identity's ~1e-16 noise would break ties between duplicated points),
    computed in row blocks (memory ``O(block * n)``); ties are broken by the lower
    index, at the k-th place too (a stable sort, not a partition).
    """
    from scipy.spatial.distance import cdist

    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((n, k), dtype=np.int64)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        d2 = cdist(x[lo:hi], x, metric="sqeuclidean")
        d2[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        out[lo:hi] = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return out


@dataclass(frozen=True)
class KNNJaccard(Measure):
    """Mean Jaccard index of the ``k``-nearest-neighbour sets of each sample.

    Parameters
    ----------
    k
        Number of neighbours (itself excluded); must be below the number of points.
    """

    k: int = 10

    name = "knn_jaccard"

    def __post_init__(self) -> None:
        if not isinstance(self.k, (int, np.integer)) or self.k < 1:
            raise ValueError(f"k must be a positive integer, got {self.k!r}")

    @property
    def min_points(self) -> int:  # type: ignore[override]
        """Fewest points a cloud must have."""
        return int(self.k) + 1

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=_EUCLIDEAN_INVARIANCES,
            identity_value=1.0,
            bounds=(0.0, 1.0),
            complement_is_metric=True,
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        centred(x)
        return {"nn": np.sort(knn_indices(x, k=int(self.k)), axis=1)}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        na, nb = a.stats["nn"], b.stats["nn"]
        both = np.sort(np.concatenate([na, nb], axis=1), axis=1)
        inter = np.sum(both[:, 1:] == both[:, :-1], axis=1)
        k = na.shape[1]
        return float(np.mean(inter / (2 * k - inter)))


@dataclass(frozen=True)
class DistanceCorrelation(Measure):
    """Distance correlation ``dCor`` (biased V-statistic) between two clouds."""

    name = "distance_correlation"

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=_EUCLIDEAN_INVARIANCES,
            identity_value=1.0,
            bounds=(0.0, 1.0),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        from scipy.spatial.distance import pdist, squareform

        xc = centred(x)
        a = double_centre(squareform(pdist(xc)))
        norm = float(np.sqrt(np.einsum("ij,ij->", a, a)))
        return {"a": a, "norm": norm}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        dcov2 = float(np.einsum("ij,ij->", a.stats["a"], b.stats["a"]))
        return math.sqrt(max(0.0, dcov2 / (a.stats["norm"] * b.stats["norm"])))


register_measure(
    "knn_jaccard",
    KNNJaccard,
    defaults={"k": 10},
    description="Mean Jaccard index of k-nearest-neighbour sets (k=10)",
)
register_measure(
    "distance_correlation",
    DistanceCorrelation,
    description="Distance correlation dCor (Szekely et al. 2007, biased)",
)
