"""Results that save and load: one file format for every result, with a provenance sidecar.

:func:`save` writes any result of the library (``Diagrams``, ``LayerMatrix``,
``MapperGraph``, ``LayerMapper``, ``ActivationSet``, the experiment and probe results,
and dicts or tuples of them such as ``{layer: Diagrams}``) to one ``.npz`` file: the
arrays bit for bit, everything else (labels, parameters, provenance) in a JSON header
stored inside the same file.  Beside it, ``<file>.provenance.json`` says what produced
it (type, package version, content fingerprint, parameters, SHA-256 of the file), the
same kind of sidecar as :func:`tda_activations.plot.save` writes for figures and the
command line writes for every output file.

:func:`load` reads it back into an equal object (arrays exact, metadata equal), after
checking the file against its sidecar; a truncated, altered or foreign file is an error,
never a result.  Both write atomically: a file is complete on disk or absent.

Examples
--------
>>> ta.io.save(dgms, "runs/r18/dgms.npz")          # doctest: +SKIP
>>> dgms = ta.io.load("runs/r18/dgms.npz")          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import io as _io
import json
import logging
import math
import os
import platform
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_write_bytes, atomic_write_text
from ._imports import import_object

__all__ = ["FORMAT", "load", "provenance_path", "read_provenance", "save", "write_provenance"]

log = logging.getLogger(__name__)

FORMAT = "tda_activations.result"
"""Name of the file format written by :func:`save` (recorded in the header)."""

_VERSION = 1
_HEADER = "__header__"


# ------------------------------------------------------------------- provenance


def provenance_path(path: str | os.PathLike[str]) -> Path:
    """Return the sidecar path of an output file: ``sw.csv`` -> ``sw.csv.provenance.json``.

    Parameters
    ----------
    path
        The output file (or directory).

    Returns
    -------
    Path
        ``<path>.provenance.json`` beside it (whether or not it exists).

    Examples
    --------
    >>> provenance_path("out/sw.csv").name
    'sw.csv.provenance.json'
    """
    path = Path(path)
    return path.with_name(path.name + ".provenance.json")


def write_provenance(
    path: str | os.PathLike[str],
    *,
    result: Any = None,
    what: str = "",
    parameters: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``<path>.provenance.json`` beside an output file (or directory) that exists.

    Parameters
    ----------
    path
        The output file, written completely before this is called; for a directory, the
        sidecar lists the SHA-256 of every file in it.
    result
        The result the file holds, fingerprinted by content (type, fingerprint and its
        ``params``, ``measure``, ``kind``, ``label`` are recorded).
    what
        What produced the file (``"tda-activations homology distances"``).
    parameters
        The options of that call (JSON-able values; others are recorded by ``repr``).

    Returns
    -------
    pathlib.Path
        The sidecar's path.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    """
    from . import __version__
    from .plot._provenance import _jsonable, result_fingerprint

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file to describe; write it first")
    digest, size, files = _digest(path)
    sidecar: dict[str, Any] = {
        "format": "tda_activations.provenance",
        "version": 1,
        "file": path.name,
        "sha256": digest,
        "bytes": size,
        "produced_by": what,
        "package": {"name": "tda_activations", "version": __version__},
        "software": {"numpy": np.__version__, "python": platform.python_version()},
        "parameters": _jsonable(dict(parameters or {})),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if files is not None:
        sidecar["files"] = files
    if result is not None:
        entry: dict[str, Any] = {
            "type": _type_name(result),
            "fingerprint": result_fingerprint(result),
        }
        for attr in ("measure", "kind", "label", "level"):
            value = getattr(result, attr, None)
            if isinstance(value, str) and value:
                entry[attr] = value
        params = getattr(result, "params", None)
        if isinstance(params, Mapping) and params:
            entry["params"] = _jsonable(params)
        sidecar["result"] = entry
    return atomic_write_text(provenance_path(path), json.dumps(sidecar, indent=2) + "\n")


def _digest(path: Path) -> tuple[str, int, dict[str, str] | None]:
    """SHA-256 and size of a file or a directory.

    A directory's hash covers its files (relative path + content, sorted); each file's own
    SHA-256 is listed too.
    """
    if path.is_file():
        data = path.read_bytes()
        return hashlib.sha256(data).hexdigest(), len(data), None
    total = hashlib.sha256()
    files: dict[str, str] = {}
    size = 0
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        data = f.read_bytes()
        files[rel] = hashlib.sha256(data).hexdigest()
        total.update(rel.encode("utf-8") + b"\0" + files[rel].encode("ascii"))
        size += len(data)
    return total.hexdigest(), size, files


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the provenance sidecar of an output file, as a dict.

    Parameters
    ----------
    path
        The output file (not the sidecar itself).

    Returns
    -------
    dict
        The JSON content of ``<path>.provenance.json``.

    Raises
    ------
    FileNotFoundError
        If the file has no sidecar.
    ValueError
        If the sidecar is not valid JSON.
    """
    side = provenance_path(path)
    if not side.is_file():
        raise FileNotFoundError(f"{side}: no provenance sidecar beside {Path(path).name}")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{side}: not a provenance sidecar (invalid JSON: {exc})") from None
    if isinstance(data, dict):
        return data
    raise ValueError(f"{side}: not a provenance sidecar (a JSON object is expected)")


# ------------------------------------------------------------------------ codec


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(name: str) -> type:
    """The dataclass named ``module:qualname``; only this package's classes are loaded."""
    module, _, qualname = name.partition(":")
    if not (module == "tda_activations" or module.startswith("tda_activations.")) or not qualname:
        raise ValueError(f"the file names type {name!r}, which is not a tda_activations result")
    try:
        obj: Any = import_object(name)
    except (ImportError, AttributeError):
        raise ValueError(
            f"the file holds a {qualname} from {module}, which this version of tda_activations "
            "does not have; load it with the version that wrote it"
        ) from None
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise ValueError(f"the file names {name!r}, which is not a result type")
    return obj


class _Encoder:
    """Splits an object tree into a JSON header and a list of arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, (np.bool_, np.integer, np.floating)):
            return {"__scalar__": obj.dtype.str, "value": self.encode(obj.item(), where)}
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                return {
                    "__objects__": [self.encode(v, where) for v in obj.ravel().tolist()],
                    "shape": list(obj.shape),
                }
            if obj.dtype.hasobject or obj.dtype.fields is not None:
                raise TypeError(f"{where}: arrays of dtype {obj.dtype} cannot be saved")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = obj
            return {"__array__": key}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            module = type(obj).__module__
            if not (module == "tda_activations" or module.startswith("tda_activations.")):
                raise TypeError(
                    f"{where}: a {type(obj).__qualname__} (from {module}) cannot be saved; only "
                    "results of tda_activations load back"
                )
            fields = {}
            for f in dataclasses.fields(obj):
                fields[f.name] = self.encode(getattr(obj, f.name), f"{where}.{f.name}")
            return {"__dataclass__": _type_name(obj), "fields": fields}
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, where) for v in obj]}
        if isinstance(obj, list):
            return [self.encode(v, where) for v in obj]
        if isinstance(obj, Mapping):
            return {
                "__map__": [
                    [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                    for k, v in obj.items()
                ]
            }
        raise TypeError(
            f"{where}: a {type(obj).__name__} cannot be saved; save results of tda_activations "
            "(or dicts, lists and tuples of them)"
        )


def _decode(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__array__" in obj:
        arr = arrays[obj["__array__"]]
        arr.setflags(write=False)
        return arr
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__scalar__" in obj:
        return np.dtype(obj["__scalar__"]).type(obj["value"])
    if "__objects__" in obj:
        out = np.empty(len(obj["__objects__"]), dtype=object)
        for i, v in enumerate(obj["__objects__"]):
            out[i] = _decode(v, arrays)
        out = out.reshape(obj["shape"])
        out.setflags(write=False)
        return out
    if "__tuple__" in obj:
        return tuple(_decode(v, arrays) for v in obj["__tuple__"])
    if "__map__" in obj:
        return {_hashable(_decode(k, arrays)): _decode(v, arrays) for k, v in obj["__map__"]}
    if "__dataclass__" in obj:
        cls = _resolve(obj["__dataclass__"])
        values = {k: _decode(v, arrays) for k, v in obj["fields"].items()}
        init = {f.name for f in dataclasses.fields(cls) if f.init}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"the file's {cls.__qualname__} has fields {unknown} that this "
                "version does not know; load it with the version that wrote it"
            )
        inst = cls(**{k: v for k, v in values.items() if k in init})
        for k, v in values.items():
            if k not in init:
                object.__setattr__(inst, k, v)
        return inst
    raise ValueError(f"unexpected entry in the header: keys {sorted(obj)}")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


# ------------------------------------------------------------------- save, load


def save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """Write a result to one ``.npz`` file and its provenance sidecar, atomically.

    Parameters
    ----------
    obj
        A result of the library (``Diagrams``, ``LayerMatrix``, ``MapperGraph``,
        ``LayerMapper``, ``ActivationSet``, an experiment or probe result, ...) or a
        dict, list or tuple of them (``{layer: Diagrams}``).
    path
        The file to write (``.npz`` is the usual suffix; the name is kept as given).
        ``<path>.provenance.json`` is written beside it.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If ``obj`` holds something that is not a result (a model, a function, ...).
    ValueError
        If ``path`` names a directory.
    """
    from . import __version__

    path = Path(path)
    if path.is_dir() or not path.name:
        raise ValueError(f"{path} is a directory; give a file name such as 'result.npz'")
    enc = _Encoder()
    tree = enc.encode(obj, type(obj).__name__)
    header = {
        "format": FORMAT,
        "version": _VERSION,
        "type": _type_name(obj),
        "package_version": __version__,
        "object": tree,
    }
    text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    buf = _io.BytesIO()
    members: dict[str, Any] = {
        _HEADER: np.frombuffer(text.encode("utf-8"), dtype=np.uint8),
        **enc.arrays,
    }
    np.savez(buf, **members)
    atomic_write_bytes(path, buf.getvalue())
    params = getattr(obj, "params", None)
    write_provenance(
        path,
        result=obj,
        what=f"tda_activations.io.save ({type(obj).__qualname__})",
        parameters={"params": params} if isinstance(params, Mapping) else None,
    )
    log.info("saved %s to %s", type(obj).__qualname__, path)
    return path


def load(path: str | os.PathLike[str], *, verify: bool = True) -> Any:
    """Read a result written by :func:`save`.

    Parameters
    ----------
    path
        The ``.npz`` file.
    verify
        Check the file against the SHA-256 in its provenance sidecar when there is one
        (default); the zip checksums inside the file are always checked.

    Returns
    -------
    object
        The result, equal to the one saved (arrays bit for bit, read-only).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a saved result, is damaged, or does not match its sidecar.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; save a result there first")
    data = path.read_bytes()
    if verify and provenance_path(path).is_file():
        expected = read_provenance(path).get("sha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise ValueError(
                f"{path} does not match its provenance sidecar (SHA-256 differs): the file was "
                "changed or damaged after it was written; save the result again"
            )
    if not data.startswith(b"PK"):
        raise ValueError(f"{path} is not a readable saved result (not an .npz archive)")
    try:
        with np.load(_io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable saved result ({exc}); save it again") from None
    if _HEADER not in arrays:
        raise ValueError(f"{path} is an .npz file but not a saved tda_activations result")
    try:
        header = json.loads(arrays.pop(_HEADER).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: the header is damaged ({exc}); save the result again") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a saved tda_activations result")
    if header.get("version") != _VERSION:
        raise ValueError(
            f"{path} was written in format version {header.get('version')}; this version of "
            f"tda_activations reads version {_VERSION}"
        )
    return _decode(header["object"], arrays)
