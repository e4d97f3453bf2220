"""Representational similarity analysis: compare representational dissimilarity matrices.

An RDM holds the dissimilarity of every pair of samples (its upper triangle, as a
vector of ``n (n - 1) / 2`` values):

* ``"euclidean"``: Euclidean distance between the samples' activation vectors;
* ``"squared_euclidean"``: its square (rsatoolbox's ``"euclidean"`` RDM is this
  divided by the number of units, which no comparison here depends on);
* ``"correlation"``: ``1 - Pearson r`` between the two activation patterns (across
  units).  A pattern with zero variance (all units equal, e.g. a dead ReLU layer for
  that sample) has no correlation: its dissimilarities are set to 1 (uncorrelated)
  with a warning, never NaN.

Two RDMs are compared by ``"spearman"`` (Pearson of average ranks), ``"pearson"``,
``"kendall_tau_b"`` (scipy's, tie-corrected) or ``"kendall_tau_a"`` (no tie
correction, recommended by rsatoolbox when RDMs have ties).  The value is a similarity
in ``[-1, 1]``, 1 for identical RDMs.  Memory is ``O(n^2)`` per cloud.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.stats

from ._base import Measure, MeasureProperties, PreparedCloud, centred, register_measure

__all__ = ["RSA", "rdm_vector"]

log = logging.getLogger(__name__)

RDMKind = Literal["euclidean", "squared_euclidean", "correlation"]
Comparison = Literal["spearman", "pearson", "kendall_tau_b", "kendall_tau_a"]
_RDMS = ("euclidean", "squared_euclidean", "correlation")
_COMPARISONS = ("spearman", "pearson", "kendall_tau_b", "kendall_tau_a")


def rdm_vector(x: np.ndarray, *, rdm: RDMKind = "euclidean") -> np.ndarray:
    """Upper triangle (row-major, ``i < j``) of the RDM of a cloud, float64.

    Parameters
    ----------
    x
        Cloud ``(n, p)``.
    rdm
        ``"euclidean"``, ``"squared_euclidean"`` or ``"correlation"``.

    Returns
    -------
    numpy.ndarray
        The ``n (n - 1) / 2`` dissimilarities, float64.

    Raises
    ------
    ValueError
        If ``rdm`` is not one of those names.

    Examples
    --------
    >>> import numpy as np
    >>> rdm_vector(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]))
    array([5.        , 1.        , 4.24264069])
    """
    if rdm not in _RDMS:
        from ..types import unknown_name_error

        raise unknown_name_error("RDM", rdm, _RDMS)
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    # Direct evaluation per pair (SciPy's pdist), never through a Gram matrix (|x|^2 + |y|^2
    # - 2 x.y, or 1 - z_i.z_j): its ~1e-16 noise breaks exact ties (integer-valued or
    # duplicated rows, common after ReLU), and ranks (Spearman, Kendall) depend on ties.
    # pdist's condensed order is the row-major upper triangle i < j.
    from scipy.spatial.distance import pdist

    if rdm != "correlation":
        return pdist(x, metric="sqeuclidean" if rdm == "squared_euclidean" else "euclidean")
    z = x - x.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", z, z))
    flat = norms <= 1e-12 * max(float(np.abs(x).max()), 1e-300)
    if flat.any():
        warnings.warn(
            f"{int(flat.sum())} of {n} activation patterns have zero variance across units; "
            "their correlation distances are set to 1 (uncorrelated)",
            RuntimeWarning,
            stacklevel=3,
        )
        x = np.where(flat[:, None], np.arange(x.shape[1], dtype=np.float64), x)
    d = pdist(x, metric="correlation")
    if flat.any():
        i, j = np.triu_indices(n, 1)
        d[flat[i] | flat[j]] = 1.0
    return d


def _unit_centred(v: np.ndarray) -> np.ndarray:
    v = v - v.mean()
    norm = float(np.sqrt(v @ v))
    if not norm > 0:
        raise ValueError(
            "cloud: the RDM is constant (all dissimilarities equal), so its correlation with "
            "another RDM is undefined"
        )
    return v / norm


def _tie_pairs(v: np.ndarray) -> int:
    _, counts = np.unique(v, return_counts=True)
    return int(np.sum(counts * (counts - 1) // 2))


@dataclass(frozen=True)
class RSA(Measure):
    """Correlation between the RDMs of two clouds.

    Parameters
    ----------
    rdm
        ``"euclidean"``, ``"squared_euclidean"`` or ``"correlation"`` (see module doc).
    compare
        ``"spearman"``, ``"pearson"``, ``"kendall_tau_b"`` or ``"kendall_tau_a"``.

    Notes
    -----
    Euclidean RDMs make it invariant to orthogonal transforms, translation,
    isotropic scaling and permutations; correlation RDMs only to isotropic scaling and
    permutations of units.  Pearson, Spearman and tau-b are cosines between vectors
    (centred RDMs, centred ranks, pair signs), so their ``arccos`` is a metric.
    """

    rdm: RDMKind = "euclidean"
    compare: Comparison = "spearman"

    name = "rsa"

    def __post_init__(self) -> None:
        from ..types import unknown_name_error

        if self.rdm not in _RDMS:
            raise unknown_name_error("RDM", self.rdm, _RDMS)
        if self.compare not in _COMPARISONS:
            raise unknown_name_error("RDM comparison", self.compare, _COMPARISONS)

    @property
    def min_points(self) -> int:  # type: ignore[override]
        """Fewest points a cloud must have."""
        return 3

    @property
    def properties(self) -> MeasureProperties:
        """The declared properties (kind, symmetry, invariances, bounds, identity value)."""
        if self.rdm == "correlation":
            inv = {"isotropic_scaling", "permutation"}
        else:
            inv = {"orthogonal", "isotropic_scaling", "translation", "permutation"}
        return MeasureProperties(
            kind="similarity",
            symmetric=True,
            metric=False,
            invariances=frozenset(inv),
            identity_value=1.0,
            bounds=(-1.0, 1.0),
            cosine=self.compare != "kendall_tau_a",
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        if self.rdm != "correlation":
            centred(x)
        v = rdm_vector(x, rdm=self.rdm)
        if self.compare == "pearson":
            return {"unit": _unit_centred(v)}
        if self.compare == "spearman":
            return {"unit": _unit_centred(scipy.stats.rankdata(v))}
        if np.all(v == v[0]):
            raise ValueError("cloud: the RDM is constant; Kendall's tau is undefined")
        return {"rdm": v, "ties": _tie_pairs(v)}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        if self.compare in ("pearson", "spearman"):
            return float(np.clip(a.stats["unit"] @ b.stats["unit"], -1.0, 1.0))
        tau_b = float(scipy.stats.kendalltau(a.stats["rdm"], b.stats["rdm"], variant="b").statistic)
        if self.compare == "kendall_tau_b":
            return tau_b
        m = a.stats["rdm"].size
        n0 = m * (m - 1) / 2.0
        # tau_b = (C - D) / sqrt((n0 - t_a)(n0 - t_b)); tau_a = (C - D) / n0.
        return tau_b * math.sqrt((n0 - a.stats["ties"]) * (n0 - b.stats["ties"])) / n0


register_measure(
    "rsa",
    RSA,
    defaults={"rdm": "euclidean", "compare": "spearman"},
    description="Spearman correlation of Euclidean RDMs (other RDMs and comparisons by parameter)",
)
