"""Canonical correlation analysis: CCA, SVCCA and PWCCA.

Canonical correlations are the singular values of ``Qx^T Qy``, where ``Qx`` and
``Qy`` are orthonormal bases of the column spaces of the (centred) clouds, taken
from a thin SVD so that rank-deficient clouds and constant units are handled: only
directions with a singular value above ``max(n, p) * eps * s_max`` count, and the
number of canonical correlations is ``min(rank_x, rank_y)``.

When ``rank_x + rank_y`` exceeds the dimension of the sample space (``n - 1``
after centring), at least ``rank_x + rank_y - (n - 1)`` canonical correlations equal 1
by construction (for width >= n, all of them): a :class:`MeaninglessValueWarning`
says so, and ``ridge > 0`` regularises: the canonical directions solve ridge CCA
(``Sigma_xx + lambda I`` with ``lambda = ridge * trace(Sigma_xx) / rank``) and each
reported correlation is the plain correlation of a pair of those canonical variates
(so identical clouds still give 1).

* :class:`CCA` -- mean squared canonical correlation (R^2_CCA of Kornblith et al.
  2019) or mean canonical correlation; invariant to invertible linear maps.
* :class:`SVCCA` -- Raghu et al. (2017): keep the top singular directions that hold a
  stated fraction of the variance (the sum of *squared* singular values of the centred
  cloud), then the mean canonical correlation.
* :class:`PWCCA` -- Morcos et al. (2018): canonical correlations weighted by how much
  of the first cloud's units each canonical variate accounts for,
  ``alpha_i = sum_j |<h_i, x_j>|``; not symmetric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._base import (
    Measure,
    MeasureProperties,
    PreparedCloud,
    centred,
    register_measure,
    warn_meaningless,
)

__all__ = ["CCA", "PWCCA", "SVCCA", "canonical_correlations"]


def _thin_basis(xc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``U, s, Vt`` of the thin SVD, keeping only the numerically non-zero directions."""
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        raise ValueError("cloud: the cloud has rank 0 (every point the same)")
    tol = s[0] * max(xc.shape) * np.finfo(np.float64).eps
    r = int(np.sum(s > tol))
    return u[:, :r], s[:r], vt[:r]


def _check_overfit(ra: int, rb: int, n_dims: int, what: str) -> None:
    forced = ra + rb - n_dims
    if forced > 0:
        k = min(ra, rb)
        warn_meaningless(
            f"{what}: the clouds have rank {ra} and {rb} but the samples span only {n_dims} "
            f"dimensions, so at least {min(forced, k)} of the {k} canonical correlations "
            "equal 1 by construction and the value is meaningless; pass ridge=... "
            "(regularised CCA), reduce the width (SVCCA) or use more points"
        )


def _correlations(qa: np.ndarray, qb: np.ndarray, k: int) -> np.ndarray:
    rho = np.linalg.svd(qa.T @ qb, compute_uv=False)[:k]
    return np.clip(rho, 0.0, 1.0)


def canonical_correlations(
    x: np.ndarray, y: np.ndarray, *, ridge: float = 0.0, center: bool = True
) -> np.ndarray:
    """Canonical correlations between two clouds, largest first.

    Parameters
    ----------
    x, y
        Clouds ``(n, p)`` and ``(n, q)`` with rows in correspondence.
    ridge
        Ridge regularisation, relative to the mean non-zero variance of each cloud
        (0: plain CCA).
    center
        Centre the units first (``False`` reproduces Kornblith et al.'s reference
        ``cca``, which does not).

    Returns
    -------
    numpy.ndarray
        ``min(rank_x, rank_y)`` correlations in ``[0, 1]``.
    """
    m = CCA(ridge=ridge, center=center)
    a, b = m.prepare(x, name="X"), m.prepare(y, name="Y")
    if a.n_points != b.n_points:
        raise ValueError(
            f"the clouds have {a.n_points} and {b.n_points} points; rows must be the same "
            "samples in the same order"
        )
    return m._rho(a, b)


def _cca_invariances(center: bool, ridge: float) -> frozenset[str]:
    inv = {"orthogonal", "isotropic_scaling", "permutation"}
    if ridge == 0:
        inv.add("invertible_linear")
    if center:
        inv.add("translation")
    return frozenset(inv)


