"""Embedded data (digits, XOR, shapes of known topology) and loaders for users' data."""

from .embedded import load_digits
from .hierarchy import flat_hierarchy, hierarchy_from_dict, hierarchy_to_dict, load_hierarchy
from .loaders import (
    IMAGE_EXTENSIONS,
    from_torchvision,
    load_cifar,
    load_dataset,
    load_image_folder,
    load_npz,
)
from .sources import Batch, DataSource, as_source
from .synthetic import (
    known_betti_numbers,
    make_circle,
    make_shape,
    make_sphere,
    make_torus,
    make_two_circles,
    make_xor,
    random_rotation,
    shape_names,
)
from .tokens import TokenDataset, load_token_npz

__all__ = [
    "IMAGE_EXTENSIONS",
    "Batch",
    "DataSource",
    "TokenDataset",
    "as_source",
    "flat_hierarchy",
    "from_torchvision",
    "hierarchy_from_dict",
    "hierarchy_to_dict",
    "known_betti_numbers",
    "load_cifar",
    "load_dataset",
    "load_digits",
    "load_hierarchy",
    "load_image_folder",
    "load_npz",
    "load_token_npz",
    "make_circle",
    "make_shape",
    "make_sphere",
    "make_torus",
    "make_two_circles",
    "make_xor",
    "random_rotation",
    "shape_names",
]
