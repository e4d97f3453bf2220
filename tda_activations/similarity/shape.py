"""Shape distances: orthogonal Procrustes (Ding et al. 2021) and the angular shape metric.

* :class:`ProcrustesDistance` -- Ding, Denain & Steinhardt (2021): centre each cloud,
  scale it to unit Frobenius norm, then
  ``d(A, B) = ||A||_F^2 + ||B||_F^2 - 2 ||A^T B||_* = 2 - 2 ||A^T B||_*``, which is
  ``min_Q ||A - B Q||_F^2`` over orthogonal ``Q``.  It is a *squared* distance, in
  ``[0, 2]``, and not a metric; ``euclidean=True`` returns its square root, which is.
* :class:`AngularShapeMetric` -- Williams, Kunz, Kornblith & Linderman (2021):
  centre, partially whiten with ``alpha`` (``X (alpha I + (1 - alpha)(X^T X)^(-1/2))``,
  the convention of their netrep package), then
  ``theta = arccos(||X~^T Y~||_* / (||X~||_F ||Y~||_F))``, a metric in ``[0, pi/2]``.
  ``alpha = 1``: angular Procrustes (rotations only); ``alpha = 0``: CCA-like
  (any invertible linear map).

Unequal widths are compared as if the narrower cloud were zero-padded: the nuclear
norm of ``A^T B`` is the same either way.  Only the column space matters, so a cloud
is stored as ``U diag(.)`` of its thin SVD (``n x rank``), whatever its width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._base import Measure, MeasureProperties, PreparedCloud, centred, register_measure

__all__ = ["AngularShapeMetric", "ProcrustesDistance"]


def _nuclear(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.svd(a.T @ b, compute_uv=False).sum())


def _compact(xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(U, s)`` of the thin SVD with numerically zero directions dropped."""
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    tol = s[0] * max(xc.shape) * np.finfo(np.float64).eps
    r = int(np.sum(s > tol))
    return u[:, :r], s[:r]


@dataclass(frozen=True)
class ProcrustesDistance(Measure):
    """Orthogonal Procrustes distance of Ding, Denain & Steinhardt (2021).

    Parameters
    ----------
    euclidean
        ``False`` (default): their squared form ``2 - 2 ||A^T B||_*`` in ``[0, 2]``
        (not a metric).  ``True``: its square root, ``min_Q ||A - BQ||_F``, a metric
        in ``[0, sqrt(2)]``.
    """

    euclidean: bool = False

    name = "procrustes"

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        return MeasureProperties(
            kind="distance",
            symmetric=True,
            metric=bool(self.euclidean),
            invariances=frozenset(
                {"orthogonal", "isotropic_scaling", "translation", "permutation"}
            ),
            identity_value=0.0,
            bounds=(0.0, math.sqrt(2.0)) if self.euclidean else (0.0, 2.0),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        xc = centred(x)
        u, s = _compact(xc)
        s = s / math.sqrt(float(np.sum(s**2)))  # unit Frobenius norm
        return {"z": u * s[None, :]}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        d2 = max(0.0, 2.0 - 2.0 * _nuclear(a.stats["z"], b.stats["z"]))
        return math.sqrt(d2) if self.euclidean else d2


@dataclass(frozen=True)
class AngularShapeMetric(Measure):
    """Angular shape metric with partial whitening (Williams et al. 2021).

    Parameters
    ----------
    alpha
        In ``[0, 1]``: 1 = no whitening (rotation-invariant only), 0 = full whitening
        (invariant to any invertible linear map).  For ``0 < alpha < 1`` the partial
        whitening depends on the scale of the data (as in netrep), so the metric is
        not invariant to isotropic scaling.
    """

    alpha: float = 1.0

    name = "shape_angular"

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and 0.0 <= self.alpha <= 1.0):
            raise ValueError(f"alpha must be a number in [0, 1], got {self.alpha!r}")

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        inv = {"orthogonal", "translation", "permutation"}
        if self.alpha in (0.0, 1.0):
            inv.add("isotropic_scaling")
        if self.alpha == 0.0:
            inv.add("invertible_linear")
        return MeasureProperties(
            kind="distance",
            symmetric=True,
            metric=True,
            invariances=frozenset(inv),
            identity_value=0.0,
            bounds=(0.0, math.pi / 2),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        u, s = _compact(centred(x))
        # X V diag(alpha + (1 - alpha) / s) V^T = U diag(alpha s + 1 - alpha) V^T; the
        # trailing rotation V^T does not change the metric, so it is dropped.
        scale = self.alpha * s + (1.0 - self.alpha)
        z = u * scale[None, :]
        return {"z": z, "norm": float(np.sqrt(np.sum(scale**2)))}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        cos = _nuclear(a.stats["z"], b.stats["z"]) / (a.stats["norm"] * b.stats["norm"])
        return math.acos(min(1.0, max(-1.0, cos)))


register_measure(
    "procrustes",
    ProcrustesDistance,
    defaults={"euclidean": False},
    description="Orthogonal Procrustes distance 2 - 2||A^T B||_* (Ding et al. 2021)",
)
register_measure(
    "procrustes_euclidean",
    ProcrustesDistance,
    defaults={"euclidean": True},
    description="Square root of the Procrustes distance: min_Q ||A - BQ||_F (a metric)",
)
register_measure(
    "shape_angular",
    AngularShapeMetric,
    defaults={"alpha": 1.0},
    description="Angular shape metric with partial whitening alpha (Williams et al. 2021)",
)
