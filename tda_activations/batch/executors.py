"""Where tasks run: local worker processes (default) or a Dask cluster.

An executor only submits :func:`~tda_activations.batch.tasks.execute_task` calls and
waits for their small outcome dictionaries; results go straight from the worker to
the run directory.  With Dask on several machines the run directory must be on
storage that every worker and the client see under the same path (NFS, Lustre,
a shared volume).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as cf_wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .tasks import Task, execute_task

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "SchedulerUnreachable", "make_executor"]

log = logging.getLogger(__name__)


class SchedulerUnreachable(ConnectionError):
    """The Dask scheduler given with ``--scheduler`` did not answer."""


class Executor:
    """What the runner needs from an executor.

    ``submit(task, run_dir, run_id) -> handle``; ``wait(handles) -> finished``;
    ``outcome(handle) -> dict``; ``close()``.
    """

    name = "executor"
    n_workers = 1

    def submit(self, task: Task, run_dir: str, run_id: str) -> Any:  # pragma: no cover - interface
        """Start ``task``; return a handle to wait on."""
        raise NotImplementedError

    def wait(
        self, handles: Iterable[Any], timeout: float | None = None
    ) -> set[Any]:  # pragma: no cover
        """The handles that have finished (at least one unless ``timeout`` passes)."""
        raise NotImplementedError

    def outcome(self, handle: Any, task: Task) -> dict[str, Any]:  # pragma: no cover
        """The finished task's record; a crash becomes a failed record, never an exception."""
        raise NotImplementedError

    def close(self) -> None:  # pragma: no cover
        """Stop the workers."""
        pass

    def describe(self) -> dict[str, Any]:
        """What ran the tasks (for the manifest)."""
        return {"executor": self.name, "workers": self.n_workers}

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_PARENT_POLL_SECONDS = 0.5


def _watch_parent(parent: int) -> None:
    """In a worker: exit as soon as the process that started it is gone.

    A ``kill -9`` of the run gives its workers no chance to be told; each worker
    polls its parent pid from a daemon thread and ends itself (``os._exit``: a
    half-written task stays in its ``.partial`` folder, removed by the next run).
    """
    import threading

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(_PARENT_POLL_SECONDS)

    threading.Thread(target=watch, name="tda-watch-parent", daemon=True).start()


def _crashed(task: Task, exc: BaseException) -> dict[str, Any]:
    return {
        "key": task.key,
        "status": "failed",
        "seconds": 0.0,
        "meta": {},
        "error": f"the worker running this task died ({type(exc).__name__}: {exc})",
        "traceback": None,
    }


