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
divided by 255, 16-bit data by 65535), int64 labels and a class hierarchy.  Each format
has its own module in :mod:`tda_activations.datasets.formats`; this module is their one
entry point.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..types import ImageDataset
from .formats import IMAGE_EXTENSIONS, from_torchvision, load_cifar, load_image_folder, load_npz
from .formats._common import SplitName, _check_limit, _check_split, _listing
from .formats.cifar import _CIFAR10_EXPECTED, _CIFAR100_EXPECTED, _detect_cifar
from .formats.image_folder import _class_folders, _image_files

__all__ = [
    "IMAGE_EXTENSIONS",
    "from_torchvision",
    "load_cifar",
    "load_dataset",
    "load_image_folder",
    "load_npz",
]

logger = logging.getLogger(__name__)


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
    """``digits:x<k>``: the split's first ``limit`` images, then upsampled.

    Upsampling only those gives the same pixels as upsampling everything first, without its
    memory.
    """
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
        images=upsample_images(np.asarray(small.images), upsample),
        labels=small.labels,
        hierarchy=small.hierarchy,
        name=digits_name(upsample, split),
        sample_ids=small.sample_ids,
    )


def _load_path(path: Path, *, split: SplitName, size: Any, limit: int | None) -> ImageDataset:
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
