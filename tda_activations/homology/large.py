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
    2.05 GiB, peak resident 0.73 GiB; 10,000 such vectors: 2.83 million edges
    (5.7%), estimate 6.2 GiB, exact H0+H1 in 27 CPU seconds at 1.7 GiB peak;
    16,173: 5.74 million edges (4.4%), estimate 13.9 GiB, 72 CPU seconds at
    4.1 GiB peak (so "auto" refuses it where less than about 17 GiB is
    available).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .._subsample import Subsample, greedy_subsample
from ._checks import check_maxdim

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


def estimate_memory(
    n_points: int, *, maxdim: int = 1, edge_fraction: float = 1.0
) -> MemoryEstimate:
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


def max_points_for_memory(
    limit_bytes: float, *, maxdim: int = 1, edge_fraction: float = 1.0
) -> int:
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
