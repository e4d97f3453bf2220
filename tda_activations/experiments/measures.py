"""One interface for every layer measure: topological distances and similarity measures.

A :class:`LayerMeasure` compares two layers' point clouds.  It has a unique
``name`` (used in every table), declares its ``kind`` (``"distance"``:
smaller is closer; ``"similarity"``: larger is closer) and splits the work in
two: :meth:`LayerMeasure.prepare_many` (once per cloud; for a topological
measure this computes the persistence diagram) and
:meth:`LayerMeasure.compare` (cheap, once per pair).

Two adapters are built from the library's registries:

* :class:`TopologicalMeasure` — a homology dimension, a diagram distance of
  :func:`tda_activations.homology.get_diagram_distance` and the options of
  :func:`tda_activations.homology.persistence`.  Diagrams are computed by the
  homology stage's :func:`~tda_activations.homology.layer_persistence`
  (parallel processes, optional content cache), once per cloud even when
  several topological measures share them (see :func:`prepare_measures`).
* :class:`SimilarityMeasure` — any measure of
  :func:`tda_activations.similarity.get_measure`.

:func:`all_measures` lists every combination; :func:`layer_measure` parses a
short spec (``"H1:sliced_wasserstein"``, ``"linear_cka"``).
"""

from __future__ import annotations

import abc
import logging
import math
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._hashing import fingerprint_array, fingerprint_params
from .._progress import CostEstimate, format_seconds
from ..types import Diagrams, MatrixKind, unknown_name_error

__all__ = [
    "DEFAULT_MEASURES",
    "LayerMeasure",
    "SimilarityMeasure",
    "TopologicalMeasure",
    "all_measures",
    "as_measures",
    "calibrate_measures",
    "default_measures",
    "layer_measure",
    "measures_cost",
    "prepare_measures",
    "similarity_measure",
    "topological_measure",
]

log = logging.getLogger(__name__)

Family = Literal["topology", "similarity"]


class LayerMeasure(abc.ABC):
    """A distance or similarity between two layers' point clouds.

    Subclasses set :attr:`name`, :attr:`kind`, :attr:`family`,
    :attr:`identity_value`, :attr:`symmetric`, :attr:`needs_correspondence`
    and :attr:`params`, and implement :meth:`prepare_many` and :meth:`compare`.
    """

    name: str
    kind: MatrixKind
    family: Family
    identity_value: float
    symmetric: bool
    needs_correspondence: bool
    params: Mapping[str, Any]

    # ------------------------------------------------------------------ work
    @abc.abstractmethod
    def prepare_many(self, clouds: Sequence[Any], *, labels: Sequence[str] | None = None) -> list[Any]:
        """Per-cloud states for a collection of clouds, in order.

        States are comparable with :meth:`compare` when they come from the
        same call (some diagram distances, e.g. landscapes, fix a common grid
        over the collection); the experiments prepare every cloud of a
        comparison in one call.

        Parameters
        ----------
        clouds
            Point clouds ``(n_points, width)``.
        labels
            Names of the clouds (error messages, cache file names).
        """

    def prepare(self, cloud: Any, *, label: str = "cloud") -> Any:
        """The state of one cloud (``prepare_many([cloud])[0]``)."""
        return self.prepare_many([cloud], labels=[label])[0]

    @abc.abstractmethod
    def compare(self, a: Any, b: Any) -> float:
        """The value between two prepared states."""

    def compare_matrix(self, rows: Sequence[Any], cols: Sequence[Any] | None = None) -> np.ndarray:
        """Every value between prepared states (``cols=None``: rows against themselves)."""
        same = cols is None
        cols = rows if cols is None else cols
        out = np.empty((len(rows), len(cols)), dtype=np.float64)
        for i, a in enumerate(rows):
            for j, b in enumerate(cols):
                if same and self.symmetric and j < i:
                    out[i, j] = out[j, i]
                else:
                    out[i, j] = self.compare(a, b)
        return out

    def __call__(self, x: Any, y: Any) -> float:
        """The value between two clouds."""
        a, b = self.prepare_many([x, y], labels=["X", "Y"])
        return self.compare(a, b)

    # ---------------------------------------------------------- derived facts
    def dissimilarity(self, value: Any) -> Any:
        """The value turned into a dissimilarity (larger = farther), keeping its order.

        A distance is returned as is; a similarity ``s`` becomes
        ``identity_value - s`` (``1 - CKA``, ``1 - R²_CCA``, ...), which is zero
        for identical clouds.
        """
        v = np.asarray(value, dtype=np.float64)
        out = v if self.kind == "distance" else self.identity_value - v
        return float(out) if np.ndim(out) == 0 else out

    def closest(self, values: np.ndarray, *, axis: int = -1) -> np.ndarray:
        """Index of the closest entry along ``axis`` (min for a distance, max for a similarity)."""
        v = np.asarray(values, dtype=np.float64)
        return np.argmin(v, axis=axis) if self.kind == "distance" else np.argmax(v, axis=axis)

    def describe(self) -> dict[str, Any]:
        """Name, kind, family and parameters, for tables and JSON."""
        return {
            "measure": self.name, "kind": self.kind, "family": self.family,
            "symmetric": self.symmetric, "params": dict(self.params),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, kind={self.kind!r})"


