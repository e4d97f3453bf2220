"""Running a config: schedule the task DAG on an executor, skip finished work, write the manifest.

The run directory::

    manifest.json        resolved config, package versions, fingerprints, every task
                         (status, seconds, folder), the history of invocations
    config.toml          the config file as given (when run from a file)
    tasks/<kind>/<name>-<key>/   one folder per finished task (written atomically)
    index.html           the report (see :mod:`tda_activations.batch.report`)
    figures/             (inside the figure tasks' folders; linked from the report)

A finished task is never computed again: its folder exists.  A run killed at any
moment (even ``kill -9``) leaves at most ``.partial`` folders, removed by the next
run, which then computes only what is missing.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import heapq
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .._atomic import atomic_write_text
from ._stage_registry import display_rank, priority
from .config import RunConfig, load_config
from .executors import Executor, make_executor
from .plan import Planner, _data_salt
from .tasks import TASK_FILE, Task, read_task_record, verify_task

__all__ = ["RunDirectoryError", "RunResult", "TaskRecord", "package_versions", "run_batch"]

log = logging.getLogger(__name__)

_PACKAGES = (
    "tda-activations",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "gudhi",
    "ripser",
    "persim",
    "kmapper",
    "networkx",
    "matplotlib",
    "zarr",
    "pandas",
    "pydantic",
    "dask",
    "distributed",
    "giotto-ph",
    "rich",
    "typer",
)


def package_versions() -> dict[str, str | None]:
    """Versions of the packages a run depends on (``None`` where not installed).

    Returns
    -------
    dict
        Package name -> version string or ``None``.
    """
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    out["tda_activations (imported)"] = __version__
    return out


@dataclass(frozen=True)
class TaskRecord:
    """What happened to one task in a run.

    ``status`` is ``"done"`` (computed now), ``"cached"`` (finished before),
    ``"failed"`` (``error`` says why) or ``"skipped"`` (``reason`` names the failed
    task it depends on).

    Attributes
    ----------
    key
        The task's content key.
    kind
        The task's kind.
    name
        The task's name.
    path
        The task's folder, relative to the run directory.
    status
        ``"done"``, ``"cached"``, ``"failed"`` or ``"skipped"``.
    seconds
        Time spent computing it.
    error
        Why it failed, or ``None``.
    reason
        Why it was skipped, or ``None``.
    info
        Planner bookkeeping of the task.
    meta
        What the task recorded about its result.
    deps
        Keys of the tasks it depends on.
    """

    key: str
    kind: str
    name: str
    path: str
    status: str
    seconds: float = 0.0
    error: str | None = None
    reason: str | None = None
    info: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    deps: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    run_dir
        The run directory.
    records
        One :class:`TaskRecord` per task, in the order they were planned.
    wall_seconds
        Wall time of this invocation.
    report
        Path of ``index.html`` (``None`` if it could not be written).
    """

    run_dir: Path
    records: tuple[TaskRecord, ...]
    wall_seconds: float
    report: Path | None = None

    @property
    def failed(self) -> tuple[TaskRecord, ...]:
        """Tasks that failed."""
        return tuple(r for r in self.records if r.status == "failed")

    @property
    def skipped(self) -> tuple[TaskRecord, ...]:
        """Tasks skipped because something they depend on failed."""
        return tuple(r for r in self.records if r.status == "skipped")

    @property
    def ok(self) -> bool:
        """Every task finished (computed now or before)."""
        return not self.failed and not self.skipped

    def counts(self) -> dict[str, int]:
        """Number of tasks per status."""
        out = {"done": 0, "cached": 0, "failed": 0, "skipped": 0}
        for r in self.records:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def summary(self) -> str:
        """A few lines for the console: counts, wall time, every failure and why."""
        c = self.counts()
        lines = [
            f"{len(self.records)} tasks: {c['done']} computed, {c['cached']} already finished, "
            f"{c['failed']} failed, {c['skipped']} skipped; {self.wall_seconds:.1f} s; "
            f"results in {self.run_dir}" + (f"; report {self.report}" if self.report else "")
        ]
        for r in self.failed:
            lines.append(f"FAILED {r.kind} {r.name}: {r.error}")
        if self.skipped:
            roots: dict[str, int] = {}
            for r in self.skipped:
                roots[r.reason or "?"] = roots.get(r.reason or "?", 0) + 1
            for reason, n in roots.items():
                lines.append(f"skipped {n} task(s): {reason}")
        return "\n".join(lines)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _clean_partial(run_dir: Path) -> int:
    tasks = run_dir / "tasks"
    n = 0
    if not tasks.is_dir():
        return 0
    for kind in tasks.iterdir():
        if not kind.is_dir():
            continue
        for entry in kind.iterdir():
            if entry.name.startswith(".") and entry.name.endswith((".partial", ".old")):
                shutil.rmtree(entry, ignore_errors=True)
                n += 1
            elif entry.is_dir() and not (entry / TASK_FILE).exists():
                shutil.rmtree(entry, ignore_errors=True)  # cannot happen with atomic renames
                n += 1
    return n


