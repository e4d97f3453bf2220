"""Vietoris-Rips persistence with one diagram format for every engine.

What every backend is given
    The cloud's distinct points (duplicates only add zero-length H0 bars,
    which no engine reports), their exact pairwise distances (see
    ``tda_activations._distances``), rounded once to float32: ripser.py and giotto-ph compute
    in float32 whatever they are given, so rounding first, in one place, makes
    the three engines see the same filtration values and return identical
    diagrams.  ``precision="float64"`` keeps doubles (GUDHI only).

What every backend returns
    Per dimension a float64 ``(k, 2)`` array of (birth, death) pairs sorted by
    birth then death; bars of zero length are dropped; bars alive at the
    threshold have death ``inf``.  With the default threshold (the enclosing
    radius, after which every Rips complex is a cone) the diagrams equal those
    of the full filtration: one essential H0 bar and no other essential bar.

Shortcuts that change no bar
    H0 alone comes from a minimum spanning tree; H0+H1 first from a run
    truncated just above the last possible H1 birth (:func:`h1_birth_bound`).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any, Literal

import numpy as np

from .._checks import as_cloud
from .._distances import BLOCK_ENTRIES, mirror_upper, pairwise_distances, unique_rows
from .._registry import Registry
from ..types import Diagrams
from ._checks import as_distance_matrix, check_coeff, check_maxdim
from .large import (
    MatrixSource,
    PersistenceTooLarge,
    available_memory,
    estimate_memory,
    greedy_subsample,
    max_points_for_memory,
)

__all__ = [
    "BACKENDS",
    "enclosing_radius",
    "h0_from_mst",
    "h1_birth_bound",
    "persistence",
    "persistence_of_distances",
]

log = logging.getLogger(__name__)

#: The persistence engines by name (a :class:`~tda_activations._registry.Registry`; iterate
#: it for the names, ``BACKENDS[name]`` is the engine ``(matrix, maxdim, threshold, coeff)``).
BACKENDS: Registry[Any] = Registry("backend")
Backend = Literal["auto", "ripser", "giotto-ph", "gudhi"]
Precision = Literal["float32", "float64"]
_MEMORY_FRACTION = 0.8


def enclosing_radius(dist: np.ndarray) -> float:
    """Return ``min_i max_j d(i, j)``: from there on the Rips complex is a cone (contractible).

    Parameters
    ----------
    dist
        Square distance matrix ``(n, n)``.

    Returns
    -------
    float
        The enclosing radius.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist, squareform
    >>> enclosing_radius(squareform(pdist([[0.0], [1.0], [3.0]])))
    2.0
    """
    return float(np.max(dist, axis=1).min())


def h0_from_mst(dist: np.ndarray, *, threshold: float = math.inf) -> np.ndarray:
    """H0 diagram from a minimum spanning tree (Prim on the dense matrix), exactly.

    The deaths of the finite H0 bars of a Rips filtration are the edge lengths
    of a minimum spanning tree; edges longer than ``threshold`` leave their
    component alive (an essential bar).  Zero-length edges (duplicate points)
    give no bar, as in every engine.

    Parameters
    ----------
    dist
        Square distance matrix ``(n, n)``.
    threshold
        Largest edge length included.

    Returns
    -------
    numpy.ndarray
        The H0 diagram, float64 ``(k, 2)`` of (birth, death), deaths ascending, the
        essential bars (death ``inf``) last.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist, squareform
    >>> h0_from_mst(squareform(pdist([[0.0], [1.0], [3.0]])))
    array([[ 0.,  1.],
           [ 0.,  2.],
           [ 0., inf]])
    """
    n = dist.shape[0]
    in_tree = np.zeros(n, dtype=bool)
    best = np.full(n, np.inf)
    in_tree[0] = True
    best[:] = dist[0]
    best[0] = np.inf
    lengths = np.empty(n - 1, dtype=np.float64)
    for m in range(n - 1):
        nxt = int(np.argmin(best))
        lengths[m] = best[nxt]
        in_tree[nxt] = True
        best[nxt] = np.inf
        np.minimum(best, np.where(in_tree, np.inf, dist[nxt]), out=best)
    finite = lengths[(lengths > 0) & (lengths <= threshold)]
    n_essential = 1 + int(np.count_nonzero(lengths > threshold))
    out = np.zeros((finite.size + n_essential, 2))
    out[: finite.size, 1] = finite
    out[finite.size :, 1] = np.inf
    return out


def h1_birth_bound(dist: np.ndarray, *, n_neighbours: int = 8) -> float:
    """Largest edge length at which an H1 bar of the Rips filtration can be born (exact).

    An edge ``uv`` of length ``L`` with a strict witness ``w`` (``d(u, w) < L``
    and ``d(v, w) < L``) is homologous, through the triangle ``uvw`` that enters
    at ``L``, to the path ``u-w-v`` already present; if every edge of length
    ``L`` has one, every 1-cycle at ``L`` is homologous to one before ``L`` and
    no H1 class is born at ``L``.  Births therefore happen only at edges with
    no strict witness (the relative neighbourhood graph), and this returns the
    longest of those.  Witnesses are looked for among the ``n_neighbours``
    nearest neighbours of both ends first; the remaining edges are checked
    against every point, longest first, until one without witness is found.
    """
    d = np.asarray(dist)
    if not np.issubdtype(d.dtype, np.floating):
        d = d.astype(np.float64)
    n = d.shape[0]
    if n < 3:
        return float(d.max()) if n else 0.0
    k = min(n_neighbours, n - 2)
    # Row blocks keep the work arrays at ~16M entries (max/min/compare are exact in any
    # float type, so no float64 copy of the matrix is made); only the boolean
    # ``witnessed`` matrix is n x n.
    witnessed = np.empty((n, n), dtype=bool)
    step = max(1, BLOCK_ENTRIES // n)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        local = np.arange(rows.size)
        block = d[rows]
        masked = block.copy()
        masked[local, rows] = np.inf
        # a copy of the k columns, so the full int64 partition is freed
        nbr = np.argpartition(masked, k - 1, axis=1)[:, :k].copy()
        del masked
        best = np.full(block.shape, np.inf, dtype=block.dtype)
        cand = np.empty_like(block)  # one work array for every witness: no temporaries
        for c in range(k):
            w = nbr[:, c]
            np.take(d, w, axis=0, out=cand, mode="clip")  # "raise" would buffer a copy
            np.maximum(cand, block[local, w][:, None], out=cand)  # max(d(u, w_u), d(w_u, v))
            cand[local, w] = np.inf  # w_u cannot witness the edge (u, w_u) itself
            np.minimum(best, cand, out=best)
        witnessed[rows] = best < block
        del block, best, cand, nbr  # freed before the next block's arrays are made
    # an edge is witnessed if either end found a witness; the lone edges (i < j) are
    # collected per block of rows, so no other n x n array is made
    iu_parts, ju_parts = [], []
    for start in range(0, n, step):
        stop = min(n, start + step)
        # columns from `start` on; the block's own square keeps only j > i
        lone_block = ~(witnessed[start:stop, start:] | witnessed[start:, start:stop].T)
        size = stop - start
        lone_block[:, :size] &= np.triu(np.ones((size, size), dtype=bool), 1)
        bi, bj = np.nonzero(lone_block)
        iu_parts.append((bi + start).astype(np.int32))  # int32: half the bytes per candidate
        ju_parts.append((bj + start).astype(np.int32))
    del witnessed
    iu, ju = np.concatenate(iu_parts), np.concatenate(ju_parts)
    lengths = d[iu, ju]
    order = np.argsort(-lengths, kind="stable")
    chunk = max(1, min(256, BLOCK_ENTRIES // n))
    for start in range(0, order.size, chunk):
        sel = order[start : start + chunk]
        m = d[iu[sel]]
        np.maximum(m, d[ju[sel]], out=m)  # endpoints give max = L, never < L
        lone = ~(m < lengths[sel][:, None]).any(axis=1)
        if lone.any():
            return float(lengths[sel][lone][0])
    return 0.0


# ------------------------------------------------------------------------ engines


def _run_ripser(mat: np.ndarray, maxdim: int, thresh: float, coeff: int) -> list[np.ndarray]:
    from ripser import ripser

    return list(
        ripser(mat, maxdim=maxdim, thresh=thresh, coeff=coeff, distance_matrix=True)["dgms"]
    )


def _run_gph(mat: np.ndarray, maxdim: int, thresh: float, coeff: int) -> list[np.ndarray]:
    try:
        from gph import ripser_parallel
    except ImportError as exc:
        raise ImportError(
            "the 'giotto-ph' backend needs the optional package giotto-ph (AGPL-3), which is not "
            "installed: pip install 'tda-activations[gph]', or use backend='gudhi' or 'ripser'"
        ) from exc
    res = ripser_parallel(
        mat,
        maxdim=maxdim,
        thresh=thresh,
        coeff=coeff,
        metric="precomputed",
        n_threads=1,
        collapse_edges=False,
    )
    return list(res["dgms"])


def _run_gudhi(mat: np.ndarray, maxdim: int, thresh: float, coeff: int) -> list[np.ndarray]:
    n = mat.shape[0]
    max_dimension = min(maxdim, max(0, n - 3))
    # GUDHI's Ripser fork encodes simplices in 128 bits; beyond that its public class
    # falls back to a SimplexTree, and so do we.
    fits = math.comb(n, min(n // 2, max_dimension + 2)) < (1 << (128 - (coeff - 2).bit_length()))
    try:
        from gudhi._ripser_ext import _full, _lower_to_coo, _sparse
    except ImportError:  # pragma: no cover - a GUDHI without the private module
        fits = False
    if not fits:
        from gudhi.sklearn import RipsPersistence

        rips = RipsPersistence(
            homology_dimensions=list(range(maxdim + 1)),
            threshold=thresh,
            input_type="full distance matrix",
            num_collapses=0,
            homology_coeff_field=coeff,
            n_jobs=1,
        )
        return list(rips.fit_transform([mat])[0])
    # The calls gudhi.sklearn.RipsPersistence makes for a dense matrix (without importing
    # scikit-learn, which costs a worker process seconds): dense below the cone radius
    # threshold, sparse edges for a smaller threshold.
    if thresh >= float(mat.max(axis=1).min()):
        return list(
            _full(
                mat, max_dimension=max_dimension, max_edge_length=thresh, homology_coeff_field=coeff
            )
        )
    i, j, f = _lower_to_coo(mat, thresh)
    return list(
        _sparse(
            i,
            j,
            f,
            n,
            max_dimension=max_dimension,
            max_edge_length=thresh,
            homology_coeff_field=coeff,
        )
    )


BACKENDS.register("ripser", _run_ripser, description="ripser.py (float32)")
BACKENDS.register("giotto-ph", _run_gph, description="giotto-ph (float32, optional extra)")
BACKENDS.register("gudhi", _run_gudhi, description="GUDHI's Rips complex (float32 or float64)")


def _normalise(dgm: Any) -> np.ndarray:
    arr = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
    arr = arr[~(arr[:, 1] <= arr[:, 0])]  # drop zero-length bars (keeps inf deaths)
    order = np.lexsort((arr[:, 1], arr[:, 0]))
    return arr[order]


def _float32_floor(t: float) -> float:
    """Largest float32 value <= t (so `d32 <= result` iff `d32 <= t` for float32 d32)."""
    t32 = np.float32(t)
    if float(t32) > t:
        t32 = np.nextafter(t32, np.float32(-np.inf))
    return float(t32)


def _resolve_backend(backend: str, maxdim: int, precision: str) -> str:
    if backend == "auto":
        return "mst" if maxdim == 0 else "gudhi"
    if backend not in BACKENDS:
        from ..types import unknown_name_error

        raise unknown_name_error("backend", str(backend), ("auto", *BACKENDS))
    if precision == "float64" and backend != "gudhi":
        raise ValueError(
            f"backend {backend!r} computes in float32 only; use precision='float32' or "
            "backend='gudhi' for float64 filtration values"
        )
    return backend


def _memory_limit(memory_limit: Any) -> float:
    if memory_limit is None:
        return math.inf
    if memory_limit == "auto":
        return _MEMORY_FRACTION * available_memory()
    limit = float(memory_limit)
    if not limit > 0:
        raise ValueError(
            f"memory_limit must be positive bytes, 'auto' or None, got {memory_limit!r}"
        )
    return limit


_SHORTCUT_MIN_POINTS = 200
_SHORTCUT_MAX_FRACTION = 0.9  # beyond this fraction of the enclosing radius, run to it
_SHORTCUT_MARGIN = 1.1  # try births bound x 1.1: most H1 bars die soon after the last birth


def _edges_below(mat: np.ndarray, thresh: float) -> int:
    """Edges (pairs i < j) of length at most ``thresh``, counted per block of rows."""
    n = mat.shape[0]
    step = max(1, BLOCK_ENTRIES // n)  # no n x n boolean array
    below = sum(int(np.count_nonzero(mat[i : i + step] <= thresh)) for i in range(0, n, step))
    return (below - n) // 2


def _shortcut_threshold(bound: float, dtype: Any) -> float:
    """The threshold the H1 shortcut runs the engine to, from :func:`h1_birth_bound`'s value.

    The shortcut is tried only below ``_SHORTCUT_MAX_FRACTION`` of the enclosing radius.
    """
    t = bound * _SHORTCUT_MARGIN
    return _float32_floor(t) if dtype == np.float32 else t


def _check_fits(
    mat: np.ndarray,
    maxdim: int,
    thresh: float,
    limit: float,
    info: dict[str, Any],
    source: MatrixSource = "cloud",
    *,
    shortcut: bool = False,
) -> None:
    """Refuse a run whose memory estimate, with the edges under ``thresh`` counted, exceeds ``limit``.

    The engines build the filtration from the edges up to ``thresh`` only, so
    the per-edge part of :func:`~tda_activations.homology.estimate_memory` is
    scaled by the fraction of edges actually under it (counted here, exactly).
    """
    n = mat.shape[0]
    total = n * (n - 1) // 2
    if math.isinf(limit) or maxdim == 0 or total == 0:
        return
    edges = _edges_below(mat, thresh)
    est = estimate_memory(
        n,
        maxdim=maxdim,
        edge_fraction=min(1.0, edges / total),
        precision="float32" if mat.dtype == np.float32 else "float64",
        source=source,
        shortcut=shortcut,
    )
    info["edges_in_filtration"] = edges
    info["memory_estimate_gib"] = est.gib
    if est.bytes > limit:
        raise PersistenceTooLarge(
            f"persistence of {n} points up to H{maxdim} with {edges:,} edges up to the threshold "
            f"{thresh:.4g} ({edges / total:.0%} of all pairs) is estimated to need "
            f"{est.gib:.1f} GiB but the limit is {limit / 2**30:.1f} GiB; pass max_points= "
            "(greedy subsampling, with its error bound recorded), lower maxdim, or raise "
            "memory_limit if you know better",
            edge_fraction=edges / total,
        )


def _h1_with_short_threshold(
    mat: np.ndarray,
    engine: str,
    coeff: int,
    radius: float,
    info: dict[str, Any],
    limit: float = math.inf,
    source: MatrixSource = "cloud",
) -> list[Any] | None:
    """H0 and H1 of the full filtration from a run truncated below the enclosing radius.

    Exact: no H1 bar is born after :func:`h1_birth_bound` and no H0 bar dies
    after it (minimum spanning tree edges have no witness), so if the run at a
    threshold ``t`` above that bound leaves no H1 bar alive at ``t`` (and one
    H0 component), its diagrams are those of the full filtration.  Otherwise
    returns None and the caller runs to the enclosing radius.  The memory
    check counts only the edges under ``t`` (:func:`_check_fits`).
    """
    bound = h1_birth_bound(mat)
    info["h1_birth_bound"] = bound
    t = _shortcut_threshold(bound, mat.dtype)
    if not t < _SHORTCUT_MAX_FRACTION * radius:
        return None
    _check_fits(mat, 1, t, limit, info, source, shortcut=True)
    raw = BACKENDS[engine](mat, 1, t, coeff)
    h0 = np.asarray(raw[0]).reshape(-1, 2)
    h1 = np.asarray(raw[1]).reshape(-1, 2) if len(raw) > 1 else np.zeros((0, 2))
    if np.isinf(h1[:, 1]).any() or np.isinf(h0[:, 1]).sum() != 1:
        info["shortcut"] = "retried at the enclosing radius"
        return None
    info["engine_threshold"] = t
    return raw


def _engine_matrix(dist: np.ndarray, precision: str) -> np.ndarray:
    """The matrix every engine is given: ``dist`` rounded once to float32, or kept in float64."""
    if precision not in ("float32", "float64"):
        raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
    if precision == "float64":
        return dist
    if dist.dtype == np.float32:  # built in float32 already (rounded once, checked)
        return dist
    with np.errstate(over="ignore"):
        mat = dist.astype(np.float32)
    if not np.isfinite(mat).all():
        raise ValueError("distances exceed the float32 range; rescale the cloud")
    return mat


def _from_distances(
    mat: np.ndarray,
    *,
    maxdim: int,
    backend: str,
    coeff: int,
    threshold: Any,
    precision: str,
    memory_limit: float = math.inf,
    source: MatrixSource = "cloud",
) -> tuple[tuple[np.ndarray, ...], float, dict[str, Any], str]:
    """Run one engine on an :func:`_engine_matrix` (memory checked per edge count)."""
    engine = _resolve_backend(backend, maxdim, precision)
    n = mat.shape[0]
    info: dict[str, Any] = {"precision": precision}
    radius = enclosing_radius(mat) if n > 1 else 0.0
    if threshold is None or threshold == "enclosing":
        thresh, info["threshold_rule"] = radius, "enclosing"
    elif isinstance(threshold, str):
        raise ValueError(f"threshold must be None, 'enclosing' or a number, got {threshold!r}")
    else:
        t = float(threshold)
        if math.isnan(t) or t < 0:
            raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
        if t >= radius:
            thresh = radius
            info["threshold_rule"] = "full" if math.isinf(t) else "given (>= enclosing radius)"
        else:
            thresh = _float32_floor(t) if precision == "float32" else t
            info["threshold_rule"] = "given"
    info["complete"] = bool(thresh >= radius)
    info["enclosing_radius"] = radius
    raw: list[Any] | None
    if n == 1:
        raw = [np.array([[0.0, np.inf]])]
    elif engine == "mst":
        raw = [h0_from_mst(np.asarray(mat, dtype=np.float64), threshold=thresh)]
    else:
        raw = None
        if maxdim == 1 and thresh >= radius and n >= _SHORTCUT_MIN_POINTS:
            raw = _h1_with_short_threshold(mat, engine, coeff, radius, info, memory_limit, source)
        if raw is None:
            _check_fits(mat, maxdim, thresh, memory_limit, info, source)
            raw = BACKENDS[engine](mat, maxdim, thresh, coeff)
    info.setdefault("engine_threshold", thresh)
    dgms = [_normalise(raw[d]) if d < len(raw) else np.zeros((0, 2)) for d in range(maxdim + 1)]
    return tuple(dgms), thresh, info, engine


def persistence_of_distances(
    dist: Any,
    *,
    maxdim: int = 1,
    backend: Backend = "auto",
    coeff: int = 2,
    threshold: float | str | None = "enclosing",
    precision: Precision = "float32",
    memory_limit: float | str | None = "auto",
    label: str = "",
) -> Diagrams:
    """Compute the Vietoris-Rips persistence of a dense distance matrix.

    The options are those of :func:`persistence` (without the cloud-only ones).

    Parameters
    ----------
    dist
        Square, symmetric, finite, non-negative matrix ``(n, n)`` with a zero diagonal.
    maxdim
        Highest homology dimension.
    backend
        ``"ripser"``, ``"giotto-ph"``, ``"gudhi"`` or ``"auto"``.
    coeff
        Prime field coefficient.
    threshold
        ``"enclosing"``/``None`` (the enclosing radius), a number or ``inf``.
    precision
        ``"float32"`` (default) or ``"float64"`` (GUDHI only).
    memory_limit
        Bytes, ``"auto"`` (80% of the available memory) or ``None`` (no check).
    label
        Recorded in the result (usually the layer name).

    Returns
    -------
    Diagrams
        ``metric="precomputed"``.

    Raises
    ------
    PersistenceTooLarge
        If the estimated memory exceeds ``memory_limit``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist, squareform
    >>> square = squareform(pdist([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    >>> persistence_of_distances(square, precision="float64").dgms[1]  # born 1, dies sqrt(2)
    array([[1.        , 1.41421356]])
    """
    maxdim = check_maxdim(maxdim)
    coeff = check_coeff(coeff)
    mat = as_distance_matrix(dist)
    n = mat.shape[0]
    limit = _memory_limit(memory_limit)
    dense = estimate_memory(
        n, maxdim=maxdim, edge_fraction=0.0, precision=precision, source="matrix"
    )
    if dense.bytes > limit:
        raise PersistenceTooLarge(
            _too_large_message(n, maxdim, dense.bytes, limit, cloud=False, precision=precision)
        )
    t0 = time.perf_counter()
    dgms, thresh, info, engine = _from_distances(
        _engine_matrix(mat, precision),
        maxdim=maxdim,
        backend=backend,
        coeff=coeff,
        threshold=threshold,
        precision=precision,
        memory_limit=limit,
        source="matrix",
    )
    info["seconds"] = time.perf_counter() - t0
    return Diagrams(
        dgms=dgms,
        maxdim=maxdim,
        coeff=coeff,
        threshold=thresh,
        metric="precomputed",
        backend=engine,
        n_points=n,
        label=label,
        params=info,
    )


def _too_large_message(
    n: int,
    maxdim: int,
    need: float,
    limit: float,
    *,
    cloud: bool,
    precision: Precision,
    source: MatrixSource = "matrix",
) -> str:
    fit = max_points_for_memory(limit, maxdim=maxdim, precision=precision, source=source)
    hint = (
        f"pass max_points={fit} (greedy subsampling, with its error bound recorded) or "
        "on_too_large='subsample'"
        if cloud
        else f"subsample the points to about {fit} (see greedy_subsample)"
    )
    return (
        f"persistence of {n} points up to H{maxdim} is estimated to need {need / 2**30:.1f} GiB "
        f"but the limit is {limit / 2**30:.1f} GiB; {hint}, lower maxdim, or raise memory_limit "
        "if you know better"
    )


def _subsample_target(
    size: int,
    maxdim: int,
    limit: float,
    edge_fraction: float,
    *,
    precision: Precision,
    source: MatrixSource,
) -> int:
    target = max_points_for_memory(
        limit, maxdim=maxdim, edge_fraction=edge_fraction, precision=precision, source=source
    )
    log.warning("%d points do not fit in memory for H%d; subsampling to %d", size, maxdim, target)
    return target


def _greedy(
    x: np.ndarray, target: int, seed: int | None, metric: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """The greedy subsample of ``target`` points and its facts (with the bottleneck bound)."""
    sub = greedy_subsample(x, n_points=target, seed=seed, metric=metric)
    return x[sub.indices], sub.facts()


def persistence(
    cloud: Any,
    *,
    maxdim: int = 1,
    backend: Backend = "auto",
    coeff: int = 2,
    threshold: float | str | None = "enclosing",
    metric: str = "euclidean",
    precision: Precision = "float32",
    max_points: int | None = None,
    seed: int | None = None,
    memory_limit: float | str | None = "auto",
    on_too_large: Literal["raise", "subsample"] = "raise",
    distances: Literal["exact", "ripser-compatible"] = "exact",
    label: str = "",
) -> Diagrams:
    """Vietoris-Rips persistence diagrams of a point cloud.

    Parameters
    ----------
    cloud
        ``(n, dim)`` array; NaN/inf coordinates and 1-D input are rejected.
        ``metric="precomputed"`` reads it as a distance matrix instead.
    maxdim
        Highest homology dimension (0, 1, 2, ...).
    backend
        ``"ripser"`` (ripser.py), ``"giotto-ph"`` (optional, AGPL-3),
        ``"gudhi"``, or ``"auto"``: an exact minimum spanning tree for
        ``maxdim=0``, else GUDHI (the fastest here).  All give identical
        diagrams on the same input.
    coeff
        Prime field coefficient, passed explicitly to every engine (ripser.py
        defaults to 2, GUDHI to 11).
    threshold
        ``"enclosing"``/``None`` (default): the enclosing radius, which changes
        no bar; a number: the largest edge length included (bars alive there
        get death ``inf``); ``inf``: the full filtration (same diagrams as the
        default).
    metric
        ``"euclidean"`` (exact distances) or a :func:`scipy.spatial.distance.pdist` metric.
    precision
        ``"float32"`` (default; the precision of ripser.py and giotto-ph, so
        all engines agree) or ``"float64"`` (GUDHI only).
    max_points
        If the cloud has more distinct points, keep a greedy (farthest-point)
        subsample of this size; its covering radius and the bottleneck error
        bound ``2 * covering_radius`` are recorded in ``params["subsample"]``.
    seed
        Start of the greedy subsample (``None``: row 0 of the distinct points).
    memory_limit
        Bytes, ``"auto"`` (80% of the available memory) or ``None`` (no check).
        Checked twice: the distance matrices before they are computed, then
        :func:`~tda_activations.homology.estimate_memory` with the edges under
        the threshold the engine will use counted exactly (for H0+H1 that is
        the shortcut's threshold, see the notes: on activation clouds a few
        percent of all pairs, which is what lets exact H1 of 10,000 points fit).
    on_too_large
        When an estimate exceeds the limit: ``"raise"`` :class:`PersistenceTooLarge`
        (before the engine starts), or ``"subsample"`` to the largest greedy
        subsample that fits, sized with the counted edge fraction (recorded as for
        ``max_points``: the diagram is then an approximation whose bottleneck
        error bound is ``params["subsample"]["bottleneck_bound"]``).
    distances
        ``"exact"`` (default): duplicate points merged, distances exact to
        ~1e-13 relative before the float32 rounding.  ``"ripser-compatible"``:
        scikit-learn's ``pairwise_distances`` on the cloud as given (float32
        stays float32), as ripser.py computes them, for bit-for-bit
        reproduction of ripser.py results; duplicates then may give spurious
        tiny H0 bars, as in ripser.py.
    label
        Stored with the result (usually the layer name).

    Returns
    -------
    Diagrams
        One float64 ``(k, 2)`` array per dimension.  ``params`` records
        ``threshold_rule``, ``complete`` (no truncation), ``enclosing_radius``,
        ``precision``, ``distances``, ``n_distinct`` (points left after merging
        duplicates, with ``distances="exact"``), ``n_used`` (points given to the
        engine, after any subsampling), ``subsample`` (covering radius and
        bottleneck bound, when subsampled), ``exact`` (False when subsampled),
        ``engine_threshold``, ``edges_in_filtration`` and
        ``memory_estimate_gib`` (when the memory was checked), for H0+H1
        ``h1_birth_bound`` (see below), and ``seconds``.

    Notes
    -----
    For ``maxdim=1`` on 200 points or more the engine first runs only up to
    1.1 times :func:`h1_birth_bound` (the longest edge at which an H1 bar can
    be born); if no H1 bar is alive there, those are the diagrams of the full
    filtration, otherwise it runs again to the enclosing radius.  The result is
    identical either way (tested); on activation clouds it halves the engine
    time of deep layers.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    >>> dg = persistence(np.c_[np.cos(t), np.sin(t)], maxdim=1)
    >>> len(dg[1])  # one loop
    1
    """
    if metric == "precomputed":
        if max_points is not None:
            raise ValueError("max_points needs coordinates; subsample the distance matrix yourself")
        return persistence_of_distances(
            cloud,
            maxdim=maxdim,
            backend=backend,
            coeff=coeff,
            threshold=threshold,
            precision=precision,
            memory_limit=memory_limit,
            label=label,
        )
    maxdim = check_maxdim(maxdim)
    coeff = check_coeff(coeff)
    if on_too_large not in ("raise", "subsample"):
        raise ValueError(f"on_too_large must be 'raise' or 'subsample', got {on_too_large!r}")
    if distances not in ("exact", "ripser-compatible"):
        raise ValueError(f"distances must be 'exact' or 'ripser-compatible', got {distances!r}")
    x = as_cloud(cloud)
    n_total = x.shape[0]
    t0 = time.perf_counter()
    if distances == "exact":
        x = x[unique_rows(x)]
    else:
        raw = np.asarray(cloud)
        x = raw if raw.dtype in (np.float32, np.float64) else x
    info: dict[str, Any] = {"n_used": int(x.shape[0]), "distances": distances}
    if distances == "exact":
        info["n_distinct"] = int(x.shape[0])
    limit = _memory_limit(memory_limit)
    target = None
    if max_points is not None:
        if (
            isinstance(max_points, bool)
            or not isinstance(max_points, (int, np.integer))
            or max_points < 1
        ):
            raise ValueError(f"max_points must be a positive integer or None, got {max_points!r}")
        target = int(max_points)
    size = x.shape[0] if target is None else min(target, x.shape[0])
    # The distance matrices must fit; the per-edge part is checked once the edges under the
    # threshold the engine will use are counted (the H1 shortcut truncates far below the
    # enclosing radius on activation clouds).
    # ripser-compatible distances pass through a float64 matrix, as a given matrix does
    source: MatrixSource = "cloud" if distances == "exact" else "matrix"
    dense = estimate_memory(
        size, maxdim=maxdim, edge_fraction=0.0, precision=precision, source=source
    )
    if dense.bytes > limit and on_too_large == "raise":
        raise PersistenceTooLarge(
            _too_large_message(
                size, maxdim, dense.bytes, limit, cloud=True, precision=precision, source=source
            )
        )
    distinct = x
    if target is not None and x.shape[0] > target:
        x, info["subsample"] = _greedy(distinct, target, seed, metric)

    def run(points: np.ndarray) -> tuple[tuple[np.ndarray, ...], float, dict[str, Any], str]:
        if distances == "exact":
            # rounded block by block: the float64 matrix never exists in full
            dist = pairwise_distances(
                points, metric=metric, dtype=np.float32 if precision == "float32" else np.float64
            )
        else:
            from sklearn.metrics import pairwise_distances as sk_pairwise_distances

            dist = np.asarray(sk_pairwise_distances(points, metric=metric), dtype=np.float64)
            mirror_upper(dist)  # the triangle ripser.py reads, mirrored
        mat = _engine_matrix(dist, precision)
        del dist  # a float64 matrix is not needed once rounded
        return _from_distances(
            mat,
            maxdim=maxdim,
            backend=backend,
            coeff=coeff,
            threshold=threshold,
            precision=precision,
            memory_limit=limit,
            source=source,
        )

    result = None
    frac = 0.0  # edge fraction for sizing a subsample: none counted yet
    if dense.bytes <= limit:
        try:
            result = run(x)
        except PersistenceTooLarge as exc:
            if on_too_large == "raise":
                raise
            frac = exc.edge_fraction
    if result is None:
        # Size the subsample with the edge fraction counted (a subsample's may differ, so up
        # to two more tries, the last with the full-filtration estimate).
        for attempt in range(3):
            fit = _subsample_target(
                x.shape[0],
                maxdim,
                limit,
                1.0 if attempt == 2 else frac,
                precision=precision,
                source=source,
            )
            fit = min(fit, int(0.95 * x.shape[0]))
            if fit < 1:
                raise PersistenceTooLarge(
                    _too_large_message(
                        x.shape[0],
                        maxdim,
                        dense.bytes,
                        limit,
                        cloud=True,
                        precision=precision,
                        source=source,
                    )
                )
            x, info["subsample"] = _greedy(distinct, fit, seed, metric)
            try:
                result = run(x)
                break
            except PersistenceTooLarge as again:
                if attempt == 2:
                    raise
                frac = max(frac, again.edge_fraction)
    if result is None:  # pragma: no cover - the loop above sets it or raises
        raise PersistenceTooLarge(
            _too_large_message(
                size, maxdim, dense.bytes, limit, cloud=True, precision=precision, source=source
            )
        )
    dgms, thresh, run_info, engine = result
    info["exact"] = "subsample" not in info
    info["n_used"] = int(x.shape[0])
    info.update(run_info)
    info["seconds"] = time.perf_counter() - t0
    return Diagrams(
        dgms=dgms,
        maxdim=maxdim,
        coeff=coeff,
        threshold=thresh,
        metric=metric,
        backend=engine,
        n_points=n_total,
        label=label,
        params=info,
    )
