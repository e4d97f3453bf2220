"""Class hierarchies stored as small JSON files under ``tda_activations/data/hierarchies``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._paths import data_dir
from ..types import ClassHierarchy, unknown_name_error

__all__ = ["flat_hierarchy", "hierarchy_from_dict", "hierarchy_to_dict", "load_hierarchy"]


def flat_hierarchy(class_names: Sequence[str]) -> ClassHierarchy:
    """Build a hierarchy with the fine level only.

    Parameters
    ----------
    class_names
        Names of the classes, in label order.

    Returns
    -------
    ClassHierarchy
        The hierarchy.

    Examples
    --------
    >>> flat_hierarchy(["cat", "dog"])
    ClassHierarchy(fine: 2 groups; classes: cat, dog)
    """
    return ClassHierarchy(class_names=tuple(str(c) for c in class_names))


def hierarchy_from_dict(spec: Mapping[str, Any], *, source: str = "hierarchy") -> ClassHierarchy:
    """Build a :class:`ClassHierarchy` from its JSON form.

    The form is ``{"classes": [...], "levels": {LEVEL: {"names": [...],
    "members": {GROUP: [class, ...]}}}}``; every class must belong to exactly one
    group at every level.

    Parameters
    ----------
    spec
        The parsed JSON.
    source
        Where it came from, for error messages.

    Returns
    -------
    ClassHierarchy
        The hierarchy.

    Raises
    ------
    ValueError
        If a class is missing from a level, listed twice, or unknown.
    """
    if "classes" not in spec:
        raise ValueError(
            f"{source}: no 'classes' list; see tda_activations/data/hierarchies/digits.json"
        )
    classes = tuple(str(c) for c in spec["classes"])
    if len(set(classes)) != len(classes):
        raise ValueError(f"{source}: class names must be unique")
    index = {c: i for i, c in enumerate(classes)}
    parents: dict[str, tuple[int, ...]] = {}
    names: dict[str, tuple[str, ...]] = {}
    for level, body in dict(spec.get("levels", {})).items():
        members = dict(body.get("members", {}))
        group_names = tuple(str(g) for g in body.get("names", list(members)))
        if len(set(group_names)) != len(group_names):
            raise ValueError(f"{source}: level {level!r} names a group twice; names must be unique")
        stray = [str(g) for g in members if str(g) not in group_names]
        if stray:
            raise ValueError(
                f"{source}: level {level!r} has members for the groups {stray}, which are not in "
                f"its 'names' {list(group_names)}; add them to 'names' or fix the spelling"
            )
        table = [-1] * len(classes)
        for g, group in enumerate(group_names):
            for cls in members.get(group, []):
                cls = str(cls)
                if cls not in index:
                    raise ValueError(
                        f"{source}: level {level!r} group {group!r} lists {cls!r}, which is "
                        "not one of the classes"
                    )
                if table[index[cls]] != -1:
                    raise ValueError(f"{source}: class {cls!r} is in two groups of level {level!r}")
                table[index[cls]] = g
        missing = [classes[i] for i, g in enumerate(table) if g == -1]
        if missing:
            raise ValueError(
                f"{source}: level {level!r} does not place the classes {missing}; add each to "
                "one group"
            )
        parents[str(level)] = tuple(table)
        names[str(level)] = group_names
    return ClassHierarchy(class_names=classes, parents=parents, level_names=names)


def hierarchy_to_dict(hierarchy: ClassHierarchy) -> dict[str, Any]:
    """Convert a hierarchy to its JSON form (inverse of :func:`hierarchy_from_dict`).

    Parameters
    ----------
    hierarchy
        The hierarchy.

    Returns
    -------
    dict
        ``{"classes": [...], "levels": {...}}``.

    Examples
    --------
    >>> hierarchy_to_dict(flat_hierarchy(["cat", "dog"]))
    {'classes': ['cat', 'dog'], 'levels': {}}
    """
    levels = {}
    for level, table in hierarchy.parents.items():
        group_names = hierarchy.level_names[level]
        levels[level] = {
            "names": list(group_names),
            "members": {
                g: [hierarchy.class_names[i] for i, p in enumerate(table) if p == gi]
                for gi, g in enumerate(group_names)
            },
        }
    return {"classes": list(hierarchy.class_names), "levels": levels}


def load_hierarchy(name_or_path: str | os.PathLike[str]) -> ClassHierarchy:
    """Load a hierarchy by shipped name (``"digits"``, ``"cifar10"``, ``"cifar100"``) or path.

    Parameters
    ----------
    name_or_path
        A shipped name or the path of a JSON file (see :func:`hierarchy_from_dict`).

    Returns
    -------
    ClassHierarchy
        The hierarchy.

    Raises
    ------
    ValueError
        If the name is unknown or the file is malformed.
    """
    path = Path(name_or_path)
    if not path.suffix:
        shipped = data_dir() / "hierarchies"
        path = shipped / f"{name_or_path}.json"
        if not path.exists():
            raise unknown_name_error(
                "hierarchy", str(name_or_path), sorted(p.stem for p in shipped.glob("*.json"))
            )
    if not path.exists():
        raise FileNotFoundError(f"hierarchy file {path} does not exist")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    return hierarchy_from_dict(spec, source=str(path))
