"""Deep immutability for the containers: a frozen mapping, frozen values, read-only arrays.

:class:`FrozenMap` is a ``dict`` whose mutating methods raise ``TypeError``: it keeps
its keys' order (a set of clouds is in forward order), compares equal to any mapping
with the same items, pickles (worker processes, joblib/loky), serialises with
:mod:`json` as it is (it *is* a dict), and is hashable when its values are.

:func:`freeze` turns a nested value (mappings, lists, sets, arrays) into its
immutable counterpart (FrozenMap, tuple, frozenset, read-only array).
:func:`readonly_array` keeps an array only when nothing else can write to it: a
read-only *view* of a writable array is not safe (the owner can still write), so
anything but a read-only array that owns its data is copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

import numpy as np

__all__ = ["FrozenMap", "freeze", "frozen_array", "readonly_array"]

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(dict[K, V]):
    """An immutable, ordered mapping (a ``dict`` that refuses to change).

    Parameters
    ----------
    data
        A mapping or an iterable of ``(key, value)`` pairs; keyword arguments
        add more items, as for ``dict``.

    Notes
    -----
    ``hash(m)`` is the hash of its items (order-insensitive, as equality is):
    it raises ``TypeError`` when a value is unhashable (an array, a list).
    ``m | other`` returns a new FrozenMap; ``m.copy()`` a plain, mutable dict.

    Examples
    --------
    >>> m = FrozenMap({"a": 1})
    >>> m["a"], m == {"a": 1}, hash(m) == hash(FrozenMap(a=1))
    (1, True, True)
    >>> m["b"] = 2
    Traceback (most recent call last):
    ...
    TypeError: FrozenMap is immutable; build a new one (FrozenMap({**m, key: value}))
    """

    __slots__ = ()

    def _immutable(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("FrozenMap is immutable; build a new one (FrozenMap({**m, key: value}))")

    __setitem__ = _immutable
    __delitem__ = _immutable
    clear = _immutable
    pop = _immutable
    popitem = _immutable
    setdefault = _immutable
    update = _immutable
    __ior__ = _immutable

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __or__(self, other: Any) -> FrozenMap[K, V]:  # type: ignore[override]
        if not isinstance(other, Mapping):
            return NotImplemented
        return FrozenMap({**self, **other})

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (dict(self),))

    def __repr__(self) -> str:
        return f"FrozenMap({dict.__repr__(self)})"

    def copy(self) -> dict[K, V]:  # type: ignore[override]
        """A plain, mutable ``dict`` with the same items."""
        return dict(self)


def frozen_array(values: Any, *, dtype: Any = None) -> np.ndarray:
    """Return a read-only NumPy copy of ``values`` (a view is never shared).

    Parameters
    ----------
    values
        Anything :func:`numpy.asarray` accepts.
    dtype
        Optional dtype of the result.

    Returns
    -------
    numpy.ndarray
        A new array with ``flags.writeable`` set to ``False``.
    """
    arr = np.array(values, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


def readonly_array(values: Any, *, dtype: Any = None) -> np.ndarray:
    """``values`` as a read-only array that nothing else can write to.

    A plain ``numpy.ndarray`` that owns its data and is already read-only (of
    ``dtype``, when given) is returned as is; anything else, a read-only view
    of a writable array included, is copied (:func:`frozen_array`).

    Parameters
    ----------
    values
        Anything :func:`numpy.asarray` accepts.
    dtype
        Optional dtype of the result.

    Returns
    -------
    numpy.ndarray
        A read-only array.
    """
    if (
        type(values) is np.ndarray
        and not values.flags.writeable
        and values.flags.owndata
        and (dtype is None or values.dtype == np.dtype(dtype))
    ):
        return values
    return frozen_array(values, dtype=dtype)


def freeze(value: Any) -> Any:
    """The immutable counterpart of a nested value.

    Mappings become :class:`FrozenMap` (keys kept, values frozen), lists and
    tuples become tuples, sets become frozensets, arrays become read-only
    (:func:`readonly_array`); anything else is returned as is.

    Parameters
    ----------
    value
        A parameter value, mapping or collection.

    Returns
    -------
    Any
        The frozen value (equal to ``value`` as far as ``==`` on mappings and
        sequences of the same kind goes).
    """
    if isinstance(value, Mapping):
        return FrozenMap((k, freeze(v)) for k, v in value.items())
    if isinstance(value, list) or type(value) is tuple:  # a named tuple keeps its type
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        return readonly_array(value)
    return value
