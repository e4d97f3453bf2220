"""What drew a figure: every plot function records its result's fingerprint and parameters.

The records live in a weak mapping keyed by the figure, never in global matplotlib
state; :func:`~tda_activations.plot.save` writes them to the sidecar JSON.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._hashing import fingerprint_array, fingerprint_params
from .._json import jsonable

__all__ = ["figure_provenance", "record", "result_fingerprint"]

_RECORDS: weakref.WeakKeyDictionary[Any, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


def _content(obj: Any, depth: int = 0) -> Any:
    """A JSON-able description of ``obj``'s content (arrays by hash)."""
    if depth > 8:
        return repr(type(obj))
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"__array__": fingerprint_array(obj)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            "__type__": type(obj).__qualname__,
            **{f.name: _content(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)},
        }
    if isinstance(obj, Mapping):
        return {str(k): _content(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_content(v, depth + 1) for v in obj]
    if hasattr(obj, "to_numpy") and hasattr(obj, "columns"):  # a pandas DataFrame
        import pandas as pd

        return {
            "__frame__": [
                list(map(str, obj.columns)),
                list(map(str, obj.index)),
                fingerprint_array(pd.util.hash_pandas_object(obj, index=True).to_numpy()),
            ]
        }
    return repr(obj)


def result_fingerprint(result: Any) -> str:
    """Content hash of a result (dataclass fields, arrays, tables), 16 hex characters.

    Parameters
    ----------
    result
        The result (a dataclass, an array, a table, ...).

    Returns
    -------
    str
        The hash.
    """
    return fingerprint_params(_content(result))


def _jsonable(value: Any) -> Any:
    """Parameters as JSON; arrays of more than 64 elements by their fingerprint."""
    return jsonable(value, max_array=64)


def record(ax: Any, function: str, result: Any, params: Mapping[str, Any]) -> None:
    """Remember that ``function`` drew ``result`` into ``ax``'s figure with ``params``."""
    fig = ax.figure
    entry: dict[str, Any] = {
        "function": f"tda_activations.plot.{function}",
        "result_type": type(result).__qualname__,
        "result_fingerprint": result_fingerprint(result),
        "parameters": _jsonable(dict(params)),
    }
    for attr in ("measure", "kind", "label", "level"):
        value = getattr(result, attr, None)
        if isinstance(value, str) and value:
            entry[attr] = value
    result_params = getattr(result, "params", None)
    if isinstance(result_params, Mapping) and result_params:
        entry["result_params"] = _jsonable(result_params)
    try:
        _RECORDS.setdefault(fig, []).append(entry)
    except TypeError:  # a figure-like object that cannot be weakly referenced
        pass


def figure_provenance(fig: Any) -> list[dict[str, Any]]:
    """The records of every plot function that drew into ``fig`` (a copy).

    Parameters
    ----------
    fig
        A matplotlib figure.

    Returns
    -------
    list of dict
        One record per plot call, in drawing order.
    """
    return [dict(e) for e in _RECORDS.get(fig, [])]
