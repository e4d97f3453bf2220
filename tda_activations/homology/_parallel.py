"""Worker processes for the homology stage.

loky's reusable executor (shipped with joblib, a scikit-learn dependency) is
used rather than :mod:`multiprocessing` directly: its workers are fresh
interpreters (never a ``fork`` of a caller that may hold torch or BLAS
threads), they stay alive between calls (the engines are imported once), and
a script without an ``if __name__ == "__main__":`` guard is not re-executed in
them.  Every task is a pure function of its arguments, so results do not
depend on the number of workers.

Scheduling (:func:`run_tasks`)
    Tasks come in the order the caller wants them started (most expensive
    first).  The workers take them from the front, one at a time (a task is
    handed to a worker only when that worker is free, so no task waits in a
    busy worker's queue while another process idles); the calling process
    takes them from the back and computes too.  The two ends meet on the
    smallest tasks, so the processes finish within about one small task of
    each other.  Every task runs with BLAS and OpenMP limited to one thread
    (``n_jobs`` processes use ``n_jobs`` cores, never more).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["check_n_jobs", "process_pool", "run_tasks"]

_IDLE_SECONDS = 300
# Libraries that read these at start-up (OpenBLAS, MKL, OpenMP) then start one thread per
# worker; threadpoolctl limits the ones already loaded as well (see _one_thread).
_WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


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

    The workers start with one BLAS/OpenMP thread each.  Do not shut the pool
    down: it is shared, and idle workers exit by themselves after a few minutes.
    """
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=n_jobs, timeout=_IDLE_SECONDS, env=_WORKER_ENV)


def _one_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` with every loaded BLAS/OpenMP pool limited to one thread."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return fn(*args)


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    n_jobs: int,
    *,
    on_done: Callable[[int], None] | None = None,
) -> list[Any]:
    """``[fn(*t) for t in tasks]`` on ``n_jobs`` processes: this one and ``n_jobs - 1`` workers.

    Parameters
    ----------
    fn
        A picklable (module-level) function.
    tasks
        Argument tuples, most expensive first (see the module notes).
    n_jobs
        Processes, this one included; 1 runs everything here, in order.
    on_done
        Called with a task's index when it finishes (from a helper thread for
        the workers' tasks; keep it quick and thread-safe).

    Returns
    -------
    list
        The results, in task order.

    Raises
    ------
    Exception
        The first failing task's exception (in task order), once the tasks
        already running have finished; no further task is started after a failure.
    """
    n = len(tasks)
    if n_jobs <= 1 or n <= 1:
        out = []
        for k, t in enumerate(tasks):
            out.append(_one_thread(fn, *t))
            if on_done is not None:
                on_done(k)
        return out
    n_workers = min(n_jobs - 1, n - 1)
    pool = process_pool(n_workers)
    queue = deque(range(n))
    lock = threading.Lock()
    results: list[Any] = [None] * n
    errors: dict[int, BaseException] = {}

    def take(front: bool) -> int | None:
        with lock:
            if errors or not queue:
                return None
            return queue.popleft() if front else queue.pop()

    def finish(k: int, value: Any = None, exc: BaseException | None = None) -> None:
        with lock:
            if exc is not None:
                errors[k] = exc
            else:
                results[k] = value
        if exc is None and on_done is not None:
            on_done(k)

    def feed() -> None:  # one thread per worker: hand it the next task when it is free
        while (k := take(front=True)) is not None:
            try:
                value = pool.submit(_one_thread, fn, *tasks[k]).result()
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                finish(k, exc=exc)
            else:
                finish(k, value)

    feeders = [threading.Thread(target=feed, daemon=True) for _ in range(n_workers)]
    for th in feeders:
        th.start()
    while (mine := take(front=False)) is not None:
        k = mine
        try:
            value = _one_thread(fn, *tasks[k])
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after the workers stop
            finish(k, exc=exc)
        else:
            finish(k, value)
    for th in feeders:
        th.join()
    if errors:
        raise errors[min(errors)]
    return results
