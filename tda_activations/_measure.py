"""The pairwise-measure protocol: prepare once per cloud, score per pair, one all-pairs engine.

Every measure that compares two layers' point clouds — a similarity measure of
:mod:`tda_activations.similarity` (CKA, CCA, RSA, ...) or a topological measure of
:mod:`tda_activations.experiments` (persistence diagrams computed once in ``prepare``,
compared by a diagram distance) — is a :class:`PairwiseMeasure`:

* ``prepare(cloud)`` (or ``prepare_many(clouds)`` where a collection is prepared
  together) computes what one cloud needs, once;
* ``score(a, b)`` compares two prepared clouds; ``score_matrix(rows, cols)`` compares
  every pair through :func:`all_pairs`, the one all-pairs engine (also used by the
  homology stage's diagram matrices);
* ``properties`` (:class:`MeasureProperties`) says what the number is: similarity or
  distance, symmetric, metric, identity value, invariances, whether rows must be in
  correspondence;
* ``id`` is the full parameter id used in every table and matrix
  (``linear_cka[debiased=False,form=auto]``, ``sliced_wasserstein[H1,M=50]``) and
  ``label`` the short human name for figures (``linear CKA``,
  ``sliced Wasserstein (H1, M=50)``, from :mod:`tda_activations._figure_labels`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from ._json import jsonable
from .types import MatrixKind, unknown_name_error

__all__ = [
    "INVARIANCES",
    "MeasureProperties",
    "PairwiseMeasure",
    "all_pairs",
    "cloud_names",
    "plain_value",
    "score_pairs",
]

Invariance = Literal[
    "orthogonal", "isotropic_scaling", "invertible_linear", "translation", "permutation"
]
#: Transformations a measure may declare invariance to.  Each acts on the units
#: (columns) of one cloud: ``X -> X @ Q`` (orthogonal ``Q``), ``X -> c X`` (``c > 0``),
#: ``X -> X @ A`` (invertible ``A``), ``X -> X + b`` and ``X -> X[:, perm]``.
INVARIANCES: tuple[str, ...] = (
    "orthogonal",
    "isotropic_scaling",
    "invertible_linear",
    "translation",
    "permutation",
)


@dataclass(frozen=True)
class MeasureProperties:
    """What a measure's number is and what it is invariant to.

    Attributes
    ----------
    kind
        ``"similarity"`` (larger = closer) or ``"distance"`` (smaller = closer).
    symmetric
        Whether ``m(X, Y) == m(Y, X)``.
    metric
        Whether the measure is a pseudometric on representations (zero for
        representations equal up to the declared invariances, symmetric, triangle
        inequality).  Only distances can be metrics.
    invariances
        Subset of :data:`INVARIANCES` under which the value does not change.
    identity_value
        ``m(X, X)``: the largest value of a similarity, the smallest of a distance.
    bounds
        ``(lowest, highest)`` possible value.
    cosine
        Whether a similarity is the cosine of the angle between two vectors, each
        computed from one cloud alone (then ``arccos`` of it is a metric).
    complement_is_metric
        Whether ``1 - m`` is a metric (true for the mean Jaccard index of neighbour sets).
    needs_correspondence
        Whether the rows of the two clouds must be the same samples in the same order
        (true for similarity measures; false for persistence diagrams, which ignore the
        order of the points).
    """

    kind: MatrixKind
    symmetric: bool
    metric: bool
    invariances: frozenset[str]
    identity_value: float
    bounds: tuple[float, float]
    cosine: bool = False
    complement_is_metric: bool = False
    needs_correspondence: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("similarity", "distance"):
            raise ValueError(f"kind must be 'similarity' or 'distance', got {self.kind!r}")
        unknown = set(self.invariances) - set(INVARIANCES)
        if unknown:
            raise ValueError(f"unknown invariances {sorted(unknown)}; known: {INVARIANCES}")
        if self.metric and (self.kind != "distance" or not self.symmetric):
            raise ValueError("only a symmetric distance can be declared a metric")
        object.__setattr__(self, "invariances", frozenset(self.invariances))

    def invariant_to(self, transformation: str) -> bool:
        """Whether the measure is declared invariant to ``transformation``.

        Raises
        ------
        ValueError
            For a transformation not in :data:`INVARIANCES`.
        """
        if transformation not in INVARIANCES:
            raise unknown_name_error("invariance", transformation, INVARIANCES)
        return transformation in self.invariances


# ------------------------------------------------------------------ the one engine


def score_pairs(
    score: Callable[[Any, Any], float],
    rows: Sequence[Any],
    cols: Sequence[Any],
    i: np.ndarray,
    j: np.ndarray,
) -> np.ndarray:
    """``score(rows[i[k]], cols[j[k]])`` for every k, as float64.

    Parameters
    ----------
    score
        The pair step of a measure (``measure.score``).
    rows, cols
        Prepared states.
    i, j
        Integer index arrays of equal length.

    Returns
    -------
    numpy.ndarray
        The values, in the order of the index pairs.
    """
    return np.array(
        [score(rows[a], cols[b]) for a, b in zip(np.asarray(i).tolist(), np.asarray(j).tolist())],
        dtype=np.float64,
    )


def all_pairs(
    score: Callable[[Any, Any], float],
    rows: Sequence[Any],
    cols: Sequence[Any] | None = None,
    *,
    symmetric: bool,
    identity_value: float,
) -> np.ndarray:
    """Every value between prepared states: the all-pairs engine of every measure.

    Parameters
    ----------
    score
        The pair step (``measure.score``).
    rows
        Prepared states.
    cols
        Prepared states; ``None``: ``rows`` against themselves, in which case the
        diagonal is ``identity_value`` and a symmetric measure scores each unordered
        pair once.
    symmetric
        Whether ``score(a, b) == score(b, a)``.
    identity_value
        The value of a state against itself.

    Returns
    -------
    numpy.ndarray
        ``(len(rows), len(cols))`` float64.
    """
    if cols is None:
        n = len(rows)
        if symmetric:
            i, j = np.triu_indices(n, 1)
        else:
            i, j = np.nonzero(~np.eye(n, dtype=bool))
        out = np.full((n, n), float(identity_value), dtype=np.float64)
        vals = score_pairs(score, rows, rows, i, j)
        out[i, j] = vals
        if symmetric:
            out[j, i] = vals
        return out
    nr, nc = len(rows), len(cols)
    ii, jj = np.meshgrid(np.arange(nr), np.arange(nc), indexing="ij")
    return score_pairs(score, rows, cols, ii.ravel(), jj.ravel()).reshape(nr, nc)


def plain_value(v: Any) -> Any:
    """A parameter value for an id: a JSON scalar (``inf`` as the string ``"inf"``) or a ``repr``.

    Scalars go through the one JSON coercion (:func:`tda_activations._json.jsonable`);
    infinities become strings so ids and JSON files stay strict; anything that is not a
    scalar is written as its ``repr``.
    """
    if v is None or isinstance(v, (bool, str, int, float, np.generic)):
        v = jsonable(v)
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)


# -------------------------------------------------------------------- the protocol


class PairwiseMeasure(abc.ABC):
    """A similarity or distance between two point clouds, prepared once per cloud.

    Subclasses implement :attr:`properties`, :attr:`id`, :meth:`score` and one of
    :meth:`prepare` / :meth:`prepare_many` (the other follows); :meth:`score_matrix`
    may be overridden by a batched algorithm giving the same values.
    """

    #: ``"similarity"`` (a measure of :mod:`tda_activations.similarity`) or ``"topology"``.
    family: ClassVar[str] = ""

    # -- what the number is ---------------------------------------------------------
    @property
    @abc.abstractmethod
    def properties(self) -> MeasureProperties:
        """The declared properties (they may depend on the parameters)."""

    @property
    @abc.abstractmethod
    def id(self) -> str:
        """Full parameter id for tables, e.g. ``"linear_cka[debiased=False,form=auto]"``."""

    @property
    def label(self) -> str:
        """Short human name for figures, e.g. ``"linear CKA"``."""
        from ._figure_labels import figure_label

        return figure_label(self.id)

    @property
    def kind(self) -> MatrixKind:
        """``"similarity"`` or ``"distance"``."""
        return self.properties.kind

    @property
    def identity_value(self) -> float:
        """The value of a cloud against itself."""
        return float(self.properties.identity_value)

    @property
    def symmetric(self) -> bool:
        """Whether ``m(X, Y) == m(Y, X)``."""
        return bool(self.properties.symmetric)

    @property
    def needs_correspondence(self) -> bool:
        """Whether rows must be the same samples in the same order in both clouds."""
        return bool(self.properties.needs_correspondence)

    # -- computation ------------------------------------------------------------------
    def prepare(self, cloud: Any, *, name: str = "cloud") -> Any:
        """The prepared state of one cloud.

        Parameters
        ----------
        cloud
            Point cloud ``(n_points, width)``.
        name
            Used in error messages.

        Returns
        -------
        object
            A state for :meth:`score`.
        """
        return self.prepare_many([cloud], names=[name])[0]

    def prepare_many(
        self, clouds: Sequence[Any], *, names: Sequence[str] | None = None
    ) -> list[Any]:
        """The prepared states of a collection of clouds, in order.

        States are comparable with :meth:`score` when they come from one call (a
        measure may fix something over the whole collection, e.g. a common grid).

        Parameters
        ----------
        clouds
            Point clouds ``(n_points, width)``.
        names
            Names of the clouds (error messages, cache file names).

        Returns
        -------
        list
            One state per cloud.
        """
        if type(self).prepare is PairwiseMeasure.prepare:
            raise TypeError(f"{type(self).__name__} must implement prepare() or prepare_many()")
        return [self.prepare(c, name=n) for c, n in zip(clouds, cloud_names(clouds, names))]

    @abc.abstractmethod
    def score(self, a: Any, b: Any) -> float:
        """The value between two prepared states."""

    def score_matrix(self, rows: Sequence[Any], cols: Sequence[Any] | None = None) -> np.ndarray:
        """Every value between prepared states (``cols=None``: rows against themselves).

        The diagonal of ``score_matrix(rows)`` is the identity value; a symmetric
        measure scores each unordered pair once (see :func:`all_pairs`).
        """
        return all_pairs(
            self.score,
            list(rows),
            None if cols is None else list(cols),
            symmetric=self.symmetric,
            identity_value=self.identity_value,
        )

    def __call__(self, x: Any, y: Any) -> float:
        """The value between two clouds: ``score`` of both prepared together."""
        a, b = self.prepare_many([x, y], names=["X", "Y"])
        return self.score(a, b)

    # -- derived facts ----------------------------------------------------------------
    def dissimilarity(self, value: Any) -> Any:
        """The value turned into a dissimilarity (larger = farther), keeping its order.

        A distance is returned as is; a similarity ``s`` becomes
        ``identity_value - s`` (``1 - CKA``, ...), which is zero for identical clouds.
        """
        v = np.asarray(value, dtype=np.float64)
        out = v if self.kind == "distance" else self.identity_value - v
        return float(out) if np.ndim(out) == 0 else out

    def closest(self, values: Any, *, axis: int = -1) -> np.ndarray:
        """Index of the closest entry along ``axis`` (min of a distance, max of a similarity)."""
        v = np.asarray(values, dtype=np.float64)
        return np.argmin(v, axis=axis) if self.kind == "distance" else np.argmax(v, axis=axis)

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters of the measure."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Id, label, kind, family and parameters, for tables and JSON."""
        return {
            "measure": self.id,
            "label": self.label,
            "kind": self.kind,
            "family": self.family,
            "symmetric": self.symmetric,
            "params": _plain_params(self.params),
        }


def _plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (_plain_params(v) if isinstance(v, Mapping) else plain_value(v))
        for k, v in params.items()
    }


def cloud_names(clouds: Sequence[Any], names: Sequence[str] | None) -> list[str]:
    """``names`` as strings, one per cloud (``cloud0, cloud1, ...`` when ``None``).

    Raises
    ------
    ValueError
        If the numbers of names and clouds differ.
    """
    if names is None:
        return [f"cloud{i}" for i in range(len(clouds))]
    out = [str(n) for n in names]
    if len(out) != len(clouds):
        raise ValueError(f"{len(out)} names for {len(clouds)} clouds; give one name per cloud")
    return out
