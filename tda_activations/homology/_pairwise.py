"""Distance matrices that are exact where it matters.

The Gram-matrix identity ``|x - y|^2 = |x|^2 + |y|^2 - 2 x.y`` is fast (one
matrix product) but loses relative accuracy when ``|x - y|`` is small next to
``|x|`` and ``|y|``: identical rows come out at ~1e-7 instead of 0, which
creates spurious H0 bars.  Here the Gram identity is used only where it is
accurate, and every pair whose squared distance is below ``_RECOMPUTE`` times
``|x|^2 + |y|^2`` (where cancellation could cost more than ~1e-13 relative) is
recomputed directly as ``sum((x - y)^2)``.  Identical rows therefore get
exactly 0.  BLAS runs on one thread here so a result never depends on the
number of threads (parallel and sequential runs give identical bits).

``distances="ripser-compatible"`` in :func:`persistence` instead calls
scikit-learn's ``pairwise_distances`` exactly as ripser.py does, to reproduce a
ripser.py pipeline bit for bit (with its spurious H0 bars for duplicates).
"""

from __future__ import annotations

import numpy as np

__all__ = ["distances_to_point", "pairwise_distances", "single_thread", "unique_rows"]

# Gram-identity error ~ sqrt(dim) * eps * (|x|^2 + |y|^2); dividing by this fraction of
# |x|^2 + |y|^2 bounds the relative error of the kept entries to about 1e-13 for dim <= 10^4.
_RECOMPUTE = 1e-2
_CHUNK = 1 << 16


def single_thread():  # pragma: no cover - trivial
    """Context limiting BLAS to one thread (results then never depend on the thread count)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _exact_sq(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = np.empty(i.size, dtype=np.float64)
    for start in range(0, i.size, _CHUNK):
        sl = slice(start, start + _CHUNK)
        diff = x[i[sl]] - x[j[sl]]
        out[sl] = np.einsum("ij,ij->i", diff, diff)
    return out


def pairwise_distances(x: np.ndarray, *, metric: str = "euclidean") -> np.ndarray:
    """Dense symmetric float64 distance matrix of the rows of ``x``.

    Parameters
    ----------
    x
        Float64 ``(n, dim)`` array (already validated).
    metric
        ``"euclidean"`` (exact, see the module notes) or any metric name of
        :func:`scipy.spatial.distance.pdist`.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` float64, exactly symmetric, zero diagonal.
    """
    if metric != "euclidean":
        from scipy.spatial.distance import pdist, squareform

        try:
            condensed = pdist(x, metric=metric)
        except ValueError as exc:
            raise ValueError(
                f"unknown or unusable metric {metric!r} for scipy's pdist ({exc}); use "
                "'euclidean', 'cityblock', 'chebyshev', 'cosine', 'correlation', ..."
            ) from exc
        if not np.isfinite(condensed).all():
            raise ValueError(
                f"metric {metric!r} gave NaN or infinite distances (e.g. cosine of a zero vector); "
                "remove such points or choose another metric"
            )
        return squareform(np.maximum(condensed, 0.0), checks=False)
    # Centring leaves distances unchanged and shrinks the norms, so fewer pairs need the
    # direct recomputation (activation clouds sit far from the origin).
    x = x - x.mean(axis=0)
    with single_thread():
        sq = np.einsum("ij,ij->i", x, x)
        d2 = x @ x.T
    d2 *= -2.0
    d2 += sq[:, None]
    d2 += sq[None, :]
    scale = sq[:, None] + sq[None, :]
    scale *= _RECOMPUTE
    iu, ju = np.nonzero(np.triu(d2 < scale, 1))
    del scale
    if iu.size:
        d2[iu, ju] = _exact_sq(x, iu, ju)
    d2 = np.triu(d2, 1)
    d2 += d2.T
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def distances_to_point(x: np.ndarray, sq: np.ndarray, i: int, *, metric: str = "euclidean") -> np.ndarray:
    """Distances from row ``i`` of ``x`` to every row (``sq`` = squared row norms)."""
    if metric != "euclidean":
        from scipy.spatial.distance import cdist

        return cdist(x[i : i + 1], x, metric=metric)[0]
    d2 = sq + sq[i] - 2.0 * (x @ x[i])  # callers hold single_thread() around their loop
    fix = np.flatnonzero(d2 < _RECOMPUTE * (sq + sq[i]))
    if fix.size:
        diff = x[fix] - x[i]
        d2[fix] = np.einsum("ij,ij->i", diff, diff)
    d2[i] = 0.0
    return np.sqrt(np.maximum(d2, 0.0, out=d2))


def unique_rows(x: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row, in their original order."""
    if x.shape[0] <= 1:
        return np.arange(x.shape[0])
    # +0.0 turns -0.0 into 0.0 so both compare equal bytewise.
    _, first = np.unique(x + 0.0, axis=0, return_index=True)
    return np.sort(first)
