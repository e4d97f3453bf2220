"""Image folders: ``root/<class>/*.png|jpg|...``, one folder per class."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ...types import ImageDataset, unknown_name_error
from ..hierarchy import flat_hierarchy
from ._common import (
    HierarchyLike,
    _listing,
    _resolve_hierarchy,
    _to_unit_float,
)

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

logger = logging.getLogger(__name__)


IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
)
"""File name endings (case-insensitive) that :func:`load_image_folder` reads."""


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_image(path: Path, *, color: str) -> np.ndarray:
    """One image as float32 ``(h, w, c)`` in [0, 1] with c = 1 or 3."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode.startswith("I;16"):
                gray16 = np.asarray(img).astype(np.uint16)
                arr = _to_unit_float(gray16, source=str(path))[:, :, None]
                return np.repeat(arr, 3, axis=2) if color == "rgb" else arr
            if mode in ("I", "F"):
                raise ValueError(
                    f"{path}: {mode!r} (32-bit) images have no fixed pixel range; save them as "
                    "8- or 16-bit images, or as floats in [0, 1] in an .npz file"
                )
            target = "L" if color == "grayscale" else "RGB"
            arr = np.asarray(img.convert(target), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(
            f"{path} cannot be read as an image ({exc}); remove or replace the file"
        ) from exc
    arr = _to_unit_float(arr, source=str(path))
    return arr[:, :, None] if arr.ndim == 2 else arr


def _is_gray(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.mode in ("1", "L", "LA", "I", "F") or img.mode.startswith("I;16")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(
            f"{path} cannot be read as an image ({exc}); remove or replace the file"
        ) from exc


def _resize(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (antialiased) resize of a float ``(h, w, c)`` image to ``size = (h, w)``."""
    from PIL import Image

    if arr.shape[:2] == size:
        return arr
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(arr[:, :, k]), mode="F").resize(
                (size[1], size[0]), Image.Resampling.BILINEAR
            )
        )
        for k in range(arr.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0).astype(np.float32)


def _check_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        h, w = (int(s) for s in size)  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"size must be an integer or a (height, width) pair, got {size!r}"
        ) from exc
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {(h, w)}")
    return h, w


def load_image_folder(
    root: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] | None = None,
    color: Literal["auto", "rgb", "grayscale"] = "auto",
    hierarchy: HierarchyLike = None,
    name: str | None = None,
) -> ImageDataset:
    """Load a folder of images with one sub-folder per class: ``root/<class>/<image>``.

    Files ending in one of :data:`IMAGE_EXTENSIONS` are read (in sorted order
    within a class); hidden files and folders are skipped.  Without a
    hierarchy, labels are the sorted class-folder names; with one, they follow
    its class order (so an exported CIFAR-10 folder keeps CIFAR-10's labels)
    and every folder must name one of its classes.

    Parameters
    ----------
    root
        The folder.
    size
        ``(height, width)`` (or one integer for square images) to resize every
        image to (bilinear, antialiased).  Without it, all images must have
        the same size.
    color
        ``"rgb"`` (3 channels), ``"grayscale"`` (1 channel, PIL's ITU-R 601-2
        luma) or ``"auto"``: grayscale if every image is, else RGB.  An alpha
        channel is dropped.
    hierarchy
        Optional :class:`ClassHierarchy`, shipped hierarchy name or JSON path.
    name
        Name of the dataset (default: the folder's name).

    Returns
    -------
    ImageDataset
        Float32 ``(n, c, h, w)`` images in [0, 1] (8-bit pixels / 255, 16-bit /
        65535); sample ids are positions in the listing (class by class).

    Raises
    ------
    ValueError
        If there are no class folders, a class folder has no images, a file is
        not an image, sizes differ and ``size`` is not given, or a folder is
        not a class of the hierarchy.
    """
    root = Path(root)
    if color not in ("auto", "rgb", "grayscale"):
        raise unknown_name_error("color mode", str(color), ("auto", "rgb", "grayscale"))
    target_size = _check_size(size)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist or is not a directory")
    folders = _class_folders(root)
    if not folders:
        raise ValueError(
            f"{root} has no class folders: expected root/<class>/<image> with images ending in "
            f"{', '.join(IMAGE_EXTENSIONS)}; found {_listing(root)}"
        )
    loose = _image_files(root)
    if loose:
        logger.warning(
            "%s: %d images directly in the root are ignored (not in a class folder)",
            root,
            len(loose),
        )
    files = {f.name: _image_files(f) for f in folders}
    empty = [c for c, fs in files.items() if not fs]
    if empty:
        raise ValueError(
            f"{root}: the class folders {empty} hold no images (ending in "
            f"{', '.join(IMAGE_EXTENSIONS)}); add images or remove those folders"
        )
    resolved = _resolve_hierarchy(hierarchy)
    if resolved is None:
        resolved = flat_hierarchy(sorted(files))
    index = {c: i for i, c in enumerate(resolved.class_names)}
    for cls in files:
        if cls not in index:
            hint = unknown_name_error("class", cls, resolved.class_names)
            raise ValueError(
                f"{root}: the folder {cls!r} is not a class of the hierarchy ({hint}); rename "
                "the folder or fix the hierarchy file"
            )
    paths = [p for cls in sorted(files, key=index.__getitem__) for p in files[cls]]
    labels = np.array([index[p.parent.name] for p in paths], dtype=np.int64)
    mode = color
    if mode == "auto":
        mode = "grayscale" if all(_is_gray(p) for p in paths) else "rgb"
    arrays: list[np.ndarray] = []
    for p in paths:
        arr = _read_image(p, color=mode)
        if target_size is not None:
            arr = _resize(arr, target_size)
        elif arrays and arr.shape[:2] != arrays[0].shape[:2]:
            raise ValueError(
                f"{root}: images have different sizes: {paths[0].relative_to(root)} is "
                f"{arrays[0].shape[0]}x{arrays[0].shape[1]} (h x w) but {p.relative_to(root)} "
                f"is {arr.shape[0]}x{arr.shape[1]}; pass size=(height, width) to resize them all"
            )
        arrays.append(arr)
    images = np.transpose(np.stack(arrays), (0, 3, 1, 2))
    return ImageDataset(
        images=images,
        labels=labels,
        hierarchy=resolved,
        name=name or root.name,
        sample_ids=np.arange(len(paths)),
    )
