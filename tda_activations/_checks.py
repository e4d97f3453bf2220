"""The one check of a point cloud, shared by every stage that takes clouds.

Homology, Mapper, the similarity measures and the subsampling all accept "a point cloud":
a numeric ``(points, features)`` array with at least one point, at least one feature and
finite coordinates.  They differ only in how many points they need and what they do with
the dtype, which are options here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_cloud"]


def as_cloud(
    cloud: Any,
    *,
    name: str = "cloud",
    min_points: int = 1,
    purpose: str = "",
    keep_dtype: bool = False,
) -> np.ndarray:
    """Check a point cloud and return it as a C-contiguous 2-D array.

    Parameters
    ----------
    cloud
        Anything :func:`numpy.asarray` turns into a real ``(points, features)`` array.
    name
        What the cloud is called in error messages.
    min_points
        Fewest points accepted.
    purpose
        What the cloud is for (``"persistence"``, ``"this measure"``), said in errors.
    keep_dtype
        Keep integer and floating dtypes as they are (the Mapper stage hands the cloud to
        scikit-learn unchanged); by default the result is float64.

    Returns
    -------
    numpy.ndarray
        The cloud, C-contiguous (a copy only where a conversion was needed).

    Raises
    ------
    TypeError
        If the values are not real numbers.
    ValueError
        If the array is not 2-D, has fewer than ``min_points`` points or no features, or
        has NaN or infinite coordinates (the first offending rows are named).

    Examples
    --------
    >>> as_cloud([[0, 1], [2, 3]]).dtype
    dtype('float64')
    >>> as_cloud([1.0, 2.0])
    Traceback (most recent call last):
    ...
    ValueError: cloud: got a 1-D array of shape (2,); a point cloud is 2-D (points, features). Use cloud.reshape(-1, 1) for points on a line or cloud.reshape(1, -1) for one point
    """
    try:
        arr = np.asarray(cloud)
    except Exception as exc:  # noqa: BLE001 - ragged lists and exotic inputs
        raise TypeError(f"{name}: could not be read as an array ({exc})") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name}: expected numeric values, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name}: complex values are not supported; pass real coordinates")
    if arr.ndim == 1:
        raise ValueError(
            f"{name}: got a 1-D array of shape {arr.shape}; a point cloud is 2-D (points, "
            "features). Use cloud.reshape(-1, 1) for points on a line or cloud.reshape(1, -1) "
            "for one point"
        )
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: a point cloud must be 2-D (points, features), got shape {arr.shape}; "
            "reduce feature maps first (acts.cloud(layer), or the extraction's reductions)"
        )
    n = arr.shape[0]
    if n == 0:
        raise ValueError(f"{name}: the point cloud is empty (no points); give at least one point")
    if n < min_points:
        raise ValueError(
            f"{name}: {n} points given, but {purpose or 'this'} needs at least {min_points} "
            "points; give more points"
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name}: the points have no coordinates (shape {arr.shape})")
    if keep_dtype and (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        arr = np.ascontiguousarray(arr)
    else:
        arr = np.ascontiguousarray(arr, dtype=np.float64)
    finite = np.isfinite(arr).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        more = "..." if rows.size > 5 else ""
        raise ValueError(
            f"{name}: NaN or inf in {rows.size} of {n} points (rows {rows[:5].tolist()}{more}); "
            "remove or impute these non-finite (NaN or infinite) coordinates"
            + (f" before {purpose}" if purpose else "")
        )
    return arr
