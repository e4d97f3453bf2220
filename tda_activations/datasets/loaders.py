"""Loaders for users' image data, each returning an :class:`~tda_activations.types.ImageDataset`.

Formats (nothing is ever downloaded):

* :func:`load_cifar`: a directory in the CIFAR-10 / CIFAR-100 *python* batch
  format, as extracted from ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``;
* :func:`load_image_folder`: ``root/<class>/*.png|jpg|...`` (one folder per class);
* :func:`load_npz`: an ``.npz`` file with ``images`` and ``labels`` arrays;
* :func:`from_torchvision`: a dataset object the user already constructed
  (torchvision or any map-style dataset of ``(image, label)`` pairs);
* :func:`load_dataset`: one entry point dispatching on a name or a path, for the
  CLI and batch configs.

Every loader returns float32 images ``(n, c, h, w)`` in ``[0, 1]`` (8-bit data
divided by 255, 16-bit data by 65535), int64 labels and a class hierarchy.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..types import ClassHierarchy, ImageDataset, unknown_name_error
from .hierarchy import flat_hierarchy, load_hierarchy

__all__ = [
    "IMAGE_EXTENSIONS",
    "from_torchvision",
    "load_cifar",
    "load_dataset",
    "load_image_folder",
    "load_npz",
]

logger = logging.getLogger(__name__)

Layout = Literal["auto", "nhw", "nhwc", "nchw"]
SplitName = Literal["train", "test"]
HierarchyLike = ClassHierarchy | str | os.PathLike[str] | None

IMAGE_EXTENSIONS: tuple[str, ...] = (
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp",
)
"""File name endings (case-insensitive) that :func:`load_image_folder` reads."""

_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR10_EXPECTED = "batches.meta, data_batch_1 ... data_batch_5, test_batch"
_CIFAR100_EXPECTED = "meta, train, test"
_CIFAR_SUBDIRS = ("cifar-10-batches-py", "cifar-100-python")


# --------------------------------------------------------------------- small checks


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    return int(limit)


def _check_npz_magic(path: Path, *, how: str) -> None:
    """Refuse a file that is neither a zip (npz) nor an npy array before numpy reads it (numpy
    would call unknown bytes 'pickled data')."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not (head.startswith(b"PK") or head == b"\x93NUMPY"):
        raise ValueError(
            f"{path} is not a readable .npz file (not a zip archive); write it with {how}"
        )


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise unknown_name_error("split", str(split), ("train", "test"))
    return split


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


