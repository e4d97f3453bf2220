"""Process pools for the homology stage (fresh interpreters, so results never depend on them)."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["check_n_jobs", "process_pool"]


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


def process_pool(
    n_jobs: int, *, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> ProcessPoolExecutor:
    """A pool of ``n_jobs`` worker processes started by forkserver (spawn where unavailable).

    Forking the caller directly is avoided: a caller that has loaded torch or
    started BLAS threads can deadlock a forked child.
    """
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        # the server imports the engines once; workers fork from it ready to run
        ctx.set_forkserver_preload(["tda_activations.homology.persistence"])
    else:  # pragma: no cover - Windows
        ctx = mp.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=n_jobs, mp_context=ctx, initializer=initializer, initargs=initargs
    )