def _discard(folder: Path) -> None:
    """Remove a task folder: renamed aside first, so a crash leaves a ``.old`` the next run removes."""
    aside = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:8]}.old"
    try:
        os.replace(folder, aside)
    except FileNotFoundError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDirectoryError(OSError):
    """The run directory cannot be used: it is a file, lies under a file, is read-only or full.

    ``str(error)`` is the one-line message; ``error.errno`` the underlying error number.

    Parameters
    ----------
    code
        The underlying error number (``None`` when unknown), kept as ``errno``.
    message
        The one-line message.
    """

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.errno = code


#: errno values that mean "this folder cannot be written" (not a bug of the run).
_WRITE_ERRORS = {
    errno.ENOSPC,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EISDIR,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EIO,
}


def _write_error(exc: BaseException) -> bool:
    return (
        isinstance(exc, OSError)
        and not isinstance(exc, ConnectionError)
        and exc.errno in _WRITE_ERRORS
    )


def _cannot_write(run_dir: Path, exc: OSError) -> RunDirectoryError:
    what = exc.strerror or type(exc).__name__
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(run_dir) else ""
    hint = (
        "free some space or give another --out"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else "give another --out"
    )
    return RunDirectoryError(
        exc.errno, f"cannot write to the run directory {run_dir}: {what}{where}; {hint}"
    )


def _prepare_run_dir(run_dir: Path) -> Path:
    """Create the run directory, or say in one line why it cannot be one."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(
            errno.ENOTDIR,
            f"the run directory {run_dir} is a file, not a "
            "folder; give a folder (--out) that is new or "
            "holds a run",
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in run_dir.parents if p.exists() and not p.is_dir()), None)
        raise RunDirectoryError(
            errno.ENOTDIR,
            f"the run directory {run_dir} cannot be created: "
            f"{blocker or 'a parent'} is a file; give another "
            "--out",
        ) from None
    except OSError as exc:
        raise RunDirectoryError(
            exc.errno,
            f"the run directory {run_dir} cannot be created: "
            f"{exc.strerror or exc}; give another --out",
        ) from None
    return run_dir


class _Lock:
    """One run per directory at a time.

    The lock file is created exclusively (``O_CREAT | O_EXCL``: of two runs started at
    the same instant exactly one gets it) and holds host, pid and a token.  A lock
    whose process is dead (same host) is stale and taken over; a lock of a live
    process, or of another host (whose processes cannot be checked), is refused.
    """

    _STALE_EMPTY_SECONDS = 5.0  # an empty lock this old lost its writer

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "run.lock"
        self.me = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": _now(),
            "token": uuid.uuid4().hex,
        }
        self.content = json.dumps(self.me).encode()

    def __enter__(self) -> _Lock:  # noqa: PYI034 - a final private class
        for _ in range(200):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._check_other()
                continue
            except OSError as exc:
                raise _cannot_write(self.path.parent, exc) from None
            try:
                os.write(fd, self.content)
                os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                with contextlib.suppress(OSError):
                    self.path.unlink()
                raise _cannot_write(self.path.parent, exc) from None
            os.close(fd)
            return self
        raise RuntimeError(
            f"could not take the lock {self.path}: it keeps changing; is another "
            "run starting there?"
        )

    def _check_other(self) -> None:
        """Raise if the existing lock is held; remove it if it is stale."""
        try:
            raw = self.path.read_bytes()
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return  # released meanwhile: try again
        try:
            other = json.loads(raw)
            if not isinstance(other, dict):
                raise TypeError
        except (ValueError, TypeError):
            if age < self._STALE_EMPTY_SECONDS:  # being written right now
                time.sleep(0.02)
                return
            other = {}
        host, pid = other.get("host"), other.get("pid")
        if host is not None and host != self.me["host"]:
            raise RuntimeError(
                f"{self.path.parent} is used by a run on host {host} (pid {pid}, since "
                f"{other.get('since')}); wait for it, give another --out, or delete {self.path} "
                "if no run is going on there"
            )
        if isinstance(pid, int) and _pid_alive(pid):
            raise RuntimeError(
                f"another run (pid {pid}, since {other.get('since')}) is using {self.path.parent}; "
                "wait for it or give another --out"
            )
        log.warning(
            "taking over the lock of a run that is no longer alive (pid %s) in %s",
            pid,
            self.path.parent,
        )
        self._remove_if_unchanged(raw)

    def _remove_if_unchanged(self, raw: bytes) -> None:
        # rename, then compare: never delete a lock another run has just taken
        grave = self.path.with_name(f".run.lock.{uuid.uuid4().hex[:8]}.stale")
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return
        try:
            if grave.read_bytes() != raw:
                with contextlib.suppress(FileExistsError):
                    os.link(grave, self.path)  # give it back
        finally:
            with contextlib.suppress(OSError):
                grave.unlink()

    def __exit__(self, *exc: object) -> None:
        try:
            if self.path.read_bytes() == self.content:
                self.path.unlink()
        except OSError:
            pass


class _Progress:
    """Rich progress bars per stage (disabled when quiet)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}
        self.progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description:<16}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> _Progress:  # noqa: PYI034 - a final private class
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        if self.progress is None:
            return
        for kind in sorted(counts, key=display_rank):
            c = counts[kind]
            total = sum(c.values())
            finished = total - c.get("pending", 0) - c.get("running", 0)
            note = ", ".join(f"{c[s]} {s}" for s in ("cached", "failed", "skipped") if c.get(s))
            if kind not in self.bars:
                self.bars[kind] = self.progress.add_task(kind, total=total, note=note)
            self.progress.update(self.bars[kind], total=total, completed=finished, note=note)


