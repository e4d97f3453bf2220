"""CIFAR-10 / CIFAR-100 *python* batches, as extracted from the official archives."""

from __future__ import annotations

import logging
import os
import pickle
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ...types import ClassHierarchy, ImageDataset
from ..hierarchy import flat_hierarchy, load_hierarchy
from ._common import (
    SplitName,
    _check_limit,
    _check_split,
    _listing,
    _parents_from_data,
    _to_unit_float,
)

__all__ = ["load_cifar"]

logger = logging.getLogger(__name__)


_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR10_EXPECTED = "batches.meta, data_batch_1 ... data_batch_5, test_batch"
_CIFAR100_EXPECTED = "meta, train, test"
_CIFAR_SUBDIRS = ("cifar-10-batches-py", "cifar-100-python")


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
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        MemoryError,
        OverflowError,
    ) as exc:
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
            meta_path,
            class_names,
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
        name = fine_names[int(i)]
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
        source,
        int((parents < 0).sum()),
    )
    return out
