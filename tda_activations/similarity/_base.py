"""Measure objects with declared properties, the registry, and derived distances.

Every measure compares two point clouds whose rows are in correspondence (the same
samples in the same order).  A measure declares what its number is:

* ``kind``: ``"similarity"`` (larger = closer) or ``"distance"`` (smaller = closer);
* ``symmetric``: ``m(X, Y) == m(Y, X)``;
* ``metric``: a pseudometric on representations (zero on equivalent representations,
  symmetric, triangle inequality); only ever declared for distances;
* ``invariances``: transformations of one cloud that leave the value unchanged, from
  :data:`INVARIANCES`;
* ``identity_value``: the value of ``m(X, X)`` (the maximum of a similarity, the
  minimum of a distance);
* ``cosine``: the similarity is the cosine of an angle between two vectors, each a
  function of one cloud alone, so ``arccos`` of it is a metric.

The split ``prepare(X)`` / ``score(prepared_a, prepared_b)`` (as in netrep) lets an
all-pairs comparison prepare each layer once.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from .._checks import as_cloud as _as_cloud
from .._measure import INVARIANCES, MeasureProperties, PairwiseMeasure
from .._registry import Registry

__all__ = [
    "INVARIANCES",
    "AngularDistance",
    "MeaninglessValueWarning",
    "Measure",
    "MeasureProperties",
    "OneMinusSimilarity",
    "PreparedCloud",
    "angular_distance",
    "available_measures",
    "get_measure",
    "measure_table",
    "one_minus_similarity",
    "register_measure",
]


class MeaninglessValueWarning(UserWarning):
    """The value was computed but carries no information (e.g. CCA with width >= n)."""


@dataclass(frozen=True, eq=False)
class PreparedCloud:
    """Per-cloud statistics computed once by :meth:`Measure.prepare`.

    Attributes
    ----------
    measure
        Id of the measure that prepared it (clouds prepared by another measure,
        or with other parameters, are refused by :meth:`Measure.score`).
    n_points, width
        Shape of the original cloud.
    stats
        Named arrays and numbers (centred data, Gram matrices, bases, ...).
    """

    measure: str
    n_points: int
    width: int
    stats: Mapping[str, Any] = field(default_factory=dict)


def as_cloud(x: npt.ArrayLike, *, name: str = "cloud", min_points: int = 2) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float64 array.

    The checks are the package's one cloud check (``tda_activations._checks.as_cloud``);
    a :class:`PreparedCloud` is refused with what to do instead.

    Raises
    ------
    TypeError
        If the values are not numeric, or ``x`` is a prepared cloud.
    ValueError
        If the cloud is not 2-D, has too few points, no units, or non-finite values.
    """
    if isinstance(x, PreparedCloud):
        raise TypeError(f"{name}: expected a point cloud, got a PreparedCloud; use score()")
    return _as_cloud(x, name=name, min_points=min_points, purpose="this measure")


def centred(x: np.ndarray, *, name: str = "cloud") -> np.ndarray:
    """Subtract the column means; raise if every point is the same."""
    xc = x - x.mean(axis=0, keepdims=True)
    scale = float(np.abs(x).max()) if x.size else 0.0
    if not np.any(np.abs(xc) > 1e-12 * max(scale, 1e-300)):
        raise ValueError(
            f"{name}: every point of the cloud is the same (zero variance); the measure is "
            "undefined for it: check the layer (dead units?) or drop it"
        )
    return xc


def measure_label(name: str, params: Mapping[str, Any]) -> str:
    """``name[key=value,...]`` for the parameters that matter."""
    if not params:
        return name
    inner = ",".join(f"{k}={v}" for k, v in params.items())
    return f"{name}[{inner}]"