def _as_config(config: RunConfig | str | os.PathLike[str]) -> tuple[RunConfig, Path | None]:
    if isinstance(config, RunConfig):
        return config, None
    path = Path(config)
    return load_config(path), path


def run_batch(
    config: RunConfig | str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    executor: str | Executor = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    quiet: bool = True,
    report: bool = True,
    scheduler_timeout: float = 10.0,
    trust: bool = False,
) -> RunResult:
    """Run every task of a config, skipping those already finished in ``out``.

    Parameters
    ----------
    config
        A :class:`RunConfig` or the path of a TOML config (validated first).
    out
        Run directory (default: ``[run] out`` of the config, else ``runs/<run name>``).
    executor
        ``"local"`` (worker processes, the default), ``"dask"`` or an
        :class:`~tda_activations.batch.executors.Executor`.
    scheduler
        Address of a Dask scheduler (implies ``executor="dask"``); with
        ``executor="dask"`` and no address a local cluster is started for the run.
    workers
        Worker processes (local executor, or the local Dask cluster); default: every CPU.
    quiet
        No progress bars (log messages still go to ``logging``).
    report
        Write ``index.html`` and its figures at the end.
    scheduler_timeout
        Seconds to wait for the Dask scheduler to answer.
    trust
        Allow the config to import and call code of its own choosing (a user's
        ``module:callable``); without it only the forms listed in
        :mod:`tda_activations.batch.trust` are accepted, checked before anything runs.

    Returns
    -------
    RunResult
        Per-task status; ``result.ok`` is false when a task failed or was skipped,
        ``result.summary()`` names the failures.

    Raises
    ------
    ConfigError
        For an invalid config, or one naming code that needs ``trust`` (before anything
        runs).
    RunDirectoryError
        If the run directory cannot be written (a file, under a file, read-only, full).
        The manifest then says ``"state": "failed"`` with the reason, where it can be
        written at all.
    RuntimeError
        If another live run holds the run directory's lock.
    SchedulerUnreachable
        If the Dask scheduler does not answer.
    """
    from .trust import check_trust

    t_start = time.perf_counter()
    cfg, config_path = _as_config(config)
    check_trust(cfg, trust=trust)
    run_dir = Path(out if out is not None else (cfg.run.out or Path("runs") / cfg.run.name))
    run_dir = _prepare_run_dir(run_dir.resolve())
    planner = Planner(cfg)
    run_id = f"{_dt.datetime.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    own_executor = not isinstance(executor, Executor)
    with _Lock(run_dir):
        sched: _Scheduler | None = None
        try:
            removed = _clean_partial(run_dir)
            if removed:
                log.warning(
                    "removed %d incomplete task folder(s) left by an interrupted run", removed
                )
            if config_path is not None:
                atomic_write_text(run_dir / "config.toml", config_path.read_text(encoding="utf-8"))
            ex = (
                executor
                if isinstance(executor, Executor)
                else make_executor(
                    executor, scheduler=scheduler, n_workers=workers, timeout=scheduler_timeout
                )
            )
            try:
                sched = _Scheduler(
                    cfg,
                    planner,
                    run_dir,
                    run_id,
                    ex,
                    quiet=quiet,
                    config_path=config_path,
                    t_start=t_start,
                )
                records = sched.run()
            finally:
                if own_executor:
                    ex.close()
            # the report reads the final manifest (state, counts): write it first
            sched.write_manifest(final=True, wall=time.perf_counter() - t_start)
            report_path = None
            if report:
                from .report import build_report

                try:
                    report_path = build_report(run_dir)
                except Exception:
                    log.exception("the report could not be written")
            wall = time.perf_counter() - t_start
            sched.write_manifest(final=True, wall=wall)
        except BaseException as exc:
            reason = (
                "interrupted"
                if isinstance(exc, KeyboardInterrupt)
                else f"{type(exc).__name__}: {exc}"
            )
            if sched is not None:
                try:  # never leave the manifest saying "running"
                    sched.write_manifest(
                        final=True, wall=time.perf_counter() - t_start, failure=reason
                    )
                except OSError as exc2:
                    log.error("the manifest could not record the failure (%s)", exc2)
            if _write_error(exc) and not isinstance(exc, RunDirectoryError):
                raise _cannot_write(run_dir, exc) from exc  # type: ignore[arg-type]
            raise
    result = RunResult(
        run_dir=run_dir, records=tuple(records), wall_seconds=wall, report=report_path
    )
    (log.info if result.ok else log.error)("%s", result.summary())
    return result


