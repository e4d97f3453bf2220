"""Lenses (filter functions) for Mapper: one value (or a few) per point of a cloud.

A lens is a :class:`Lens`: a name, its parameters and a function from a cloud
``(n, dim)`` to lens values ``(n,)`` or ``(n, k)``.  The built-in lenses are

========================  ==========================================================
``"l2norm"``              Euclidean norm of each activation vector (the paper's lens)
``"pca"``                 the first ``n_components`` principal components
``"knn_distance"``        distance to the ``k``-th nearest other point
``"eccentricity"``        ``(mean_j d(x_i, x_j)^p)^(1/p)``, the L^p eccentricity
========================  ==========================================================

Any callable ``cloud -> array`` can be used as a lens too (see :func:`as_lens`).
Scaling (min-max to ``[0, 1]`` per column, as in the paper) is applied by
:func:`~tda_activations.mapper.mapper_graph`, not by the lenses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._distances import allowed_threads
from .._registry import Registry

__all__ = [
    "LENSES",
    "Lens",
    "as_lens",
    "eccentricity_lens",
    "knn_distance_lens",
    "kth_neighbor_distances",
    "l2norm_lens",
    "pca_lens",
]


@dataclass(frozen=True)
class Lens:
    """A named lens with its parameters.

    Attributes
    ----------
    name
        Short name recorded in the graph's parameters (``"l2norm"``, ...).
    func
        ``func(cloud) -> values`` with ``values`` of shape ``(n,)`` or ``(n, k)``.
    params
        Parameters of the lens (recorded with the graph).
    """

    name: str
    func: Callable[[np.ndarray], Any]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, cloud: np.ndarray) -> np.ndarray:
        """Lens values of every point of ``cloud``, as float64 ``(n,)`` or ``(n, k)``."""
        values = np.asarray(self.func(cloud), dtype=np.float64)
        n = cloud.shape[0]
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        if values.ndim not in (1, 2) or values.shape[0] != n:
            raise ValueError(
                f"lens {self.name!r} returned shape {values.shape} for a cloud of {n} points; "
                "a lens must return one value (shape (n,)) or one row (shape (n, k)) per point"
            )
        return values

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description: ``{"name": ..., **params}``."""
        return {"name": self.name, **{k: v for k, v in self.params.items()}}


def l2norm_lens() -> Lens:
    """Build the lens of the Euclidean (L2) norm of each activation vector (the paper's lens).

    Returns
    -------
    Lens
        The lens.
    """
    return Lens("l2norm", lambda x: np.linalg.norm(np.asarray(x, dtype=np.float64), axis=1))