class LocalExecutor(Executor):
    """Worker processes on this machine (``spawn``: safe with torch and OpenMP).

    Each worker watches the process that started it and exits when it is gone, so
    killing a run (even ``kill -9``) never leaves workers behind.

    Parameters
    ----------
    n_workers
        Processes (default: every CPU of this machine).  ``1`` runs tasks in this
        process, one after the other.
    """

    name = "local"

    def __init__(self, n_workers: int | None = None) -> None:
        n = (os.cpu_count() or 1) if n_workers is None else int(n_workers)
        if n < 1:
            raise ValueError(f"workers must be at least 1, got {n_workers}")
        self.n_workers = n
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.n_workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_watch_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(self, task: Task, run_dir: str, run_id: str) -> Any:
        """Start ``task``; return a handle to wait on."""
        if self.n_workers == 1:
            fut: Future[dict[str, Any]] = Future()
            fut.set_result(execute_task(task, run_dir, run_id, limit_threads=False))
            return fut
        try:
            return self._get_pool().submit(execute_task, task, run_dir, run_id)
        except BrokenProcessPool:
            self._pool = None
            return self._get_pool().submit(execute_task, task, run_dir, run_id)

    def wait(self, handles: Iterable[Any], timeout: float | None = None) -> set[Any]:
        """The handles that have finished (at least one unless ``timeout`` passes)."""
        done, _ = cf_wait(list(handles), timeout=timeout, return_when=FIRST_COMPLETED)
        return set(done)

    def outcome(self, handle: Any, task: Task) -> dict[str, Any]:
        """The finished task's record; a crash becomes a failed record, never an exception."""
        try:
            return handle.result()
        except BrokenProcessPool as exc:
            # a worker died (out of memory, segfault in a native library): restart the pool
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            return _crashed(task, exc)
        except Exception as exc:  # noqa: BLE001 - pickling problems and the like
            return _crashed(task, exc)

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(Executor):
    """Tasks on a Dask cluster (``dask.distributed``).

    Parameters
    ----------
    scheduler
        Address of an existing scheduler (``tcp://host:8786``), or ``None`` to start a
        :class:`distributed.LocalCluster` for the run.
    n_workers
        Workers of the local cluster (ignored with ``scheduler``).
    timeout
        Seconds to wait for the scheduler to answer.

    Raises
    ------
    SchedulerUnreachable
        If the scheduler does not answer within ``timeout``.
    ImportError
        If ``dask.distributed`` is not installed.
    """

    name = "dask"

    def __init__(
        self, scheduler: str | None = None, *, n_workers: int | None = None, timeout: float = 10.0
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - installed in tests
            raise ImportError(
                "the Dask executor needs dask.distributed: pip install 'tda-activations[dask]'"
            ) from exc
        self.scheduler = scheduler
        self._cluster = None
        if scheduler is None:
            import dask

            n = n_workers or os.cpu_count() or 1
            # Dask's nannies set MALLOC_TRIM_THRESHOLD_=65536 in their workers, which turns
            # off glibc's adaptive mmap threshold: every large temporary array is then
            # mapped and unmapped afresh (measured: the persim-exact sliced-Wasserstein
            # pair 2x slower, a 20-model run 1.5x slower than local processes).  A nanny
            # also leaves the variable in this process's environment, where the next
            # cluster's workers would inherit it, so it is lifted while ours start.
            saved = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            try:
                with dask.config.set(
                    {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
                ):
                    self._cluster = LocalCluster(
                        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
                    )
            finally:
                if saved is not None:
                    os.environ["MALLOC_TRIM_THRESHOLD_"] = saved
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(scheduler, timeout=f"{timeout}s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise SchedulerUnreachable(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({type(exc).__name__}: {exc}); "
                    "check the address and that `dask scheduler` is running there, or run without "
                    "--scheduler to use local processes"
                ) from None
        self.n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        if scheduler is not None:
            _warn_malloc_trim(self.client)

    def submit(self, task: Task, run_dir: str, run_id: str) -> Any:
        """Start ``task``; return a handle to wait on."""
        return self.client.submit(
            execute_task,
            task,
            run_dir,
            run_id,
            key=f"{task.kind}-{task.key}",
            pure=False,
            retries=0,
        )

    def wait(self, handles: Iterable[Any], timeout: float | None = None) -> set[Any]:
        """The handles that have finished (at least one unless ``timeout`` passes)."""
        from distributed import wait as dask_wait

        try:
            done, _ = dask_wait(list(handles), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return set()
        return set(done)

    def outcome(self, handle: Any, task: Task) -> dict[str, Any]:
        """The finished task's record; a crash becomes a failed record, never an exception."""
        try:
            return handle.result()
        except Exception as exc:  # noqa: BLE001 - a lost worker (KilledWorker) and the like
            return _crashed(task, exc)
        finally:
            handle.release()

    def close(self) -> None:
        """Stop the workers."""
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()

    def describe(self) -> dict[str, Any]:
        """What ran the tasks, for the manifest."""
        return {
            "executor": "dask",
            "scheduler": self.scheduler or "LocalCluster",
            "workers": self.n_workers,
        }


def _malloc_trim_threshold() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _warn_malloc_trim(client: Any) -> None:
    """Log once if a user's Dask workers run with ``MALLOC_TRIM_THRESHOLD_`` set."""
    try:
        values = client.run(_malloc_trim_threshold)
    except Exception:  # noqa: BLE001 - a check only; the run goes on
        return
    slow = sorted(w for w, v in values.items() if v is not None)
    if slow:
        log.warning(
            "%d of %d Dask workers run with MALLOC_TRIM_THRESHOLD_ set (Dask's default), which "
            "makes the sliced-Wasserstein and persistence stages up to 2x slower; start the "
            "workers with the Dask config distributed.nanny.pre-spawn-environ."
            "MALLOC_TRIM_THRESHOLD_: null",
            len(slow),
            len(values),
        )


def make_executor(
    kind: str = "local",
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    timeout: float = 10.0,
) -> Executor:
    """Build an executor: ``"local"`` processes or ``"dask"`` (a scheduler or a LocalCluster).

    Parameters
    ----------
    kind
        ``"local"`` or ``"dask"``.
    scheduler
        Address of an existing Dask scheduler; implies ``kind="dask"``.
    n_workers
        Number of worker processes (default: chosen by the executor).
    timeout
        Seconds to wait for the Dask scheduler.

    Returns
    -------
    Executor
        The executor.

    Raises
    ------
    ValueError
        If ``kind`` is not a known executor.
    """
    if scheduler is not None:
        kind = "dask"
    if kind == "local":
        return LocalExecutor(n_workers)
    if kind == "dask":
        return DaskExecutor(scheduler, n_workers=n_workers, timeout=timeout)
    from ..types import unknown_name_error

    raise unknown_name_error("executor", kind, ["local", "dask"])