class Measure(PairwiseMeasure):
    """Base class of every similarity or distance between two point clouds.

    Subclasses are frozen dataclasses whose fields are the measure's parameters;
    they implement :meth:`_prepare`, :meth:`_score` and :attr:`properties`.  The
    interface is the pairwise-measure protocol of :mod:`tda_activations._measure`:
    ``prepare`` / ``score`` / ``score_matrix``, ``properties``, ``id`` (full parameter
    id, for tables) and ``label`` (short human name, for figures).
    """

    #: Registry name of the measure family (set by subclasses).
    name: str = ""
    #: Fewest points a cloud must have.
    min_points: int = 2
    family = "similarity"
    #: Whether ``score_matrix`` takes ``device=`` (a torch device for the matrix products).
    has_device_engine: ClassVar[bool] = False

    @property
    def params(self) -> dict[str, Any]:
        """The parameters of the measure."""
        if dataclasses.is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {}

    @functools.cached_property
    def id(self) -> str:
        """Name with parameters, e.g. ``"linear_cka[debiased=False,form=auto]"``.

        Computed once per measure object (the parameters are frozen); every ``score``
        checks it against the prepared clouds'.
        """
        return measure_label(self.name, self.params)

    # -- computation ----------------------------------------------------------------
    @abc.abstractmethod
    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        """Statistics of one validated float64 cloud."""

    @abc.abstractmethod
    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        """The value between two prepared clouds (already checked compatible)."""

    def prepare(self, x: npt.ArrayLike, *, name: str = "cloud") -> PreparedCloud:
        """Compute the per-cloud statistics once.

        Parameters
        ----------
        x
            Point cloud ``(n_points, width)``.
        name
            Used in error messages.

        Returns
        -------
        PreparedCloud
            To be passed to :meth:`score`.
        """
        arr = as_cloud(x, name=name, min_points=self.min_points)
        return PreparedCloud(
            measure=self.id,
            n_points=arr.shape[0],
            width=arr.shape[1],
            stats=self._prepare_named(arr, name),
        )

    def _prepare_named(self, x: np.ndarray, name: str) -> dict[str, Any]:
        try:
            return self._prepare(x)
        except ValueError as exc:
            msg = str(exc)
            if msg.startswith("cloud:"):
                msg = f"{name}:" + msg[len("cloud:") :]
            raise ValueError(msg) from None

    def score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        """The value between two prepared clouds.

        Raises
        ------
        ValueError
            If the clouds were prepared by another measure or have different numbers
            of points (rows must be in correspondence).
        """
        self._check_pair(a, b)
        return float(self._score(a, b))

    def _check_pair(self, a: PreparedCloud, b: PreparedCloud) -> None:
        for which, p in (("first", a), ("second", b)):
            if not isinstance(p, PreparedCloud):
                raise TypeError(
                    f"the {which} argument is not a PreparedCloud; call prepare() first or "
                    "use the measure as a function: measure(X, Y)"
                )
            if p.measure != self.id:
                raise ValueError(
                    f"the {which} cloud was prepared by {p.measure!r}, not by {self.id!r}; "
                    "prepare it with this measure"
                )
        if a.n_points != b.n_points:
            raise ValueError(
                f"the clouds have {a.n_points} and {b.n_points} points; rows must be the same "
                "samples in the same order"
            )


# --------------------------------------------------------------------- derived distances


