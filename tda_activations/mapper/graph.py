"""Mapper graphs built with kmapper inside, behind the typed :class:`MapperGraph`.

The paper's setting (arXiv 2212.00222) is the default: the L2 norm of each
activation vector as the lens, min-max scaled to ``[0, 1]``; a cover of 10
intervals with 50% overlap; DBSCAN with ``min_samples=5`` and ``eps`` at the knee
of the sorted k-th nearest-neighbour distances (:func:`knee_eps`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._checks import as_cloud
from ..types import MapperGraph, MapperNode
from .lenses import Lens, as_lens, kth_neighbor_distances

__all__ = ["MapperWarning", "knee_eps", "knee_index", "mapper_graph", "nerve_edges"]

log = logging.getLogger(__name__)


class MapperWarning(UserWarning):
    """A Mapper input was degenerate (NaN lens, all noise, too few points, ...)."""


# --------------------------------------------------------------------------- knee


def knee_index(curve: npt.ArrayLike) -> int:
    """Index of the knee of a sorted (non-decreasing) curve: the point farthest from its chord.

    The curve ``y_0 <= ... <= y_{n-1}`` is normalised to the unit square,
    ``x_j = j / (n - 1)`` and ``u_j = (y_j - y_0) / (y_{n-1} - y_0)``; the knee is
    ``argmax_j |x_j - u_j|`` (the perpendicular distance to the chord from the first to
    the last point is ``|x_j - u_j| / sqrt(2)``; ties go to the first index).  For the
    usual convex k-distance curve (flat, then a steep rise at the outliers) this is the
    Kneedle knee of a convex increasing curve.

    Parameters
    ----------
    curve
        Non-decreasing 1-D values (NaN not allowed).

    Returns
    -------
    int
        The knee's index; 0 for a flat curve or fewer than 3 points.
    """
    y = np.asarray(curve, dtype=np.float64).ravel()
    if y.size == 0:
        raise ValueError("the curve is empty; give at least one value")
    if not np.all(np.isfinite(y)):
        raise ValueError("the curve contains NaN or inf; give finite values")
    if np.any(np.diff(y) < 0):
        raise ValueError("the curve must be sorted in non-decreasing order (np.sort it first)")
    span = y[-1] - y[0]
    if y.size < 3 or span <= 0:
        return 0
    x = np.linspace(0.0, 1.0, y.size)
    u = (y - y[0]) / span
    return int(np.argmax(np.abs(x - u)))


def knee_eps(
    cloud: npt.ArrayLike, *, k: int = 5, sample: int | None = None, seed: int = 0
) -> float:
    """DBSCAN ``eps`` at the knee of the sorted k-th nearest-neighbour distances.

    The paper's method, exactly:

    1. for every point, the Euclidean distance to its ``k``-th nearest *other*
       point (``k`` = DBSCAN's ``min_samples``; exact duplicates count, at distance 0);
    2. sort these distances in increasing order;
    3. ``eps`` is the distance at :func:`knee_index` of that curve.

    If the knee is at distance 0 (many exact duplicates, common after ReLU), the
    smallest positive k-distance is used instead; if every k-distance is 0, a tiny
    positive ``eps`` that only joins exact duplicates.  Both cases warn.

    Parameters
    ----------
    cloud
        Points ``(n, dim)`` with ``n > k``.
    k
        Neighbour rank.
    sample
        ``None`` (default): the paper's method on every point (exact; the
        neighbour search costs about ``n^2 dim``).  An integer ``m < n``: the
        curve of step 2 is that of ``m`` points drawn without replacement
        (their k-th neighbours still searched among all points, so each value
        is exact); its knee estimates the whole curve's at ``m / n`` of the
        cost.  The estimate's error is not bounded: it is measured in
        ``benchmarks/bench_mapper.py`` (relative eps error per layer).
    seed
        Seed of the sample (``numpy.random.default_rng``).

    Returns
    -------
    float
        A positive ``eps``.

    Raises
    ------
    ValueError
        For an invalid cloud, ``k`` or ``sample``.
    """
    x = as_cloud(cloud, keep_dtype=True, purpose="building a Mapper graph")
    rows = None
    if sample is not None:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or sample < 3:
            raise ValueError(f"sample must be an integer >= 3 or None, got {sample!r}")
        if sample < x.shape[0]:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(x.shape[0], size=int(sample), replace=False))
    kd = np.sort(kth_neighbor_distances(x, k=k, rows=rows))
    eps = float(kd[knee_index(kd)])
    if eps <= 0:
        positive = kd[kd > 0]
        if positive.size:
            eps = float(positive[0])
            warnings.warn(
                f"the knee of the {k}-NN distances is at 0 (exact duplicate points); using the "
                f"smallest positive {k}-NN distance {eps:.3g} as eps",
                MapperWarning,
                stacklevel=2,
            )
        else:
            scale = float(np.max(np.abs(x))) if x.size else 1.0
            eps = 1e-9 * max(scale, 1.0)
            warnings.warn(
                f"every point has at least {k} exact duplicates; eps={eps:.3g} joins only "
                "duplicates",
                MapperWarning,
                stacklevel=2,
            )
    return eps


# ------------------------------------------------------------------------- checks


class _GuardedClusterer:
    """Wraps a scikit-learn clusterer so a failure names the interval, not kmapper's code."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.noise_only = 0

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return self.inner.get_params(deep=deep)

    def fit_predict(self, x: np.ndarray) -> np.ndarray:
        self.calls += 1
        try:
            labels = np.asarray(self.inner.fit_predict(x))
        except Exception as exc:  # a user's clusterer failing inside kmapper
            raise ValueError(
                f"the clusterer {self.inner!r} failed on a cover interval of {x.shape[0]} points "
                f"({type(exc).__name__}: {exc}); choose a clusterer that handles small sets, or "
                "fewer intervals"
            ) from exc
        if labels.shape != (x.shape[0],):
            raise ValueError(
                f"the clusterer {self.inner!r} returned {labels.shape} labels for {x.shape[0]} "
                "points; it must return one label per point"
            )
        if labels.size and np.all(labels == -1):
            self.noise_only += 1
        return labels


