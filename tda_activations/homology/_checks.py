"""Input checks of the homology stage: distance matrices, diagrams, maxdim, coeff.

Point clouds are checked by the package's one cloud check, :func:`tda_activations._checks.as_cloud`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._distances import BLOCK_ENTRIES, mirror_upper
from ..types import Diagrams

__all__ = ["as_diagram", "as_distance_matrix", "check_coeff", "check_maxdim"]


def as_distance_matrix(dist: Any, *, name: str = "distance matrix") -> np.ndarray:
    """Validate a dense distance matrix; return a symmetric float64 copy with a zero diagonal.

    The matrix must be square, finite, non-negative, symmetric (up to 1e-12
    relative) and have a zero diagonal.  The upper triangle is mirrored onto
    the lower one so every engine sees exactly the same values.
    """
    if hasattr(dist, "toarray") and not isinstance(dist, np.ndarray):
        raise TypeError(f"{name}: sparse matrices are not supported; pass a dense array")
    arr = np.asarray(dist)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name}: must be square (n, n), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: is empty; give at least one point")
    arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    n = arr.shape[0]
    # checked and mirrored per block of rows: no other n x n temporary is made
    step = max(1, BLOCK_ENTRIES // n)
    scale, asym = 0.0, 0.0
    for start in range(0, n, step):
        rows = arr[start : start + step]
        if not np.isfinite(rows).all():
            raise ValueError(
                f"{name}: contains NaN or infinite entries; use finite distances (to leave out "
                "long edges, pass a threshold instead of infinite distances)"
            )
        if (rows < 0).any():
            raise ValueError(f"{name}: contains negative entries; distances must be >= 0")
        scale = max(scale, float(rows.max()))
        asym = max(asym, float(np.max(np.abs(rows - arr[:, start : start + step].T))))
    if np.any(np.diagonal(arr) != 0):
        raise ValueError(f"{name}: the diagonal must be zero (a point is at distance 0 of itself)")
    if asym > 1e-12 * max(scale, 1e-300):
        raise ValueError(
            f"{name}: is not symmetric (largest |D - D.T| = {asym:.3g}); symmetrise it, e.g. "
            "(D + D.T) / 2"
        )
    return mirror_upper(arr)  # the upper triangle onto the lower one


def check_maxdim(maxdim: Any) -> int:
    """Check a homology dimension bound (an integer >= 0)."""
    if isinstance(maxdim, bool) or not isinstance(maxdim, (int, np.integer)):
        raise TypeError(f"maxdim must be an integer >= 0, got {maxdim!r}")
    if maxdim < 0:
        raise ValueError(f"maxdim must be >= 0, got {maxdim}")
    return int(maxdim)


def _is_prime(p: int) -> bool:
    if p < 2:
        return False
    if p % 2 == 0:
        return p == 2
    return all(p % k for k in range(3, math.isqrt(p) + 1, 2))


def check_coeff(coeff: Any) -> int:
    """Check a field coefficient (a prime number)."""
    if isinstance(coeff, bool) or not isinstance(coeff, (int, np.integer)):
        raise TypeError(f"coeff must be a prime integer, got {coeff!r}")
    if not _is_prime(int(coeff)):
        raise ValueError(f"coeff must be a prime number (the field Z/pZ), got {coeff}")
    if coeff > 46337:
        raise ValueError(f"coeff={coeff} is too large for the engines; use a prime below 46337")
    return int(coeff)


def as_diagram(dgm: Any, *, dim: int | None = None, name: str = "diagram") -> np.ndarray:
    """One diagram as a float64 ``(k, 2)`` array of (birth, death) pairs.

    ``dgm`` is a :class:`~tda_activations.types.Diagrams` (then ``dim`` picks
    the dimension) or anything shaped ``(k, 2)``.  Births must be finite,
    deaths may be ``inf`` (essential bars) and must not precede births.
    """
    if isinstance(dgm, Diagrams):
        if dim is None:
            raise ValueError(f"{name}: a Diagrams object needs dim= (the homology dimension)")
        arr = dgm[int(dim)]
    else:
        arr = np.asarray(dgm, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(
                f"{name}: must have shape (k, 2) of (birth, death) pairs, got {arr.shape}"
            )
    arr = np.asarray(arr, dtype=np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"{name}: contains NaN")
    if not np.isfinite(arr[:, 0]).all():
        raise ValueError(f"{name}: births must be finite")
    if (arr[:, 1] < arr[:, 0]).any():
        raise ValueError(f"{name}: some deaths precede their births")
    if (arr[:, 1] == -np.inf).any():  # pragma: no cover - caught above
        raise ValueError(f"{name}: deaths cannot be -inf")
    return arr