# --------------------------------------------------------------------------- CIFAR


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR batch holds (dicts, lists, bytes, NumPy arrays).

    A pickle can run arbitrary code on loading; this refuses every global
    except the few NumPy needs to rebuild an array.
    """

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("_codecs", "encode"),
        ("builtins", "bytes"),
        ("builtins", "bytearray"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = "numpy._core" + module[len("numpy.core") :]
        elif module.startswith("numpy._core") and not hasattr(np, "_core"):  # NumPy 1.x
            module = "numpy.core" + module[len("numpy._core") :]
        if module == "__builtin__":  # Python 2 pickles
            module = "builtins"
        key = (module.replace("numpy.core", "numpy._core"), name)
        if key not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only arrays, lists and "
                "strings"
            )
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            obj = _CifarUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            ImportError, IndexError, KeyError, MemoryError, OverflowError) as exc:
        raise ValueError(
            f"{path} is not a readable CIFAR python batch ({type(exc).__name__}: {exc}); the "
            "file is corrupt or in another format: extract it again from the official "
            "cifar-*-python.tar.gz archive"
        ) from exc
    if not isinstance(obj, dict):
        raise ValueError(  # noqa: TRY004 - a corrupt file, not a caller's wrong type
            f"{path} holds a {type(obj).__name__}, not the dict of a CIFAR python batch; "
            "extract it again from the official cifar-*-python.tar.gz archive"
        )
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _field(batch: Mapping[str, Any], key: str, path: Path) -> Any:
    if key not in batch:
        raise ValueError(
            f"{path} has no {key!r} entry (it has {sorted(batch)}); it is not a CIFAR python "
            "batch of the expected kind (CIFAR-10 batches have 'labels', CIFAR-100 files "
            "'fine_labels' and 'coarse_labels')"
        )
    return batch[key]


def _names(values: Any, key: str, path: Path) -> tuple[str, ...]:
    try:
        return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)
    except TypeError as exc:
        raise ValueError(f"{path}: {key!r} is not a list of names") from exc


def _cifar_pixels(batch: Mapping[str, Any], path: Path) -> np.ndarray:
    data = np.asarray(_field(batch, "data", path))
    if data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(
            f"{path}: 'data' must be a uint8 array of shape (n, 3*h*w) (3072 columns for "
            f"32x32 images); got dtype {data.dtype} and shape {data.shape}"
        )
    if data.shape[0] == 0:
        raise ValueError(f"{path} holds no images (the dataset is empty); check the file")
    side = round(float(np.sqrt(data.shape[1] / 3)))
    if 3 * side * side != data.shape[1]:
        raise ValueError(
            f"{path}: 'data' has {data.shape[1]} columns, which is not 3*s*s for square RGB "
            "images (CIFAR has 3072 = 3*32*32)"
        )
    return data.reshape(data.shape[0], 3, side, side)


def _cifar_labels(batch: Mapping[str, Any], key: str, n: int, path: Path) -> np.ndarray:
    labels = np.asarray(_field(batch, key, path))
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{path}: {key!r} must hold one integer label per image ({n} images); got shape "
            f"{labels.shape} and dtype {labels.dtype}"
        )
    return labels.astype(np.int64)


def _detect_cifar(path: Path) -> tuple[Path, int] | None:
    """The CIFAR directory at ``path`` (itself or an extracted archive folder) and 10 or 100.

    ``None`` if ``path`` is a directory without CIFAR files.
    """
    names = {p.name for p in path.iterdir() if p.is_file()}
    is10 = bool(names & {"batches.meta", "test_batch", *_CIFAR10_TRAIN})
    is100 = "meta" in names and ("train" in names or "test" in names)
    if is10 and is100:
        raise ValueError(
            f"{path} holds files of both CIFAR-10 ({_CIFAR10_EXPECTED}) and CIFAR-100 "
            f"({_CIFAR100_EXPECTED}); keep each data set in its own directory"
        )
    if is10:
        return path, 10
    if is100:
        return path, 100
    subdirs = [path / s for s in _CIFAR_SUBDIRS if (path / s).is_dir()]
    if len(subdirs) == 1:
        return _detect_cifar(subdirs[0])
    return None


def _find_cifar(path: Path) -> tuple[Path, int]:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; give the folder extracted from the archive"
        )
    if not path.is_dir():
        raise ValueError(
            f"{path} is a file; give the directory of CIFAR python batches (extract the "
            "cifar-*-python.tar.gz archive first)"
        )
    found = _detect_cifar(path)
    if found is None:
        raise ValueError(
            f"{path} is not a CIFAR python directory: expected the files {_CIFAR10_EXPECTED} "
            f"(CIFAR-10) or {_CIFAR100_EXPECTED} (CIFAR-100), or one of the folders "
            f"{', '.join(_CIFAR_SUBDIRS)}; found {_listing(path)}"
        )
    return found


def _require(path: Path, files: Sequence[str], kind: str, expected: str) -> None:
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise ValueError(
            f"{path}: the {kind} directory lacks {', '.join(missing)} (expected {expected}; "
            f"found {_listing(path)}); extract the complete archive"
        )


def load_cifar(
    path: str | os.PathLike[str], *, split: SplitName = "test", limit: int | None = None
) -> ImageDataset:
    """Load CIFAR-10 or CIFAR-100 from a directory of python batches.

    The directory is the one extracted from the official archive
    (``cifar-10-batches-py`` with ``batches.meta``, ``data_batch_1`` ...
    ``data_batch_5`` and ``test_batch``; or ``cifar-100-python`` with ``meta``,
    ``train`` and ``test``), or its parent.  Which data set it is comes from the
    file names.  Each batch is a pickled dict with ``data``, a uint8 array
    ``(n, 3072)`` of row-major RGB planes (1024 red, 1024 green, 1024 blue
    values), and the labels.  Only NumPy arrays, lists and strings are
    unpickled; anything else is refused.

    Hierarchy: CIFAR-100 carries its 20 superclasses as level ``"coarse"``
    (names from ``meta``, the fine -> coarse mapping read from the data and
    checked consistent; fine classes absent from the data are placed by
    ``data/hierarchies/cifar100.json``).  CIFAR-10 gets the animal/vehicle
    grouping of ``data/hierarchies/cifar10.json`` (a flat hierarchy if the
    label names differ from the standard ones).

    Parameters
    ----------
    path
        The directory.
    split
        ``"test"`` (10,000 images) or ``"train"`` (50,000 images; for CIFAR-10
        the ``data_batch_<k>`` files present, in order of ``k``).
    limit
        Keep only the first ``limit`` images of the split.

    Returns
    -------
    ImageDataset
        Float32 ``(n, 3, 32, 32)`` images in [0, 1], named ``"cifar10/test"``
        etc.; sample ids are the positions in the split.

    Raises
    ------
    ValueError
        If the directory is not in this format (the message lists the files
        expected and found), a file is corrupt, or labels are inconsistent.
    """
    split = _check_split(split)
    limit = _check_limit(limit)
    root, kind = _find_cifar(Path(path))
    if kind == 10:
        return _load_cifar10(root, split=split, limit=limit)
    return _load_cifar100(root, split=split, limit=limit)


def _load_cifar10(root: Path, *, split: str, limit: int | None) -> ImageDataset:
    if split == "test":
        files = ["test_batch"]
    else:
        pattern = re.compile(r"data_batch_(\d+)$")
        found = sorted(
            (int(m.group(1)), p.name)
            for p in root.iterdir()
            if p.is_file() and (m := pattern.match(p.name))
        )
        files = [name for _, name in found]
        if not files:
            raise ValueError(
                f"{root}: no training batches (expected {_CIFAR10_EXPECTED}; found "
                f"{_listing(root)}); extract the complete archive or use split='test'"
            )
        if [k for k, _ in found] != list(range(1, 6)):
            logger.warning("%s: training batches %s (the full set is data_batch_1..5)", root, files)
    _require(root, ["batches.meta", *files], "CIFAR-10", _CIFAR10_EXPECTED)
    meta_path = root / "batches.meta"
    meta = _unpickle(meta_path)
    class_names = _names(_field(meta, "label_names", meta_path), "label_names", meta_path)
    pixels, labels, taken = [], [], 0
    for fname in files:
        batch_path = root / fname
        batch = _unpickle(batch_path)
        data = _cifar_pixels(batch, batch_path)
        labels.append(_cifar_labels(batch, "labels", data.shape[0], batch_path))
        pixels.append(data)
        taken += data.shape[0]
        if limit is not None and taken >= limit:
            break
    images = np.concatenate(pixels)[:limit]
    fine = np.concatenate(labels)[:limit]
    _check_label_range(fine, len(class_names), root / files[0], "labels")
    shipped = load_hierarchy("cifar10")
    if class_names == shipped.class_names:
        hierarchy = shipped
    else:
        logger.warning(
            "%s: label names %s differ from CIFAR-10's; using a flat hierarchy",
            meta_path, class_names,
        )
        hierarchy = flat_hierarchy(class_names)
    return ImageDataset(
        images=_to_unit_float(images, source=str(root)),
        labels=fine,
        hierarchy=hierarchy,
        name=f"cifar10/{split}",
        sample_ids=np.arange(images.shape[0]),
    )


def _check_label_range(labels: np.ndarray, n_names: int, path: Path, key: str) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= n_names):
        raise ValueError(
            f"{path}: {key!r} range over [{labels.min()}, {labels.max()}] but the meta file "
            f"names {n_names} classes; the files do not belong together"
        )


def _load_cifar100(root: Path, *, split: str, limit: int | None) -> ImageDataset:
    _require(root, ["meta", split], "CIFAR-100", _CIFAR100_EXPECTED)
    meta_path, data_path = root / "meta", root / split
    meta = _unpickle(meta_path)
    fine_names = _names(_field(meta, "fine_label_names", meta_path), "fine_label_names", meta_path)
    coarse_names = _names(
        _field(meta, "coarse_label_names", meta_path), "coarse_label_names", meta_path
    )
    batch = _unpickle(data_path)
    data = _cifar_pixels(batch, data_path)
    fine = _cifar_labels(batch, "fine_labels", data.shape[0], data_path)
    coarse = _cifar_labels(batch, "coarse_labels", data.shape[0], data_path)
    _check_label_range(fine, len(fine_names), data_path, "fine_labels")
    _check_label_range(coarse, len(coarse_names), data_path, "coarse_labels")
    parents = _parents_from_data(
        fine, coarse, fine_names=fine_names, coarse_names=coarse_names, source=str(data_path)
    )
    missing = [i for i, p in enumerate(parents) if p < 0]
    if missing:
        parents = _fill_from_shipped(
            parents, fine_names=fine_names, coarse_names=coarse_names, source=str(data_path)
        )
    hierarchy = ClassHierarchy(
        class_names=fine_names,
        parents={"coarse": tuple(int(p) for p in parents)},
        level_names={"coarse": coarse_names},
    )
    keep = slice(None, limit)
    return ImageDataset(
        images=_to_unit_float(data[keep], source=str(data_path)),
        labels=fine[keep],
        hierarchy=hierarchy,
        name=f"cifar100/{split}",
        sample_ids=np.arange(data[keep].shape[0]),
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


def _fill_from_shipped(
    parents: np.ndarray, *, fine_names: Sequence[str], coarse_names: Sequence[str], source: str
) -> np.ndarray:
    shipped = load_hierarchy("cifar100")
    shipped_index = {c: i for i, c in enumerate(shipped.class_names)}
    coarse_index = {c: i for i, c in enumerate(coarse_names)}
    shipped_coarse = shipped.names("coarse")
    out = parents.copy()
    unplaced = []
    for i in np.flatnonzero(parents < 0):
        name = fine_names[i]
        if name in shipped_index:
            group = shipped_coarse[shipped.parents["coarse"][shipped_index[name]]]
            if group in coarse_index:
                out[i] = coarse_index[group]
                continue
        unplaced.append(name)
    if unplaced:
        raise ValueError(
            f"{source}: no image of the fine classes {unplaced[:10]} (of {len(unplaced)}) tells "
            "their coarse class, and they are not standard CIFAR-100 classes; load the full "
            "split or pass the hierarchy explicitly"
        )
    logger.info(
        "%s: %d fine classes without images were placed by the shipped cifar100 hierarchy",
        source, int((parents < 0).sum()),
    )
    return out


# ---------------------------------------------------------------------- image folder


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
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
        logger.warning("%s: %d images directly in the root are ignored (not in a class folder)",
                       root, len(loose))
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
    arrays = []
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


# ----------------------------------------------------------------------------- npz


def load_npz(
    path: str | os.PathLike[str],
    *,
    layout: Layout = "auto",
    hierarchy: HierarchyLike = None,
    name: str | None = None,
) -> ImageDataset:
    """Load images and labels from an ``.npz`` file (as written by :func:`numpy.savez`).

    Arrays in the file:

    * ``images`` (required): ``(n, h, w)`` grayscale, or ``(n, h, w, c)`` /
      ``(n, c, h, w)`` with ``c`` channels.  Pixel values: uint8 (divided by
      255), uint16 (divided by 65535), other integers in 0..255 (divided by
      255), or floats already in [0, 1].
    * ``labels`` (required): ``(n,)`` integers from 0.
    * ``class_names`` (optional): one name per class (default ``"0"``, ``"1"``, ...).
    * ``coarse_labels`` (optional): ``(n,)`` integers; becomes the hierarchy
      level ``"coarse"`` (the fine -> coarse mapping must be consistent), with
      group names from ``coarse_names`` (optional).

    Layout rule for ``layout="auto"``: a 3-D array is ``(n, h, w)``; a 4-D array
    is ``(n, c, h, w)`` if axis 1 has size 1 or 3 and axis 3 does not,
    ``(n, h, w, c)`` if axis 3 has size 1 or 3 and axis 1 does not; anything
    else is ambiguous and an error.  State ``layout="nhw"``, ``"nhwc"`` or
    ``"nchw"`` to skip the guess (needed, e.g., for 4-channel images).

    Parameters
    ----------
    path
        The file.
    layout
        ``"auto"``, ``"nhw"``, ``"nhwc"`` or ``"nchw"``.
    hierarchy
        Optional :class:`ClassHierarchy`, shipped name or JSON path; overrides
        ``class_names`` / ``coarse_labels`` (a warning is logged if both are given).
    name
        Name of the dataset (default: the file's stem).

    Returns
    -------
    ImageDataset
        Float32 ``(n, c, h, w)`` images; sample ids ``0..n-1``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    source = str(path)
    _check_npz_magic(path, how="numpy.savez(path, images=..., labels=...)")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(  # noqa: TRY004 - the file's content, not a caller's type
                f"{path} holds a single array, not an .npz archive; save images and labels "
                "with numpy.savez(path, images=..., labels=...)"
            )
        with npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"{path} is not a readable .npz file ({exc}); write it with "
            "numpy.savez(path, images=..., labels=...)"
        ) from exc
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                f"{path} stores Python objects (e.g. an object array of names); store names as "
                "a string array, e.g. numpy.array(names, dtype=str)"
            ) from exc
        raise
    if "images" not in arrays and "input_ids" in arrays:
        raise ValueError(
            f"{path} holds token data (an 'input_ids' array), not images; load it with "
            "tda_activations.datasets.load_token_npz"
        )
    for key in ("images", "labels"):
        if key not in arrays:
            raise ValueError(
                f"{path} has no {key!r} array (it has {sorted(arrays)}); write the file with "
                "numpy.savez(path, images=..., labels=...)"
            )
    images, labels = arrays["images"], arrays["labels"]
    if images.ndim >= 1 and images.shape[0] == 0:
        raise ValueError(f"{path}: 'images' holds no images; the dataset is empty")
    images = _to_nchw(images, layout=layout, source=source)
    labels = _check_labels(labels, images.shape[0], source=source, key="labels")
    resolved = _resolve_hierarchy(hierarchy)
    if resolved is not None:
        if "class_names" in arrays or "coarse_labels" in arrays:
            logger.warning("%s: the given hierarchy overrides the names stored in the file", path)
    else:
        resolved = _hierarchy_from_arrays(arrays, labels, source=source)
    return ImageDataset(
        images=_to_unit_float(images, source=source),
        labels=labels,
        hierarchy=resolved,
        name=name or path.stem,
        sample_ids=np.arange(images.shape[0]),
    )


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