class _NoNerve:
    """Stands in for kmapper's ``GraphNerve``: :func:`nerve_edges` builds the edges instead.

    kmapper intersects the member lists of every pair of nodes in Python (quadratic in the
    nodes, a tenth of its time on a 10,000-point layer); the edges are the same.
    """

    def __init__(self, min_intersection: int) -> None:
        self.min_intersection = min_intersection

    def compute(self, nodes: Mapping[str, Any]) -> tuple[dict[str, list[str]], list[Any]]:
        return {}, []


def nerve_edges(
    members: Sequence[npt.ArrayLike], n_points: int, *, min_intersection: int = 1
) -> list[tuple[int, int]]:
    """The 1-skeleton of the nerve: pairs of nodes that share at least ``min_intersection`` points.

    The same edges as kmapper's ``GraphNerve`` (which intersects every pair's member sets),
    from one sparse product of the node-by-point incidence matrix with its transpose.

    Parameters
    ----------
    members
        Each node's member indices (distinct integers in ``[0, n_points)``).
    n_points
        Number of points.
    min_intersection
        Shared points needed for an edge (a positive integer).

    Returns
    -------
    list of tuple of int
        Node index pairs ``(i, j)`` with ``i < j``, sorted.

    Raises
    ------
    ValueError
        For a non-positive ``min_intersection`` or a member outside ``[0, n_points)``.

    Examples
    --------
    >>> nerve_edges([[0, 1], [1, 2], [3]], 4)
    [(0, 1)]
    """
    from scipy import sparse

    if (
        isinstance(min_intersection, bool)
        or not isinstance(min_intersection, (int, np.integer))
        or min_intersection < 1
    ):
        raise ValueError(f"min_intersection must be a positive integer, got {min_intersection!r}")
    rows = [np.asarray(m, dtype=np.int64).ravel() for m in members]
    if not rows:
        return []
    cols = np.concatenate(rows)
    if cols.size and (cols.min() < 0 or cols.max() >= n_points):
        raise ValueError(
            f"node members must be point indices in [0, {n_points}); got "
            f"{int(cols.min())}..{int(cols.max())}"
        )
    owner = np.repeat(np.arange(len(rows)), [r.size for r in rows])
    inc = sparse.csr_matrix(
        (np.ones(cols.size, dtype=np.int64), (owner, cols)), shape=(len(rows), int(n_points))
    )
    shared = sparse.triu(inc @ inc.T, k=1).tocoo()
    keep = shared.data >= min_intersection
    pairs = sorted(zip(shared.row[keep].tolist(), shared.col[keep].tolist()))
    return [(int(i), int(j)) for i, j in pairs]


