"""Map-style datasets the user already built (torchvision or any ``(image, label)`` pairs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...types import ImageDataset
from ..hierarchy import flat_hierarchy
from ._common import (
    HierarchyLike,
    _check_limit,
    _resolve_hierarchy,
    _to_unit_float,
)

__all__ = ["from_torchvision"]


def _item_to_chw(image: Any, *, index: int) -> np.ndarray:
    source = f"dataset item {index}"
    if hasattr(image, "mode") and hasattr(image, "convert"):  # a PIL image
        if image.mode not in ("L", "RGB") and not image.mode.startswith("I;16"):
            image = image.convert("RGB")
        arr = np.asarray(image)
        arr = arr.astype(np.uint16) if image.mode.startswith("I;16") else arr
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        return np.transpose(_to_unit_float(arr, source=source), (2, 0, 1))
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # a torch tensor: (c, h, w) or (h, w)
        arr = image.detach().cpu().numpy()
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise ValueError(
                f"{source}: a tensor image must be (c, h, w) or (h, w); got {arr.shape}"
            )
        return _to_unit_float(arr, source=source)
    if isinstance(image, np.ndarray):  # numpy convention: (h, w) or (h, w, c)
        arr = image[:, :, None] if image.ndim == 2 else image
        if arr.ndim != 3:
            raise ValueError(
                f"{source}: an array image must be (h, w) or (h, w, c); got {arr.shape}"
            )
        return np.transpose(_to_unit_float(arr, source=source), (2, 0, 1))
    raise TypeError(
        f"{source}: the image is a {type(image).__name__}; expected a PIL image, a torch tensor "
        "or a NumPy array (add a transform such as torchvision.transforms.PILToTensor())"
    )


def from_torchvision(
    dataset: Any,
    *,
    limit: int | None = None,
    hierarchy: HierarchyLike = None,
    name: str | None = None,
) -> ImageDataset:
    """Copy an already constructed torchvision (or any map-style) dataset into an ImageDataset.

    torchvision is never imported or required: any object with ``len()`` and
    ``dataset[i] -> (image, label)`` works, where the image is a PIL image, a
    tensor ``(c, h, w)`` (torchvision's convention, e.g. after ``ToTensor()``) or
    a NumPy array ``(h, w[, c])``.  The dataset's own transform is applied as
    usual; it must not normalise the pixels out of [0, 1].  Nothing is
    downloaded: construct the dataset with ``download=False`` from files you have.

    Parameters
    ----------
    dataset
        The dataset object.
    limit
        Copy only the first ``limit`` items.
    hierarchy
        Optional :class:`ClassHierarchy`, shipped name or JSON path; by default
        the dataset's ``classes`` attribute (if present) gives a flat hierarchy.
    name
        Name of the result (default: the dataset's class name, lower-cased).

    Returns
    -------
    ImageDataset
        Float32 ``(n, c, h, w)`` images; sample ids are the dataset indices.
    """
    limit = _check_limit(limit)
    try:
        total = len(dataset)
    except TypeError as exc:
        raise TypeError(
            f"{type(dataset).__name__} has no len(); give a map-style dataset (dataset[i] -> "
            "(image, label))"
        ) from exc
    n = total if limit is None else min(total, limit)
    if n == 0:
        raise ValueError(f"{type(dataset).__name__} is empty; give a dataset with images")
    images: list[np.ndarray] = []
    labels: list[int] = []
    for i in range(n):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise TypeError(
                f"dataset item {i} is a {type(item).__name__}; expected an (image, label) pair"
            )
        arr = _item_to_chw(item[0], index=i)
        if images and arr.shape != images[0].shape:
            raise ValueError(
                f"dataset item {i} has shape {arr.shape} (c, h, w) but item 0 has "
                f"{images[0].shape}; add a Resize/Grayscale transform so all images match"
            )
        images.append(arr)
        target = item[1]
        try:
            labels.append(int(target))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"dataset item {i}: the label {target!r} is not an integer class index"
            ) from exc
    label_arr = np.asarray(labels, dtype=np.int64)
    if label_arr.min() < 0:
        raise ValueError("the dataset has negative labels; class indices start at 0")
    resolved = _resolve_hierarchy(hierarchy)
    if resolved is None:
        classes = getattr(dataset, "classes", None)
        names = (
            tuple(str(c) for c in classes)
            if classes is not None
            else tuple(str(i) for i in range(int(label_arr.max()) + 1))
        )
        resolved = flat_hierarchy(names)
    return ImageDataset(
        images=np.stack(images),
        labels=label_arr,
        hierarchy=resolved,
        name=name or type(dataset).__name__.lower(),
        sample_ids=np.arange(n),
    )