# ----------------------------------------------------------------- similarity


class SimilarityMeasure(LayerMeasure):
    """Adapter for a measure of :mod:`tda_activations.similarity`.

    Parameters
    ----------
    measure
        A registry name (see :func:`tda_activations.similarity.available_measures`)
        or a measure object.
    **params
        Parameters of the measure (only with a name).
    """

    family: Family = "similarity"
    needs_correspondence = True

    def __init__(self, measure: Any, **params: Any) -> None:
        from ..similarity import Measure, get_measure

        m = get_measure(measure, **params)
        self.measure: Measure = m
        if isinstance(measure, str):
            self.name = measure if not params else f"{measure}[{','.join(f'{k}={v}' for k, v in params.items())}]"
        else:
            self.name = m.label
        props = m.properties
        self.kind = props.kind
        self.identity_value = float(props.identity_value)
        self.symmetric = bool(props.symmetric)
        self.params = {"measure": m.name, "label": m.label, **{k: _plain(v) for k, v in m.params.items()}}

    def prepare_many(self, clouds: Sequence[Any], *, labels: Sequence[str] | None = None) -> list[Any]:
        labels = _labels(clouds, labels)
        return [self.measure.prepare(c, name=str(l)) for c, l in zip(clouds, labels)]

    def compare(self, a: Any, b: Any) -> float:
        return float(self.measure.score(a, b))

    def compare_matrix(self, rows: Sequence[Any], cols: Sequence[Any] | None = None) -> np.ndarray:
        if cols is None and not self.symmetric:
            return super().compare_matrix(rows, None)
        return np.asarray(
            self.measure.score_matrix(list(rows), None if cols is None else list(cols)), dtype=np.float64
        )


def similarity_measure(measure: Any, **params: Any) -> SimilarityMeasure:
    """Build a :class:`SimilarityMeasure` for a similarity-registry name (or measure object).

    Parameters
    ----------
    measure
        A registry name (see :func:`tda_activations.similarity.available_measures`)
        or a measure object.
    **params
        Parameters of the measure (only with a name).

    Returns
    -------
    SimilarityMeasure
        The layer measure.
    """
    return SimilarityMeasure(measure, **params)


# ------------------------------------------------------------------ topology

_DEFAULT_PERSISTENCE: dict[str, Any] = {"maxdim": 1}


@dataclass(frozen=True)
class _DiagramState:
    prepared: Any
    n_bars: int
    n_points: int


