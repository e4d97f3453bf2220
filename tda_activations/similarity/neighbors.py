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

_EUCLIDEAN_INVARIANCES = frozenset({"orthogonal", "isotropic_scaling", "translation", "permutation"})


def knn_indices(x: np.ndarray, *, k: int, block: int = 1024) -> np.ndarray:
    """Indices ``(n, k)`` of each point's ``k`` nearest neighbours, the point itself excluded.

    Euclidean distances, computed in row blocks (memory ``O(block * n)``); ties are
    broken by the lower index.
    """
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    xc = x - x.mean(axis=0, keepdims=True)
    sq = np.einsum("ij,ij->i", xc, xc)
    out = np.empty((n, k), dtype=np.int64)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        d2 = sq[lo:hi, None] + sq[None, :] - 2.0 * (xc[lo:hi] @ xc.T)
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(hi - lo), np.arange(lo, hi)] = np.inf
        cand = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < n - 1 else np.argsort(d2, axis=1)[:, :k]
        cd = np.take_along_axis(d2, cand, axis=1)
        order = np.lexsort((cand, cd), axis=1)
        out[lo:hi] = np.take_along_axis(cand, order, axis=1)
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
        return int(self.k) + 1

    @property
    def properties(self) -> MeasureProperties:
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
    "knn_jaccard", KNNJaccard, defaults={"k": 10},
    description="Mean Jaccard index of k-nearest-neighbour sets (k=10)",
)
register_measure(
    "distance_correlation", DistanceCorrelation,
    description="Distance correlation dCor (Szekely et al. 2007, biased)",
)
