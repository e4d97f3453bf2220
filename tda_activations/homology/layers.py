"""Persistence of every layer of an ActivationSet, in parallel processes, with a content cache.

The cache is a directory of ``.npz`` files (one per layer and parameter set)
whose names carry a fingerprint of the cloud's bytes and of every persistence
parameter, so a result is reused exactly when the same computation is asked
again and never otherwise.  By convention it lives next to the activations:
``<store>/homology/`` (see :func:`store_cache_dir`).
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import re
import threading
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_bytes
from .._hashing import fingerprint_array, fingerprint_params
from .._json import jsonable
from .._progress import CostEstimate, announce_cost, progress_bar
from .._select import resolve_layer_names
from ..types import ActivationSet, Diagrams
from ._parallel import check_n_jobs, run_tasks
from .rips import persistence

__all__ = [
    "cached_persistence",
    "diagrams_key",
    "layer_persistence",
    "load_diagrams",
    "save_diagrams",
    "store_cache_dir",
]

log = logging.getLogger(__name__)

_FORMAT = 1
_CACHE_SUBDIR = "homology"


# ----------------------------------------------------------------------------- io


def save_diagrams(path: str | os.PathLike[str], diagrams: Diagrams) -> Path:
    """Write diagrams to one ``.npz`` file (arrays + JSON metadata), atomically.

    Parameters
    ----------
    path
        Destination file.
    diagrams
        The diagrams to store.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    meta = {
        "format": _FORMAT,
        "maxdim": diagrams.maxdim,
        "coeff": diagrams.coeff,
        "threshold": diagrams.threshold,
        "metric": diagrams.metric,
        "backend": diagrams.backend,
        "n_points": diagrams.n_points,
        "label": diagrams.label,
        "params": diagrams.params,
    }
    buf = io.BytesIO()
    arrays = {f"dgm_{d}": np.asarray(a) for d, a in enumerate(diagrams.dgms)}
    arrays["meta"] = np.array(json.dumps(meta, default=jsonable))
    np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as allow_pickle too
    return atomic_write_bytes(path, buf.getvalue())