def _minmax(values: np.ndarray) -> np.ndarray:
    v = values.reshape(values.shape[0], -1)
    out = np.zeros_like(v)
    finite = np.isfinite(v)
    for j in range(v.shape[1]):
        col = v[finite[:, j], j]
        if col.size == 0:
            out[:, j] = np.nan
            continue
        lo, hi = col.min(), col.max()
        out[:, j] = (v[:, j] - lo) / (hi - lo) if hi > lo else 0.0
        out[~finite[:, j], j] = np.nan
    return out.reshape(values.shape)


def _empty(lens_values: np.ndarray, params: dict[str, Any], label: str) -> MapperGraph:
    return MapperGraph(nodes=(), edges=(), lens=lens_values, params=params, label=label)


# ---------------------------------------------------------------------- the graph


def mapper_graph(
    cloud: npt.ArrayLike,
    *,
    lens: str | Lens | Callable[[np.ndarray], Any] = "l2norm",
    lens_params: Mapping[str, Any] | None = None,
    scale_lens: bool = True,
    n_intervals: int = 10,
    overlap: float = 0.5,
    clusterer: Any = None,
    min_samples: int = 5,
    eps: float | str = "knee",
    knee_sample: int | None = None,
    min_intersection: int = 1,
    label: str = "",
) -> MapperGraph:
    """Build the Mapper graph of a point cloud (kmapper inside).

    Parameters
    ----------
    cloud
        Points ``(n, dim)``; must be finite.
    lens
        ``"l2norm"`` (default, the paper's), ``"pca"``, ``"knn_distance"``,
        ``"eccentricity"``, a :class:`~tda_activations.mapper.lenses.Lens`, or any callable
        ``cloud -> (n,) or (n, k)``.
    lens_params
        Parameters of a named lens, e.g. ``{"n_components": 2}`` for ``"pca"``.
    scale_lens
        Min-max scale each lens column to ``[0, 1]`` (the paper's choice; the cover is the
        same either way, only the recorded lens values change).
    n_intervals
        Cover intervals per lens dimension (kmapper ``n_cubes``).
    overlap
        Fraction of overlap of adjacent intervals, in ``[0, 1)`` (kmapper ``perc_overlap``).
    clusterer
        ``None`` for DBSCAN with ``min_samples`` and ``eps``; otherwise any scikit-learn
        clusterer with ``fit_predict`` (it is cloned, never modified).
    min_samples
        DBSCAN's ``min_samples`` (default clusterer only).
    eps
        ``"knee"`` (default: :func:`knee_eps` with ``k=min_samples`` on the whole cloud,
        one ``eps`` for every interval) or a positive number (default clusterer only).
    knee_sample
        ``None`` (default): the knee from every point (exact, the paper's method).  An
        integer ``m``: the knee of ``m`` points drawn with seed 0 (``knee_eps(sample=m)``),
        about ``m / n`` of the neighbour search; recorded in ``params["knee_sample"]``.
        The graph may then differ from the exact knee's (the eps error is measured in
        ``benchmarks/bench_mapper.py``).
    min_intersection
        Members two nodes must share to be joined by an edge.
    label
        Where the cloud came from (usually the layer name).

    Returns
    -------
    MapperGraph
        Nodes ``cube{interval}_cluster{c}`` ordered by interval then cluster, with member
        indices into ``cloud``; ``params`` records the lens, the cover, the clusterer and
        the ``eps`` used.  The graph is empty (with a :class:`MapperWarning`) when no
        cluster is found.

    Raises
    ------
    ValueError
        For a cloud with NaN/inf, an empty cloud, or invalid cover/cluster settings.

    Warns
    -----
    MapperWarning
        For lens values that are NaN/inf (those points are left out of every node), a
        constant lens, too few points for the knee, or a graph without nodes.

    Examples
    --------
    The Mapper graph of a circle is a cycle (as many edges as nodes, one loop):

    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 100, endpoint=False)
    >>> circle = np.c_[np.cos(t), np.sin(t)]
    >>> g = mapper_graph(circle, lens=lambda x: x[:, 0], n_intervals=4, overlap=0.3,
    ...                  eps=0.3, min_samples=2)
    >>> len(g.nodes), len(g.edges)
    (6, 6)

    On activations:

    >>> g = mapper_graph(acts.cloud("layer3.1.conv2"))             # doctest: +SKIP
    >>> g = mapper_graph(x, lens="pca", lens_params={"n_components": 2},
    ...                  clusterer=AgglomerativeClustering(3))        # doctest: +SKIP
    """
    import kmapper as km
    from sklearn.base import clone
    from sklearn.cluster import DBSCAN

    x = as_cloud(cloud, keep_dtype=True, purpose="building a Mapper graph")
    if (
        not isinstance(n_intervals, (int, np.integer))
        or isinstance(n_intervals, bool)
        or n_intervals < 1
    ):
        raise ValueError(f"n_intervals must be a positive integer, got {n_intervals!r}")
    if not isinstance(overlap, (int, float, np.floating)) or not 0.0 <= float(overlap) < 1.0:
        raise ValueError(f"overlap must be a fraction in [0, 1), got {overlap!r}")
    if not isinstance(min_intersection, (int, np.integer)) or min_intersection < 1:
        raise ValueError(f"min_intersection must be a positive integer, got {min_intersection!r}")
    lens_obj = as_lens(lens, **dict(lens_params or {}))

    params: dict[str, Any] = {
        "lens": lens_obj.describe(),
        "scale_lens": bool(scale_lens),
        "n_intervals": int(n_intervals),
        "overlap": float(overlap),
        "min_intersection": int(min_intersection),
        "n_points": int(x.shape[0]),
        "kmapper_version": km.__version__,
    }

    # -- clusterer
    if clusterer is None:
        if not isinstance(min_samples, (int, np.integer)) or min_samples < 1:
            raise ValueError(f"min_samples must be a positive integer, got {min_samples!r}")
        params.update(clusterer="DBSCAN", min_samples=int(min_samples))
        if isinstance(eps, str):
            if eps != "knee":
                raise ValueError(f"eps must be 'knee' or a positive number, got {eps!r}")
            if knee_sample is not None and (
                isinstance(knee_sample, bool)
                or not isinstance(knee_sample, (int, np.integer))
                or knee_sample < 3
            ):
                raise ValueError(
                    f"knee_sample must be an integer >= 3 or None, got {knee_sample!r}"
                )
            params.update(eps_method="knee", knee_k=int(min_samples), knee_sample=knee_sample)
        else:
            if not np.isfinite(eps) or eps <= 0:
                raise ValueError(f"eps must be a positive number or 'knee', got {eps!r}")
            if knee_sample is not None:
                raise ValueError("knee_sample applies to eps='knee' only")
            params.update(eps_method="given", eps=float(eps))
    else:
        if not hasattr(clusterer, "fit_predict") or not hasattr(clusterer, "get_params"):
            raise TypeError(
                f"clusterer must be a scikit-learn style estimator with fit_predict and "
                f"get_params; got {type(clusterer).__name__}"
            )
        if eps != "knee":
            raise ValueError("eps applies to the default DBSCAN only; set it on your clusterer")
        if knee_sample is not None:
            raise ValueError("knee_sample applies to the default DBSCAN's knee eps only")
        params.update(clusterer=repr(clusterer), eps_method=None)

    # -- lens
    lens_values = lens_obj(x)
    if scale_lens:
        lens_values = _minmax(lens_values)
    finite = np.isfinite(lens_values.reshape(x.shape[0], -1)).all(axis=1)
    kept = np.flatnonzero(finite)
    params["n_points_omitted"] = int(x.shape[0] - kept.size)
    if kept.size < x.shape[0]:
        warnings.warn(
            f"{label or 'cloud'}: the lens {lens_obj.name!r} is NaN or inf for "
            f"{x.shape[0] - kept.size} of {x.shape[0]} points; they are left out of every node",
            MapperWarning,
            stacklevel=2,
        )
    if kept.size == 0:
        params.update(eps=params.get("eps", float("nan")), empty_reason="lens not finite")
        return _empty(lens_values, params, label)

    # -- eps
    if clusterer is None and params["eps_method"] == "knee":
        if kept.size <= min_samples:
            warnings.warn(
                f"{label or 'cloud'}: {kept.size} point(s), too few for DBSCAN with "
                f"min_samples={min_samples} (and for the knee of the {min_samples}-NN distances); "
                "the graph is empty",
                MapperWarning,
                stacklevel=2,
            )
            params.update(eps=float("nan"), empty_reason="too few points")
            return _empty(lens_values, params, label)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MapperWarning)
            sample = knee_sample if knee_sample is not None and knee_sample < kept.size else None
            params["knee_sample"] = None if sample is None else int(sample)
            params["eps"] = knee_eps(x[kept], k=int(min_samples), sample=sample)
        for w in caught:
            warnings.warn(f"{label or 'cloud'}: {w.message}", MapperWarning, stacklevel=2)
    inner = (
        DBSCAN(eps=params["eps"], min_samples=int(min_samples))
        if clusterer is None
        else clone(clusterer)
    )
    guarded = _GuardedClusterer(inner)

    # -- cover: a constant lens column gets one interval (kmapper would stack n identical ones)
    lens2d = lens_values.reshape(x.shape[0], -1)[kept]
    spans = lens2d.max(axis=0) - lens2d.min(axis=0)
    cubes = [int(n_intervals) if s > 0 else 1 for s in spans]
    if any(s <= 0 for s in spans):
        warnings.warn(
            f"{label or 'cloud'}: the lens is constant (in {int(np.sum(spans <= 0))} of "
            f"{spans.size} dimensions); one interval is used there",
            MapperWarning,
            stacklevel=2,
        )
    params["n_intervals_used"] = cubes
    cover = km.Cover(n_cubes=cubes if len(cubes) > 1 else cubes[0], perc_overlap=float(overlap))
    mapper = km.KeplerMapper(verbose=0)
    raw = mapper.map(
        lens2d,
        X=x[kept],
        clusterer=guarded,
        cover=cover,
        nerve=_NoNerve(int(min_intersection)),
        remove_duplicate_nodes=False,
    )

    # kmapper numbers only the non-empty hypercubes; recover each one's true interval index.
    lens_id = np.c_[np.arange(kept.size), lens2d]
    nonempty = [
        j
        for j, c in enumerate(mapper.cover.centers_)
        if len(mapper.cover.transform_single(lens_id, c))
    ]

    parsed = []
    for node_id, members in raw["nodes"].items():
        cube_part, cluster_part = node_id.split("_")
        interval = nonempty[int(cube_part[len("cube") :])]
        cluster = int(cluster_part[len("cluster") :])
        parsed.append((interval, cluster, node_id, np.asarray(members, dtype=np.int64)))
    parsed.sort(key=lambda t: (t[0], t[1]))
    nodes = []
    first = lens2d[:, 0]
    for interval, cluster, _, local in parsed:
        new_id = f"cube{interval}_cluster{cluster}"
        nodes.append(
            MapperNode(
                id=new_id,
                members=np.sort(kept[local]),
                interval=int(interval),
                lens_mean=float(np.mean(first[local])),
            )
        )
    edge_list = [
        (nodes[i].id, nodes[j].id)
        for i, j in nerve_edges(
            [n.members for n in nodes], x.shape[0], min_intersection=int(min_intersection)
        )
    ]

    covered = np.zeros(x.shape[0], dtype=bool)
    for n in nodes:
        covered[n.members] = True
    params["n_points_covered"] = int(covered.sum())
    params["n_intervals_clustered"] = int(guarded.calls)
    if not nodes:
        reason = (
            f"every point is noise to DBSCAN (eps={params['eps']:.3g}, min_samples={min_samples}); "
            "lower min_samples or give a larger eps"
            if clusterer is None
            else "the clusterer found no cluster in any interval"
        )
        warnings.warn(
            f"{label or 'cloud'}: the Mapper graph is empty: {reason}", MapperWarning, stacklevel=2
        )
        params["empty_reason"] = "no cluster"
    log.debug("%s: %d nodes, %d edges", label, len(nodes), len(edge_list))
    return MapperGraph(
        nodes=tuple(nodes), edges=tuple(edge_list), lens=lens_values, params=params, label=label
    )
