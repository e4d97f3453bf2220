"""Large clouds: greedy (farthest-point) subsampling and memory estimates.

Greedy permutation
    Start from one point, repeatedly add the point farthest from those chosen.
    The covering radius ``eps`` (largest distance from any point of the cloud
    to the subsample) bounds the error: the Vietoris-Rips diagrams of the
    subsample are within bottleneck distance ``2 * eps`` of those of the full
    cloud (Chazal, de Silva & Oudot 2014: Hausdorff distance ``eps`` bounds
    the Gromov-Hausdorff distance, and Rips diagrams are 2-Lipschitz in it).

Memory model
    Dense distance matrices (float64 while computing, the engine's float32
    copy, a working copy) plus, from H1 on, a per-simplex cost for the columns
    the engine may reduce, counted only for the edges under the threshold the
    engine is run to (``edge_fraction``; :func:`~tda_activations.homology.persistence`
    counts them before the engine starts).  The per-edge constant is
    calibrated on the worst case measured on this project's machine (exact H1
    of 5000 512-D activation vectors to the enclosing radius went past 18 GB
    in every engine), so the estimate is deliberately pessimistic for benign
    clouds: it is there to refuse a computation that could crash the machine,
    not to predict its footprint.  Measured with the H1 shortcut's truncation
    (``benchmarks/bench_h1_frontier.py``): 5,000 256-D activation vectors,
    1.07 million edges under the threshold (8.5% of the pairs), estimate
    2.05 GiB, peak resident 0.77 GiB; 10,000 such vectors: 2.41 million edges
    (4.8%), estimate 5.6 GiB, exact H0+H1 in 31 CPU seconds at 1.9 GiB peak
    (so "auto" refuses it where less than 7 GiB is available).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..types import frozen_array
from ._checks import as_cloud, check_maxdim
from ._pairwise import distances_to_point, single_thread

__all__ = [
    "MemoryEstimate",
    "PersistenceTooLarge",
    "Subsample",
    "available_memory",
    "estimate_memory",
    "greedy_subsample",
    "max_points_for_memory",
]

# bytes per simplex of dimension maxdim (edges for H1, triangles for H2, ...) in the worst case
_BYTES_PER_EDGE = 1500.0
_BYTES_PER_HIGHER = 200.0


class PersistenceTooLarge(MemoryError):
    """Raised before a persistence computation that would not fit in memory.

    Parameters
    ----------
    message
        What would not fit and what to do instead.
    edge_fraction
        See Attributes.

    Attributes
    ----------
    edge_fraction
        Fraction of the edges in the refused filtration (1 when they were not counted).
    """

    def __init__(self, message: str, *, edge_fraction: float = 1.0) -> None:
        super().__init__(message)
        self.edge_fraction = float(edge_fraction)


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
        object.__setattr__(self, "insertion_radii", frozen_array(self.insertion_radii, dtype=np.float64))

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


@dataclass(frozen=True)
class MemoryEstimate:
    """A (pessimistic) estimate of the memory a Rips persistence computation needs.

    Attributes
    ----------
    n_points, maxdim
        Size of the problem.
    bytes
        Estimated peak bytes.
    breakdown
        Bytes per component (``"distance_matrices"``, ``"reduction"``).
    """

    n_points: int
    maxdim: int
    bytes: float
    breakdown: dict[str, float]

    @property
    def gib(self) -> float:
        """The estimate in GiB."""
        return self.bytes / 2**30


def estimate_memory(n_points: int, *, maxdim: int = 1, edge_fraction: float = 1.0) -> MemoryEstimate:
    """Estimate the peak memory of Vietoris-Rips persistence of ``n_points`` points.

    Parameters
    ----------
    n_points
        Number of (distinct) points.
    maxdim
        Highest homology dimension.
    edge_fraction
        Fraction of the edges below the threshold (1 for the enclosing radius,
        the default threshold).

    Returns
    -------
    MemoryEstimate
        The estimate and its parts; see the module notes for the model.
    """
    n = int(n_points)
    maxdim = check_maxdim(maxdim)
    if not 0.0 <= edge_fraction <= 1.0:
        raise ValueError(f"edge_fraction must lie in [0, 1], got {edge_fraction}")
    dense = 8.0 * n * n * 3  # float64 matrix + condensed/triangle temporaries + engine copy
    reduction = 0.0
    if maxdim >= 1:
        edges = edge_fraction * n * (n - 1) / 2.0
        reduction += _BYTES_PER_EDGE * edges
    for d in range(2, maxdim + 1):
        reduction += _BYTES_PER_HIGHER * edge_fraction ** (d * (d + 1) / 4.0) * math.comb(n, d + 1)
    return MemoryEstimate(
        n_points=n,
        maxdim=maxdim,
        bytes=dense + reduction,
        breakdown={"distance_matrices": dense, "reduction": reduction},
    )


def available_memory() -> float:
    """Return the bytes of memory available now (``MemAvailable`` on Linux, else half the RAM).

    Returns
    -------
    float
        Bytes (8 GiB when the system does not say).
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:  # pragma: no cover - non-Linux
        pass
    try:  # pragma: no cover - non-Linux
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8.0 * 2**30


def max_points_for_memory(limit_bytes: float, *, maxdim: int = 1, edge_fraction: float = 1.0) -> int:
    """Find the largest number of points whose :func:`estimate_memory` stays below a limit.

    Parameters
    ----------
    limit_bytes
        The memory limit, in bytes.
    maxdim
        Highest homology dimension.
    edge_fraction
        Fraction of the edges below the threshold (1 for the enclosing radius).

    Returns
    -------
    int
        The number of points.
    """
    lo, hi = 1, 2
    while estimate_memory(hi, maxdim=maxdim, edge_fraction=edge_fraction).bytes <= limit_bytes:
        lo, hi = hi, hi * 2
        if hi > 10**8:
            return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if estimate_memory(mid, maxdim=maxdim, edge_fraction=edge_fraction).bytes <= limit_bytes:
            lo = mid
        else:
            hi = mid
    return lo