# ---------------------------------------------------------------------- torchvision


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
    images, labels = [], []
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
            tuple(str(c) for c in classes) if classes is not None
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


# ------------------------------------------------------------------------ dispatch

_DIGITS = re.compile(r"^digits(?::x(\d+))?$")


def load_dataset(
    spec: str | os.PathLike[str],
    *,
    split: SplitName = "test",
    limit: int | None = None,
    size: int | tuple[int, int] | None = None,
) -> ImageDataset:
    """Load a dataset from a name or a path: the one entry point for the CLI and configs.

    Accepted specifications:

    * ``"digits"`` or ``"digits:x<k>"``: the embedded digits, upsampled ``k`` times
      (``"digits:x4"`` gives 32x32 images);
    * a CIFAR-10 / CIFAR-100 python directory (or its parent): :func:`load_cifar`;
    * an image folder ``root/<class>/<image>``, or ``root/train/<class>/...`` and
      ``root/test/<class>/...``: :func:`load_image_folder` (resized to ``size``);
    * an ``.npz`` file: :func:`load_npz` (one set: ``split`` is not used).

    Parameters
    ----------
    spec
        Name or path.
    split
        ``"test"`` or ``"train"`` for digits, CIFAR and split image folders.
    limit
        Keep the first ``limit`` samples.
    size
        Resize images of an image folder to this size.

    Returns
    -------
    ImageDataset
        The data.
    """
    split = _check_split(split)
    limit = _check_limit(limit)
    text = os.fspath(spec)
    match = _DIGITS.match(text) if isinstance(text, str) else None
    if match:
        return _load_digits_spec(text, int(match.group(1) or 1), split=split, limit=limit)
    else:
        path = Path(text)
        if not path.exists():
            if text.startswith("digits"):
                raise ValueError(f"{text!r}: write 'digits' or 'digits:x<k>' (e.g. 'digits:x4')")
            raise FileNotFoundError(
                f"{text!r} is neither a known dataset name ('digits', 'digits:x<k>') nor an "
                "existing path (a CIFAR directory, an image folder or an .npz file)"
            )
        dataset = _load_path(path, split=split, size=size, limit=limit)
    if limit is not None and limit < len(dataset):
        dataset = dataset.subset(np.arange(limit))
    return dataset


