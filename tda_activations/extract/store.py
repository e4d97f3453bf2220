"""On-disk extraction store: chunked zarr arrays plus a manifest, written atomically.

Layout of a store directory::

    <store>/manifest.json          what was extracted, fingerprints, per-array checksums
    <store>/arrays/labels           zarr array (n_samples,)
    <store>/arrays/predictions      zarr array (n_samples,), when recorded
    <store>/arrays/L000/points      zarr array (n_points, dim), chunked by rows
    <store>/arrays/L000/rows        zarr array (n_points,)
    <store>/<stage>/...             later stages' caches (homology, mapper, ...)

The manifest is written last, inside a temporary directory that is renamed into
place, so a store is either complete or absent.  A store whose manifest is
missing or whose arrays do not match their checksums is reported as corrupt and,
by :func:`extract_to_store`, rebuilt — never silently used.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from .. import __version__
from .._atomic import atomic_dir, atomic_write_text
from .._hashing import fingerprint_array, fingerprint_model, fingerprint_params
from ..datasets.hierarchy import hierarchy_from_dict, hierarchy_to_dict
from ..types import ActivationSet, ImageDataset
from .capture import extract

__all__ = ["CorruptStoreError", "extract_to_store", "load_store", "request_key", "save_store"]

log = logging.getLogger(__name__)

_FORMAT = 1
_CHUNK_BYTES = 4 << 20


class CorruptStoreError(ValueError):
    """An extraction store is incomplete or does not match its manifest."""


def _write_array(path: Path, data: np.ndarray) -> str:
    data = np.ascontiguousarray(data)
    row_bytes = max(1, int(np.prod(data.shape[1:], dtype=np.int64)) * data.dtype.itemsize)
    rows = max(1, min(max(data.shape[0], 1), _CHUNK_BYTES // row_bytes))
    arr = zarr.open_array(
        store=str(path),
        mode="w",
        shape=data.shape,
        dtype=data.dtype,
        chunks=(rows, *data.shape[1:]),
    )
    if data.size:
        arr[...] = data
    return fingerprint_array(data)


def _read_array(path: Path, checksum: str) -> np.ndarray:
    try:
        data = np.asarray(zarr.open_array(store=str(path), mode="r")[...])
    except Exception as exc:  # zarr raises several types for missing/damaged chunks
        raise CorruptStoreError(f"cannot read {path}: {exc}") from exc
    if fingerprint_array(data) != checksum:
        raise CorruptStoreError(f"{path} does not match its checksum in the manifest")
    return data


def save_store(
    acts: ActivationSet, path: str | os.PathLike[str], *, request: Mapping[str, Any] | None = None
) -> Path:
    """Write an :class:`ActivationSet` to a store directory atomically.

    Parameters
    ----------
    acts
        The activations.
    path
        Store directory; replaced only once the new store is complete.
    request
        The extraction request (model, data and parameters) to record; its key lets
        :func:`extract_to_store` recognise the same request later.

    Returns
    -------
    pathlib.Path
        The store directory.
    """
    path = Path(path)
    with atomic_dir(path) as tmp:
        arrays = tmp / "arrays"
        arrays.mkdir()
        layers = []
        for i, layer in enumerate(acts.layers):
            folder = f"L{i:03d}"
            cloud = np.asarray(acts.cloud(layer))
            layers.append(
                {
                    "name": layer,
                    "folder": folder,
                    "shape": list(cloud.shape),
                    "dtype": str(cloud.dtype),
                    "points": _write_array(arrays / folder / "points", cloud),
                    "rows": _write_array(
                        arrays / folder / "rows", np.asarray(acts.sample_index[layer])
                    ),
                }
            )
        manifest = {
            "format": _FORMAT,
            "package_version": __version__,
            "layers": layers,
            "layouts": dict(acts.layouts),
            "labels": _write_array(arrays / "labels", np.asarray(acts.labels)),
            "predictions": None
            if acts.predictions is None
            else _write_array(arrays / "predictions", np.asarray(acts.predictions)),
            "hierarchy": hierarchy_to_dict(acts.hierarchy),
            "reduction": acts.reduction,
            "params": dict(acts.params),
            "model_fingerprint": acts.model_fingerprint,
            "data_fingerprint": acts.data_fingerprint,
            "request": dict(request) if request is not None else None,
            "request_key": fingerprint_params(request) if request is not None else None,
            "complete": True,
        }
        atomic_write_text(tmp / "manifest.json", json.dumps(manifest, indent=1, default=str))
    log.info("wrote extraction store %s (%d layers)", path, len(layers))
    return path


def _manifest(path: Path) -> dict[str, Any]:
    file = path / "manifest.json"
    if not path.is_dir():
        raise FileNotFoundError(
            f"no extraction store at {path}; create one with `tda-activations extract`"
        )
    if not file.exists():
        raise CorruptStoreError(
            f"{path} has no manifest.json: it is not a complete extraction store (perhaps a killed "
            "run); delete it and extract again"
        )
    try:
        manifest = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise CorruptStoreError(f"{file} is not valid JSON: {exc}") from exc
    if manifest.get("format") != _FORMAT or not manifest.get("complete"):
        raise CorruptStoreError(
            f"{path}: unknown store format {manifest.get('format')!r}; extract again"
        )
    return manifest


def load_store(path: str | os.PathLike[str]) -> ActivationSet:
    """Read an extraction store, verifying every array against the manifest's checksum.

    Parameters
    ----------
    path
        Store directory.

    Returns
    -------
    ActivationSet
        The stored activations.

    Raises
    ------
    FileNotFoundError
        If there is no store at ``path``.
    CorruptStoreError
        If the store is incomplete or damaged.
    """
    path = Path(path)
    m = _manifest(path)
    arrays = path / "arrays"
    clouds, index = {}, {}
    for layer in m["layers"]:
        clouds[layer["name"]] = _read_array(arrays / layer["folder"] / "points", layer["points"])
        index[layer["name"]] = _read_array(arrays / layer["folder"] / "rows", layer["rows"])
    preds = (
        None if m["predictions"] is None else _read_array(arrays / "predictions", m["predictions"])
    )
    return ActivationSet(
        clouds=clouds,
        sample_index=index,
        labels=_read_array(arrays / "labels", m["labels"]),
        hierarchy=hierarchy_from_dict(m["hierarchy"], source=str(path)),
        reduction=m["reduction"],
        params=m["params"],
        model_fingerprint=m["model_fingerprint"],
        data_fingerprint=m["data_fingerprint"],
        predictions=preds,
        layouts=m.get("layouts", {}),
    )


def request_key(model: Any, dataset: Any, **options: Any) -> dict[str, Any]:
    """The content description of an extraction request (what the cache is keyed by).

    Parameters
    ----------
    model
        The model.
    dataset
        The data (anything :func:`~tda_activations.datasets.as_source` accepts).
    **options
        Keyword options of :func:`~tda_activations.extract.extract`.

    Returns
    -------
    dict
        Model and data fingerprints, options, package version and store format.
    """
    from ..datasets.sources import as_source

    source = as_source(dataset, transform=options.get("transform"))  # its fingerprint covers it
    return {
        "model": fingerprint_model(model),
        "data": source.fingerprint,
        "options": {k: v for k, v in options.items() if k != "transform"},
        "package_version": __version__,
        "format": _FORMAT,
    }


def extract_to_store(
    model: Any, dataset: ImageDataset, path: str | os.PathLike[str], **options: Any
) -> ActivationSet:
    """:func:`~tda_activations.extract.extract` with the result kept in a store.

    If ``path`` holds a complete store of the same request (same model weights,
    data, layers and reduction parameters, same package version) it is loaded;
    otherwise (absent, different request, incomplete or corrupt) the activations
    are extracted and the store is (re)written atomically.

    Parameters
    ----------
    model, dataset
        As for :func:`~tda_activations.extract.extract`.
    path
        Store directory.
    **options
        Keyword options of :func:`~tda_activations.extract.extract`.

    Returns
    -------
    ActivationSet
        The activations, loaded or freshly extracted.
    """
    path = Path(path)
    cacheable = {k: v for k, v in options.items() if k not in ("progress", "on_batch")}
    request = request_key(model, dataset, **cacheable)
    key = fingerprint_params(request)
    if path.exists():
        try:
            m = _manifest(path)
            if m.get("request_key") == key:
                acts = load_store(path)
                log.info("loaded activations from %s", path)
                return acts
            log.info("store %s holds a different request; extracting again", path)
        except CorruptStoreError as exc:
            log.warning("rebuilding corrupt store: %s", exc)
    acts = extract(model, dataset, **options)
    save_store(acts, path, request=request)
    return acts
