"""``.npz`` files of images and labels (as written by :func:`numpy.savez`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ...types import ImageDataset
from ._common import (
    HierarchyLike,
    Layout,
    _check_labels,
    _hierarchy_from_arrays,
    _resolve_hierarchy,
    _to_nchw,
    _to_unit_float,
)
from ._npz import read_npz

__all__ = ["load_npz"]

logger = logging.getLogger(__name__)


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
    arrays = read_npz(
        path, how="numpy.savez(path, images=..., labels=...)", what="images and labels"
    )
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