def _load_digits_spec(text: str, upsample: int, *, split: str, limit: int | None) -> ImageDataset:
    """``digits:x<k>``: take the split and the first ``limit`` images, then upsample only those
    (the same pixels as upsampling everything first, without its memory)."""
    from .embedded import check_upsample, digits_name, load_digits, upsample_images

    if upsample < 1:
        raise ValueError(f"{text!r}: the upsampling factor must be at least 1 (e.g. 'digits:x4')")
    parts = load_digits()
    small = parts.train if split == "train" else parts.test
    if limit is not None and limit < len(small):
        small = small.subset(np.arange(limit))
    try:
        check_upsample(upsample, len(small))
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    if upsample == 1:
        return small
    return ImageDataset(
        images=upsample_images(np.asarray(small.images), upsample), labels=small.labels,
        hierarchy=small.hierarchy, name=digits_name(upsample, split),
        sample_ids=small.sample_ids,
    )


def _load_path(path: Path, *, split: str, size: Any, limit: int | None) -> ImageDataset:
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return load_npz(path)
        raise ValueError(
            f"{path}: cannot load a {path.suffix or 'suffix-less'} file; give an .npz file, a "
            "CIFAR python directory or an image folder"
        )
    found = _detect_cifar(path)
    if found is not None:
        return load_cifar(found[0], split=split, limit=limit)
    split_dir = path / split
    if (path / "train").is_dir() and (path / "test").is_dir():
        return load_image_folder(split_dir, size=size, name=f"{path.name}/{split}")
    folders = _class_folders(path)
    if folders and any(_image_files(f) for f in folders):
        return load_image_folder(path, size=size)
    raise ValueError(
        f"{path} is not a dataset directory: expected a CIFAR python directory "
        f"({_CIFAR10_EXPECTED} or {_CIFAR100_EXPECTED}) or an image folder root/<class>/<image>; "
        f"found {_listing(path)}"
    )
