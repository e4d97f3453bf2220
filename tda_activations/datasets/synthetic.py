"""Synthetic data generated on the fly (no download, ever).

Two kinds:

* XOR (parity) data, a tabular classification problem whose class
  information is purely of order ``dim``: both classes have the same mean,
  and for ``dim >= 3`` the same covariance too (:func:`make_xor`).
* Point clouds of known topology, with Gaussian noise and a seed, optionally
  embedded into a higher-dimensional space by a random rotation: a circle, two
  disjoint circles, a torus in R^3 and the sphere S^2 (:func:`make_circle`,
  :func:`make_two_circles`, :func:`make_torus`, :func:`make_sphere`, or by name
  with :func:`make_shape`; the Betti numbers are in :func:`known_betti_numbers`).

All functions return new float64 arrays and are deterministic given ``seed``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..types import unknown_name_error

__all__ = [
    "known_betti_numbers",
    "make_circle",
    "make_shape",
    "make_sphere",
    "make_torus",
    "make_two_circles",
    "make_xor",
    "random_rotation",
    "shape_names",
]


# ---------------------------------------------------------------------------- checks


def _check_n(n: int, *, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an integer number of points, got {n!r}")
    if n < minimum:
        raise ValueError(f"n must be at least {minimum}, got {n}; ask for more points")
    return int(n)


def _check_nonneg(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _check_pos(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


# ---------------------------------------------------------------------------- XOR


def make_xor(
    n: int, *, noise: float = 0.25, seed: int = 0, dim: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """XOR (parity) data: Gaussian blobs at the corners of the cube ``{-1, +1}^dim``.

    With ``dim=2`` this is the classic XOR: points around ``(+1, +1)`` and
    ``(-1, -1)`` are class 0, points around ``(+1, -1)`` and ``(-1, +1)`` are
    class 1.  In general the class is the parity of the number of negative
    corner coordinates.  Corners are used in equal numbers (``n // 2**dim``
    each, the remainder spread over the first corners) so both classes have
    exactly mean zero in expectation and equal marginal distributions in each
    coordinate: the class information at the input is of order ``dim`` only
    (second order for ``dim=2``: the classes differ in the sign of the
    covariance of the two coordinates).

    Parameters
    ----------
    n
        Number of points (at least ``2**dim`` so every corner is used).
    noise
        Standard deviation of the isotropic Gaussian noise around each corner.
    seed
        Seed of the random generator.
    dim
        Number of input coordinates (the order of the interaction), at least 2.

    Returns
    -------
    X : numpy.ndarray
        Float64 array of shape ``(n, dim)``.
    y : numpy.ndarray
        Int64 array of shape ``(n,)`` with values 0 and 1.

    Examples
    --------
    >>> X, y = make_xor(200, noise=0.1, seed=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((200, 2), [0, 1])
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 2:
        raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
    dim = int(dim)
    if dim > 16:
        raise ValueError(f"dim={dim} gives 2**{dim} corners; use dim <= 16")
    n = _check_n(n, minimum=2**dim)
    noise = _check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    corner_index = rng.permutation(np.arange(n) % (2**dim))
    bits = (corner_index[:, None] >> np.arange(dim)[None, :]) & 1  # 1 = negative coordinate
    corners = 1.0 - 2.0 * bits
    X = corners + noise * rng.standard_normal((n, dim))
    y = (bits.sum(axis=1) % 2).astype(np.int64)
    return X.astype(np.float64), y


# ---------------------------------------------------------------- embedding and noise


def random_rotation(dim: int, *, seed: int = 0) -> np.ndarray:
    """A random orthogonal matrix drawn from the Haar measure on O(dim).

    Parameters
    ----------
    dim
        Size of the matrix.
    seed
        Seed of the random generator.

    Returns
    -------
    numpy.ndarray
        Float64 ``(dim, dim)`` matrix ``Q`` with ``Q @ Q.T == I``.
    """
    dim = _check_n(dim)
    rng = np.random.default_rng(seed)
    return _haar_orthogonal(rng, dim)


def _haar_orthogonal(rng: np.random.Generator, dim: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs[None, :]


def _finish(
    points: np.ndarray, *, noise: float, ambient_dim: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Add noise in the shape's own space, then embed by a random rotation."""
    base_dim = points.shape[1]
    if noise > 0:
        points = points + noise * rng.standard_normal(points.shape)
    if ambient_dim is None or ambient_dim == base_dim:
        return np.ascontiguousarray(points, dtype=np.float64)
    if isinstance(ambient_dim, bool) or not isinstance(ambient_dim, (int, np.integer)):
        raise TypeError(f"ambient_dim must be an integer or None, got {ambient_dim!r}")
    if ambient_dim < base_dim:
        raise ValueError(
            f"ambient_dim={ambient_dim} is smaller than the shape's own dimension {base_dim}; "
            f"give ambient_dim >= {base_dim} or None"
        )
    rotation = _haar_orthogonal(rng, int(ambient_dim))
    return np.ascontiguousarray(points @ rotation[:base_dim], dtype=np.float64)


# -------------------------------------------------------------------------- shapes


def make_circle(
    n: int,
    *,
    radius: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    ambient_dim: int | None = None,
) -> np.ndarray:
    """Points sampled uniformly on a circle (Betti numbers 1, 1).

    Parameters
    ----------
    n
        Number of points.
    radius
        Radius of the circle (centred at the origin).
    noise
        Standard deviation of isotropic Gaussian noise added in the plane of
        the circle (before any embedding, so it does not grow with
        ``ambient_dim``).
    seed
        Seed of the random generator.
    ambient_dim
        If given (>= 2), the points are embedded into ``R^ambient_dim`` by a
        random rotation (drawn from the same seed); pairwise distances are
        unchanged.

    Returns
    -------
    numpy.ndarray
        Float64 ``(n, 2)`` array, or ``(n, ambient_dim)``.
    """
    n = _check_n(n)
    radius = _check_pos("radius", radius)
    noise = _check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    points = radius * np.column_stack([np.cos(theta), np.sin(theta)])
    return _finish(points, noise=noise, ambient_dim=ambient_dim, rng=rng)


def make_two_circles(
    n: int,
    *,
    radius: float = 1.0,
    separation: float = 3.0,
    noise: float = 0.0,
    seed: int = 0,
    ambient_dim: int | None = None,
) -> np.ndarray:
    """Points on two disjoint circles of equal radius (Betti numbers 2, 2).

    The circles are centred at ``(0, 0)`` and ``(separation * radius, 0)``; the
    first ``ceil(n / 2)`` rows lie on the first circle.

    Parameters
    ----------
    n
        Number of points in total (at least 2).
    radius
        Radius of each circle.
    separation
        Distance between the centres in units of ``radius``; must exceed 2 so
        the circles are disjoint (the default 3 leaves a gap of one radius).
    noise, seed, ambient_dim
        As in :func:`make_circle`.

    Returns
    -------
    numpy.ndarray
        Float64 ``(n, 2)`` array, or ``(n, ambient_dim)``.
    """
    n = _check_n(n, minimum=2)
    radius = _check_pos("radius", radius)
    separation = float(separation)
    if not separation > 2.0:
        raise ValueError(
            f"separation={separation} (in radii) makes the circles touch or overlap; give a "
            "value > 2 (3 is the default)"
        )
    noise = _check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.0, 2.0 * np.pi, size=n)
    points = radius * np.column_stack([np.cos(theta), np.sin(theta)])
    points[(n + 1) // 2 :, 0] += separation * radius
    return _finish(points, noise=noise, ambient_dim=ambient_dim, rng=rng)


def make_torus(
    n: int,
    *,
    major_radius: float = 2.0,
    minor_radius: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    ambient_dim: int | None = None,
) -> np.ndarray:
    """Points sampled uniformly (by area) on a torus of revolution in R^3.

    Betti numbers 1, 2, 1.  The tube angle is drawn by rejection sampling so
    the density is uniform on the surface, not in the angles (Diaconis,
    Holmes & Shahshahani 2013).

    Parameters
    ----------
    n
        Number of points.
    major_radius
        Distance from the centre of the tube to the centre of the torus.
    minor_radius
        Radius of the tube; must be smaller than ``major_radius``.
    noise, seed
        As in :func:`make_circle` (noise is added in R^3).
    ambient_dim
        If given (>= 3), embed into ``R^ambient_dim`` by a random rotation.

    Returns
    -------
    numpy.ndarray
        Float64 ``(n, 3)`` array, or ``(n, ambient_dim)``.
    """
    n = _check_n(n)
    big = _check_pos("major_radius", major_radius)
    small = _check_pos("minor_radius", minor_radius)
    if small >= big:
        raise ValueError(
            f"minor_radius={small} must be smaller than major_radius={big} for a torus of "
            "revolution (otherwise it self-intersects)"
        )
    noise = _check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    tube = np.empty(0)
    while tube.size < n:
        cand = rng.uniform(0.0, 2.0 * np.pi, size=2 * n)
        keep = rng.uniform(0.0, 1.0, size=2 * n) < (big + small * np.cos(cand)) / (big + small)
        tube = np.concatenate([tube, cand[keep]])
    tube = tube[:n]
    around = rng.uniform(0.0, 2.0 * np.pi, size=n)
    ring = big + small * np.cos(tube)
    points = np.column_stack([ring * np.cos(around), ring * np.sin(around), small * np.sin(tube)])
    return _finish(points, noise=noise, ambient_dim=ambient_dim, rng=rng)


def make_sphere(
    n: int,
    *,
    radius: float = 1.0,
    noise: float = 0.0,
    seed: int = 0,
    ambient_dim: int | None = None,
) -> np.ndarray:
    """Points sampled uniformly on the sphere S^2 in R^3 (Betti numbers 1, 0, 1).

    Parameters
    ----------
    n
        Number of points.
    radius
        Radius of the sphere.
    noise, seed
        As in :func:`make_circle` (noise is added in R^3).
    ambient_dim
        If given (>= 3), embed into ``R^ambient_dim`` by a random rotation.

    Returns
    -------
    numpy.ndarray
        Float64 ``(n, 3)`` array, or ``(n, ambient_dim)``.
    """
    n = _check_n(n)
    radius = _check_pos("radius", radius)
    noise = _check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, 3))
    norms = np.linalg.norm(g, axis=1, keepdims=True)
    norms[norms == 0] = 1.0  # probability zero; keeps the result finite
    points = radius * g / norms
    return _finish(points, noise=noise, ambient_dim=ambient_dim, rng=rng)


# ------------------------------------------------------------------------ by name

_SHAPES: dict[str, tuple[Callable[..., np.ndarray], tuple[int, ...]]] = {
    "circle": (make_circle, (1, 1)),
    "two_circles": (make_two_circles, (2, 2)),
    "torus": (make_torus, (1, 2, 1)),
    "sphere": (make_sphere, (1, 0, 1)),
}


def shape_names() -> tuple[str, ...]:
    """List the names accepted by :func:`make_shape` and :func:`known_betti_numbers`.

    Returns
    -------
    tuple of str
        The shape names.

    Examples
    --------
    >>> shape_names()
    ('circle', 'two_circles', 'torus', 'sphere')
    """
    return tuple(_SHAPES)


def known_betti_numbers(name: str) -> tuple[int, ...]:
    """Betti numbers ``(b0, b1, ...)`` of a named shape (field coefficients).

    Parameters
    ----------
    name
        One of :func:`shape_names`: ``"circle"`` (1, 1), ``"two_circles"``
        (2, 2), ``"torus"`` (1, 2, 1), ``"sphere"`` (1, 0, 1).

    Returns
    -------
    tuple of int
        ``b_d`` at index ``d``; higher dimensions are zero.
    """
    if name not in _SHAPES:
        raise unknown_name_error("shape", str(name), _SHAPES)
    return _SHAPES[name][1]


def make_shape(name: str, n: int, **options: Any) -> np.ndarray:
    """Sample a named shape of known topology (for configs and parametrised tests).

    Parameters
    ----------
    name
        One of :func:`shape_names`.
    n
        Number of points.
    **options
        Keyword options of the shape's function (``noise``, ``seed``,
        ``ambient_dim``, radii, ...).

    Returns
    -------
    numpy.ndarray
        Float64 ``(n, dim)`` point cloud.
    """
    if name not in _SHAPES:
        raise unknown_name_error("shape", str(name), _SHAPES)
    return _SHAPES[name][0](n, **options)