class TopologicalMeasure(LayerMeasure):
    """A diagram distance between the persistence diagrams of two clouds, in one homology dimension.

    Parameters
    ----------
    dim
        Homology dimension compared (0, 1, ...).
    distance
        A name of :func:`tda_activations.homology.diagram_distance_names` (or a
        :class:`~tda_activations.homology.DiagramDistance`).
    distance_params
        Options of the diagram distance (``order``, ``internal_p``,
        ``n_directions``, ``essential``, ...).
    persistence_options
        Options of :func:`tda_activations.homology.persistence`; default
        ``{"maxdim": 1}``, raised to ``dim`` if needed.  Measures with the same
        options share one persistence computation per cloud.
    cache_dir
        Content-addressed diagram cache (see
        :func:`tda_activations.homology.cached_persistence`); ``None``: no cache.
    n_jobs
        Worker processes for persistence (``layer_persistence``).
    """

    family: Family = "topology"
    kind: MatrixKind = "distance"
    identity_value = 0.0
    symmetric = True
    needs_correspondence = False

    def __init__(
        self,
        dim: int = 1,
        distance: Any = "sliced_wasserstein",
        *,
        distance_params: Mapping[str, Any] | None = None,
        persistence_options: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        n_jobs: int | None = 2,
    ) -> None:
        from ..homology import get_diagram_distance

        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise ValueError(f"dim must be a homology dimension (0, 1, ...), got {dim!r}")
        self.dim = int(dim)
        self.distance = get_diagram_distance(distance, **dict(distance_params or {}))
        opts = {**_DEFAULT_PERSISTENCE, **dict(persistence_options or {})}
        if "label" in opts:
            raise TypeError("persistence_options must not contain 'label' (it is the cloud's name)")
        opts["maxdim"] = max(int(opts.get("maxdim", 1)), self.dim)
        self.persistence_options = opts
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.n_jobs = n_jobs
        self.name = self.distance.measure_name(self.dim)
        self.params = {
            "homology_dim": self.dim, "diagram_distance": self.distance.name,
            "distance_params": {k: _plain(v) for k, v in self.distance.params.items()},
            "persistence": {k: _plain(v) for k, v in opts.items()},
        }

    @property
    def persistence_key(self) -> str:
        """Fingerprint of the persistence options: measures with equal keys share diagrams."""
        return fingerprint_params({"options": self.persistence_options, "cache": str(self.cache_dir)})

    def diagrams(self, clouds: Sequence[Any], *, labels: Sequence[str] | None = None) -> list[Diagrams]:
        """Persistence diagrams of the clouds (through ``layer_persistence``)."""
        from ..homology import layer_persistence

        labels = _labels(clouds, labels)
        # keyed by content: identical clouds are computed once, and cache files are found again
        # whatever the clouds are called in the next experiment
        keys = [f"cloud-{fingerprint_array(np.asarray(c))}" for c in clouds]
        keyed = {k: c for k, c in zip(keys, clouds)}
        names = {k: l for k, l in zip(keys, labels)}
        log.debug("persistence of %d distinct clouds (%s)", len(keyed), ", ".join(list(names.values())[:5]))
        out = layer_persistence(keyed, n_jobs=self.n_jobs, cache_dir=self.cache_dir, **self.persistence_options)
        return [out[k] for k in keys]

    def prepare_diagrams(self, diagrams: Sequence[Diagrams]) -> list[Any]:
        """States from already computed diagrams (all prepared together)."""
        for d in diagrams:
            if not isinstance(d, Diagrams):
                raise TypeError(f"expected Diagrams, got {type(d).__name__}")
            if d.maxdim < self.dim:
                raise ValueError(
                    f"diagrams {d.label!r} were computed up to H{d.maxdim}; {self.name} needs H{self.dim}"
                )
        prepared = self.distance.prepare([d[self.dim] for d in diagrams])
        return [_DiagramState(p, len(d[self.dim]), int(d.n_points)) for p, d in zip(prepared, diagrams)]

    def prepare_many(self, clouds: Sequence[Any], *, labels: Sequence[str] | None = None) -> list[Any]:
        return self.prepare_diagrams(self.diagrams(clouds, labels=labels))

    def compare(self, a: Any, b: Any) -> float:
        if not isinstance(a, _DiagramState) or not isinstance(b, _DiagramState):
            raise TypeError("compare() takes states from this measure's prepare_many()")
        return float(self.distance.pair(a.prepared, b.prepared))


