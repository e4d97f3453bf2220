"""The one rule for ``layers=``: choosing among the layer names a result already has.

Every function that takes ``layers=`` over an
:class:`~tda_activations.types.ActivationSet`'s layers (or a mapping layer -> cloud,
diagrams, ...) resolves it with :func:`resolve_layer_names`:

* ``None``: every layer, in the given (forward) order;
* a string: that one layer, or every layer a glob pattern (``*``, ``?``, ``[...]``) matches;
* a sequence of names and patterns: those layers, in the order given (a layer named
  twice, or by a name and a pattern, is kept once, at its first place).

An unknown name fails with close matches suggested; a pattern that matches nothing and
an empty selection fail too.  The command line's comma-separated ``--layers`` go
through :func:`split_layer_spec` and then the same rule.

Choosing *model modules* to extract (by type, by callable) is a different question,
answered by the extraction stage.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from .types import unknown_name_error

__all__ = ["LayerSpec", "is_pattern", "resolve_layer_names", "split_layer_spec"]

LayerSpec = str | Sequence[str] | None

_GLOB = frozenset("*?[")


def is_pattern(name: str) -> bool:
    """Whether ``name`` is a glob pattern (contains ``*``, ``?`` or ``[``)."""
    return any(c in _GLOB for c in name)


def resolve_layer_names(
    available: Iterable[str], spec: LayerSpec, *, what: str = "layer"
) -> tuple[str, ...]:
    """The layer names ``spec`` selects among ``available``.

    Parameters
    ----------
    available
        The layer names that exist, in their order (an ActivationSet's
        ``layers``, a mapping's keys, ...).
    spec
        ``None`` (all, in order), one name or glob pattern, or a sequence of
        names and patterns (kept in the order given, each layer once).
    what
        What the names are, for error messages (``"layer"``,
        ``"layer of model 'a'"``, ...).

    Returns
    -------
    tuple of str
        The selected names, never empty.

    Raises
    ------
    TypeError
        If ``spec`` is not ``None``, a string or a sequence of strings.
    ValueError
        For an unknown name (close matches suggested), a pattern that matches
        nothing, or an empty selection.

    Examples
    --------
    >>> resolve_layer_names(["conv1", "layer1.0.conv1", "fc"], "layer1.*")
    ('layer1.0.conv1',)
    >>> resolve_layer_names(["conv1", "fc"], ["fc", "conv1"])
    ('fc', 'conv1')
    """
    names = tuple(str(n) for n in available)
    if spec is None:
        if not names:
            raise ValueError(f"there is no {what} to select")
        return names
    if isinstance(spec, str):
        items: tuple[str, ...] = (spec,)
    elif isinstance(spec, (bytes, bytearray)) or not isinstance(spec, (Sequence, Iterable)):
        raise TypeError(
            f"layers must be None, a {what} name or pattern, or a list of them; "
            f"got {type(spec).__name__}"
        )
    else:
        items = tuple(spec)
        bad = [item for item in items if not isinstance(item, str)]
        if bad:
            raise TypeError(
                f"layers must be {what} names (strings); got {type(bad[0]).__name__} {bad[0]!r}"
            )
    if not items:
        raise ValueError(
            f"no {what} selected (layers is empty); give at least one name or None for all"
        )
    known = set(names)
    chosen: dict[str, None] = {}
    for item in items:
        if item in known:
            chosen.setdefault(item, None)
        elif is_pattern(item):
            matched = [n for n in names if fnmatch.fnmatchcase(n, item)]
            if not matched:
                raise ValueError(
                    f"the {what} pattern {item!r} matches no {what} "
                    f"(there are {len(names)}: {', '.join(repr(n) for n in names[:8])}"
                    f"{', ...' if len(names) > 8 else ''})"
                )
            for n in matched:
                chosen.setdefault(n, None)
        else:
            raise unknown_name_error(what, item, names)
    return tuple(chosen)


def split_layer_spec(text: str | None) -> tuple[str, ...] | None:
    """A command line's comma-separated layer list: ``"a, b,c"`` -> ``("a", "b", "c")``.

    Parameters
    ----------
    text
        The option's value; ``None`` or blank means all layers.

    Returns
    -------
    tuple of str or None
        The names and patterns, for :func:`resolve_layer_names`; ``None`` for all.

    Raises
    ------
    ValueError
        If the text names nothing but separators (``","``).
    """
    if text is None or not text.strip():
        return None
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    if not items:
        raise ValueError(f"--layers {text!r} names no layer; give comma-separated layer names")
    return items
