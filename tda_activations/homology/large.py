"""Large clouds: greedy (farthest-point) subsampling and memory estimates.

Greedy permutation
    Start from one point, repeatedly add the point farthest from those chosen.
    The covering radius ``eps`` (largest distance from any point of the cloud
    to the subsample) bounds the error: the Vietoris-Rips diagrams of the
    subsample are within bottleneck distance ``2 * eps`` of those of the full
    cloud (Chazal, de Silva & Oudot 2014: Hausdorff distance ``eps`` bounds
    the Gromov-Hausdorff distance, and Rips diagrams are 2-Lipschitz in it).

Memory model
    The ``n x n`` arrays the pipeline holds at once, per entry: from a cloud
    (``source="cloud"``), the engine's matrix, built block by block in its own
    precision (4 bytes for float32, 8 for float64), and the H1 birth bound's
    boolean matrix (1 byte); from a given matrix (``source="matrix"``), also the
    validated float64 copy (8 bytes) that the float32 engine matrix is rounded
    from.  Then the work arrays of one block of rows
    (:data:`~tda_activations._distances.BLOCK_ENTRIES` entries, four float
    arrays and two boolean ones) and, from H1 on, a cost per edge under the
    threshold the engine is run to (``edge_fraction``;
    :func:`~tda_activations.homology.persistence` counts them before the engine
    starts).  The per-edge cost depends on the run (measured with
    ``benchmarks/bench_h1_frontier.py --calibrate``, table in
    ``benchmarks/results/h1_memory.txt``): to the enclosing radius, GUDHI's
    Ripser took 58-88 bytes per edge on activation clouds, Gaussian clouds in
    512 dimensions and uniform cubes, but 671-1,280 on noisy circles of
    1,000-2,000 points (one long-lived class whose death needs a long
    reduction; the cost grows with the number of points there, and a 5,000-point
    circle was stopped at 12.5 GiB, so the charge is no bound for large
    low-dimensional clouds run to the enclosing radius), so a full run is
    charged 1,500; the H1 shortcut's truncated run
    (no H1 bar may live past its threshold, or it is retried to the enclosing
    radius with the full charge) took at most 114 bytes per edge, and is
    charged 400.  The estimate is there to refuse a
    computation that could crash the machine, not to predict its footprint.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

from .._distances import BLOCK_ENTRIES
from .._subsample import Subsample, greedy_subsample
from ._checks import check_maxdim

__all__ = [
    "MatrixSource",
    "MemoryEstimate",
    "PersistenceTooLarge",
    "Subsample",
    "available_memory",
    "estimate_memory",
    "greedy_subsample",
    "max_points_for_memory",
]

# bytes per simplex of dimension maxdim (edges for H1, triangles for H2, ...), above the
# largest cost measured (benchmarks/results/h1_memory.txt): a run to the enclosing radius,
# and the H1 shortcut's truncated run
_BYTES_PER_EDGE = 1500.0
_BYTES_PER_EDGE_SHORTCUT = 400.0
_BYTES_PER_HIGHER = 200.0
# bytes per entry of the n x n arrays held at once (see the module notes)
_MATRIX_BYTES = {
    ("cloud", "float32"): 4.0 + 1.0,
    ("cloud", "float64"): 8.0 + 1.0,
    ("matrix", "float32"): 8.0 + 4.0 + 1.0,
    ("matrix", "float64"): 8.0 + 1.0,
}
# one block of rows: four float arrays and two boolean ones (the H1 birth bound's work)
_BLOCK_FLOATS, _BLOCK_BOOLS = 4, 2

MatrixSource = Literal["cloud", "matrix"]


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
        Bytes per component (``"distance_matrices"``, ``"block_work"``, ``"reduction"``).
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
    n_points: int,
    *,
    maxdim: int = 1,
    edge_fraction: float = 1.0,
    precision: Literal["float32", "float64"] = "float32",
    source: MatrixSource = "cloud",
    shortcut: bool = False,
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
    precision
        The engine's precision (see :func:`~tda_activations.homology.persistence`).
    source
        ``"cloud"``: the distances are computed from points; ``"matrix"``: a distance
        matrix is given (:func:`~tda_activations.homology.persistence_of_distances`).
    shortcut
        The run is the H1 shortcut's truncated one (see
        :func:`~tda_activations.homology.h1_birth_bound`), charged less per edge.

    Returns
    -------
    MemoryEstimate
        The estimate and its parts; see the module notes for the model.
    """
    n = int(n_points)
    maxdim = check_maxdim(maxdim)
    if not 0.0 <= edge_fraction <= 1.0:
        raise ValueError(f"edge_fraction must lie in [0, 1], got {edge_fraction}")
    try:
        per_entry = _MATRIX_BYTES[(source, precision)]
    except KeyError:
        raise ValueError(
            f"source must be 'cloud' or 'matrix' and precision 'float32' or 'float64', got "
            f"{source!r} and {precision!r}"
        ) from None
    dense = per_entry * n * n
    itemsize = 4.0 if precision == "float32" else 8.0
    work = min(n * n, BLOCK_ENTRIES) * (_BLOCK_FLOATS * itemsize + _BLOCK_BOOLS)
    reduction = 0.0
    if maxdim >= 1:
        edges = edge_fraction * n * (n - 1) / 2.0
        reduction += (_BYTES_PER_EDGE_SHORTCUT if shortcut else _BYTES_PER_EDGE) * edges
    for d in range(2, maxdim + 1):
        reduction += _BYTES_PER_HIGHER * edge_fraction ** (d * (d + 1) / 4.0) * math.comb(n, d + 1)
    return MemoryEstimate(
        n_points=n,
        maxdim=maxdim,
        bytes=dense + work + reduction,
        breakdown={"distance_matrices": dense, "block_work": work, "reduction": reduction},
    )


