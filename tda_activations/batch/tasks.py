"""Tasks: picklable units of work keyed by a hash of their inputs, parameters and code.

A :class:`Task` names a plain function by its import path (``"module:function"``),
its keyword parameters (JSON-able) and its dependencies (role -> the folder of
the task it reads).  Its key is a hash of all of that and of the code that
computes it (:func:`~tda_activations.batch.codehash.code_fingerprint`: the
source of the function and of the package modules it uses), so a dependency's key
enters every dependant's key: changing one parameter, or the code of one stage,
changes the keys of exactly the tasks that depend on it.

:func:`execute_task` runs a task *inside the worker* (a local process or a Dask
worker): the function writes its results into a temporary folder which is renamed
to ``<run>/tasks/<kind>/<name>-<key>`` only once complete, together with
``_task.json`` (what ran, how long, when, where, and the SHA-256 of every file
written).  A task whose folder exists and whose files match their checksums
(:func:`verify_task`) is finished; a run killed at any moment leaves only
``.partial`` folders, which the next run removes.  Only a small outcome dictionary
travels back to the caller.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import socket
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .._atomic import atomic_dir
from .._hashing import fingerprint_params, stable_json
from .._imports import import_object
from .codehash import code_fingerprint

__all__ = [
    "TASK_FILE",
    "Task",
    "execute_task",
    "file_checksums",
    "is_finished",
    "make_task",
    "read_task_record",
    "verify_task",
]

log = logging.getLogger(__name__)

TASK_FILE = "_task.json"
_FORMAT = 2  # 2: task records carry "files" (SHA-256 of every output)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:60] or "task"


@dataclass(frozen=True)
class Task:
    """One unit of work of a run.

    Attributes
    ----------
    kind
        The stage (``"extract"``, ``"persistence"``, ``"distances"``, ...).
    name
        Human-readable name (``"lenet/conv1"``).
    func
        ``"package.module:function"``; called as ``func(out_dir, inputs, **params)``
        and returning a small JSON-able dictionary.
    params
        Keyword parameters (JSON-able).
    deps
        Role -> relative folder of a task this one reads.
    key
        Hash of kind, func, params, dependency folders, the code of ``func`` and the
        package version.
    info
        Bookkeeping for the planner and the report (not part of the key).
    """

    kind: str
    name: str
    func: str
    params: Mapping[str, Any]
    deps: Mapping[str, str]
    key: str
    info: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def path(self) -> str:
        """Folder of the results, relative to the run directory."""
        return f"tasks/{self.kind}/{_safe(self.name)}-{self.key}"

    @property
    def dep_paths(self) -> tuple[str, ...]:
        """Folders of the dependencies."""
        return tuple(self.deps.values())


def make_task(
    kind: str,
    name: str,
    func: str,
    params: Mapping[str, Any] | None = None,
    deps: Mapping[str, str] | None = None,
    *,
    info: Mapping[str, Any] | None = None,
    salt: Mapping[str, Any] | None = None,
) -> Task:
    """Build a :class:`Task` and compute its key.

    Parameters
    ----------
    kind, name, func, params, deps
        See :class:`Task`.
    info
        Planner bookkeeping, not hashed.
    salt
        Extra content that the result depends on but that is not a parameter
        (fingerprints of model files and data); hashed into the key.

    Returns
    -------
    Task
        The task, with its key.
    """
    params = dict(params or {})
    deps = dict(deps or {})
    json.loads(stable_json(params))  # must be JSON-able: fail at planning time, not in a worker
    key = fingerprint_params(
        {
            "kind": kind,
            "func": func,
            "params": params,
            "deps": deps,
            "salt": dict(salt or {}),
            "version": __version__,
            "code": code_fingerprint(func),
            "format": _FORMAT,
        }
    )
    return Task(
        kind=kind, name=name, func=func, params=params, deps=deps, key=key, info=dict(info or {})
    )


def is_finished(run_dir: str | os.PathLike[str], task: Task) -> bool:
    """Whether ``task``'s results are complete in ``run_dir``."""
    return (Path(run_dir) / task.path / TASK_FILE).is_file()


def read_task_record(run_dir: str | os.PathLike[str], task: Task) -> dict[str, Any]:
    """The ``_task.json`` of a finished task."""
    return json.loads((Path(run_dir) / task.path / TASK_FILE).read_text())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_checksums(folder: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` except ``_task.json``, by POSIX relative path.

    The same digests as ``sha256sum``, so a task folder can be checked by hand.

    Parameters
    ----------
    folder
        The task folder.

    Returns
    -------
    dict
        Relative POSIX path -> hex SHA-256 digest.
    """
    root = Path(folder)
    return {
        f.relative_to(root).as_posix(): _sha256(f)
        for f in sorted(root.rglob("*"))
        if f.is_file() and f.name != TASK_FILE
    }


def verify_task(run_dir: str | os.PathLike[str], task: Task) -> str | None:
    """Check a finished task's files against the checksums in its record.

    Parameters
    ----------
    run_dir
        The run directory.
    task
        The finished task.

    Returns
    -------
    str or None
        ``None`` when every file recorded is present and unchanged and no file was
        added; otherwise what is wrong (naming the file), for a warning.
    """
    folder = Path(run_dir) / task.path
    try:
        record = read_task_record(run_dir, task)
    except (OSError, json.JSONDecodeError) as exc:
        return f"{TASK_FILE} is unreadable ({type(exc).__name__})"
    if not isinstance(record, dict) or record.get("key") != task.key:
        return f"{TASK_FILE} belongs to another task"
    expected = record.get("files")
    if record.get("format") != _FORMAT or not isinstance(expected, dict):
        return f"{TASK_FILE} has no checksums (written by an older version)"
    for rel, digest in expected.items():
        f = folder / rel
        if not f.is_file():
            return f"{rel} is missing"
        try:
            if _sha256(f) != digest:
                return f"{rel} does not match its checksum (changed or corrupted)"
        except OSError as exc:
            return f"{rel} is unreadable ({exc.strerror or exc})"
    extra = sorted(set(file_checksums(folder)) - set(expected))
    if extra:
        return f"{extra[0]} was not written by the task"
    return None


def _resolve(func: str) -> Any:
    return import_object(func)


def _limit_threads() -> None:
    # One task per core: keep BLAS/OpenMP/torch to a single thread inside a worker.
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pass
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def execute_task(
    task: Task, run_dir: str, run_id: str = "", limit_threads: bool = True
) -> dict[str, Any]:
    """Run one task in this process and write its results atomically; never raises.

    Parameters
    ----------
    task
        The task.
    run_dir
        The run directory (shared storage when workers are on other machines).
    run_id
        Identifier of the run invocation, recorded in ``_task.json``.
    limit_threads
        Keep numerical libraries to one thread (one task per core).

    Returns
    -------
    dict
        ``{"key", "status": "done" | "cached" | "failed", "seconds", "meta", "error",
        "traceback"}``: small, whatever the size of the results.
    """
    root = Path(run_dir)
    final = root / task.path
    started = _now()
    t0 = time.perf_counter()
    if (final / TASK_FILE).is_file() and verify_task(root, task) is None:
        record = json.loads((final / TASK_FILE).read_text())
        return {
            "key": task.key,
            "status": "cached",
            "seconds": record.get("seconds", 0.0),
            "meta": record.get("meta", {}),
            "error": None,
            "traceback": None,
        }
    try:
        if limit_threads:
            _limit_threads()
        inputs = {}
        for role, rel in task.deps.items():
            dep = root / rel
            if not (dep / TASK_FILE).is_file():
                raise RuntimeError(f"input {role!r} ({rel}) is not finished; it must run first")
            inputs[role] = dep
        fn = _resolve(task.func)
        with atomic_dir(final) as tmp:
            meta = fn(tmp, inputs, **task.params) or {}
            seconds = time.perf_counter() - t0
            record = {
                "format": _FORMAT,
                "key": task.key,
                "kind": task.kind,
                "name": task.name,
                "func": task.func,
                "params": task.params,
                "deps": task.deps,
                "meta": meta,
                "seconds": seconds,
                "started": started,
                "finished": _now(),
                "run_id": run_id,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "package_version": __version__,
                "code": code_fingerprint(task.func),
                "files": file_checksums(tmp),
            }
            (tmp / TASK_FILE).write_text(json.dumps(record, indent=1, default=str))
        return {
            "key": task.key,
            "status": "done",
            "seconds": seconds,
            "meta": meta,
            "error": None,
            "traceback": None,
        }
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        log.debug("task %s failed", task.name, exc_info=True)
        return {
            "key": task.key,
            "status": "failed",
            "seconds": time.perf_counter() - t0,
            "meta": {},
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
