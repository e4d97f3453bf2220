"""Embedded data (digits, XOR, shapes of known topology) and loaders for users' data."""

from .embedded import load_digits
from .hierarchy import flat_hierarchy, hierarchy_from_dict, hierarchy_to_dict, load_hierarchy

__all__ = [
    "flat_hierarchy",
    "hierarchy_from_dict",
    "hierarchy_to_dict",
    "load_digits",
    "load_hierarchy",
]
