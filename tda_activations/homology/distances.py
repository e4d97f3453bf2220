"""Distances between persistence diagrams, each with a stated policy for essential bars.

Essential bars (death ``inf``)
    ``essential="match"`` (default): essential bars are matched only with
    essential bars of the same dimension, at cost ``|b - b'|`` between births
    (sorted births are matched, which is optimal in one dimension); when the
    two diagrams have different numbers of essential bars the distance is
    ``inf``.  This is the convention of GUDHI and Hera.  ``essential="drop"``
    ignores them (what persim's ``bottleneck`` and ``wasserstein`` do
    silently).  With the default threshold only H0 has an essential bar (one,
    born at 0), so it contributes 0.

Bottleneck
    Exact: the answer is one of the finitely many candidate values (a
    diagonal distance ``(d - b) / 2`` or an L-infinity distance between two
    points), found by binary search with a bipartite matching test that only
    involves the points too far from the diagonal.  Cross-checked against
    ``gudhi.bottleneck_distance`` and persim in the tests.

Wasserstein
    ``order`` q and ground metric ``internal_p`` are explicit.  Exact optimal
    matching (Hungarian algorithm on the points that can gain from being
    matched off the diagonal).  persim's ``wasserstein`` is ``order=1,
    internal_p=2`` (Euclidean ground metric, no power), and essential bars
    dropped; GUDHI/Hera default to ``internal_p=inf``.

Sliced Wasserstein
    persim's definition, bit-compatible: ``n_directions`` M angles
    ``pi * (1/2 + i/M)``, unit vectors rounded to float32 as persim does, each
    diagram completed by the diagonal projections of the other, the 1-D
    Wasserstein-1 distances averaged.  For one direction that 1-D distance is
    ``integral |g_a(t) - g_b(t)| dt`` with ``g = F(projected points) -
    F(projected diagonal points)``: a function computed once per diagram,
    so a pair costs one merge of sorted arrays.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._measure import MeasureProperties, all_pairs
from .._registry import Registry
from ._checks import as_diagram

__all__ = [
    "DiagramDistance",
    "Essential",
    "bottleneck_distance",
    "diagram_distance",
    "diagram_distance_names",
    "get_diagram_distance",
    "register_diagram_distance",
    "sliced_wasserstein_distance",
    "wasserstein_distance",
]

Essential = Literal["match", "drop"]


@dataclass(frozen=True)
class _Split:
    finite: np.ndarray  # (k, 2)
    essential: np.ndarray  # sorted births


def _split(dgm: np.ndarray) -> _Split:
    fin = np.isfinite(dgm[:, 1])
    return _Split(np.ascontiguousarray(dgm[fin]), np.sort(dgm[~fin, 0]))


def _check_essential(essential: str) -> str:
    if essential not in ("match", "drop"):
        raise ValueError(f"essential must be 'match' or 'drop', got {essential!r}")
    return essential


def _essential_costs(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """|b_i - b'_i| of sorted births, or None when the counts differ (distance inf)."""
    if a.size != b.size:
        return None
    return np.abs(a - b)


# --------------------------------------------------------------------- bottleneck


def _saturates(edges: Any, n_rows: int, n_cols: int) -> bool:
    """Whether a matching in the sparse bipartite graph ``edges`` (rows x cols) covers every row."""
    if n_rows == 0:
        return True
    if n_rows > n_cols or np.unique(edges.row).size < n_rows:
        return False
    from scipy.sparse.csgraph import maximum_bipartite_matching

    match = maximum_bipartite_matching(edges.tocsr(), perm_type="column")
    return bool((match >= 0).all())


def _useful_pairs(
    a: np.ndarray, b: np.ndarray, da: np.ndarray, db: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs an optimal matching may use, with their L-infinity costs.

    A pair whose cost exceeds both points' distances to the diagonal is never needed
    (sending both to the diagonal is cheaper), so only pairs with ``cost <= da[i]`` or
    ``cost <= db[j]`` are kept, found with KD-tree ball queries (a slightly larger
    radius, then the exact test), never through an ``na x nb`` matrix.
    """
    from scipy.spatial import cKDTree

    ta, tb = cKDTree(a), cKDTree(b)
    grow = 1.0 + 1e-9  # the trees' own rounding must not lose a pair at exactly the radius

    def flat(found: Any) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
        own = np.repeat(np.arange(len(found)), lengths)
        other = (
            np.concatenate([np.asarray(f, dtype=np.int64) for f in found])
            if lengths.sum()
            else np.zeros(0, dtype=np.int64)
        )
        return own, other

    def costs(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.maximum(np.abs(a[i, 0] - b[j, 0]), np.abs(a[i, 1] - b[j, 1]))

    # pairs with cost <= da[i], then those with cost <= db[j] that are not among them
    ia, ja = flat(tb.query_ball_point(a, r=da * grow + 1e-300, p=np.inf))
    ca = costs(ia, ja)
    keep_a = ca <= da[ia]
    jb, ib = flat(ta.query_ball_point(b, r=db * grow + 1e-300, p=np.inf))
    cb = costs(ib, jb)
    keep_b = (cb <= db[jb]) & (cb > da[ib])
    i = np.concatenate([ia[keep_a], ib[keep_b]])
    j = np.concatenate([ja[keep_a], jb[keep_b]])
    return i, j, np.concatenate([ca[keep_a], cb[keep_b]])


#: Up to this many pairs of points the useful pairs are found in a dense cost matrix
#: (32 MiB per float64 array at the limit); beyond, by KD-tree ball queries, which make no
#: ``na x nb`` array.  A memory bound, not a speed optimum: the queries are 1.4x slower at
#: 4,400 x 4,600 bars, as fast from 9,500 x 9,500 on, and hold 4x less NumPy memory
#: there (``benchmarks/results/bottleneck.txt``).  Both give the same pairs, so the same
#: value.
DENSE_BOTTLENECK_PAIRS = 1 << 22


def _useful_pairs_dense(
    a: np.ndarray, b: np.ndarray, da: np.ndarray, db: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_useful_pairs` through the dense ``na x nb`` cost matrix."""
    cost = np.maximum(
        np.abs(np.subtract.outer(a[:, 0], b[:, 0])), np.abs(np.subtract.outer(a[:, 1], b[:, 1]))
    )
    i, j = np.nonzero(cost <= np.maximum(da[:, None], db[None, :]))
    return i, j, cost[i, j]


def _bottleneck_finite(a: np.ndarray, b: np.ndarray) -> float:
    da = (a[:, 1] - a[:, 0]) / 2.0
    db = (b[:, 1] - b[:, 0]) / 2.0
    if a.shape[0] == 0 or b.shape[0] == 0:
        return float(max(da.max(initial=0.0), db.max(initial=0.0)))
    from scipy.sparse import coo_matrix

    if a.shape[0] * b.shape[0] <= DENSE_BOTTLENECK_PAIRS:
        i, j, cost = _useful_pairs_dense(a, b, da, db)
    else:
        i, j, cost = _useful_pairs(a, b, da, db)
    # Every point goes to the diagonal or to a partner: a lower bound.  A pair left out
    # costs more than both diagonal distances, so it cannot lower min(da_i, cost_ij).
    near_a, near_b = da.copy(), db.copy()
    np.minimum.at(near_a, i, cost)
    np.minimum.at(near_b, j, cost)
    lower = max(near_a.max(), near_b.max())
    # The optimum is a diagonal distance or the cost of a useful pair.
    cand = np.concatenate([da, db, cost])
    cand = np.unique(cand[cand >= lower])

    def covered(
        t: float, must: np.ndarray, own: np.ndarray, other: np.ndarray, n_other: int
    ) -> bool:
        """Whether the ``must`` points of one diagram all match distinct partners at <= t.

        ``must`` marks the points farther than t from the diagonal; ``own``/``other``
        are the useful pairs' indices in this diagram and the other one.
        """
        sel = (cost <= t) & must[own]
        renumbered = np.cumsum(must) - 1
        n_must = int(must.sum())
        graph = coo_matrix(
            (np.ones(int(sel.sum()), dtype=bool), (renumbered[own[sel]], other[sel])),
            shape=(n_must, n_other),
        )
        return _saturates(graph, n_must, n_other)

    def feasible(t: float) -> bool:
        # both sides covered is enough for one matching covering both (Mendelsohn-Dulmage)
        return covered(t, da > t, i, j, len(b)) and covered(t, db > t, j, i, len(a))

    if feasible(cand[0]):
        return float(cand[0])
    lo, hi = 1, cand.size - 1  # cand[-1] (everything to the diagonal) is feasible
    while lo < hi:
        mid = (lo + hi) // 2
        if feasible(cand[mid]):
            hi = mid
        else:
            lo = mid + 1
    return float(cand[lo])


def _bottleneck_split(a: _Split, b: _Split, essential: str) -> float:
    value = _bottleneck_finite(a.finite, b.finite)
    if essential == "match":
        ess = _essential_costs(a.essential, b.essential)
        if ess is None:
            return math.inf
        if ess.size:
            value = max(value, float(ess.max()))
    return value


def bottleneck_distance(a: Any, b: Any, *, dim: int = 1, essential: Essential = "match") -> float:
    """Exact bottleneck distance (L-infinity ground metric) between two diagrams.

    Parameters
    ----------
    a, b
        :class:`~tda_activations.types.Diagrams` (``dim`` picks the dimension)
        or ``(k, 2)`` arrays of (birth, death).
    dim
        Homology dimension, when Diagrams are given.
    essential
        ``"match"`` or ``"drop"``; see the module notes.

    Returns
    -------
    float
        The distance (``inf`` when essential bars cannot be matched).

    Examples
    --------
    >>> bottleneck_distance([[0.0, 2.0]], [[0.0, 3.0]])
    1.0
    """
    _check_essential(essential)
    sa = _split(as_diagram(a, dim=dim, name="a"))
    sb = _split(as_diagram(b, dim=dim, name="b"))
    return _bottleneck_split(sa, sb, essential)


# -------------------------------------------------------------------- wasserstein


def _check_wasserstein_params(order: Any, internal_p: Any) -> tuple[float, float]:
    q, p = float(order), float(internal_p)
    if not (q >= 1 and math.isfinite(q)):
        raise ValueError(
            f"order must be a finite number >= 1, got {order!r} (order inf is bottleneck)"
        )
    if not p >= 1:
        raise ValueError(f"internal_p must be >= 1 (or inf), got {internal_p!r}")
    return q, p


def _ground(dx: np.ndarray, dy: np.ndarray, p: float) -> np.ndarray:
    """L_p norms of (dx, dy), computed in place in ``dx`` (both arrays are consumed)."""
    np.abs(dx, out=dx)
    np.abs(dy, out=dy)
    if p == math.inf:
        return np.maximum(dx, dy, out=dx)
    if p == 1.0:
        dx += dy
        return dx
    if p == 2.0:  # sqrt(dx^2 + dy^2): as accurate as hypot here and several times faster
        dx *= dx
        dy *= dy
        dx += dy
        return np.sqrt(dx, out=dx)
    dx **= p
    dy **= p
    dx += dy
    dx **= 1.0 / p
    return dx


def _diag_dist(dgm: np.ndarray, p: float) -> np.ndarray:
    """L_p distance from each point to the diagonal: (d - b) * 2^(1/p - 1)."""
    pers = dgm[:, 1] - dgm[:, 0]
    if p == math.inf:
        return pers / 2.0
    if p == 1.0:
        return pers
    if p == 2.0:
        return pers / math.sqrt(2.0)
    return pers * 2.0 ** (1.0 / p - 1.0)


def _wasserstein_power_finite(a: np.ndarray, b: np.ndarray, q: float, p: float) -> float:
    """Sum of q-th powers of the costs of an optimal matching (exact)."""
    from scipy.optimize import linear_sum_assignment

    da = _diag_dist(a, p) ** q
    db = _diag_dist(b, p) ** q
    if a.shape[0] == 0 or b.shape[0] == 0:
        return math.fsum(da) + math.fsum(db)
    cost = _ground(np.subtract.outer(a[:, 0], b[:, 0]), np.subtract.outer(a[:, 1], b[:, 1]), p)
    if q != 1.0:
        cost **= q
    gain = cost - da[:, None]
    gain -= db[None, :]
    useful = gain < 0  # matching a_i with b_j beats sending both to the diagonal
    rows = np.flatnonzero(useful.any(axis=1))
    if rows.size == 0:
        return math.fsum(da) + math.fsum(db)
    cols = np.flatnonzero(useful.any(axis=0))
    # Optimal partial matching = rectangular assignment on min(gain, 0): a forced pair with
    # gain 0 stands for "both to the diagonal".
    sub = np.minimum(gain[np.ix_(rows, cols)], 0.0)
    r, c = linear_sum_assignment(sub)
    keep = sub[r, c] < 0
    mi, mj = rows[r[keep]], cols[c[keep]]
    free_a = np.ones(a.shape[0], dtype=bool)
    free_a[mi] = False
    free_b = np.ones(b.shape[0], dtype=bool)
    free_b[mj] = False
    return math.fsum(cost[mi, mj]) + math.fsum(da[free_a]) + math.fsum(db[free_b])


def _wasserstein_split(a: _Split, b: _Split, q: float, p: float, essential: str) -> float:
    total = _wasserstein_power_finite(a.finite, b.finite, q, p)
    if essential == "match":
        ess = _essential_costs(a.essential, b.essential)
        if ess is None:
            return math.inf
        total += math.fsum(ess**q)
    return total ** (1.0 / q)


def wasserstein_distance(
    a: Any,
    b: Any,
    *,
    order: float,
    internal_p: float,
    dim: int = 1,
    essential: Essential = "match",
) -> float:
    """Exact q-Wasserstein distance between two diagrams, with an explicit ground metric.

    ``W_q = (min over matchings of sum ||x - m(x)||_p^q)^(1/q)``, where points
    may be matched to their nearest diagonal point.

    Parameters
    ----------
    a, b
        Diagrams objects (``dim`` picks the dimension) or ``(k, 2)`` arrays.
    order
        The exponent q >= 1 (required: there is no safe default).
    internal_p
        The ground metric L_p on the plane, p in [1, inf] (required).
        persim's ``wasserstein`` is ``order=1, internal_p=2``; GUDHI/Hera use
        ``internal_p=inf`` by default.
    dim
        Homology dimension, when Diagrams are given.
    essential
        ``"match"`` or ``"drop"``; see the module notes.

    Returns
    -------
    float

    Examples
    --------
    >>> wasserstein_distance([[0.0, 2.0]], [], order=1, internal_p=float("inf"))
    1.0
    """
    q, p = _check_wasserstein_params(order, internal_p)
    _check_essential(essential)
    sa = _split(as_diagram(a, dim=dim, name="a"))
    sb = _split(as_diagram(b, dim=dim, name="b"))
    return _wasserstein_split(sa, sb, q, p, essential)


# ------------------------------------------------------------- sliced wasserstein


def _persim_directions(n_directions: int) -> np.ndarray:
    """Persim's direction vectors, (M, 2) float64 holding float32-rounded values."""
    theta, step = 0.5, 1.0 / n_directions
    out = np.empty((n_directions, 2))
    for i in range(n_directions):  # accumulate exactly as persim does
        out[i] = np.array([np.cos(theta * np.pi), np.sin(theta * np.pi)], dtype=np.float32)
        theta += step
    return out


_DIAG32 = float(np.float32(np.cos(0.25 * np.pi)))


@dataclass(frozen=True)
class _SWPrepared:
    points: np.ndarray  # (M, k) projections of the finite points
    diagonal: np.ndarray  # (M, k) projections of their diagonal projections
    essential: np.ndarray


def _sw_prepare(dgm: np.ndarray, directions: np.ndarray) -> _SWPrepared:
    s = _split(dgm)
    fin = s.finite
    x = fin[:, 0] * _DIAG32 + fin[:, 1] * _DIAG32
    delta = np.sqrt(x**2 / 2.0)
    pts = directions @ fin.T if fin.size else np.zeros((directions.shape[0], 0))
    diag = np.outer(directions.sum(axis=1), delta)
    return _SWPrepared(np.ascontiguousarray(pts), np.ascontiguousarray(diag), s.essential)


_SCRATCH = threading.local()


def _sw_buffers(m: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Two contiguous ``(m, width)`` work arrays from this thread's reused scratch buffer.

    An all-pairs run scores a million pairs of ~(50, 1400) arrays; allocating them per
    pair made the allocator the bottleneck (2.8x slower, worse still where
    ``MALLOC_TRIM_THRESHOLD_`` is set, as Dask's workers set it).  Contiguous views give
    the sums the same order, so the values are those of freshly allocated arrays.
    """
    need = 2 * m * width
    buf: np.ndarray | None = getattr(_SCRATCH, "buffer", None)
    if buf is None or buf.size < need:
        buf = np.empty(max(need, 2 * (buf.size if buf is not None else 0)))
        _SCRATCH.buffer = buf
    return buf[: m * width].reshape(m, width), buf[m * width : need].reshape(m, width)


def _sw_pair(a: _SWPrepared, b: _SWPrepared, essential: str) -> float:
    m, ka = a.points.shape
    kb = b.points.shape[1]
    v1, v2 = _sw_buffers(m, ka + kb)
    v1[:, :ka] = a.points
    v1[:, ka:] = b.diagonal
    v2[:, :kb] = b.points
    v2[:, kb:] = a.diagonal
    v1.sort(axis=1)
    v2.sort(axis=1)
    np.subtract(v1, v2, out=v1)
    np.abs(v1, out=v1)
    value = float(v1.sum()) / m
    if essential == "match":
        ess = _essential_costs(a.essential, b.essential)
        if ess is None:
            return math.inf
        value += math.fsum(ess)
    return value


#: Bytes of device memory one block of pairs may use in :func:`_sw_matrix_on_device`.
DEVICE_BLOCK_BYTES = 1 << 30


def _sw_matrix_on_device(
    rows: Sequence[_SWPrepared],
    cols: Sequence[_SWPrepared] | None,
    device: Any,
    essential: str,
) -> np.ndarray:
    """Every sliced-Wasserstein value between prepared diagrams, sorted on a torch device.

    Blocks of pairs are sorted at once: each diagram's projections and diagonal
    projections are padded to a common width with the largest float64, so both sides of
    a pair carry the same number of pads, which sort last and cancel exactly.  The values
    are those of :func:`_sw_pair` up to the order of the float64 sums (about 1e-15
    relative).  On the CPU NumPy's sort is faster (:func:`_sw_pair`); this is for GPUs.
    """
    import torch

    from .._torch import compute_device

    dev = compute_device(device)
    same = cols is None
    cols_l = list(rows) if cols is None else list(cols)
    rows = list(rows)
    out = np.zeros((len(rows), len(cols_l)))
    if not rows or not cols_l:
        return out
    m = rows[0].points.shape[0]
    width = max(1, max(p.points.shape[1] for p in rows + cols_l))
    pad = np.finfo(np.float64).max

    def stacked(preps: Sequence[_SWPrepared], attr: str) -> torch.Tensor:
        arr = np.full((len(preps), m, width), pad)
        for k, p in enumerate(preps):
            v = getattr(p, attr)
            arr[k, :, : v.shape[1]] = v
        return torch.from_numpy(arr).to(dev)

    pts_r, diag_r = stacked(rows, "points"), stacked(rows, "diagonal")
    pts_c, diag_c = (
        (pts_r, diag_r) if same else (stacked(cols_l, "points"), stacked(cols_l, "diagonal"))
    )
    if same:
        ii, jj = np.triu_indices(len(rows), 1)
    else:
        ii, jj = (a.ravel() for a in np.indices((len(rows), len(cols_l))))
    # at most six (m, 2 width) arrays of 8 bytes per pair alive at once: v1's sorted values,
    # v2's gathered halves, their concatenation, its sorted values and int64 indices
    per_pair = 6 * m * 2 * width * 8
    block = max(1, DEVICE_BLOCK_BYTES // per_pair)
    vals = np.empty(ii.size)
    for start in range(0, ii.size, block):
        i = torch.from_numpy(ii[start : start + block]).to(dev)
        j = torch.from_numpy(jj[start : start + block]).to(dev)
        v1 = torch.cat([pts_r[i], diag_c[j]], dim=2).sort(dim=2).values
        v2 = torch.cat([pts_c[j], diag_r[i]], dim=2).sort(dim=2).values
        vals[start : start + block] = (v1 - v2).abs().sum(dim=(1, 2)).cpu().numpy() / m
    if essential == "match":
        has_r = np.array([p.essential.size > 0 for p in rows])
        has_c = np.array([p.essential.size > 0 for p in cols_l])
        for k in np.flatnonzero(has_r[ii] | has_c[jj]):
            ess = _essential_costs(rows[ii[k]].essential, cols_l[jj[k]].essential)
            vals[k] = math.inf if ess is None else vals[k] + math.fsum(ess)
    out[ii, jj] = vals
    if same:
        out[jj, ii] = vals
    return out


def _check_directions(n_directions: Any) -> int:
    if isinstance(n_directions, bool) or not isinstance(n_directions, (int, np.integer)):
        raise TypeError(f"n_directions must be a positive integer, got {n_directions!r}")
    if n_directions < 1:
        raise ValueError(f"n_directions must be >= 1, got {n_directions}")
    return int(n_directions)


def sliced_wasserstein_distance(
    a: Any, b: Any, *, dim: int = 1, n_directions: int = 50, essential: Essential = "match"
) -> float:
    """Sliced Wasserstein distance, equal to persim's ``sliced_wasserstein(a, b, M=n_directions)``.

    Parameters
    ----------
    a, b
        Diagrams objects (``dim`` picks the dimension) or ``(k, 2)`` arrays.
    dim
        Homology dimension, when Diagrams are given.
    n_directions
        Number M of directions (persim's ``M``, default 50 as in the core paper).
    essential
        ``"match"``: the finite parts are compared as in persim (which returns
        NaN when an infinite bar is present), plus ``sum |b_i - b'_i|`` over
        sorted essential births, ``inf`` if their numbers differ; ``"drop"``
        ignores essential bars.

    Returns
    -------
    float

    Examples
    --------
    >>> round(sliced_wasserstein_distance([[0.0, 1.0]], [[0.0, 1.0]]), 12)
    0.0
    """
    m = _check_directions(n_directions)
    _check_essential(essential)
    dirs = _persim_directions(m)
    pa = _sw_prepare(as_diagram(a, dim=dim, name="a"), dirs)
    pb = _sw_prepare(as_diagram(b, dim=dim, name="b"), dirs)
    return _sw_pair(pa, pb, essential)


# ---------------------------------------------------------------------- registry


@dataclass(frozen=True)
class DiagramDistance:
    """A named distance between diagrams of one dimension, split for all-pairs use.

    It speaks the pairwise-measure protocol's vocabulary (:mod:`tda_activations._measure`)
    on diagrams: :meth:`prepare_many` runs once over every diagram of a comparison (it
    may look at all of them, e.g. to fix a common grid), :meth:`score` is then cheap,
    :meth:`score_matrix` runs the one all-pairs engine and :attr:`properties` says what
    the number is.  A topological measure of clouds
    (:class:`~tda_activations.experiments.TopologicalMeasure`) is a homology dimension,
    persistence options and one of these.  Other stages obtain them through
    :func:`get_diagram_distance`.

    Attributes
    ----------
    name
        Registry name.
    params
        Parameters (order, internal_p, n_directions, essential, ...).
    is_metric
        Whether it satisfies the metric axioms on diagrams (pseudo-metrics of
        vectorisations count as ``False``).
    description
        One line for reports.
    kind
        ``"distance"`` (the kind of a :class:`~tda_activations.LayerMatrix` it fills).
    """

    name: str
    params: dict[str, Any]
    is_metric: bool
    description: str
    _prepare: Callable[[Sequence[np.ndarray]], list[Any]] = field(repr=False, compare=False)
    _pair: Callable[[Any, Any], float] = field(repr=False, compare=False)
    kind: str = "distance"
    _device_matrix: Callable[[Sequence[Any], Sequence[Any] | None, Any], np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def properties(self) -> MeasureProperties:
        """A symmetric distance, zero between equal diagrams; a metric when :attr:`is_metric`."""
        return MeasureProperties(
            kind="distance",
            symmetric=True,
            metric=bool(self.is_metric),
            invariances=frozenset(),
            identity_value=0.0,
            bounds=(0.0, math.inf),
            needs_correspondence=False,
        )

    def prepare_many(self, diagrams: Sequence[Any]) -> list[Any]:
        """Per-diagram precomputation for a collection of ``(k, 2)`` diagrams.

        Parameters
        ----------
        diagrams
            ``(k, 2)`` arrays of (birth, death) (or Diagrams with one dimension).

        Returns
        -------
        list
            One prepared state per diagram, comparable with :meth:`score`.
        """
        return self._prepare([as_diagram(d) for d in diagrams])

    def score(self, a: Any, b: Any) -> float:
        """Distance between two prepared diagrams."""
        return float(self._pair(a, b))

    def pair(self, a: Any, b: Any) -> float:
        """The same as :meth:`score`."""
        return self.score(a, b)

    @property
    def has_device_engine(self) -> bool:
        """Whether :meth:`score_matrix` can run on a torch device (``device=``)."""
        return self._device_matrix is not None

    def score_matrix(
        self, rows: Sequence[Any], cols: Sequence[Any] | None = None, *, device: Any = None
    ) -> np.ndarray:
        """Every distance between prepared diagrams (``cols=None``: rows against themselves).

        Parameters
        ----------
        rows, cols
            Prepared diagrams (:meth:`prepare_many`).
        device
            ``None`` (the CPU engine) or a torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"``)
            for a distance with a device engine (:attr:`has_device_engine`: the sliced
            Wasserstein distance); values equal the CPU engine's to about 1e-15 relative.

        Returns
        -------
        numpy.ndarray
            float64, zero diagonal when ``cols`` is ``None`` (see
            :func:`~tda_activations._measure.all_pairs`).

        Raises
        ------
        ValueError
            A device was given for a distance without a device engine, or does not exist.
        """
        if device is not None:
            if self._device_matrix is None:
                raise ValueError(
                    f"the {self.name} distance has no device engine; leave device=None (the CPU "
                    "engine) or use metric='sliced_wasserstein'"
                )
            return self._device_matrix(list(rows), None if cols is None else list(cols), device)
        return all_pairs(
            self.score,
            list(rows),
            None if cols is None else list(cols),
            symmetric=True,
            identity_value=0.0,
        )

    def __call__(self, a: Any, b: Any, *, dim: int = 1) -> float:
        """Distance between two diagrams (Diagrams objects or arrays)."""
        pa, pb = self.prepare_many(
            [as_diagram(a, dim=dim, name="a"), as_diagram(b, dim=dim, name="b")]
        )
        return self.score(pa, pb)

    def measure_name(self, dim: int) -> str:
        """The measure's id in dimension ``dim``, e.g. ``sliced_wasserstein[H1,M=50]``."""
        short = {"n_directions": "M", "internal_p": "p", "order": "q"}
        parts = [f"H{dim}"] + [
            f"{short.get(k, k)}={v}" for k, v in self.params.items() if k != "essential"
        ]
        if self.params.get("essential", "match") != "match":
            parts.append(f"essential={self.params['essential']}")
        return f"{self.name}[{','.join(parts)}]"


def _bottleneck_factory(*, essential: Essential = "match") -> DiagramDistance:
    _check_essential(essential)
    return DiagramDistance(
        name="bottleneck",
        params={"essential": essential},
        is_metric=True,
        description="exact bottleneck distance (L-infinity ground metric)",
        _prepare=lambda dgms: [_split(d) for d in dgms],
        _pair=lambda a, b: _bottleneck_split(a, b, essential),
    )


def _wasserstein_factory(
    *, order: float | None = None, internal_p: float | None = None, essential: Essential = "match"
) -> DiagramDistance:
    if order is None or internal_p is None:
        missing = [name for name, v in (("order", order), ("internal_p", internal_p)) if v is None]
        raise ValueError(
            f"diagram distance 'wasserstein' needs {' and '.join(f'{m}=' for m in missing)}: "
            "there is no safe default (persim's wasserstein is order=1, internal_p=2; "
            "GUDHI/Hera's is internal_p=inf); pass both"
        )
    q, p = _check_wasserstein_params(order, internal_p)
    _check_essential(essential)
    return DiagramDistance(
        name="wasserstein",
        params={"order": q, "internal_p": p, "essential": essential},
        is_metric=True,
        description=f"exact {q:g}-Wasserstein distance, L_{p:g} ground metric",
        _prepare=lambda dgms: [_split(d) for d in dgms],
        _pair=lambda a, b: _wasserstein_split(a, b, q, p, essential),
    )


def _sliced_factory(*, n_directions: int = 50, essential: Essential = "match") -> DiagramDistance:
    m = _check_directions(n_directions)
    _check_essential(essential)
    dirs = _persim_directions(m)
    return DiagramDistance(
        name="sliced_wasserstein",
        params={"n_directions": m, "essential": essential},
        is_metric=False,
        description=f"sliced Wasserstein distance, {m} directions (persim-compatible)",
        _prepare=lambda dgms: [_sw_prepare(d, dirs) for d in dgms],
        _pair=lambda a, b: _sw_pair(a, b, essential),
        _device_matrix=lambda rows, cols, dev: _sw_matrix_on_device(rows, cols, dev, essential),
    )


_REGISTRY: Registry[DiagramDistance] = Registry("diagram distance", types=DiagramDistance)
_REGISTRY.register(
    "bottleneck",
    _bottleneck_factory,
    description="exact bottleneck distance (L-infinity ground metric)",
)
_REGISTRY.register(
    "wasserstein",
    _wasserstein_factory,
    description="exact q-Wasserstein distance, explicit ground metric L_p",
)
_REGISTRY.register(
    "sliced_wasserstein",
    _sliced_factory,
    description="sliced Wasserstein distance (persim-compatible)",
)


def register_diagram_distance(
    name: str,
    factory: Callable[..., DiagramDistance],
    *,
    description: str = "",
    replace: bool = False,
) -> None:
    """Add a distance to the registry (``factory(**params) -> DiagramDistance``).

    Parameters
    ----------
    name
        Registry name, not registered yet (unless ``replace``).
    factory
        Callable building the :class:`DiagramDistance` from keyword options.
    description
        One line for tables and help texts.
    replace
        Replace an existing distance of that name instead of raising.

    Raises
    ------
    ValueError
        If ``name`` is already registered and ``replace`` is false.
    """
    _REGISTRY.register(name, factory, description=description, replace=replace)


def diagram_distance_names() -> tuple[str, ...]:
    """List the names accepted by :func:`get_diagram_distance`.

    Returns
    -------
    tuple of str
        The registry names, in registration order.

    Examples
    --------
    >>> "bottleneck" in diagram_distance_names()
    True
    """
    return _REGISTRY.names()


def get_diagram_distance(name: str | DiagramDistance, **params: Any) -> DiagramDistance:
    """Get the :class:`DiagramDistance` called ``name``, configured with ``params``.

    Parameters
    ----------
    name
        One of :func:`diagram_distance_names` (a DiagramDistance is returned as is).
    **params
        Options of that distance (``order`` and ``internal_p`` for
        Wasserstein, both required: there is no safe default); ``n_directions`` for sliced
        Wasserstein; ``essential`` for all; grid options for vectorisations).

    Returns
    -------
    DiagramDistance
        The configured distance.

    Raises
    ------
    ValueError
        Unknown name (close matches suggested), or parameters given with an object.
    TypeError
        An option that distance does not take (the accepted ones are listed).
    """
    return _REGISTRY.get(name, **params)


def diagram_distance(
    a: Any, b: Any, *, metric: str = "sliced_wasserstein", dim: int = 1, **params: Any
) -> float:
    """Compute the distance between two diagrams by registry name.

    Parameters
    ----------
    a, b
        Diagrams: :class:`~tda_activations.Diagrams` or ``(k, 2)`` arrays of (birth, death).
    metric
        Registry name (see :func:`diagram_distance_names`).
    dim
        Homology dimension compared.
    **params
        Options of that distance (see :func:`get_diagram_distance`).

    Returns
    -------
    float
        The distance.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.array([[0.0, 4.0]]), np.array([[0.0, 1.0]])
    >>> diagram_distance(a, b, metric="bottleneck")  # both bars to the diagonal
    2.0
    """
    return get_diagram_distance(metric, **params)(a, b, dim=dim)
