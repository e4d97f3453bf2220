"""The one conversion of parameters and facts into JSON-ready values."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(value: Any, *, max_array: int | None = None) -> Any:
    """``value`` as plain JSON types: dicts, lists, strings, numbers, booleans and ``None``.

    NumPy scalars become Python numbers, arrays lists (or, beyond ``max_array`` elements,
    ``{"__array__": <fingerprint>, "shape": [...]}`` so that large arrays are identified
    without being written out), mappings dicts with string keys, tuples and sets lists,
    paths strings, dataclass instances dicts of their fields; anything else its ``repr``.  Non-finite floats stay floats (Python's
    :mod:`json` writes and reads them as ``NaN`` and ``Infinity``).  Also usable as the
    ``default=`` hook of :func:`json.dumps`.

    Parameters
    ----------
    value
        What to convert.
    max_array
        Largest array written out in full (``None``: every array).

    Returns
    -------
    Any
        A value :func:`json.dumps` accepts in strict mode.

    Examples
    --------
    >>> jsonable({"k": np.int64(3), "x": np.array([0.5, 2.0]), "t": (1, "a")})
    {'k': 3, 'x': [0.5, 2.0], 't': [1, 'a']}
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        if max_array is not None and value.size > max_array:
            from ._hashing import fingerprint_array

            return {"__array__": fingerprint_array(value), "shape": list(value.shape)}
        return jsonable(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, max_array=max_array) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v, max_array=max_array) for v in items]
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), max_array=max_array)
    return repr(value)