def topological_measure(dim: int = 1, distance: str = "sliced_wasserstein", **kwargs: Any) -> TopologicalMeasure:
    """Build a :class:`TopologicalMeasure`.

    Parameters
    ----------
    dim
        Homology dimension compared.
    distance
        Diagram distance name (see :func:`tda_activations.homology.diagram_distance_names`).
    **kwargs
        Further parameters of :class:`TopologicalMeasure`.

    Returns
    -------
    TopologicalMeasure
        The layer measure.
    """
    return TopologicalMeasure(dim, distance, **kwargs)


# ---------------------------------------------------------------- lists/specs

_SPEC = re.compile(r"^[Hh](\d+)[:/](.+)$")


def layer_measure(
    spec: str | LayerMeasure,
    *,
    persistence_options: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    n_jobs: int | None = 2,
    **params: Any,
) -> LayerMeasure:
    """Build a layer measure from a short spec.

    Parameters
    ----------
    spec
        ``"H<dim>:<diagram distance>"`` (e.g. ``"H1:sliced_wasserstein"``,
        ``"h0:bottleneck"``) for a topological measure, otherwise a
        similarity-registry name (``"linear_cka"``, ``"pwcca"``, ...).  A
        :class:`LayerMeasure` is returned as is.
    persistence_options, cache_dir, n_jobs
        For a topological measure (see :class:`TopologicalMeasure`).
    **params
        Parameters of the diagram distance or of the similarity measure.

    Returns
    -------
    LayerMeasure
        A :class:`TopologicalMeasure` or a :class:`SimilarityMeasure`.

    Raises
    ------
    ValueError
        Unknown names (close matches suggested).

    Examples
    --------
    >>> layer_measure("H1:bottleneck").name
    'bottleneck[H1]'
    """
    if isinstance(spec, LayerMeasure):
        if params:
            raise ValueError("parameters cannot be given with a ready LayerMeasure")
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a measure spec must be a string or a LayerMeasure, got {type(spec).__name__}")
    m = _SPEC.match(spec.strip())
    if m:
        return TopologicalMeasure(
            int(m.group(1)), m.group(2), distance_params=params,
            persistence_options=persistence_options, cache_dir=cache_dir, n_jobs=n_jobs,
        )
    from ..homology import diagram_distance_names
    from ..similarity import available_measures

    if spec not in available_measures() and spec in diagram_distance_names():
        raise ValueError(
            f"{spec!r} is a diagram distance: say which homology dimension, e.g. 'H1:{spec}'"
        )
    if spec not in available_measures():
        known = list(available_measures()) + [f"H1:{d}" for d in diagram_distance_names()]
        raise unknown_name_error("measure", spec, known)
    return SimilarityMeasure(spec, **params)


# Distances with required parameters get them here, stated, in the catalogue of every
# measure (their names carry them: ``wasserstein[H1,q=1.0,p=2.0]``).
_CATALOGUE_PARAMS: dict[str, dict[str, Any]] = {"wasserstein": {"order": 1.0, "internal_p": 2.0}}


