"""All-pairs linear CKA over many layers: the batched matrix against the pairwise engine.

The workload of the batch's cross-model stage at paper scale, scaled down: ``--models``
ResNet-18-shaped layer stacks (17 layers of widths 16 x 5, 32 x 4, 64 x 4, 128 x 4), 1000
points each, random clouds (the cost depends on the shapes only).  Reference, same run: the
pairwise engine (``all_pairs`` over ``measure.score``, one small matrix product per pair).
Ours: ``measure.score_matrix`` (blocks of stacked centred clouds, one product per block).
One BLAS thread each.  The last line is the ratio of the two times.

Run: .venv/bin/python benchmarks/bench_cka_matrix.py [--models 10]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from threadpoolctl import threadpool_limits

from tda_activations._measure import all_pairs
from tda_activations.similarity import get_measure

WIDTHS = [16] * 5 + [32] * 4 + [64] * 4 + [128] * 4


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=10)
    ap.add_argument("--points", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(args.points, w)) for _ in range(args.models) for w in WIDTHS]
    m = get_measure("linear_cka")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}; "
        f"{len(clouds)} clouds of {args.points} points ({args.models} models x 17 layers), "
        f"{len(clouds) * (len(clouds) - 1) // 2:,} pairs; one BLAS thread"
    )
    with threadpool_limits(1):
        prepared = m.prepare_many(clouds)
        t0 = time.perf_counter()
        ref = all_pairs(m.score, prepared, symmetric=True, identity_value=1.0)
        t_ref = time.perf_counter() - t0
        t0 = time.perf_counter()
        ours = m.score_matrix(prepared)
        t_ours = time.perf_counter() - t0
    err = float(np.max(np.abs(ours - ref)))
    print(
        f"pairwise engine: {t_ref:.2f} s ({1e3 * t_ref / max(1, len(clouds) ** 2 // 2):.3f} ms per pair)"
    )
    print(f"batched matrix:  {t_ours:.2f} s; max |difference| {err:.1e}")
    print(f"ratio (pairwise engine / batched matrix): {t_ref / t_ours:.1f}x")


if __name__ == "__main__":
    main()