@dataclass(frozen=True)
class CCA(Measure):
    """Mean squared (R^2_CCA) or mean canonical correlation.

    Parameters
    ----------
    summary
        ``"mean_squared"``: ``sum rho_i^2 / k``; ``"mean"``: ``sum rho_i / k``, with
        ``k = min(rank_x, rank_y)``.
    ridge
        Ridge regularisation relative to each cloud's mean non-zero variance; 0 is
        plain CCA (then invariant to any invertible linear map).
    center
        Centre the units (translation invariance).  ``False`` reproduces the
        reference ``cca`` of Kornblith et al.
    """

    summary: Literal["mean_squared", "mean"] = "mean_squared"
    ridge: float = 0.0
    center: bool = True

    name = "cca"

    def __post_init__(self) -> None:
        if self.summary not in ("mean_squared", "mean"):
            raise ValueError(f"summary must be 'mean_squared' or 'mean', got {self.summary!r}")
        if not (isinstance(self.ridge, (int, float)) and self.ridge >= 0):
            raise ValueError(f"ridge must be a number >= 0, got {self.ridge!r}")

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=_cca_invariances(self.center, self.ridge),
            identity_value=1.0,
            bounds=(0.0, 1.0),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        xc = centred(x) if self.center else x
        u, s, _ = _thin_basis(xc)
        if self.ridge > 0:
            lam = self.ridge * float(np.sum(s**2)) / s.size
            w = s / np.sqrt(s**2 + lam)
            basis = u * w[None, :]
        else:
            basis = u
        return {"basis": basis, "rank": s.size}

    def _rho(self, a: PreparedCloud, b: PreparedCloud) -> np.ndarray:
        ra, rb = a.stats["rank"], b.stats["rank"]
        k = min(ra, rb)
        if self.ridge == 0:
            _check_overfit(ra, rb, a.n_points - (1 if self.center else 0), "CCA")
            return _correlations(a.stats["basis"], b.stats["basis"], k)
        # Ridge: directions from the regularised problem, then the plain correlation of
        # each pair of canonical variates (so identical clouds still give 1).
        ba, bb = a.stats["basis"], b.stats["basis"]
        left, _, right_t = np.linalg.svd(ba.T @ bb, full_matrices=False)
        ha, hb = ba @ left[:, :k], bb @ right_t[:k].T
        num = np.abs(np.einsum("ij,ij->j", ha, hb))
        den = np.sqrt(np.einsum("ij,ij->j", ha, ha) * np.einsum("ij,ij->j", hb, hb))
        return np.clip(num / den, 0.0, 1.0)

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        rho = self._rho(a, b)
        k = min(a.stats["rank"], b.stats["rank"])
        if self.summary == "mean_squared":
            return float(np.sum(rho**2) / k)
        return float(np.sum(rho) / k)


@dataclass(frozen=True)
class SVCCA(Measure):
    """SVCCA: SVD truncation to a stated fraction of variance, then mean CCA correlation.

    Parameters
    ----------
    variance_fraction
        Keep the fewest top singular directions whose squared singular values (the
        variances along them) sum to at least this fraction of the total variance.
    """

    variance_fraction: float = 0.99

    name = "svcca"

    def __post_init__(self) -> None:
        if not (
            isinstance(self.variance_fraction, (int, float)) and 0 < self.variance_fraction <= 1
        ):
            raise ValueError(f"variance_fraction must be in (0, 1], got {self.variance_fraction!r}")

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=frozenset(
                {"orthogonal", "isotropic_scaling", "translation", "permutation"}
            ),
            identity_value=1.0,
            bounds=(0.0, 1.0),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        u, s, _ = _thin_basis(centred(x))
        var = s**2
        frac = np.cumsum(var) / var.sum()
        keep = int(np.searchsorted(frac, self.variance_fraction - 1e-12) + 1)
        keep = min(keep, s.size)
        return {"basis": u[:, :keep], "rank": keep}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        ra, rb = a.stats["rank"], b.stats["rank"]
        _check_overfit(ra, rb, a.n_points - 1, "SVCCA")
        k = min(ra, rb)
        return float(np.mean(_correlations(a.stats["basis"], b.stats["basis"], k)))


@dataclass(frozen=True)
class PWCCA(Measure):
    """Projection-weighted CCA (Morcos, Raghu & Bengio 2018); weights from the first cloud.

    ``PWCCA(X, Y) = sum_i alpha_i rho_i / sum_i alpha_i`` with
    ``alpha_i = sum_j |<h_i, x_j>|``, ``h_i`` the unit-norm canonical variates of ``X``
    and ``x_j`` its centred units.  Not symmetric, not invariant to rotations of ``X``
    (the weights sum absolute values over units).
    """

    name = "pwcca"

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="similarity",
            symmetric=False,
            metric=False,
            invariances=frozenset({"isotropic_scaling", "translation", "permutation"}),
            identity_value=1.0,
            bounds=(0.0, 1.0),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        u, s, vt = _thin_basis(centred(x))
        # U^T Xc = S Vt: the projections of the units on the basis, kept for the weights.
        return {"basis": u, "rank": s.size, "proj": s[:, None] * vt}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        ra, rb = a.stats["rank"], b.stats["rank"]
        _check_overfit(ra, rb, a.n_points - 1, "PWCCA")
        k = min(ra, rb)
        left, rho, _ = np.linalg.svd(a.stats["basis"].T @ b.stats["basis"], full_matrices=False)
        left, rho = left[:, :k], np.clip(rho[:k], 0.0, 1.0)
        # h_i = U_a left_i, so <h_i, x_j> = (left^T U_a^T Xc)_ij = (left^T proj)_ij.
        alpha = np.abs(left.T @ a.stats["proj"]).sum(axis=1)
        return float(np.sum(alpha * rho) / np.sum(alpha))


register_measure(
    "cca_mean_squared",
    CCA,
    defaults={"summary": "mean_squared"},
    description="Mean squared canonical correlation R^2_CCA",
)
register_measure(
    "cca_mean",
    CCA,
    defaults={"summary": "mean"},
    description="Mean canonical correlation",
)
register_measure(
    "svcca",
    SVCCA,
    defaults={"variance_fraction": 0.99},
    description="SVD to 99% of variance (squared singular values), then mean CCA",
)
register_measure(
    "pwcca",
    PWCCA,
    description="Projection-weighted CCA, weights from the first cloud",
)