def all_measures(
    *,
    homology_dims: Sequence[int] = (0, 1),
    diagram_distances: Sequence[str] | None = None,
    similarity_measures: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    persistence_options: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    n_jobs: int | None = 2,
) -> tuple[LayerMeasure, ...]:
    """Every topological measure (dimension x diagram distance) and every similarity measure.

    Parameters
    ----------
    homology_dims
        Homology dimensions of the topological measures (``()``: none).
    diagram_distances
        Registry names (default: all of :func:`~tda_activations.homology.diagram_distance_names`).
    similarity_measures
        Registry names (default: all of :func:`~tda_activations.similarity.available_measures`;
        ``()``: none).
    exclude
        Names to leave out: a similarity name (``"rtd"``), a diagram distance
        (``"wasserstein"``: every dimension) or a full measure name
        (``"bottleneck[H0]"``).
    persistence_options, cache_dir, n_jobs
        Shared by the topological measures (one persistence per cloud).

    Returns
    -------
    tuple of LayerMeasure
        Topological measures first (by dimension, then distance), then similarity measures.
        The Wasserstein distance, whose parameters have no safe default, is the
        1-Wasserstein distance with the L2 ground metric (persim's), named so.
    """
    from ..homology import diagram_distance_names
    from ..similarity import available_measures

    dnames = tuple(diagram_distance_names()) if diagram_distances is None else tuple(diagram_distances)
    snames = tuple(available_measures()) if similarity_measures is None else tuple(similarity_measures)
    for d in dnames:
        if d not in diagram_distance_names():
            raise unknown_name_error("diagram distance", d, diagram_distance_names())
    for s in snames:
        if s not in available_measures():
            raise unknown_name_error("similarity measure", s, available_measures())
    if isinstance(exclude, str):
        exclude = (exclude,)
    out: list[LayerMeasure] = []
    for dim in homology_dims:
        for d in dnames:
            if d in exclude:
                continue
            tm = TopologicalMeasure(dim, d, distance_params=_CATALOGUE_PARAMS.get(d),
                                    persistence_options=persistence_options,
                                    cache_dir=cache_dir, n_jobs=n_jobs)
            if tm.name not in exclude and f"H{dim}:{d}" not in exclude:
                out.append(tm)
    out.extend(SimilarityMeasure(s) for s in snames if s not in exclude)
    known = set(dnames) | set(snames) | {m.name for m in out}
    unknown = [e for e in exclude if e not in known and not _SPEC.match(e)]
    if unknown:
        log.warning("exclude names %s match no measure", unknown)
    if not out:
        raise ValueError("no measures left; check homology_dims, the name lists and exclude")
    return tuple(out)


#: What ``measures=None`` means in the experiments: a few fast measures of both families
#: (H0 and H1 share one persistence computation per cloud).  ``measures="all"`` runs
#: every measure of :func:`all_measures` (about 30; minutes to hours on big clouds).
DEFAULT_MEASURES: tuple[str, ...] = ("H0:sliced_wasserstein", "H1:sliced_wasserstein",
                                     "linear_cka", "rsa")


def default_measures() -> tuple[LayerMeasure, ...]:
    """Build the measures of :data:`DEFAULT_MEASURES` (``measures=None`` in the experiments).

    Returns
    -------
    tuple of LayerMeasure
        The measures, in the order of :data:`DEFAULT_MEASURES`.
    """
    return tuple(layer_measure(s) for s in DEFAULT_MEASURES)


def as_measures(measures: Any) -> tuple[LayerMeasure, ...]:
    """Normalise a ``measures=`` argument into a tuple of layer measures.

    Parameters
    ----------
    measures
        ``None`` (:data:`DEFAULT_MEASURES`), ``"all"`` (every measure of
        :func:`all_measures`), one spec/measure, or a sequence of them.

    Returns
    -------
    tuple of LayerMeasure
        The measures, each with a unique name.

    Raises
    ------
    ValueError
        If none is given, a name is unknown or a measure is given twice.
    """
    if measures is None:
        return default_measures()
    if isinstance(measures, str) and measures == "all":
        return all_measures()
    if isinstance(measures, (str, LayerMeasure)):
        measures = [measures]
    out = tuple(layer_measure(m) for m in measures)
    if not out:
        raise ValueError("no measures given; pass None for all, or a list of names")
    names = [m.name for m in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"measures {dup} are given twice; every measure needs a unique name")
    return out


def prepare_measures(
    measures: Sequence[LayerMeasure], clouds: Mapping[str, Any]
) -> Iterator[tuple[LayerMeasure, dict[str, Any]]]:
    """Prepare every cloud for every measure, one measure at a time.

    Topological measures with the same persistence options share one
    persistence computation per cloud (kept until the last of them is done).
    A measure's states are released when the caller moves on, so memory holds one
    measure's states at a time.

    Parameters
    ----------
    measures
        The layer measures.
    clouds
        Cloud name -> point cloud ``(n, width)``.

    Yields
    ------
    tuple of (LayerMeasure, dict)
        ``(measure, {cloud name: prepared state})``, in the order of ``measures``.
    """
    names = list(clouds)
    arrays = [clouds[n] for n in names]
    diagrams: dict[str, list[Diagrams]] = {}
    remaining: dict[str, int] = {}
    for m in measures:
        if isinstance(m, TopologicalMeasure):
            remaining[m.persistence_key] = remaining.get(m.persistence_key, 0) + 1
    for m in measures:
        if isinstance(m, TopologicalMeasure):
            key = m.persistence_key
            if key not in diagrams:
                log.info("persistence of %d clouds (%s)", len(arrays), m.persistence_options)
                diagrams[key] = m.diagrams(arrays, labels=names)
            states = m.prepare_diagrams(diagrams[key])
            remaining[key] -= 1
            if remaining[key] == 0:
                del diagrams[key]
        else:
            states = m.prepare_many(arrays, labels=names)
        yield m, dict(zip(names, states))