def _cgroup_room(root: str = "/sys/fs/cgroup", proc_cgroup: str = "/proc/self/cgroup") -> float:
    """Bytes left under the memory limits of this process's cgroup and its ancestors.

    The process's own cgroup is read from ``/proc/self/cgroup`` (a batch scheduler's job
    cgroup sits deep in the host's tree; a container sees its own at the root); every
    directory from it up to the root that sets a limit counts (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``).  inf without a limit.
    """
    v2, v1 = "", ""
    try:
        with open(proc_cgroup) as fh:
            for line in fh:
                hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
                if hierarchy == "0" and not controllers:
                    v2 = path
                elif "memory" in controllers.split(","):
                    v1 = path
    except (OSError, ValueError):
        pass
    room = math.inf
    for base, path, limit_file, usage_file in (
        (root, v2, "memory.max", "memory.current"),
        (os.path.join(root, "memory"), v1, "memory.limit_in_bytes", "memory.usage_in_bytes"),
    ):
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts), -1, -1):  # the own cgroup, then each ancestor
            where = os.path.join(base, *parts[:depth])
            try:
                with open(os.path.join(where, limit_file)) as fh:
                    limit = fh.read().strip()
                with open(os.path.join(where, usage_file)) as fh:
                    usage = float(fh.read().strip())
            except (OSError, ValueError):
                continue
            if limit != "max" and float(limit) < 2.0**62:  # v1 writes a huge number for none
                room = min(room, max(0.0, float(limit) - usage))
    return room


def _address_space_room() -> float:
    """Bytes of address space left under ``RLIMIT_AS`` (``ulimit -v``); inf without one."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):  # pragma: no cover - non-POSIX
        return math.inf
    if soft == resource.RLIM_INFINITY:
        return math.inf
    try:
        with open("/proc/self/status") as fh:
            size = next(
                float(line.split()[1]) * 1024.0 for line in fh if line.startswith("VmSize:")
            )
    except (OSError, StopIteration):  # pragma: no cover - non-Linux
        size = 0.0
    return max(0.0, float(soft) - size)


def available_memory() -> float:
    """Return the bytes of memory this process may still use.

    The least of the system's ``MemAvailable`` (Linux; elsewhere half the RAM), the room
    left under the process's cgroup memory limit (containers, batch schedulers) and under
    its address-space limit (``ulimit -v``).

    Returns
    -------
    float
        Bytes (8 GiB when the system does not say).
    """
    free = math.inf
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = float(line.split()[1]) * 1024.0
                    break
    except OSError:  # pragma: no cover - non-Linux
        pass
    if math.isinf(free):  # pragma: no cover - non-Linux
        try:
            free = 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            free = 8.0 * 2**30
    return min(free, _cgroup_room(), _address_space_room())


def max_points_for_memory(
    limit_bytes: float,
    *,
    maxdim: int = 1,
    edge_fraction: float = 1.0,
    precision: Literal["float32", "float64"] = "float32",
    source: MatrixSource = "cloud",
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
    precision, source
        As in :func:`estimate_memory`.

    Returns
    -------
    int
        The number of points.
    """

    def fits(n: int) -> bool:
        est = estimate_memory(
            n, maxdim=maxdim, edge_fraction=edge_fraction, precision=precision, source=source
        )
        return est.bytes <= limit_bytes

    lo, hi = 1, 2
    while fits(hi):
        lo, hi = hi, hi * 2
        if hi > 10**8:
            return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo
