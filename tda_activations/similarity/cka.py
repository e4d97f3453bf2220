"""Centered kernel alignment: linear (Gram and feature form), RBF, and minibatch.

Definitions (Kornblith et al. 2019, "Similarity of Neural Network Representations
Revisited"; Nguyen, Raghu & Kornblith 2021 for the minibatch form):

* biased HSIC uses the doubly centred Gram matrices ``HKH``; CKA is the cosine
  between the centred Gram matrices seen as vectors of ``R^(n*n)``;
* unbiased HSIC (Song et al. 2007) uses the U-centred Gram matrices of Szekely &
  Rizzo (2014); "debiased" CKA is the cosine between U-centred Gram matrices, so
  it may be negative, and it needs ``n >= 4``;
* for a linear kernel, ``<HKH, HLH> = ||Xc^T Yc||_F^2`` (feature form), cheaper than
  the Gram form when the widths are below ``n``; ``form="auto"`` picks per cloud;
* RBF bandwidth: ``sigma^2 = bandwidth_fraction^2 * median(D^2)``, the median taken
  over all ``n*n`` entries of the squared-distance matrix, the zero diagonal included,
  exactly as in Kornblith et al.'s reference implementation;
* minibatch CKA: unbiased HSIC of each batch, numerator and both denominators each
  averaged over the batches, then combined (memory bounded by the batch size).

All accumulation is in float64.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from .._distances import single_thread
from ._base import Measure, MeasureProperties, PreparedCloud, as_cloud, centred, register_measure

__all__ = [
    "LinearCKA",
    "MinibatchCKA",
    "RBFCKA",
    "double_centre",
    "u_centre",
]

log = logging.getLogger(__name__)

_ORTHO_INVARIANCES = frozenset({"orthogonal", "isotropic_scaling", "translation", "permutation"})


def double_centre(gram: np.ndarray) -> np.ndarray:
    """Double-centre a Gram matrix: ``H K H`` with ``H = I - 11^T/n``.

    Parameters
    ----------
    gram
        Square Gram matrix ``K`` ``(n, n)``.

    Returns
    -------
    numpy.ndarray
        The Gram matrix of the centred features, float64 ``(n, n)`` (a new array).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [2.0]])
    >>> double_centre(x @ x.T)
    array([[ 1.,  0., -1.],
           [ 0.,  0.,  0.],
           [-1.,  0.,  1.]])
    """
    k = np.array(gram, dtype=np.float64, copy=True)
    rows = k.mean(axis=0)
    total = rows.mean()
    k -= rows[None, :]
    k -= rows[:, None]
    k += total
    return k


def u_centre(gram: np.ndarray) -> np.ndarray:
    """U-centring of Szekely & Rizzo (2014): the basis of unbiased HSIC.

    ``K~_ij = K_ij - K_i./(n-2) - K_.j/(n-2) + K../((n-1)(n-2))`` for ``i != j``
    (sums taken with the diagonal set to zero) and ``K~_ii = 0``.  The unbiased HSIC
    of Song et al. (2007) is ``<K~, L~> / (n (n-3))``.

    Parameters
    ----------
    gram
        Square Gram matrix ``K`` ``(n, n)``, ``n >= 4``.

    Returns
    -------
    numpy.ndarray
        ``K~``, float64 ``(n, n)`` with a zero diagonal.

    Raises
    ------
    ValueError
        If ``n < 4``.
    """
    n = gram.shape[0]
    if n < 4:
        raise ValueError(
            f"unbiased (debiased) HSIC needs at least 4 points, got {n}; use the biased "
            "estimator (debiased=False) or more points"
        )
    k = np.array(gram, dtype=np.float64, copy=True)
    np.fill_diagonal(k, 0.0)
    rows = k.sum(axis=0) / (n - 2)
    total = rows.sum() / (2.0 * (n - 1))
    rows -= total
    k -= rows[None, :]
    k -= rows[:, None]
    np.fill_diagonal(k, 0.0)
    return k


def _debiased_dot(
    xty: float, rx: np.ndarray, ry: np.ndarray, sx: float, sy: float, n: int
) -> float:
    """``n (n-3)`` times the unbiased linear HSIC from feature-space quantities.

    ``xty = ||Xc^T Yc||_F^2``; ``rx``, ``ry``: squared norms of the centred rows;
    ``sx``, ``sy``: their sums.  Derived from Song et al.'s U-statistic for centred
    features (``1^T K 1 = 0``).
    """
    return xty - n / (n - 2.0) * float(rx @ ry) + sx * sy / ((n - 1.0) * (n - 2.0))


def _require_debiased_n(n: int) -> None:
    if n < 4:
        raise ValueError(
            f"cloud: debiased CKA (unbiased HSIC) needs at least 4 points, got {n}; use "
            "debiased=False or more points"
        )


#: Widest block of stacked clouds (columns) in one matrix product of the batched linear
#: CKA matrix: two blocks of this width make a product of 2048 x 2048 float64 (32 MiB).
BATCH_WIDTH = 2048


def _blocks(widths: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs of clouds whose widths sum to at most BATCH_WIDTH (one at least)."""
    out: list[tuple[int, int]] = []
    start, total = 0, 0
    for k, w in enumerate(widths):
        if k > start and total + w > BATCH_WIDTH:
            out.append((start, k))
            start, total = k, 0
        total += w
    out.append((start, len(widths)))
    return out


def _stacked_cross(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None) -> np.ndarray:
    """``||x_i^T y_j||_F^2`` for every pair, from blocks of stacked clouds.

    ``ys=None``: ``xs`` against themselves (only blocks on or above the diagonal are
    computed; the caller mirrors the upper triangle).  The products run on one BLAS
    thread: a multi-threaded product sums in an order that depends on the thread count,
    and the values must not (a resumed batch run reproduces a clean one bit for bit).
    """
    same = ys is None
    ys_l = xs if ys is None else ys
    out = np.zeros((len(xs), len(ys_l)))
    bx, by = _blocks([x.shape[1] for x in xs]), _blocks([y.shape[1] for y in ys_l])
    with single_thread():
        for bi, (r0, r1) in enumerate(bx):
            a = np.hstack(xs[r0:r1])
            ra = np.cumsum([0] + [x.shape[1] for x in xs[r0 : r1 - 1]])
            for bj, (c0, c1) in enumerate(by):
                if same and bj < bi:
                    continue
                b = np.hstack(ys_l[c0:c1])
                cb = np.cumsum([0] + [y.shape[1] for y in ys_l[c0 : c1 - 1]])
                m = a.T @ b
                np.multiply(m, m, out=m)
                out[r0:r1, c0:c1] = np.add.reduceat(np.add.reduceat(m, ra, axis=0), cb, axis=1)
    return out


def _stacked_cross_on_device(
    xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] | None, device: Any
) -> np.ndarray:
    """:func:`_stacked_cross` on a torch device, in float64 (equal to about 1e-15 relative).

    Each block of stacked clouds is moved to the device once; the per-pair sums of the
    squared product are products with 0/1 segment matrices there (not ``index_add_``,
    whose atomic additions on a GPU sum in a different order from run to run).
    """
    import torch

    from .._torch import compute_device

    dev = compute_device(device)
    same = ys is None
    ys_l = xs if ys is None else ys
    out = np.zeros((len(xs), len(ys_l)))
    bx, by = _blocks([x.shape[1] for x in xs]), _blocks([y.shape[1] for y in ys_l])

    def on_device(clouds: Sequence[np.ndarray], blocks: list[tuple[int, int]]) -> list[Any]:
        moved = []
        for b0, b1 in blocks:
            seg = np.repeat(np.arange(b1 - b0), [c.shape[1] for c in clouds[b0:b1]])
            onehot = np.zeros((seg.size, b1 - b0))
            onehot[np.arange(seg.size), seg] = 1.0
            moved.append(
                (
                    torch.from_numpy(np.hstack(clouds[b0:b1])).to(dev),
                    torch.from_numpy(onehot).to(dev),
                )
            )
        return moved

    xa = on_device(xs, bx)
    yb = xa if same else on_device(ys_l, by)
    for bi, (r0, r1) in enumerate(bx):
        a, sa = xa[bi]
        for bj, (c0, c1) in enumerate(by):
            if same and bj < bi:
                continue
            b, sb = yb[bj]
            m = (a.T @ b).square_()
            out[r0:r1, c0:c1] = (sa.T @ m @ sb).cpu().numpy()
    return out


# ------------------------------------------------------------------------ linear CKA


@dataclass(frozen=True)
class LinearCKA(Measure):
    """Linear CKA, biased or debiased, in Gram or feature form.

    Parameters
    ----------
    debiased
        Use the unbiased HSIC estimator (U-centring); needs ``n >= 4`` and may be
        negative.
    form
        ``"feature"`` (``||Xc^T Yc||_F^2``, cost ``n p q``), ``"gram"`` (centred
        ``n x n`` Gram matrices, cost ``n^2``) or ``"auto"``: Gram form for a cloud
        whose width is at least ``n``, feature form otherwise.  Every form gives the
        same value to rounding.

    Notes
    -----
    A similarity in ``[0, 1]`` (``[-1, 1]`` debiased), symmetric, invariant to
    orthogonal transforms, isotropic scaling, translation and permutations of units,
    not to general invertible linear maps.  It is the cosine between centred Gram
    matrices: :func:`~tda_activations.similarity.angular_distance` of it is a metric.
    """

    debiased: bool = False
    form: Literal["auto", "gram", "feature"] = "auto"

    name = "linear_cka"

    def __post_init__(self) -> None:
        if self.form not in ("auto", "gram", "feature"):
            raise ValueError(f"form must be 'auto', 'gram' or 'feature', got {self.form!r}")

    @property
    def min_points(self) -> int:  # type: ignore[override]
        """Fewest points a cloud must have."""
        return 4 if self.debiased else 2

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=_ORTHO_INVARIANCES,
            identity_value=1.0,
            bounds=(-1.0, 1.0) if self.debiased else (0.0, 1.0),
            cosine=True,
        )

    def _use_gram(self, n: int, p: int) -> bool:
        if self.form == "gram":
            return True
        if self.form == "feature":
            return False
        return p >= n

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        n, p = x.shape
        if self.debiased:
            _require_debiased_n(n)
        xc = centred(x)
        stats: dict[str, Any] = {"xc": xc}
        if self._use_gram(n, p):
            k = xc @ xc.T
            stats["gram"] = k
            sq_self = float(np.einsum("ij,ij->", k, k))
            rows = np.diag(k).copy()
        else:
            c = xc.T @ xc
            sq_self = float(np.einsum("ij,ij->", c, c))
            rows = np.einsum("ij,ij->i", xc, xc)
        stats["rows"] = rows
        stats["sum_rows"] = float(rows.sum())
        if self.debiased:
            self_dot = _debiased_dot(sq_self, rows, rows, stats["sum_rows"], stats["sum_rows"], n)
            if not self_dot > 0:
                raise ValueError(
                    "cloud: the unbiased HSIC of the cloud with itself is not positive "
                    f"({self_dot:.3g}); the cloud is (nearly) degenerate for debiased CKA"
                )
            stats["norm"] = math.sqrt(self_dot)
        else:
            stats["norm"] = math.sqrt(sq_self)
        return stats

    def _cross(self, a: PreparedCloud, b: PreparedCloud) -> float:
        ga, gb = a.stats.get("gram"), b.stats.get("gram")
        if ga is not None and gb is not None:
            return float(np.einsum("ij,ij->", ga, gb))
        xa, xb = a.stats["xc"], b.stats["xc"]
        c = xa.T @ xb
        return float(np.einsum("ij,ij->", c, c))

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        cross = self._cross(a, b)
        if self.debiased:
            cross = _debiased_dot(
                cross,
                a.stats["rows"],
                b.stats["rows"],
                a.stats["sum_rows"],
                b.stats["sum_rows"],
                a.n_points,
            )
        return cross / (a.stats["norm"] * b.stats["norm"])

    #: :meth:`score_matrix` can run on a torch device (``device=``).
    has_device_engine: ClassVar[bool] = True

    def score_matrix(
        self, rows: Sequence[Any], cols: Sequence[Any] | None = None, *, device: Any = None
    ) -> np.ndarray:
        """Every value between prepared clouds, batched when every cloud is in feature form.

        The cross terms ``||Xc_i^T Yc_j||_F^2`` of many pairs come from one matrix product
        per block of stacked centred clouds (at most :data:`BATCH_WIDTH` columns a side),
        reduced per pair of clouds, instead of one small product per pair; the values
        equal the pairwise ones to rounding (about 1e-15 relative).  Clouds in Gram form
        (width at least the number of points) use the pairwise engine.

        Parameters
        ----------
        rows
            Prepared clouds.
        cols
            Prepared clouds; ``None``: ``rows`` against themselves (diagonal 1, the
            matrix exactly symmetric).
        device
            ``None`` (NumPy on the CPU, one BLAS thread) or a torch device such as
            ``"cuda"`` for the stacked products, whatever the clouds' form (float64;
            equal to about 1e-15 relative; the same bits from run to run on one device,
            which may differ from another device's in the last bits).

        Returns
        -------
        numpy.ndarray
            ``(len(rows), len(cols))`` float64.
        """
        rows = list(rows)
        same = cols is None
        cols_l = rows if cols is None else list(cols)
        everything = rows if same else rows + cols_l
        if (
            len(rows) == 0
            or len(cols_l) == 0
            or any(not isinstance(p, PreparedCloud) for p in everything)
            # on the CPU, clouds in Gram form are faster pair by pair; a device takes the
            # stacked products whatever the form (a prepared cloud keeps its centred points)
            or (device is None and any("gram" in p.stats for p in everything))
        ):
            if device is not None and len(rows) and len(cols_l):
                raise TypeError("device= needs prepared clouds (LinearCKA.prepare), not raw arrays")
            return super().score_matrix(rows, cols)
        for p in everything:  # the checks of score(), once per cloud
            self._check_pair(everything[0], p)
        n = rows[0].n_points
        xs = [p.stats["xc"] for p in rows]
        ys = None if same else [p.stats["xc"] for p in cols_l]
        cross = (
            _stacked_cross(xs, ys) if device is None else _stacked_cross_on_device(xs, ys, device)
        )
        if self.debiased:
            rr = np.stack([p.stats["rows"] for p in rows])
            rc = rr if same else np.stack([p.stats["rows"] for p in cols_l])
            sr = np.array([p.stats["sum_rows"] for p in rows])
            sc = sr if same else np.array([p.stats["sum_rows"] for p in cols_l])
            with single_thread():  # see _stacked_cross: values independent of the thread count
                dots = rr @ rc.T
            cross = cross - n / (n - 2.0) * dots + np.outer(sr, sc) / ((n - 1.0) * (n - 2.0))
        norm_r = np.array([p.stats["norm"] for p in rows])
        norm_c = norm_r if same else np.array([p.stats["norm"] for p in cols_l])
        out = cross / np.outer(norm_r, norm_c)
        if same:
            upper = np.triu(out, 1)
            out = upper + upper.T
            np.fill_diagonal(out, self.properties.identity_value)
        return out


# --------------------------------------------------------------------------- RBF CKA


def rbf_gram(x: np.ndarray, *, bandwidth_fraction: float) -> np.ndarray:
    """RBF Gram matrix with ``sigma^2 = bandwidth_fraction^2 * median(D^2)``.

    The median runs over all ``n*n`` squared distances, the zero diagonal included
    (the convention of Kornblith et al.'s reference implementation).

    Raises
    ------
    ValueError
        If the median squared distance is zero (most points coincide).
    """
    xc = x - x.mean(axis=0, keepdims=True)
    g = xc @ xc.T
    sq = np.diag(g)
    d2 = sq[:, None] + sq[None, :] - 2.0 * g
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    med = float(np.median(d2))
    if not med > 0:
        raise ValueError(
            "cloud: the median squared distance is zero (most points coincide), so the "
            "RBF bandwidth is undefined; deduplicate the points or use linear CKA"
        )
    d2 /= -2.0 * bandwidth_fraction**2 * med
    return np.exp(d2, out=d2)


@dataclass(frozen=True)
class RBFCKA(Measure):
    """CKA with a Gaussian (RBF) kernel whose bandwidth is a fraction of the median distance.

    Parameters
    ----------
    bandwidth_fraction
        ``sigma = bandwidth_fraction * sqrt(median squared distance)`` (see
        :func:`rbf_gram`).  Kornblith et al.'s demonstration uses 0.5.
    debiased
        Use U-centred Gram matrices (unbiased HSIC); needs ``n >= 4``.

    Notes
    -----
    Memory and time are ``O(n^2)`` per cloud.  Invariant to orthogonal transforms,
    isotropic scaling (the bandwidth follows the scale), translation and
    permutations; not to general linear maps.
    """

    bandwidth_fraction: float = 0.5
    debiased: bool = False

    name = "rbf_cka"

    def __post_init__(self) -> None:
        if not (isinstance(self.bandwidth_fraction, (int, float)) and self.bandwidth_fraction > 0):
            raise ValueError(
                f"bandwidth_fraction must be a positive number, got {self.bandwidth_fraction!r}"
            )

    @property
    def min_points(self) -> int:  # type: ignore[override]
        """Fewest points a cloud must have."""
        return 4 if self.debiased else 2

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=_ORTHO_INVARIANCES,
            identity_value=1.0,
            bounds=(-1.0, 1.0) if self.debiased else (0.0, 1.0),
            cosine=True,
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        if self.debiased:
            _require_debiased_n(x.shape[0])
        centred(x)
        k = rbf_gram(x, bandwidth_fraction=float(self.bandwidth_fraction))
        kc = u_centre(k) if self.debiased else double_centre(k)
        norm = float(np.sqrt(np.einsum("ij,ij->", kc, kc)))
        if not norm > 0:
            raise ValueError("cloud: the centred RBF Gram matrix is zero; the cloud is degenerate")
        return {"kc": kc, "norm": norm}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        dot = float(np.einsum("ij,ij->", a.stats["kc"], b.stats["kc"]))
        return dot / (a.stats["norm"] * b.stats["norm"])


# --------------------------------------------------------------------- minibatch CKA


def batch_slices(n: int, *, batch_size: int, seed: int) -> list[np.ndarray]:
    """Row indices of each minibatch: a seeded permutation split into near-equal batches.

    The permutation guards against batches of one class when samples are sorted.
    Every batch has at least 4 rows.
    """
    if n < 4:
        raise ValueError(f"minibatch CKA needs at least 4 points, got {n}")
    n_batches = max(1, math.ceil(n / batch_size))
    while n_batches > 1 and n // n_batches < 4:
        n_batches -= 1
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(b) for b in np.array_split(order, n_batches)]


@dataclass(frozen=True)
class MinibatchCKA(Measure):
    """Minibatch linear CKA (Nguyen, Raghu & Kornblith 2021).

    The samples are permuted (``seed``) and split into near-equal batches of at most
    ``batch_size``; for each batch the unbiased HSIC of the pair and of each cloud
    with itself is computed; CKA is ``mean(HSIC_xy) / sqrt(mean(HSIC_xx) mean(HSIC_yy))``.
    Working memory is ``O(batch_size^2)`` per cloud, whatever ``n``.

    Parameters
    ----------
    batch_size
        Largest batch (at least 4).  The estimate approaches debiased CKA as it grows.
    seed
        Seed of the permutation of the samples (the same for every cloud).
    """

    batch_size: int = 1000
    seed: int = 0

    name = "minibatch_cka"
    min_points = 4

    def __post_init__(self) -> None:
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 4:
            raise ValueError(
                f"batch_size must be an integer >= 4 (unbiased HSIC needs 4 points per "
                f"batch), got {self.batch_size!r}"
            )

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=_ORTHO_INVARIANCES,
            identity_value=1.0,
            bounds=(-1.0, 1.0),
            cosine=True,
        )

    def prepare(self, x: npt.ArrayLike, *, name: str = "cloud") -> PreparedCloud:
        """Validate the cloud and keep a reference to it (no float64 copy).

        Batches are cut and converted to float64 one at a time in :meth:`score`, so
        the working memory is bounded by the batch size, not by ``n``.
        """
        arr = np.asarray(x)
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            as_cloud(arr, name=name, min_points=self.min_points)  # raises the usual error
        if arr.shape[0] < self.min_points or arr.shape[1] == 0:
            as_cloud(arr, name=name, min_points=self.min_points)
        for lo in range(0, arr.shape[0], 4096):  # blockwise: no n x p temporary
            if not np.isfinite(arr[lo : lo + 4096]).all():
                as_cloud(arr[lo : lo + 4096], name=name, min_points=1)
        if np.all(arr == arr[:1]):
            raise ValueError(
                f"{name}: every point of the cloud is the same (zero variance); the measure is "
                "undefined for it: check the layer (dead units?) or drop it"
            )
        view = arr.view()
        view.setflags(write=False)
        return PreparedCloud(
            measure=self.id, n_points=arr.shape[0], width=arr.shape[1], stats={"x": view}
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:  # pragma: no cover - prepare() overrides
        return {"x": x}

    def _batch_u_gram(self, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
        xb = np.asarray(x[idx], dtype=np.float64)
        xb -= xb.mean(axis=0, keepdims=True)
        return u_centre(xb @ xb.T)

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        return float(self._matrix([a, b], [(0, 1)])[0, 1])

    def _matrix(
        self, clouds: Sequence[PreparedCloud], pairs: Sequence[tuple[int, int]] | None
    ) -> np.ndarray:
        n = clouds[0].n_points
        batches = batch_slices(n, batch_size=int(self.batch_size), seed=int(self.seed))
        k = len(clouds)
        acc = np.zeros((k, k), dtype=np.float64)
        for idx in batches:
            m = idx.size
            feats = np.empty((k, m * m), dtype=np.float64)
            for c, cloud in enumerate(clouds):
                feats[c] = self._batch_u_gram(cloud.stats["x"], idx).ravel()
            acc += (feats @ feats.T) / (m * (m - 3.0))
        acc /= len(batches)
        diag = np.diag(acc).copy()
        if np.any(diag <= 0):
            raise ValueError(
                "a cloud has non-positive minibatch HSIC with itself (degenerate within "
                "every batch); use a larger batch_size"
            )
        return acc / np.sqrt(np.outer(diag, diag))

    def score_matrix(
        self, rows: Sequence[PreparedCloud], cols: Sequence[PreparedCloud] | None = None
    ) -> np.ndarray:
        """All values at once: each batch's U-centred Gram matrix is computed once per cloud."""
        if cols is None:
            clouds = list(rows)
            self._check_all(clouds)
            out = self._matrix(clouds, None)
            np.fill_diagonal(out, 1.0)
            return out
        clouds = list(rows) + list(cols)
        self._check_all(clouds)
        full = self._matrix(clouds, None)
        return full[: len(rows), len(rows) :].copy()

    def _check_all(self, clouds: Sequence[PreparedCloud]) -> None:
        for c in clouds:
            if c.measure != self.id:
                raise ValueError(
                    f"a cloud was prepared by {c.measure!r}, not by {self.id!r}; prepare it "
                    "with this measure"
                )
            if c.n_points != clouds[0].n_points:
                raise ValueError(
                    "the clouds have different numbers of points; rows must be the same samples"
                )


register_measure(
    "linear_cka",
    LinearCKA,
    defaults={"debiased": False},
    description="Linear CKA (biased HSIC), Gram or feature form chosen by n vs width",
)
register_measure(
    "linear_cka_debiased",
    LinearCKA,
    defaults={"debiased": True},
    description="Linear CKA from the unbiased HSIC estimator (n >= 4)",
)
register_measure(
    "rbf_cka",
    RBFCKA,
    defaults={"bandwidth_fraction": 0.5},
    description="RBF-kernel CKA, sigma = fraction x median distance",
)
register_measure(
    "minibatch_cka",
    MinibatchCKA,
    defaults={"batch_size": 1000, "seed": 0},
    description="Linear CKA from unbiased HSIC averaged over minibatches (bounded memory)",
)