def load_diagrams(path: str | os.PathLike[str]) -> Diagrams:
    """Read diagrams written by :func:`save_diagrams`.

    Parameters
    ----------
    path
        The ``.npz`` file.

    Returns
    -------
    Diagrams
        The diagrams, with every recorded field.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a diagrams file of a known format.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no diagrams file at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            fmt = meta.get("format")
            if fmt == _FORMAT:
                dgms = tuple(np.array(z[f"dgm_{d}"]) for d in range(int(meta["maxdim"]) + 1))
    except (KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a diagrams file written by save_diagrams ({exc})") from exc
    if fmt != _FORMAT:
        raise ValueError(f"{path}: unknown diagrams format {fmt!r}; recompute it")
    return Diagrams(
        dgms=dgms,
        maxdim=int(meta["maxdim"]),
        coeff=int(meta["coeff"]),
        threshold=float(meta["threshold"]),
        metric=meta["metric"],
        backend=meta["backend"],
        n_points=int(meta["n_points"]),
        label=meta["label"],
        params=meta["params"],
    )


# -------------------------------------------------------------------------- cache

_DEFAULTS = {
    k: v.default
    for k, v in inspect.signature(persistence).parameters.items()
    if v.kind is inspect.Parameter.KEYWORD_ONLY and k != "label"
}
_NOT_IN_KEY = ("memory_limit",)  # where a computation may run, not what it computes


def _full_params(options: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(options) - set(_DEFAULTS)
    if unknown:
        raise TypeError(
            f"unknown persistence option(s) {sorted(unknown)}; known: {sorted(_DEFAULTS)}"
        )
    return {**_DEFAULTS, **options}


def diagrams_key(cloud: Any, options: Mapping[str, Any]) -> str:
    """Compute the content key of a persistence computation: the cloud's bytes and parameters.

    Parameters
    ----------
    cloud
        The point cloud.
    options
        Keyword options of :func:`~tda_activations.homology.persistence`; the defaults of
        those not given are filled in, so spelling a default out gives the same key.

    Returns
    -------
    str
        A hexadecimal digest.
    """
    params = {k: v for k, v in _full_params(options).items() if k not in _NOT_IN_KEY}
    return fingerprint_params(
        {"cloud": fingerprint_array(cloud), "params": params, "format": _FORMAT}
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80] or "layer"


def store_cache_dir(store: str | os.PathLike[str]) -> Path:
    """Return where diagrams computed from an extraction store are kept: ``<store>/homology``.

    Parameters
    ----------
    store
        Directory of the extraction store.

    Returns
    -------
    Path
        The cache directory (not created).
    """
    return Path(store) / _CACHE_SUBDIR


def _cache_path(cache_dir: Path, layer: str, key: str) -> Path:
    return cache_dir / f"{_safe(layer)}.{key}.npz"


def cached_persistence(
    cloud: Any, *, cache_dir: str | os.PathLike[str], label: str = "", **options: Any
) -> Diagrams:
    """Compute :func:`~tda_activations.homology.persistence` with a content-addressed cache.

    The first call computes and writes ``<cache_dir>/<label>.<key>.npz``; a
    later call with the same cloud bytes and parameters reads it back.

    Parameters
    ----------
    cloud
        The point cloud ``(n, dim)``.
    cache_dir
        Directory of the cache files (created when needed).
    label
        Recorded in the diagrams and part of the file name (usually the layer name).
    **options
        Options of :func:`~tda_activations.homology.persistence`.

    Returns
    -------
    Diagrams
        The diagrams, computed or read back.
    """
    _full_params(options)
    path = _cache_path(Path(cache_dir), label, diagrams_key(cloud, options))
    if path.exists():
        try:
            return load_diagrams(path)
        except ValueError:
            log.warning("ignoring unreadable cache file %s", path)
    dg = persistence(cloud, label=label, **options)
    save_diagrams(path, dg)
    return dg


# ------------------------------------------------------------------------- layers


def _one_layer(cloud: np.ndarray, label: str, options: dict[str, Any]) -> Diagrams:
    return persistence(cloud, label=label, **options)


def _announce(
    clouds: Mapping[str, Any], order: Sequence[str], workers: int, options: Mapping[str, Any]
) -> CostEstimate:
    from .large import estimate_memory

    n_max = int(np.shape(clouds[order[0]])[0])
    maxdim = int(options.get("maxdim", _DEFAULTS["maxdim"]))
    points = sum(int(np.shape(clouds[l])[0]) for l in order)
    est = estimate_memory(n_max, maxdim=maxdim)
    return announce_cost(
        CostEstimate(
            what="layer_persistence",
            units=len(order),
            unit="layer",
            detail=f"{points:,} points in all, up to H{maxdim}, {workers} process(es); largest "
            f"cloud {n_max:,} points, at most {est.gib:.2g} GiB before truncation",
        )
    )


def layer_persistence(
    acts: ActivationSet | Mapping[str, Any],
    *,
    layers: Sequence[str] | str | None = None,
    n_jobs: int | None = 2,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    **options: Any,
) -> dict[str, Diagrams]:
    """Persistence diagrams of every layer's point cloud, computed in parallel processes.

    Parameters
    ----------
    acts
        An :class:`~tda_activations.types.ActivationSet` or a mapping layer -> cloud.
    layers
        Layers to use: ``None`` (all, in forward order), one name or glob
        pattern, or a list of them (in the order given).  Unknown names fail
        with close matches suggested.
    n_jobs
        Processes, this one included (1: only this one; -1: all CPUs).  Every
        layer is one task; the workers take the largest clouds first while this
        process takes the smallest, each with one BLAS thread.  The diagrams
        are identical to a sequential run (the same deterministic code runs in
        each process).
    cache_dir
        If given, reuse and store results there (see :func:`cached_persistence`).
    progress
        Show a progress bar over the layers (``None``: in terminals and
        notebooks, see :mod:`tda_activations._progress`).  The cost (layers,
        points, processes, memory estimate of the largest cloud) is logged
        first at INFO level.
    **options
        Options of :func:`~tda_activations.homology.persistence` (``maxdim``,
        ``backend``, ``coeff``, ``threshold``, ``max_points``, ...).
        ``memory_limit="auto"`` is divided among the workers.

    Returns
    -------
    dict
        Layer name -> :class:`~tda_activations.types.Diagrams` (``label`` = layer), in layer order.
    """
    _full_params(options)
    if isinstance(acts, ActivationSet):
        chosen = resolve_layer_names(acts.layers, layers)
        clouds = {layer: acts.cloud(layer) for layer in chosen}
    elif isinstance(acts, Mapping):
        chosen = resolve_layer_names(acts, layers)
        clouds = {layer: acts[layer] for layer in chosen}
    else:
        raise TypeError("acts must be an ActivationSet or a mapping layer -> point cloud")
    n_jobs = check_n_jobs(n_jobs)
    results: dict[str, Diagrams] = {}
    todo: dict[str, Path | None] = {}
    cache = Path(cache_dir) if cache_dir is not None else None
    for layer, cloud in clouds.items():
        path = None
        if cache is not None:
            path = _cache_path(cache, layer, diagrams_key(cloud, options))
            if path.exists():
                try:
                    results[layer] = load_diagrams(path)
                    continue
                except ValueError:
                    log.warning("ignoring unreadable cache file %s", path)
        todo[layer] = path
    workers = min(n_jobs, len(todo))
    if workers > 1 and options.get("memory_limit", "auto") == "auto":
        from .large import available_memory
        from .rips import _MEMORY_FRACTION

        options = {**options, "memory_limit": _MEMORY_FRACTION * available_memory() / workers}
    # largest clouds first (then widest): the workers take the front, this process the back
    order = sorted(todo, key=lambda l: (-np.shape(clouds[l])[0], -np.shape(clouds[l])[-1]))
    if order:
        _announce(clouds, order, workers, options)
    with progress_bar(total=len(order), desc="persistence", unit="layer", enabled=progress) as bar:
        lock = threading.Lock()

        def done(_: int) -> None:
            with lock:
                bar.update(1)

        tasks = [(np.asarray(clouds[l]), l, options) for l in order]
        results.update(zip(order, run_tasks(_one_layer, tasks, workers, on_done=done)))
    for layer, path in todo.items():
        if path is not None:
            save_diagrams(path, results[layer])
    return {layer: results[layer] for layer in chosen}