@dataclass(frozen=True)
class AngularDistance(Measure):
    """``arccos`` of a cosine-type similarity: a metric, in radians.

    Use :func:`angular_distance` to build one.

    Parameters
    ----------
    base
        The cosine-type similarity (values in ``[-1, 1]``, 1 on identical clouds).
    """

    base: Measure = field(default=None)  # type: ignore[assignment]

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.base.name}_angular"

    @property
    def min_points(self) -> int:  # type: ignore[override]
        return self.base.min_points

    @property
    def id(self) -> str:
        return f"angular_distance[{self.base.id}]"

    @property
    def params(self) -> dict[str, Any]:
        return {"base": self.base.id}

    @property
    def properties(self) -> MeasureProperties:
        p = self.base.properties
        lo, hi = p.bounds
        return MeasureProperties(
            kind="distance",
            symmetric=True,
            metric=True,
            invariances=p.invariances,
            identity_value=0.0,
            bounds=(math.acos(min(1.0, hi)), math.acos(max(-1.0, lo))),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        return {"base": self.base.prepare(x)}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        s = self.base.score(a.stats["base"], b.stats["base"])
        return math.acos(min(1.0, max(-1.0, s)))

    def score_matrix(
        self, rows: Sequence[PreparedCloud], cols: Sequence[PreparedCloud] | None = None
    ) -> np.ndarray:
        base_rows = [r.stats["base"] for r in rows]
        base_cols = None if cols is None else [c.stats["base"] for c in cols]
        sims = self.base.score_matrix(base_rows, base_cols)
        return np.arccos(np.clip(sims, -1.0, 1.0))


@dataclass(frozen=True)
class OneMinusSimilarity(Measure):
    """``1 - s`` for a similarity ``s`` whose value on identical clouds is 1.

    Use :func:`one_minus_similarity` to build one.  It is declared a metric only
    where the base similarity declares ``complement_is_metric``.

    Parameters
    ----------
    base
        The similarity ``s``.
    """

    base: Measure = field(default=None)  # type: ignore[assignment]

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"one_minus_{self.base.name}"

    @property
    def min_points(self) -> int:  # type: ignore[override]
        return self.base.min_points

    @property
    def id(self) -> str:
        return f"one_minus[{self.base.id}]"

    @property
    def params(self) -> dict[str, Any]:
        return {"base": self.base.id}

    @property
    def properties(self) -> MeasureProperties:
        p = self.base.properties
        lo, hi = p.bounds
        return MeasureProperties(
            kind="distance",
            symmetric=p.symmetric,
            metric=p.complement_is_metric and p.symmetric,
            invariances=p.invariances,
            identity_value=0.0,
            bounds=(1.0 - hi, 1.0 - lo),
        )

    def _prepare(self, x: np.ndarray) -> dict[str, Any]:
        return {"base": self.base.prepare(x)}

    def _score(self, a: PreparedCloud, b: PreparedCloud) -> float:
        return 1.0 - self.base.score(a.stats["base"], b.stats["base"])

    def score_matrix(
        self, rows: Sequence[PreparedCloud], cols: Sequence[PreparedCloud] | None = None
    ) -> np.ndarray:
        base_rows = [r.stats["base"] for r in rows]
        base_cols = None if cols is None else [c.stats["base"] for c in cols]
        return 1.0 - self.base.score_matrix(base_rows, base_cols)


def angular_distance(measure: Measure | str, **params: Any) -> AngularDistance:
    """The angular distance ``arccos(s)`` of a cosine-type similarity ``s``.

    Parameters
    ----------
    measure
        A similarity measure (or its registry name) that declares ``cosine=True``
        (CKA in all its forms, RSA with Pearson, Spearman or Kendall's tau-b).
    **params
        Parameters of the measure when a name is given.

    Returns
    -------
    AngularDistance
        A metric in radians, in ``[0, pi]`` (``[0, pi/2]`` for biased CKA).

    Raises
    ------
    ValueError
        If the similarity is not a cosine (its arccos would not be a metric).
    """
    base = get_measure(measure, **params)
    if base.kind != "similarity" or not base.properties.cosine:
        raise ValueError(
            f"{base.id} is not the cosine of an angle between vectors, so arccos of it "
            "is not a metric; use one_minus_similarity() or a measure that is a distance"
        )
    return AngularDistance(base=base)


def one_minus_similarity(measure: Measure | str, **params: Any) -> OneMinusSimilarity:
    """The distance ``1 - s`` for a similarity with ``s(X, X) = 1``.

    Declared a metric only where that is true (``1 - s`` for mean neighbour Jaccard);
    for CKA prefer :func:`angular_distance`, which is a metric.

    Parameters
    ----------
    measure
        Registry name or :class:`Measure` of the similarity.
    **params
        Parameters of the similarity when ``measure`` is a registry name.

    Returns
    -------
    OneMinusSimilarity
        The distance measure.

    Raises
    ------
    ValueError
        If the measure is not a similarity whose identity value is 1.
    """
    base = get_measure(measure, **params)
    if base.kind != "similarity" or base.properties.identity_value != 1.0:
        raise ValueError(
            f"{base.id} is not a similarity equal to 1 on identical clouds; 1 - s would "
            "not be zero there"
        )
    return OneMinusSimilarity(base=base)


# ------------------------------------------------------------------------------ registry

_REGISTRY: Registry[Measure] = Registry("measure", types=Measure)


def register_measure(
    name: str,
    factory: Callable[..., Measure],
    *,
    defaults: Mapping[str, Any] | None = None,
    description: str = "",
    replace: bool = False,
) -> None:
    """Register a measure under ``name`` (``factory(**defaults, **params)`` builds it).

    Parameters
    ----------
    name
        Registry name, not registered yet (unless ``replace``).
    factory
        Callable building the :class:`Measure` from keyword parameters.
    defaults
        Parameters passed to ``factory`` unless overridden in :func:`get_measure`.
    description
        One line shown by :func:`measure_table`.
    replace
        Replace an existing measure of that name instead of raising.

    Raises
    ------
    ValueError
        If ``name`` is already registered and ``replace`` is false.
    """
    _REGISTRY.register(name, factory, defaults=defaults, description=description, replace=replace)


def available_measures() -> tuple[str, ...]:
    """List the registry names of every measure.

    Returns
    -------
    tuple of str
        The names, in registration order.

    Examples
    --------
    >>> "linear_cka" in available_measures()
    True
    """
    return _REGISTRY.names()


def get_measure(measure: Measure | str, **params: Any) -> Measure:
    """Get a measure object from a registry name (with parameters) or a measure object.

    Parameters
    ----------
    measure
        Registry name (see :func:`available_measures`) or a :class:`Measure`.
    **params
        Parameters overriding the registered defaults (only with a name).

    Returns
    -------
    Measure
        The measure (``measure`` itself when an object is given).

    Raises
    ------
    ValueError
        Unknown name (close matches are suggested) or parameters given with an object.
    TypeError
        Unknown parameter for that measure (the accepted ones are listed).
    """
    return _REGISTRY.get(measure, **params)


def measure_table() -> list[dict[str, Any]]:
    """Tabulate the registered measures: name, id, figure label and declared properties.

    Returns
    -------
    list of dict
        One row per registered measure, in registration order.
    """
    rows = []
    for name in _REGISTRY:
        description = _REGISTRY.entry(name).description
        m = get_measure(name)
        p = m.properties
        rows.append(
            {
                "name": name,
                "id": m.id,
                "label": m.label,
                "kind": p.kind,
                "symmetric": p.symmetric,
                "metric": p.metric,
                "invariances": tuple(i for i in INVARIANCES if i in p.invariances),
                "identity_value": p.identity_value,
                "bounds": p.bounds,
                "cosine": p.cosine,
                "description": description,
            }
        )
    return rows


def warn_meaningless(message: str) -> None:
    """Emit a :class:`MeaninglessValueWarning` pointing at the caller's caller."""
    warnings.warn(message, MeaninglessValueWarning, stacklevel=4)
