"""The probes' one input check: numeric, finite, non-empty samples (NumPy only, no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..types import ImageDataset

__all__ = ["as_inputs"]


def as_inputs(data: Any, *, name: str = "data") -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs (float32, ``(n, ...)``) and labels (int64 or ``None``) of ``data``.

    ``data`` is an :class:`~tda_activations.types.ImageDataset`, an array of
    inputs, or an ``(inputs, labels)`` pair of arrays.
    """
    labels = None
    if isinstance(data, ImageDataset):
        x, labels = np.asarray(data.images), np.asarray(data.labels)
    elif isinstance(data, tuple) and len(data) == 2:
        x, labels = np.asarray(data[0]), np.asarray(data[1])
    else:
        x = np.asarray(data)
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name}: expected numeric inputs, got dtype {x.dtype}")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{name}: expected inputs of shape (n_samples, ...) with n_samples >= 1, got shape "
            f"{x.shape}; give a 2-D array (n, features) or an ImageDataset"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: the inputs contain NaN or infinite values; clean them first")
    if labels is not None:
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"{name}: labels must be integers, got dtype {labels.dtype}")
        if labels.shape != (x.shape[0],):
            raise ValueError(
                f"{name}: {labels.shape} labels for {x.shape[0]} inputs; give one label each"
            )
        labels = labels.astype(np.int64)
    x = x.astype(np.float32, copy=False)
    if not x.flags.writeable:  # torch warns on read-only arrays (frozen containers)
        x = x.copy()
    return x, labels
