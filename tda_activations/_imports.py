"""The one resolution of ``"module:qualname"`` references to Python objects."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["import_object"]


def import_object(reference: str) -> Any:
    """The object a ``"module:qualname"`` reference names (``qualname`` may be dotted).

    Callers decide what may be imported and how a failure reads (a config key, a saved
    file, a model spec); this only resolves.

    Parameters
    ----------
    reference
        ``"package.module:name"`` or ``"package.module:Class.attribute"``.

    Returns
    -------
    Any
        The object.

    Raises
    ------
    ImportError
        When the module cannot be imported.
    AttributeError
        When a part of the qualified name is missing (or empty).

    Examples
    --------
    >>> import_object("math:pi") > 3
    True
    """
    module, _, qualname = str(reference).partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        if not part:
            raise AttributeError(f"{reference!r} has an empty part in {qualname!r}")
        obj = getattr(obj, part)
    return obj
