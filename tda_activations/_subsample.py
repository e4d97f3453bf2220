"""Farthest-point (greedy permutation) subsampling of a point cloud, with its covering radius.

The covering radius bounds the bottleneck distance between the Rips persistence of the
subsample and that of the whole cloud (twice the radius), so a subsample is a certified
approximation.  Used by the homology stage for clouds too large for exact persistence and
by the extraction stage; re-exported by both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._checks import as_cloud
from ._distances import distances_to_point, single_thread
from .types import frozen_array

__all__ = ["Subsample", "greedy_subsample"]


@dataclass(frozen=True)
class Subsample:
    """A greedy (farthest-point) subsample of a point cloud.

    Attributes
    ----------
    indices
        Int64 row indices into the cloud, in greedy order.
    insertion_radii
        Distance of each chosen point to those chosen before it when it was
        added (``inf`` for the first).
    covering_radius
        Largest distance from a point of the cloud to its nearest chosen point.
    bottleneck_bound
        ``2 * covering_radius``: the Rips diagrams of the subsample lie within
        this bottleneck distance of the full cloud's, in every dimension.
    n_total
        Number of points of the cloud.
    metric
        Metric used.
    start
        Index of the first point.
    """

    indices: np.ndarray
    insertion_radii: np.ndarray
    covering_radius: float
    bottleneck_bound: float
    n_total: int
    metric: str
    start: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "indices", frozen_array(self.indices, dtype=np.int64))
        object.__setattr__(
            self, "insertion_radii", frozen_array(self.insertion_radii, dtype=np.float64)
        )

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def facts(self) -> dict[str, Any]:
        """The scalar facts, for recording with a result."""
        return {
            "n_points": len(self),
            "n_total": self.n_total,
            "covering_radius": self.covering_radius,
            "bottleneck_bound": self.bottleneck_bound,
            "metric": self.metric,
            "start": self.start,
        }


def greedy_subsample(
    cloud: Any, *, n_points: int, seed: int | None = None, metric: str = "euclidean"
) -> Subsample:
    """Farthest-point subsample of ``n_points`` points, with its covering radius.

    Parameters
    ----------
    cloud
        ``(n, dim)`` point cloud.
    n_points
        Number of points to keep (all points are kept, in greedy order, if
        ``n_points >= n``).
    seed
        ``None`` starts from row 0 (as ``ripser``'s ``n_perm`` does, so the
        indices agree with it); an integer starts from a row drawn with
        ``numpy.random.default_rng(seed)``.
    metric
        ``"euclidean"`` or a :func:`scipy.spatial.distance.cdist` metric name.

    Returns
    -------
    Subsample
        Indices, insertion radii, covering radius and the bottleneck error
        bound ``2 * covering_radius``.

    Examples
    --------
    >>> import numpy as np
    >>> sub = greedy_subsample(np.random.default_rng(0).normal(size=(500, 3)), n_points=50)
    >>> len(sub), sub.bottleneck_bound == 2 * sub.covering_radius
    (50, True)
    """
    x = as_cloud(cloud)
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)):
        raise TypeError(f"n_points must be an integer >= 1, got {n_points!r}")
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    n = x.shape[0]
    k = min(int(n_points), n)
    start = 0 if seed is None else int(np.random.default_rng(seed).integers(n))
    idx = np.empty(k, dtype=np.int64)
    radii = np.empty(k, dtype=np.float64)
    idx[0], radii[0] = start, math.inf
    with single_thread():
        ds = distances_to_point(x, start, metric=metric)
        for m in range(1, k):
            nxt = int(np.argmax(ds))
            idx[m], radii[m] = nxt, ds[nxt]
            np.minimum(ds, distances_to_point(x, nxt, metric=metric), out=ds)
    cover = float(ds.max()) if n > k else 0.0
    return Subsample(
        indices=idx,
        insertion_radii=radii,
        covering_radius=cover,
        bottleneck_bound=2.0 * cover,
        n_total=n,
        metric=metric,
        start=start,
    )
