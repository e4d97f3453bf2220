"""The core paper's workload: H0+H1 of 17 conv layers (1000 top-L2 points each), then the
17 x 17 sliced-Wasserstein (M=50) matrix of the H1 diagrams.

Naive (the reference, in the same run): ``ripser(X, maxdim=1)`` layer after layer, then
``persim.sliced_wasserstein(a, b, M=50)`` for every pair.  Ours:
``layer_persistence(clouds, n_jobs=2)`` (GUDHI engine, this process and one worker, each
on one BLAS thread) then ``distance_matrix(..., metric="sliced_wasserstein",
n_directions=50)``, timed end to end.  Three interleaved repeats, medians reported: the
first repeat of ours also starts the worker process (and imports scikit-learn there for
the ripser-compatible distances); its time is printed separately.  Ours runs twice: with
``distances="ripser-compatible"`` (scikit-learn distances, as ripser.py computes them:
diagrams must be identical) and with the default exact distances (which differ from
ripser.py's by float32 rounding on float32 clouds; the difference is printed).

Run: .venv/bin/python benchmarks/bench_homology_paper.py
"""

from __future__ import annotations

import time

import numpy as np
import persim
from _homology_common import machine, paper_clouds
from ripser import ripser

from tda_activations.homology import bottleneck_distance, distance_matrix, layer_persistence


def naive(clouds):
    dgms = {l: ripser(x, maxdim=1)["dgms"] for l, x in clouds.items()}
    names = list(dgms)
    sw = np.zeros((len(names), len(names)))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            sw[i, j] = sw[j, i] = persim.sliced_wasserstein(
                dgms[names[i]][1], dgms[names[j]][1], M=50
            )
    return dgms, sw


def ours(clouds, **options):
    dgms = layer_persistence(clouds, n_jobs=2, maxdim=1, **options)
    return dgms, distance_matrix(dgms, metric="sliced_wasserstein", dim=1, n_directions=50).values


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t, out


def main() -> None:
    print(f"machine: {machine()}")
    clouds = paper_clouds(1000)
    print(
        f"{len(clouds)} conv layers, points x dims: "
        + ", ".join(f"{x.shape[0]}x{x.shape[1]}" for x in clouds.values())
        + f"; dtype {next(iter(clouds.values())).dtype}"
    )
    t_naive, t_compat, t_exact = [], [], []
    for _ in range(3):  # interleaved repeats; medians reported
        t, (ref_dgms, ref_sw) = timed(naive, clouds)
        t_naive.append(t)
        t, (cmp_dgms, cmp_sw) = timed(ours, clouds, distances="ripser-compatible")
        t_compat.append(t)
        t, (ex_dgms, ex_sw) = timed(ours, clouds)
        t_exact.append(t)
    tn, tc, te = (float(np.median(v)) for v in (t_naive, t_compat, t_exact))

    def diffs(dgms, sw):
        bott = max(
            bottleneck_distance(dgms[l], ref_dgms[l][d], dim=d) for l in clouds for d in (0, 1)
        )
        same = all(
            np.array_equal(
                dgms[l][d], ref_dgms[l][d][np.lexsort((ref_dgms[l][d][:, 1], ref_dgms[l][d][:, 0]))]
            )
            for l in clouds
            for d in (0, 1)
        )
        return same, bott, float(np.max(np.abs(sw - ref_sw)))

    s_c, b_c, e_c = diffs(cmp_dgms, cmp_sw)
    s_e, b_e, e_e = diffs(ex_dgms, ex_sw)
    bars = sum(len(d[1]) for d in ref_dgms.values())
    print(
        f"naive (ripser.py + persim, sequential): {tn:.1f} s  (runs: {', '.join(f'{t:.1f}' for t in t_naive)})"
    )
    print(
        f"ours, first repeat (worker start included): ripser-compatible {t_compat[0]:.1f} s, "
        f"exact {t_exact[0]:.1f} s"
    )
    print(
        f"ours, ripser-compatible distances: {tc:.1f} s; diagrams identical to ripser.py: {s_c}; "
        f"max bottleneck difference {b_c:.1e}; max |SW - naive SW| {e_c:.1e}"
    )
    print(
        f"ours, exact distances (default): {te:.1f} s; identical: {s_e}; max bottleneck difference "
        f"{b_e:.1e} (float32 rounding of ripser.py's sklearn distances); max |SW - naive SW| {e_e:.1e}"
    )
    print(f"{bars} H1 bars in total; ratio (naive/ours) with exact distances: {tn / te:.1f}x")
    print(f"ratio (naive/ours), end to end on 2 cores, identical diagrams: {tn / tc:.1f}x")


if __name__ == "__main__":
    main()
