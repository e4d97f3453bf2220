"""Vectorisations of persistence diagrams, and distances between them.

Every function takes a :class:`~tda_activations.types.Diagrams` (with
``dim``) or a ``(k, 2)`` array.  Essential bars (death ``inf``) have no
finite landscape, image, entropy or total persistence: those functions use
the finite bars only (said in each docstring).  Betti curves keep them (an
essential bar counts from its birth on).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._checks import as_diagram
from .distances import (
    DiagramDistance,
    Essential,
    _check_essential,
    register_diagram_distance,
)

__all__ = [
    "betti_curve",
    "betti_curve_distance",
    "landscape",
    "persistence_entropy",
    "persistence_image",
    "total_persistence",
]


def _finite(dgm: np.ndarray) -> np.ndarray:
    return dgm[np.isfinite(dgm[:, 1])]


def _grid(grid: Any) -> np.ndarray:
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size == 0 or not np.isfinite(g).all():
        raise ValueError("grid must be a non-empty 1-D array of finite values")
    if np.any(np.diff(g) <= 0):
        raise ValueError("grid must be strictly increasing")
    return g


# --------------------------------------------------------------------- Betti curve


def betti_curve(dgm: Any, *, grid: Any, dim: int = 1) -> np.ndarray:
    """Betti numbers along a grid: ``beta(t) = #{bars with birth <= t < death}``.

    Parameters
    ----------
    dgm
        Diagrams (with ``dim``) or a ``(k, 2)`` array; essential bars count
        from their birth on.
    grid
        Increasing filtration values.
    dim
        Homology dimension, when Diagrams are given.

    Returns
    -------
    numpy.ndarray
        Int64 array, one Betti number per grid value.
    """
    d = as_diagram(dgm, dim=dim)
    g = _grid(grid)
    born = np.searchsorted(np.sort(d[:, 0]), g, side="right")
    dead = np.searchsorted(np.sort(d[:, 1]), g, side="right")
    return (born - dead).astype(np.int64)


def _betti_events(d: np.ndarray, essential: str) -> tuple[np.ndarray, np.ndarray]:
    if essential == "drop":
        d = _finite(d)
    fin = np.isfinite(d[:, 1])
    t = np.concatenate([d[:, 0], d[fin, 1]])
    s = np.concatenate([np.ones(d.shape[0]), -np.ones(int(fin.sum()))])
    return t, s


def _betti_l1(
    a: tuple[np.ndarray, np.ndarray, int], b: tuple[np.ndarray, np.ndarray, int]
) -> float:
    ta, sa, ea = a
    tb, sb, eb = b
    if ea != eb:
        return math.inf  # the curves differ by a constant on an infinite half-line
    t = np.concatenate([ta, tb])
    if t.size == 0:
        return 0.0
    s = np.concatenate([sa, -sb])
    order = np.argsort(t, kind="stable")
    t, h = t[order], np.cumsum(s[order])
    return float(np.sum(np.abs(h[:-1]) * np.diff(t)))


def betti_curve_distance(a: Any, b: Any, *, dim: int = 1, essential: Essential = "match") -> float:
    """Exact L1 distance ``integral |beta_a(t) - beta_b(t)| dt`` between Betti curves.

    The curves are step functions, so the integral is computed exactly from
    the sorted births and deaths (no grid).  With ``essential="match"``
    essential bars count and the distance is ``inf`` if their numbers differ;
    ``"drop"`` ignores them.

    Parameters
    ----------
    a, b
        :class:`~tda_activations.Diagrams` or ``(k, 2)`` arrays of (birth, death).
    dim
        Homology dimension compared.
    essential
        ``"match"`` or ``"drop"`` (see above).

    Returns
    -------
    float
        The distance (``inf`` when ``"match"`` and the essential bars differ in number).

    Examples
    --------
    >>> import numpy as np
    >>> betti_curve_distance(np.array([[0.0, 3.0]]), np.array([[1.0, 2.0]]))
    2.0
    """
    _check_essential(essential)
    prep = _betti_prepare([as_diagram(a, dim=dim), as_diagram(b, dim=dim)], essential)
    return _betti_l1(prep[0], prep[1])


def _betti_prepare(
    dgms: Sequence[np.ndarray], essential: str
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    out = []
    for d in dgms:
        t, s = _betti_events(d, essential)
        n_ess = 0 if essential == "drop" else int(np.count_nonzero(~np.isfinite(d[:, 1])))
        out.append((t, s, n_ess))
    return out


# ---------------------------------------------------------------------- landscapes


def landscape(dgm: Any, *, grid: Any, n_layers: int = 5, dim: int = 1) -> np.ndarray:
    """Persistence landscape ``lambda_k(t)``, k = 1..n_layers, sampled on a grid.

    ``lambda_k(t)`` is the k-th largest of ``max(0, min(t - b, d - t))`` over
    the finite bars (Bubenik 2015); essential bars are left out.

    Parameters
    ----------
    dgm
        A :class:`~tda_activations.Diagrams` or a ``(k, 2)`` array of (birth, death).
    grid
        Increasing sample points ``t``.
    n_layers
        Number of landscape functions ``k``.
    dim
        Homology dimension used when ``dgm`` is a :class:`~tda_activations.Diagrams`.

    Returns
    -------
    numpy.ndarray
        ``(n_layers, len(grid))`` float64.
    """
    d = _finite(as_diagram(dgm, dim=dim))
    g = _grid(grid)
    if isinstance(n_layers, bool) or not isinstance(n_layers, (int, np.integer)) or n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers!r}")
    out = np.zeros((int(n_layers), g.size))
    if d.shape[0] == 0:
        return out
    tents = np.minimum(g[None, :] - d[:, :1], d[:, 1:] - g[None, :])
    np.maximum(tents, 0.0, out=tents)
    k = min(int(n_layers), d.shape[0])
    top = -np.sort(-tents, axis=0)[:k]
    out[:k] = top
    return out


# ----------------------------------------------------------------- persistence image


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    from scipy.special import erfc

    return erfc(-x / np.sqrt(2.0)) / 2.0


def persistence_image(
    dgm: Any,
    *,
    birth_range: tuple[float, float],
    pers_range: tuple[float, float],
    resolution: tuple[int, int] = (20, 20),
    sigma: float = 1.0,
    weight_power: float = 1.0,
    dim: int = 1,
) -> np.ndarray:
    """Persistence image (Adams et al. 2017) in birth-persistence coordinates.

    Each finite bar ``(b, d)`` becomes the point ``(b, p = d - b)`` with
    weight ``p ** weight_power``; pixel values are the exact integrals over
    each pixel of the weighted isotropic Gaussians of standard deviation
    ``sigma`` (persim's ``PersistenceImager`` with a Gaussian kernel of
    covariance ``sigma**2 I`` and weight ``persistence(n=weight_power)``).

    Parameters
    ----------
    dgm
        A :class:`~tda_activations.Diagrams` or a ``(k, 2)`` array of (birth, death).
    birth_range, pers_range
        Extent of the image.
    resolution
        Pixels along birth and persistence.
    sigma
        Standard deviation of the Gaussians.
    weight_power
        A bar's weight is its persistence to this power.
    dim
        Homology dimension used when ``dgm`` is a :class:`~tda_activations.Diagrams`.

    Returns
    -------
    numpy.ndarray
        ``resolution`` float64 array indexed ``[birth, persistence]``.
    """
    d = _finite(as_diagram(dgm, dim=dim))
    nb, npers = (int(r) for r in resolution)
    if nb < 1 or npers < 1:
        raise ValueError(f"resolution must be two positive integers, got {resolution!r}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    b0, b1 = (float(v) for v in birth_range)
    p0, p1 = (float(v) for v in pers_range)
    if not (b1 > b0 and p1 > p0):
        raise ValueError("birth_range and pers_range must be increasing (lo, hi) pairs")
    be = np.linspace(b0, b1, nb + 1)
    pe = np.linspace(p0, p1, npers + 1)
    births, pers = d[:, 0], d[:, 1] - d[:, 0]
    w = pers**weight_power
    cb = np.diff(_norm_cdf((be[None, :] - births[:, None]) / sigma), axis=1)  # (k, nb)
    cp = np.diff(_norm_cdf((pe[None, :] - pers[:, None]) / sigma), axis=1)  # (k, np)
    return (cb * w[:, None]).T @ cp


# ------------------------------------------------------------- scalar summaries


def persistence_entropy(dgm: Any, *, dim: int = 1, normalize: bool = False) -> float:
    """Persistent entropy ``-sum p_i log p_i``, ``p_i = l_i / sum l`` over finite bars.

    Parameters
    ----------
    dgm
        A :class:`~tda_activations.Diagrams` or a ``(k, 2)`` array of (birth, death).
    dim
        Homology dimension used when ``dgm`` is a :class:`~tda_activations.Diagrams`.
    normalize
        Divide by ``log(number of bars)`` (persim's ``normalize=True``).

    Returns
    -------
    float
        0.0 for a diagram with fewer than one finite bar (no uncertainty); essential bars are
        left out (persim's ``keep_inf=False``).
    """
    d = _finite(as_diagram(dgm, dim=dim))
    lengths = d[:, 1] - d[:, 0]
    lengths = lengths[lengths > 0]
    if lengths.size == 0:
        return 0.0
    p = lengths / lengths.sum()
    ent = float(-np.sum(p * np.log(p)))
    if normalize:
        return ent / math.log(lengths.size) if lengths.size > 1 else 0.0
    return ent


def total_persistence(dgm: Any, *, order: float = 1.0, dim: int = 1) -> float:
    """Total persistence ``sum (d - b) ** order`` over the finite bars (essential bars left out).

    Parameters
    ----------
    dgm
        A :class:`~tda_activations.Diagrams` or a ``(k, 2)`` array of (birth, death).
    order
        Power of each bar's length, positive.
    dim
        Homology dimension used when ``dgm`` is a :class:`~tda_activations.Diagrams`.

    Returns
    -------
    float
        The total persistence.

    Raises
    ------
    ValueError
        If ``order`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> total_persistence(np.array([[0.0, 1.0], [0.0, 3.0], [0.0, np.inf]]), order=2)
    10.0
    """
    if not order > 0:
        raise ValueError(f"order must be positive, got {order!r}")
    d = _finite(as_diagram(dgm, dim=dim))
    return math.fsum((d[:, 1] - d[:, 0]) ** float(order))


# --------------------------------------------------------------- registry entries


def _collection_range(dgms: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """(min birth, max finite death, max persistence) over a collection of diagrams."""
    fins = [_finite(d) for d in dgms]
    fins = [f for f in fins if f.size]
    if not fins:
        return 0.0, 1.0, 1.0
    allf = np.concatenate(fins)
    lo, hi = float(allf[:, 0].min()), float(allf[:, 1].max())
    pmax = float((allf[:, 1] - allf[:, 0]).max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi, max(pmax, 1e-12)


def _betti_factory(*, essential: Essential = "match") -> DiagramDistance:
    _check_essential(essential)
    return DiagramDistance(
        name="betti_curve",
        params={"essential": essential},
        is_metric=False,
        description="exact L1 distance between Betti curves",
        _prepare=lambda dgms: _betti_prepare(dgms, essential),
        _pair=_betti_l1,
    )


def _landscape_factory(
    *, n_layers: int = 5, resolution: int = 200, p: float = 2.0
) -> DiagramDistance:
    if not p >= 1:
        raise ValueError(f"p must be >= 1, got {p!r}")

    def prepare(dgms: Sequence[np.ndarray]) -> list[np.ndarray]:
        lo, hi, _ = _collection_range(dgms)
        grid = np.linspace(lo, hi, int(resolution))
        step = grid[1] - grid[0] if grid.size > 1 else 1.0
        return [landscape(d, grid=grid, n_layers=n_layers) * step ** (1.0 / p) for d in dgms]

    def pair(a: np.ndarray, b: np.ndarray) -> float:
        diff = np.abs(a - b)
        return float(diff.max()) if p == math.inf else float(np.sum(diff**p) ** (1.0 / p))

    return DiagramDistance(
        name="landscape",
        params={"n_layers": int(n_layers), "resolution": int(resolution), "p": float(p)},
        is_metric=False,
        description=f"L{p:g} distance between persistence landscapes on a common grid "
        "(Riemann sum over the collection's range)",
        _prepare=prepare,
        _pair=pair,
    )


def _image_factory(
    *, resolution: int = 20, sigma: float | None = None, weight_power: float = 1.0
) -> DiagramDistance:
    def prepare(dgms: Sequence[np.ndarray]) -> list[np.ndarray]:
        lo, hi, pmax = _collection_range(dgms)
        s = sigma if sigma is not None else 0.05 * max(pmax, hi - lo)
        return [
            persistence_image(
                d,
                birth_range=(lo, hi),
                pers_range=(0.0, pmax),
                resolution=(resolution, resolution),
                sigma=s,
                weight_power=weight_power,
            )
            for d in dgms
        ]

    return DiagramDistance(
        name="persistence_image",
        params={"resolution": int(resolution), "sigma": sigma, "weight_power": float(weight_power)},
        is_metric=False,
        description="Euclidean distance between persistence images on a common extent "
        "(sigma defaults to 5% of the collection's range)",
        _prepare=prepare,
        _pair=lambda a, b: float(np.linalg.norm(a - b)),
    )


def _entropy_factory(*, normalize: bool = False) -> DiagramDistance:
    return DiagramDistance(
        name="entropy",
        params={"normalize": bool(normalize)},
        is_metric=False,
        description="absolute difference of persistent entropies (finite bars)",
        _prepare=lambda dgms: [persistence_entropy(d, normalize=normalize) for d in dgms],
        _pair=lambda a, b: abs(a - b),
    )


def _total_factory(*, order: float = 1.0) -> DiagramDistance:
    return DiagramDistance(
        name="total_persistence",
        params={"order": float(order)},
        is_metric=False,
        description="absolute difference of total persistences (finite bars)",
        _prepare=lambda dgms: [total_persistence(d, order=order) for d in dgms],
        _pair=lambda a, b: abs(a - b),
    )


for _name, _factory in (
    ("betti_curve", _betti_factory),
    ("landscape", _landscape_factory),
    ("persistence_image", _image_factory),
    ("entropy", _entropy_factory),
    ("total_persistence", _total_factory),
):
    register_diagram_distance(_name, _factory)