class _Scheduler:
    def __init__(
        self,
        cfg: RunConfig,
        planner: Planner,
        run_dir: Path,
        run_id: str,
        ex: Executor,
        *,
        quiet: bool,
        config_path: Path | None,
        t_start: float,
    ) -> None:
        self.cfg, self.planner, self.run_dir, self.run_id, self.ex = (
            cfg,
            planner,
            run_dir,
            run_id,
            ex,
        )
        self.quiet, self.config_path, self.t_start = quiet, config_path, t_start
        self.started = _now()
        self.tasks: dict[str, Task] = {}
        self.by_path: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.records: dict[str, TaskRecord] = {}
        self.extracted: dict[str, dict[str, Any]] = {}
        self.resolved: set[str] = set()
        self.pending: set[str] = set()
        self.running: dict[Any, str] = {}
        self.order: dict[str, int] = {}
        self.dependants: dict[str, list[str]] = {}  # dependency folder -> keys of pending tasks
        self.missing: dict[str, int] = {}  # key -> dependencies not finished yet
        self.ready: list[tuple[int, int, str]] = []  # heap of (stage priority, order, key)
        self._last_manifest = 0.0
        self._manifest_cost = 0.0  # seconds the last manifest write took
        self.repaired: list[dict[str, str]] = []  # finished tasks whose files did not verify
        self.history = self._previous_history()
        # what does not change during the run is computed once, not at every manifest write
        self._static: dict[str, Any] = {
            "config": self.cfg.model_dump(mode="json"),
            "versions": package_versions(),
            "platform": {
                "system": platform.platform(),
                "host": socket.gethostname(),
                "cpus": os.cpu_count(),
                "argv": sys.argv,
            },
            "data": _data_salt(self.cfg),
        }

    def _previous_history(self) -> list[dict[str, Any]]:
        try:
            return list(json.loads((self.run_dir / "manifest.json").read_text()).get("history", []))
        except (OSError, json.JSONDecodeError, AttributeError):
            return []

    # ----------------------------------------------------------- bookkeeping

    def _record(self, task: Task, status: str, **kw: Any) -> None:
        self.status[task.key] = status
        deps = tuple(self.by_path.get(p, "") for p in task.dep_paths)
        self.records[task.key] = TaskRecord(
            key=task.key,
            kind=task.kind,
            name=task.name,
            path=task.path,
            status=status,
            info=dict(task.info),
            deps=deps,
            **kw,
        )

    def _add(self, tasks: list[Task]) -> None:
        for t in tasks:
            if t.key in self.tasks:
                continue
            self.tasks[t.key] = t
            self.by_path[t.path] = t.key
            bad = [
                self.by_path.get(p)
                for p in t.dep_paths
                if self.status.get(self.by_path.get(p, ""), "") in ("failed", "skipped")
            ]
            if bad:
                self._skip(t, bad[0])
                continue
            if (self.run_dir / t.path).exists():
                problem = verify_task(self.run_dir, t)
                if problem is None:
                    rec = read_task_record(self.run_dir, t)
                    self._finish(t, "cached", rec.get("seconds", 0.0), rec.get("meta", {}))
                    continue
                log.warning("%s %s (%s): %s; computing it again", t.kind, t.name, t.path, problem)
                self.repaired.append({"task": t.path, "problem": problem})
                _discard(self.run_dir / t.path)
            self._record(t, "pending")
            self.pending.add(t.key)
            self.order[t.key] = len(self.order)
            waiting = [
                p
                for p in t.dep_paths
                if self.status.get(self.by_path.get(p, ""), "") not in ("done", "cached")
            ]
            self.missing[t.key] = len(waiting)
            for p in waiting:
                self.dependants.setdefault(p, []).append(t.key)
            if not waiting:
                self._push(t.key)

    def _push(self, key: str) -> None:
        heapq.heappush(self.ready, (priority(self.tasks[key].kind), self.order[key], key))

    def _root_reason(self, dep_key: str) -> str:
        rec = self.records[dep_key]
        if rec.status == "skipped" and rec.reason:
            return rec.reason
        return f"{rec.kind} {rec.name} failed ({rec.error})"

    def _skip(self, task: Task, dep_key: str | None) -> None:
        reason = self._root_reason(dep_key) if dep_key else "a dependency failed"
        self._record(task, "skipped", reason=reason)
        log.warning("skipping %s %s: %s", task.kind, task.name, reason)
        self._skip_dependants(task.key)
        self._after_resolution(task)

    def _finish(
        self,
        task: Task,
        status: str,
        seconds: float,
        meta: Mapping[str, Any],
        error: str | None = None,
    ) -> None:
        self._record(task, status, seconds=float(seconds), meta=dict(meta), error=error)
        if status == "failed":
            log.error("%s %s failed: %s", task.kind, task.name, error)
            self._skip_dependants(task.key)
        else:
            log.info("%s %s %s (%.2f s)", status, task.kind, task.name, seconds)
            for k in self.dependants.pop(task.path, []):
                self.missing[k] -= 1
                if self.missing[k] == 0 and self.status.get(k) == "pending":
                    self._push(k)
            if task.kind == "extract":
                self.extracted[task.info["model"]] = dict(meta)
        self._after_resolution(task)

    def _after_resolution(self, task: Task) -> None:
        if task.kind == "extract":
            self.resolved.add(task.info["model"])
            self._add(self.planner.expand(self.extracted, self.resolved))

    def _skip_dependants(self, key: str) -> None:
        for k in self.dependants.pop(self.tasks[key].path, []):
            if self.status.get(k) == "pending":
                self.pending.discard(k)
                self._skip(self.tasks[k], key)

    # ------------------------------------------------------------------ loop

    def _take_ready(self, n: int) -> list[str]:
        out: list[str] = []
        while self.ready and len(out) < n:
            _, _, k = heapq.heappop(self.ready)
            if self.status.get(k) == "pending":
                out.append(k)
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for k, s in self.status.items():
            kind = self.tasks[k].kind
            out.setdefault(kind, {}).setdefault(s, 0)
            out[kind][s] += 1
        return out

    def run(self) -> list[TaskRecord]:
        with _Progress(not self.quiet) as bars:
            self._add(self.planner.initial())
            bars.update(self.counts())
            capacity = max(1, self.ex.n_workers) + 1
            while self.pending or self.running:
                for k in self._take_ready(max(0, capacity - len(self.running))):
                    self.pending.discard(k)
                    self.status[k] = "running"
                    handle = self.ex.submit(self.tasks[k], str(self.run_dir), self.run_id)
                    self.running[handle] = k
                if not self.running:
                    # nothing can run: what is left waits on tasks that will never finish
                    for k in sorted(self.pending, key=self.order.__getitem__):
                        self.pending.discard(k)
                        self._record(
                            self.tasks[k], "skipped", reason="its inputs were never produced"
                        )
                    break
                done = self.ex.wait(list(self.running), timeout=1.0)
                for handle in done:
                    k = self.running.pop(handle)
                    t = self.tasks[k]
                    res = self.ex.outcome(handle, t)
                    self._finish(
                        t,
                        res["status"],
                        res.get("seconds", 0.0),
                        res.get("meta") or {},
                        error=res.get("error"),
                    )
                    if res["status"] == "failed" and res.get("traceback"):
                        log.debug("traceback of %s:\n%s", t.name, res["traceback"])
                bars.update(self.counts())
                # interim manifests: every 2 s, or less often when writing one is slow (many
                # tasks), so that it never takes more than ~5% of the run
                if time.monotonic() - self._last_manifest > max(2.0, 20 * self._manifest_cost):
                    self.write_manifest(final=False, wall=time.perf_counter() - self.t_start)
            bars.update(self.counts())
        return self.ordered_records()

    def ordered_records(self) -> list[TaskRecord]:
        """Records in an order that does not depend on which task finished first.

        Tasks are planned as their inputs become known (a model's persistence tasks once
        its extraction has listed the layers), so planning order varies between runs and
        executors; results, manifests and reports list tasks by stage (in the registered
        display order of :mod:`._stage_registry`), then by name.
        """
        return sorted(
            (self.records[k] for k in self.tasks),
            key=lambda r: (display_rank(r.kind), r.kind, r.name, r.key),
        )

    # -------------------------------------------------------------- manifest

    def write_manifest(self, *, final: bool, wall: float, failure: str | None = None) -> None:
        """Write ``manifest.json``.

        ``state`` is ``running``, ``complete``, ``incomplete`` (some tasks failed) or
        ``failed`` (the runner itself stopped: ``failure`` says why).
        """
        started = time.monotonic()
        recs = self.ordered_records()
        counts = {
            s: sum(1 for r in recs if r.status == s)
            for s in ("done", "cached", "failed", "skipped", "pending")
        }
        invocation = {
            "run_id": self.run_id,
            "started": self.started,
            "finished": _now() if final else None,
            "wall_seconds": wall,
            "counts": counts,
            "executor": self.ex.describe(),
            "failure": failure,
            "repaired": list(self.repaired),
        }
        if failure is not None:
            state = "failed"
        elif not final:
            state = "running"
        else:
            state = "complete" if not counts["failed"] and not counts["skipped"] else "incomplete"
        models = {
            label: {
                k: meta.get(k)
                for k in (
                    "model_fingerprint",
                    "data_fingerprint",
                    "source",
                    "accuracy",
                    "n_params",
                    "model_class",
                    "seed",
                )
            }
            for label, meta in self.extracted.items()
        }
        manifest = {
            "format": 1,
            "run_id": self.run_id,
            "state": state,
            "failure": failure,
            "config_file": str(self.config_path) if self.config_path else None,
            "config": self._static["config"],
            "versions": self._static["versions"],
            "platform": self._static["platform"],
            "executor": self.ex.describe(),
            "fingerprints": {"data": self._static["data"], "models": models},
            "timings": {
                "wall_seconds": wall,
                "task_seconds_computed": sum(r.seconds for r in recs if r.status == "done"),
                "task_seconds_all": sum(r.seconds for r in recs if r.status in ("done", "cached")),
            },
            "counts": counts,
            "tasks": [
                {
                    "key": r.key,
                    "kind": r.kind,
                    "name": r.name,
                    "path": r.path,
                    "status": r.status,
                    "seconds": r.seconds,
                    "error": r.error,
                    "reason": r.reason,
                    "info": dict(r.info),
                    "deps": list(r.deps),
                    "meta": dict(r.meta),
                }
                for r in recs
            ],
            "history": [*self.history, invocation],
        }
        atomic_write_text(
            self.run_dir / "manifest.json", json.dumps(manifest, indent=1, default=str)
        )
        self._last_manifest = time.monotonic()
        self._manifest_cost = self._last_manifest - started