def pca_lens(*, n_components: int = 1, seed: int = 0) -> Lens:
    """Projection on the first ``n_components`` principal components (scikit-learn PCA).

    Parameters
    ----------
    n_components
        How many components; more than 2 makes a cover of ``n_intervals ** n_components``
        hypercubes, so keep it small.
    seed
        Random state of the (possibly randomised) SVD solver.

    Returns
    -------
    Lens
        The lens.
    """
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")

    def func(x: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import PCA

        x = np.asarray(x, dtype=np.float64)
        k = min(int(n_components), x.shape[1], max(x.shape[0], 1))
        if x.shape[0] < 2:
            return np.zeros((x.shape[0], int(n_components)))
        out = PCA(n_components=k, random_state=seed).fit_transform(x)
        if k < n_components:  # pad: fewer dims than asked
            out = np.hstack([out, np.zeros((x.shape[0], int(n_components) - k))])
        return out

    return Lens("pca", func, {"n_components": int(n_components), "seed": int(seed)})


_KDTREE_MAX_DIM = 16


def kth_neighbor_distances(
    cloud: np.ndarray, *, k: int, rows: np.ndarray | None = None
) -> np.ndarray:
    """Euclidean distance from each point to its ``k``-th nearest *other* point.

    Exact duplicates count as neighbours at distance 0.  Up to 16 dimensions a SciPy
    KD-tree; above, a certified brute-force search (scikit-learn's chunked search for
    candidates, their distances recomputed from the differences, and a rounding bound
    that proves no other point is closer; rows without that proof are searched again
    exactly).

    Parameters
    ----------
    cloud
        Points ``(n, dim)``; needs ``n > k``.
    k
        Rank of the neighbour (1 = the nearest other point).
    rows
        Only these points' distances (int indices into ``cloud``; their
        neighbours are still searched among all points), in this order.  The
        values are those of the whole-cloud call, bit for bit.  Default: all.

    Returns
    -------
    numpy.ndarray
        Float64 ``(n,)``, or ``(len(rows),)``.
    """
    x = np.asarray(cloud)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if x.shape[0] <= k:
        raise ValueError(
            f"the cloud has {x.shape[0]} points, so there is no {k}-th nearest other point; "
            f"give more than {k} points or a smaller k"
        )
    if rows is None:
        rows = np.arange(x.shape[0])
    rows = np.asarray(rows)
    if (
        rows.ndim != 1
        or not np.issubdtype(rows.dtype, np.integer)
        or (rows.size and (rows.min() < 0 or rows.max() >= x.shape[0]))
    ):
        raise ValueError(f"rows must be a 1-D array of indices in [0, {x.shape[0]}), got {rows!r}")
    rows = rows.astype(np.int64)
    if x.shape[1] <= _KDTREE_MAX_DIM:
        # Low dimension: a KD-tree is exact and far faster than brute force.
        from scipy.spatial import cKDTree

        xf = np.asarray(x, dtype=np.float64)
        # rows are independent: as many threads as BLAS may use here (1 in a batch worker)
        dist, _ = cKDTree(xf).query(xf[rows], k=int(k) + 1, workers=allowed_threads())
        return np.asarray(dist[:, int(k)], dtype=np.float64)
    return _brute_kth(np.asarray(x, dtype=np.float64), rows, int(k))


#: Candidates kept per point beyond the k + 1 needed, in the brute-force search.
_SLACK = 8


def _exact_distances(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``|x[rows[i]] - x[cols[i, j]]|`` from the differences (no Gram-formula cancellation)."""
    diff = x[cols] - x[rows, None, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def _brute_kth(x: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """Exact k-th neighbour distances by a certified brute-force search.

    scikit-learn's brute-force search (squared distances as ``|a|^2 + |b|^2 - 2 a.b``
    from matrix products, chunked) returns the ``k + 1 + 8`` nearest candidates and the
    next point; the candidates' distances are recomputed from the differences.  The
    product's rounding error is at most ``(dim + 4) eps (|a| + |b|)^2`` whatever the
    summation order, so if the next point's squared distance minus that bound is still
    at least the candidates' ``k``-th (or that is 0), no point outside the candidates
    can be closer: the result is exact.  Rows without that certificate (near-ties at
    the boundary, or a cloud far from the origin) are recomputed against every point.
    """
    from sklearn.neighbors import NearestNeighbors

    n, dim = x.shape
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    big = float(norms.max()) if n else 0.0
    slack = (dim + 8) * np.finfo(np.float64).eps
    keep = min(n, k + 1 + _SLACK)
    nn = NearestNeighbors(n_neighbors=min(n, keep + 1), algorithm="brute").fit(x)
    dist, idx = nn.kneighbors(x[rows])
    cand = idx[:, :keep]
    nearest_excluded = dist[:, keep] ** 2 if keep < n else np.full(rows.size, np.inf)
    out = np.empty(rows.size)
    step = max(1, 2**22 // (keep * max(dim, 1)))  # ~32 MB of differences per chunk
    for s in range(0, rows.size, step):
        exact = _exact_distances(x, rows[s : s + step], cand[s : s + step])
        exact.sort(axis=1)
        out[s : s + step] = exact[:, k]
    bound = slack * (norms[rows] + big) ** 2
    certain = (out == 0) | (out * out <= nearest_excluded - bound)
    for i in np.flatnonzero(~certain):  # near-ties: every point, from the differences
        row = _exact_distances(x, rows[i : i + 1], np.arange(n)[None, :])[0]
        out[i] = np.partition(row, k)[k]
    return out


def knn_distance_lens(*, k: int = 5) -> Lens:
    """Build the lens of the distance to the ``k``-th nearest other point (density-like).

    Parameters
    ----------
    k
        Which neighbour, a positive integer.

    Returns
    -------
    Lens
        The lens.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")

    def func(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.shape[0] <= k:
            return np.zeros(x.shape[0])
        return kth_neighbor_distances(x, k=int(k))

    return Lens("knn_distance", func, {"k": int(k)})


def eccentricity_lens(*, p: float = 1.0) -> Lens:
    """L^p eccentricity ``(mean_j ||x_i - x_j||^p)^(1/p)`` (``p=inf``: the largest distance).

    Computed in row chunks, so memory stays bounded for large clouds.

    Parameters
    ----------
    p
        Exponent, positive or ``inf``.

    Returns
    -------
    Lens
        The lens.
    """
    p = float(p)
    if not p > 0:
        raise ValueError(f"p must be positive (or inf), got {p!r}")

    def func(x: np.ndarray) -> np.ndarray:
        from sklearn.metrics import pairwise_distances_chunked

        x = np.asarray(x, dtype=np.float64)
        out = []
        for block in pairwise_distances_chunked(x, metric="euclidean"):
            if np.isinf(p):
                out.append(block.max(axis=1))
            else:
                out.append(np.mean(block**p, axis=1) ** (1.0 / p))
        return np.concatenate(out) if out else np.zeros(0)

    return Lens("eccentricity", func, {"p": p})


#: The lenses by name (a :class:`~tda_activations._registry.Registry` of lens factories).
LENSES: Registry[Lens] = Registry("lens", types=Lens)
LENSES.register("l2norm", l2norm_lens, description="L2 norm of each activation vector")
LENSES.register("pca", pca_lens, description="projection on the top principal components")
LENSES.register("knn_distance", knn_distance_lens, description="distance to the k-th neighbour")
LENSES.register("eccentricity", eccentricity_lens, description="L_p mean distance to all points")


def as_lens(lens: str | Lens | Callable[[np.ndarray], Any], **params: Any) -> Lens:
    """Turn a lens name, a :class:`Lens` or a callable into a :class:`Lens`.

    Parameters
    ----------
    lens
        ``"l2norm"``, ``"pca"``, ``"knn_distance"``, ``"eccentricity"``, a :class:`Lens`,
        or any callable ``cloud -> values``.
    **params
        Parameters for a named lens (``n_components=2``, ``k=10``, ``p=2``...).

    Returns
    -------
    Lens
        The lens.

    Raises
    ------
    ValueError
        For an unknown name (close matches are suggested) or parameters given with
        something that is not a name.
    TypeError
        If ``lens`` is none of the above.
    """
    if isinstance(lens, Lens):
        if params:
            raise ValueError("lens parameters can only be given with a lens name")
        return lens
    if isinstance(lens, str):
        try:
            return LENSES.get(lens, **params)
        except TypeError as exc:
            raise ValueError(f"bad parameters for lens {lens!r}: {exc}") from exc
    if callable(lens):
        if params:
            raise ValueError("lens parameters can only be given with a lens name")
        name = getattr(lens, "__qualname__", None) or type(lens).__name__
        return Lens(f"callable:{getattr(lens, '__module__', '?')}.{name}", lens)
    raise TypeError(
        f"lens must be a name ({', '.join(LENSES)}), a Lens or a callable; got "
        f"{type(lens).__name__}"
    )
