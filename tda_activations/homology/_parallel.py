"""Worker processes for the homology stage.

loky's reusable executor (shipped with joblib, a scikit-learn dependency) is
used rather than :mod:`multiprocessing` directly: its workers are fresh
interpreters (never a ``fork`` of a caller that may hold torch or BLAS
threads), they stay alive between calls (the engines are imported once), and
a script without an ``if __name__ == "__main__":`` guard is not re-executed in
them.  Every task is a pure function of its arguments, so results do not
depend on the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["check_n_jobs", "process_pool", "run_tasks"]

_IDLE_SECONDS = 300


def check_n_jobs(n_jobs: int | None) -> int:
    """``None``/1: sequential; -1: every CPU; k > 1: k processes."""
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        raise TypeError(f"n_jobs must be an integer (-1 for all CPUs), got {n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise ValueError(f"n_jobs must be >= 1 or -1, got {n_jobs}")
    return n_jobs


def process_pool(n_jobs: int) -> Any:
    """A reusable pool of ``n_jobs`` worker processes (``submit``/``map`` like concurrent.futures).

    Do not shut it down: it is shared, and idle workers exit by themselves
    after a few minutes.
    """
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=n_jobs, timeout=_IDLE_SECONDS)


def run_tasks(fn: Callable[..., Any], tasks: Sequence[tuple[Any, ...]], n_jobs: int) -> list[Any]:
    """``[fn(*t) for t in tasks]`` on ``n_jobs`` processes: this one and ``n_jobs - 1`` workers.

    Tasks are queued on the workers in order; this process takes the tasks
    the workers have not started (by cancelling them) and runs them itself,
    so it works from the first moment, while the workers are still starting.
    Results come back in task order.
    """
    if n_jobs <= 1 or len(tasks) <= 1:
        return [fn(*t) for t in tasks]
    pool = process_pool(min(n_jobs - 1, len(tasks) - 1))
    futures = [pool.submit(fn, *t) for t in tasks]
    results: list[Any] = [None] * len(tasks)
    local = [False] * len(tasks)
    for k in range(len(tasks) - 1, -1, -1):  # steal from the end of the queue
        if futures[k].cancel():
            results[k] = fn(*tasks[k])
            local[k] = True
    for k, fut in enumerate(futures):
        if not local[k]:
            results[k] = fut.result()
    return results
