"""Parallel efficiency of persistence over layers (the core paper's 17 ResNet-18 clouds).

Floor: the single-core time of the fastest backend here, each backend timed layer after
layer in this process on one BLAS thread (median of repeats).  Parallel:
``layer_persistence(n_jobs=2)`` with that backend (this process and one worker, one BLAS
thread each; the worker takes the largest clouds first, this process the smallest), end to
end; median of 3 repeats, the first of which also starts the worker (printed).
Efficiency = floor / (2 x parallel).  On a loaded machine the two processes do not get
two whole cores, so the efficiency measured there is a lower bound.

A second, load-independent view (``--cpu-view`` runs only this): the same tasks through
the same scheduler (``_parallel.run_tasks``), each reporting its process and its CPU
seconds; balance = total task CPU / (2 x the busiest process's task CPU), the efficiency
the schedule would reach on two idle cores (worker start and transfers not counted).

Run: .venv/bin/python benchmarks/bench_homology_parallel.py [--cpu-view]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from _homology_common import machine, median_time, paper_clouds

from tda_activations.homology import BACKENDS, layer_persistence


def _timed_layer(cloud, label, options):
    """One layer's persistence in the calling process: (pid, CPU seconds)."""
    from tda_activations.homology import persistence

    c = time.process_time()
    persistence(cloud, label=label, **options)
    return os.getpid(), time.process_time() - c


def cpu_view(clouds, backend: str) -> None:
    from tda_activations.homology._parallel import run_tasks

    order = sorted(clouds, key=lambda l: (-clouds[l].shape[0], -clouds[l].shape[1]))
    tasks = [(clouds[l], l, {"backend": backend}) for l in order]
    run_tasks(_timed_layer, tasks[:2], 2)  # start the worker
    out = run_tasks(_timed_layer, tasks, 2)
    per: dict[int, float] = {}
    for pid, cpu in out:
        per[pid] = per.get(pid, 0.0) + cpu
    total = sum(per.values())
    here = per.get(os.getpid(), 0.0)
    print(
        f"CPU view ({backend}): {total:.2f} CPU s of tasks; this process {here:.2f} s, "
        f"worker {total - here:.2f} s; tasks here: "
        f"{sum(1 for pid, _ in out if pid == os.getpid())} of {len(out)}"
    )
    print(
        f"schedule balance (total task CPU / (2 x busiest process)): "
        f"{total / (2 * max(per.values())):.2f}"
    )


def main() -> None:
    print(f"machine: {machine()}")
    clouds = paper_clouds(1000)
    print(f"{len(clouds)} layers of 1000 points; H0 + H1")
    if "--cpu-view" in sys.argv:
        cpu_view(clouds, "gudhi")
        return
    single = {}
    for backend in BACKENDS:
        single[backend], _ = median_time(
            lambda b=backend: layer_persistence(clouds, n_jobs=1, backend=b), repeats=2
        )
        print(f"single core, {backend}: {single[backend]:.2f} s")
    best = min(single, key=single.get)
    floor = single[best]
    runs = []
    for _ in range(3):
        t, dg_par = median_time(
            lambda: layer_persistence(clouds, n_jobs=2, backend=best), repeats=1
        )
        runs.append(t)
    par = float(np.median(runs))
    print(
        f"2 processes, runs: {', '.join(f'{t:.2f}' for t in runs)} s (the first starts the worker)"
    )
    seq = layer_persistence(clouds, n_jobs=1, backend=best)
    same = all(np.array_equal(seq[l][d], dg_par[l][d]) for l in clouds for d in (0, 1))
    print(
        f"fastest single-core backend: {best} ({floor:.2f} s); 2 processes: {par:.2f} s; "
        f"results identical to the sequential run: {same}"
    )
    print(
        f"speedup over the single-core floor: {floor / par:.2f}x; load average at the end "
        f"{os.getloadavg()[0]:.1f} (other jobs share the 2 cores: efficiency is a lower bound)"
    )
    cpu_view(clouds, best)
    print(f"parallel efficiency (floor / (2 x parallel time)): {floor / (2 * par):.2f}")


if __name__ == "__main__":
    main()
