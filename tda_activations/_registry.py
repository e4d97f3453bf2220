"""One registry of named things: measures, diagram distances, reductions, lenses, ...

A :class:`Registry` maps a name to a factory (with default parameters and a one-line
description).  Every stage's lookup (``get_measure``, ``get_diagram_distance``,
``get_reduction``, ``as_lens``, ``named_group``, the persistence backends) is a thin
function over one of these, so all share one behaviour:

* ``get(name, **params)`` builds the thing with the registered defaults overridden by
  ``params``; a parameter the factory does not take is refused with the accepted list;
* ``get(obj)`` returns a ready object of the registry's type as it is (parameters are
  refused with an object: set them on the object);
* an unknown name raises :func:`~tda_activations.types.unknown_name_error` (close
  matches suggested);
* registering a name twice raises unless ``replace=True``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from .types import unknown_name_error

__all__ = ["Registry", "RegistryEntry"]

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One registered name.

    Attributes
    ----------
    name
        The registry name.
    factory
        Callable building the object from keyword parameters.
    defaults
        Parameters passed to ``factory`` unless overridden.
    description
        One line for tables and help texts.
    """

    name: str
    factory: Callable[..., T]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def accepted(self) -> tuple[str, ...] | None:
        """Names of the keyword parameters ``factory`` takes (``None``: any, it has ``**``)."""
        try:
            sig = inspect.signature(self.factory)
        except (TypeError, ValueError):  # builtins without a signature
            return None
        names: list[str] = []
        for p in sig.parameters.values():
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                return None
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
                names.append(p.name)
        return tuple(dict.fromkeys([*names, *self.defaults]))


class Registry(Generic[T]):
    """Names -> factories, with one duplicate policy and one unknown-name error.

    Parameters
    ----------
    kind
        What the names refer to, for messages (``"measure"``, ``"lens"``, ...).
    types
        Class (or classes) of ready objects that :meth:`get` returns as they are;
        ``()``: only names are accepted.

    Examples
    --------
    >>> reg = Registry("greeting")
    >>> reg.register("hello", lambda *, who="world": f"hello {who}")
    >>> reg.names(), reg.get("hello", who="you")
    (('hello',), 'hello you')
    """

    def __init__(self, kind: str, *, types: type | tuple[type, ...] = ()) -> None:
        self.kind = kind
        self.types = types
        self._entries: dict[str, RegistryEntry[T]] = {}

    # ---------------------------------------------------------------- registration
    def register(
        self,
        name: str,
        factory: Callable[..., T],
        *,
        defaults: Mapping[str, Any] | None = None,
        description: str = "",
        replace: bool = False,
    ) -> None:
        """Register ``factory`` under ``name``.

        Parameters
        ----------
        name
            The registry name (a non-empty string).
        factory
            Callable building the object from keyword parameters.
        defaults
            Parameters passed to ``factory`` unless overridden in :meth:`get`.
        description
            One line for tables and help texts.
        replace
            Replace an existing entry of that name instead of raising.

        Raises
        ------
        ValueError
            If ``name`` is already registered and ``replace`` is false.
        TypeError
            If ``name`` is not a non-empty string or ``factory`` is not callable.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise TypeError(f"the factory of {self.kind} {name!r} must be callable")
        if name in self._entries and not replace:
            raise ValueError(
                f"a {self.kind} named {name!r} is already registered; pass replace=True to "
                "replace it or choose another name"
            )
        self._entries[name] = RegistryEntry(name, factory, dict(defaults or {}), description)

    # --------------------------------------------------------------------- lookup
    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def entry(self, name: str) -> RegistryEntry[T]:
        """The entry of ``name``.

        Raises
        ------
        ValueError
            For an unknown name (close matches suggested).
        """
        if not isinstance(name, str) or name not in self._entries:
            raise unknown_name_error(self.kind, str(name), self._entries)
        return self._entries[name]

    def get(self, name_or_object: Any, **params: Any) -> T:
        """Build the object registered as ``name`` (or return a ready object as it is).

        Parameters
        ----------
        name_or_object
            A registered name, or an instance of the registry's ``types``.
        **params
            Parameters overriding the registered defaults (only with a name).

        Returns
        -------
        object
            What the factory builds (or the object given).

        Raises
        ------
        ValueError
            Unknown name (close matches suggested), or parameters given with an object.
        TypeError
            A parameter the factory does not take (the accepted ones are listed), or
            neither a name nor an object of the registry's type.
        """
        if self.types and isinstance(name_or_object, self.types):
            if params:
                raise ValueError(
                    f"parameters {sorted(params)} were given together with a ready {self.kind} "
                    "object; set them on the object instead (or give its name)"
                )
            return cast(T, name_or_object)
        if not isinstance(name_or_object, str):
            raise TypeError(
                f"a {self.kind} must be given by name (one of {', '.join(self._entries)})"
                f"{' or as an object' if self.types else ''}, got {type(name_or_object).__name__}"
            )
        entry = self.entry(name_or_object)
        accepted = entry.accepted()
        if accepted is not None:
            unknown = [k for k in params if k not in accepted]
            if unknown:
                raise TypeError(
                    f"{self.kind} {entry.name!r} takes no parameter "
                    f"{', '.join(repr(u) for u in unknown)}; accepted: "
                    f"{', '.join(accepted) if accepted else 'none'}"
                )
        try:
            return entry.factory(**{**entry.defaults, **params})
        except TypeError as exc:
            raise TypeError(f"{self.kind} {entry.name!r}: {exc}") from None

    # ------------------------------------------------------------ container view
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name`` (unknown names: close-match ``ValueError``)."""
        return self.entry(name).factory

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"