def calibrate_measures(
    measures: Sequence[LayerMeasure], clouds: Sequence[Any]
) -> dict[str, tuple[float, float]]:
    """Time each measure on a few clouds: seconds to prepare one cloud, seconds per comparison.

    Topological measures that share persistence options share one persistence
    computation; its time is counted for the first of them only, so summing
    over measures counts it once.

    Parameters
    ----------
    measures
        The measures.
    clouds
        Two (or more) representative clouds; the first two are used.

    Returns
    -------
    dict
        Measure name -> ``(seconds per prepared cloud, seconds per comparison)``.
    """
    sample = list(clouds)[:2]
    if not sample:
        raise ValueError("calibration needs at least one cloud")
    names = [f"calibration{i}" for i in range(len(sample))]
    shared: dict[str, list[Diagrams]] = {}
    out: dict[str, tuple[float, float]] = {}
    for m in measures:
        start = time.perf_counter()
        if isinstance(m, TopologicalMeasure):
            if m.persistence_key not in shared:
                shared[m.persistence_key] = m.diagrams(sample, labels=names)
            states = m.prepare_diagrams(shared[m.persistence_key])
        else:
            states = m.prepare_many(sample, labels=names)
        prep = (time.perf_counter() - start) / len(sample)
        start = time.perf_counter()
        m.compare(states[0], states[-1])
        out[m.name] = (prep, time.perf_counter() - start)
    return out


def measures_cost(
    measures: Sequence[LayerMeasure],
    *,
    what: str,
    n_clouds: int,
    comparisons: Mapping[str, int],
    sample: Sequence[Any] | None = None,
) -> CostEstimate:
    """What preparing ``n_clouds`` clouds and making ``comparisons`` costs for each measure.

    Parameters
    ----------
    measures
        The measures.
    what
        The call, for the message.
    n_clouds
        Clouds each measure prepares (persistence is shared as in :func:`prepare_measures`).
    comparisons
        Measure name -> number of comparisons (layer pairs) it makes.
    sample
        Two representative clouds to time the measures on (:func:`calibrate_measures`);
        ``None``: no calibration, no time estimate.

    Returns
    -------
    CostEstimate
        Units: layer-pair comparisons summed over the measures.
    """
    units = int(sum(comparisons[m.name] for m in measures))
    detail = f"{len(measures)} measures x {n_clouds} clouds"
    if sample is None:
        return CostEstimate(what=what, units=units, unit="layer-pair comparison", detail=detail)
    start = time.perf_counter()
    timing = calibrate_measures(measures, sample)
    spent = time.perf_counter() - start
    seconds = sum(timing[m.name][0] * n_clouds + timing[m.name][1] * comparisons[m.name]
                  for m in measures)
    detail += f"; calibrated on {len(list(sample)[:2])} clouds in {format_seconds(spent)}"
    return CostEstimate(what=what, units=units, unit="layer-pair comparison",
                        seconds=max(seconds, 1e-6), detail=detail)


def _labels(clouds: Sequence[Any], labels: Sequence[str] | None) -> list[str]:
    if labels is None:
        return [f"cloud{i}" for i in range(len(clouds))]
    labels = [str(l) for l in labels]
    if len(labels) != len(clouds):
        raise ValueError(f"{len(labels)} labels for {len(clouds)} clouds; give one label per cloud")
    return labels


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)
