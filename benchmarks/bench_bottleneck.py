"""Exact bottleneck distance between large H1 diagrams: pairs from KD-tree balls, not a matrix.

``bottleneck_distance`` used to build the dense ``na x nb`` cost matrix (and boolean
matrices of the same size) before its binary search; two diagrams of 35,000 bars then
took about 20 GB.  It now keeps only the pairs an optimal matching may use (cost at most
one of the two points' distances to the diagonal), found with ball queries of a KD-tree
in the L-infinity norm once the diagrams have more than ``DENSE_BOTTLENECK_PAIRS`` pairs
(below, the dense matrix is the faster way to find them).  This times both on real H1 diagrams (ours of two disjoint
activation clouds of the augmented digits, shifted by up to 2 pixels,
``_homology_common.augmented_digit_clouds``)
(median of 3 calls) and records numpy's traced peak memory in a separate call; GUDHI's exact mode (``e=0``) and its default
(the last bits may differ) run on the same pairs for reference.

Reference (the naive way, the previous code): the dense version, copied below.

Run: ``.venv/bin/python benchmarks/bench_bottleneck.py [--sizes 1000,4000,8000]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc

import numpy as np


def dense_bottleneck(a: np.ndarray, b: np.ndarray) -> float:
    """The previous implementation: the dense cost matrix, then the same binary search."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    def saturates(edges: np.ndarray) -> bool:
        rows, cols = edges.shape
        if rows == 0:
            return True
        if rows > cols or not edges.any(axis=1).all():
            return False
        match = maximum_bipartite_matching(csr_matrix(edges), perm_type="column")
        return bool((match >= 0).all())

    da = (a[:, 1] - a[:, 0]) / 2.0
    db = (b[:, 1] - b[:, 0]) / 2.0
    cost = np.maximum(
        np.abs(np.subtract.outer(a[:, 0], b[:, 0])), np.abs(np.subtract.outer(a[:, 1], b[:, 1]))
    )
    lower = max(np.minimum(da, cost.min(axis=1)).max(), np.minimum(db, cost.min(axis=0)).max())
    useful = cost <= np.maximum(da[:, None], db[None, :])
    cand = np.concatenate([da, db, cost[useful]])
    cand = np.unique(cand[cand >= lower])

    def feasible(t: float) -> bool:
        edges = cost <= t
        return saturates(edges[da > t]) and saturates(edges[:, db > t].T)

    if feasible(cand[0]):
        return float(cand[0])
    lo, hi = 1, cand.size - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(cand[mid]):
            hi = mid
        else:
            lo = mid + 1
    return float(cand[lo])


def _measure(fn, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:  # noqa: ANN001
    """Value, median seconds of 3 untraced calls, and numpy's traced peak in a fourth call."""
    times = []
    for _ in range(3):
        t = time.perf_counter()
        value = fn(a, b)
        times.append(time.perf_counter() - t)
    tracemalloc.start()  # traced apart: tracing slows allocation-heavy code
    fn(a, b)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return value, statistics.median(times), peak / 2**30


def main() -> None:
    import gudhi
    from _homology_common import augmented_digit_clouds, machine

    from tda_activations.homology import bottleneck_distance, persistence

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,4000,8000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"machine: {machine()}")
    x = augmented_digit_clouds(2 * max(sizes), max_shift=2)["features.2"]
    dense_bottleneck(np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]]))  # imports
    bottleneck_distance([[0.0, 1.0]], [[0.0, 2.0]])
    print(
        f"{'bars':>13s} {'ours s':>8s} {'ours GiB':>8s} {'dense s':>8s} {'dense GiB':>9s} "
        f"{'GUDHI e=0 s':>11s} {'GUDHI s':>8s}  equal"
    )
    last = None
    for n in sizes:
        a = persistence(x[:n], maxdim=1).dgms[1]
        b = persistence(x[n : 2 * n], maxdim=1).dgms[1]
        ours, t_ours, m_ours = _measure(bottleneck_distance, a, b)
        dense, t_dense, m_dense = _measure(dense_bottleneck, a, b)
        t = time.perf_counter()
        exact = gudhi.bottleneck_distance(a, b, 0)
        t_g0 = time.perf_counter() - t
        t = time.perf_counter()
        near = gudhi.bottleneck_distance(a, b)
        t_g = time.perf_counter() - t
        same = ours == dense == exact
        print(
            f"{len(a):>6d}x{len(b):<6d} {t_ours:8.3f} {m_ours:8.3f} {t_dense:8.3f} "
            f"{m_dense:9.3f} {t_g0:11.3f} {t_g:8.3f}  {same} (GUDHI default "
            f"{abs(near - ours):.1e} off)",
            flush=True,
        )
        last = (len(a), len(b), t_dense / t_ours, m_dense / m_ours)
    if last:
        print(
            f"ratio (dense time / ours, {last[0]:,} x {last[1]:,} bars): {last[2]:.1f}x "
            f"(numpy peak memory {last[3]:.0f}x less)"
        )


if __name__ == "__main__":
    main()
