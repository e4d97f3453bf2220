"""What the format readers share: option checks, pixel conversion, labels and hierarchies."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ...types import ClassHierarchy, unknown_name_error
from ..hierarchy import flat_hierarchy, load_hierarchy

__all__ = ["HierarchyLike", "Layout", "SplitName"]

logger = logging.getLogger(__name__)


Layout = Literal["auto", "nhw", "nhwc", "nchw"]
SplitName = Literal["train", "test"]
HierarchyLike = ClassHierarchy | str | os.PathLike[str] | None


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    return int(limit)


def _check_split(split: str) -> SplitName:
    if split == "train":
        return "train"
    if split == "test":
        return "test"
    raise unknown_name_error("split", str(split), ("train", "test"))


def _resolve_hierarchy(hierarchy: HierarchyLike) -> ClassHierarchy | None:
    if hierarchy is None or isinstance(hierarchy, ClassHierarchy):
        return hierarchy
    if isinstance(hierarchy, (str, os.PathLike)):
        return load_hierarchy(hierarchy)
    raise TypeError(
        f"hierarchy must be a ClassHierarchy, a shipped hierarchy name or a JSON path; got "
        f"{type(hierarchy).__name__}"
    )


def _listing(path: Path, *, limit: int = 20) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    if not names:
        return "nothing (the directory is empty)"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} entries)" if len(names) > limit else "")


# ------------------------------------------------------------------ pixel conversion


def _to_unit_float(values: np.ndarray, *, source: str) -> np.ndarray:
    """Pixel values as float32 in [0, 1] (uint8 / 255, uint16 / 65535, floats as given)."""
    arr = np.asarray(values)
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255.0)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535.0)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(
                f"{source}: integer pixel values range over [{arr.min()}, {arr.max()}]; store "
                "8-bit images as uint8 (0..255), 16-bit ones as uint16, or floats in [0, 1]"
            )
        return arr.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise ValueError(f"{source}: the images contain NaN or infinite values; remove them")
        if out.size and (out.min() < 0.0 or out.max() > 1.0):
            raise ValueError(
                f"{source}: float pixel values range over [{out.min():.4g}, {out.max():.4g}] "
                "but must lie in [0, 1]; rescale them (e.g. divide 0..255 data by 255) and "
                "undo any normalisation"
            )
        return out
    raise TypeError(f"{source}: pixel dtype {arr.dtype} is not numeric; store numbers")


def _guess_layout(shape: tuple[int, ...], *, source: str) -> str:
    """The layout of a 3-D or 4-D image stack (see :func:`load_npz` for the rule)."""
    if len(shape) == 3:
        return "nhw"
    if len(shape) != 4:
        raise ValueError(
            f"{source}: images must be 3-D (n, h, w) or 4-D (n, h, w, c) / (n, c, h, w); "
            f"got shape {shape}"
        )
    first, last = shape[1] in (1, 3), shape[3] in (1, 3)
    if first and not last:
        return "nchw"
    if last and not first:
        return "nhwc"
    raise ValueError(
        f"{source}: cannot tell the layout of images of shape {shape} (the channel axis must "
        "be the only one of axes 1 and 3 of size 1 or 3); state it with layout='nchw' or "
        "layout='nhwc'"
    )


def _to_nchw(images: np.ndarray, *, layout: str, source: str) -> np.ndarray:
    if layout not in ("auto", "nhw", "nhwc", "nchw"):
        raise unknown_name_error("layout", str(layout), ("auto", "nhw", "nhwc", "nchw"))
    if layout == "auto":
        layout = _guess_layout(images.shape, source=source)
    expected_ndim = 3 if layout == "nhw" else 4
    if images.ndim != expected_ndim:
        raise ValueError(
            f"{source}: layout {layout!r} needs a {expected_ndim}-D array but the images have "
            f"shape {images.shape}; state the right layout or use layout='auto'"
        )
    if layout == "nhw":
        return images[:, None, :, :]
    if layout == "nhwc":
        return np.transpose(images, (0, 3, 1, 2))
    return images


# ------------------------------------------------------------- labels and hierarchies


def _check_labels(labels: Any, n: int, *, source: str, key: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"{source}: {key!r} has shape {labels.shape} but there are {n} images; give exactly "
            "one label per image"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"{source}: {key!r} must be integers (class indices from 0), got dtype "
            f"{labels.dtype}; map class names to indices and store the names as 'class_names'"
        )
    if labels.min() < 0:
        raise ValueError(f"{source}: {key!r} has negative values; class indices start at 0")
    return labels.astype(np.int64)


def _hierarchy_from_arrays(
    arrays: Mapping[str, np.ndarray], labels: np.ndarray, *, source: str
) -> ClassHierarchy:
    if "class_names" in arrays:
        names = tuple(str(c) for c in np.asarray(arrays["class_names"]).ravel())
        if labels.max() >= len(names):
            raise ValueError(
                f"{source}: labels go up to {labels.max()} but 'class_names' names only "
                f"{len(names)} classes; give one name per class"
            )
    else:
        names = tuple(str(i) for i in range(int(labels.max()) + 1))
    if "coarse_labels" not in arrays:
        if "coarse_names" in arrays:
            logger.warning("%s: 'coarse_names' without 'coarse_labels' is ignored", source)
        return flat_hierarchy(names)
    coarse = _check_labels(
        arrays["coarse_labels"], labels.shape[0], source=source, key="coarse_labels"
    )
    if "coarse_names" in arrays:
        coarse_names = tuple(str(c) for c in np.asarray(arrays["coarse_names"]).ravel())
        if coarse.max() >= len(coarse_names):
            raise ValueError(
                f"{source}: coarse labels go up to {coarse.max()} but 'coarse_names' names only "
                f"{len(coarse_names)} groups; give one name per group"
            )
    else:
        coarse_names = tuple(str(i) for i in range(int(coarse.max()) + 1))
    parents = _parents_from_data(
        labels, coarse, fine_names=names, coarse_names=coarse_names, source=source
    )
    absent = [names[i] for i in np.flatnonzero(parents < 0)]
    if absent:
        raise ValueError(
            f"{source}: the classes {absent[:10]} have no image, so their coarse class is "
            "unknown; drop them from 'class_names' or pass a hierarchy"
        )
    return ClassHierarchy(
        class_names=names,
        parents={"coarse": tuple(int(p) for p in parents)},
        level_names={"coarse": coarse_names},
    )


def _parents_from_data(
    fine: np.ndarray,
    coarse: np.ndarray,
    *,
    fine_names: Sequence[str],
    coarse_names: Sequence[str],
    source: str,
) -> np.ndarray:
    """Fine -> coarse table read from labelled samples (-1 for classes with no sample)."""
    parents = np.full(len(fine_names), -1, dtype=np.int64)
    pairs = np.unique(np.column_stack([fine, coarse]), axis=0)
    fines, counts = np.unique(pairs[:, 0], return_counts=True)
    clash = fines[counts > 1]
    if clash.size:
        f = int(clash[0])
        groups = [coarse_names[int(c)] for c in pairs[pairs[:, 0] == f, 1]]
        raise ValueError(
            f"{source}: the coarse labels are inconsistent: fine class {fine_names[f]!r} "
            f"appears with coarse labels {groups} ({clash.size} such classes); every fine "
            "class must belong to one coarse class"
        )
    parents[pairs[:, 0]] = pairs[:, 1]
    return parents
