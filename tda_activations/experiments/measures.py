"""Every layer measure as one protocol: topological distances and similarity measures.

A layer measure is a :class:`~tda_activations._measure.PairwiseMeasure`: it has a
unique ``id`` (used in every table), a short ``label`` for figures, declared
``properties`` (``kind`` ``"distance"``: smaller is closer; ``"similarity"``: larger
is closer) and splits the work in two: ``prepare_many`` (once per cloud; for a
topological measure this computes the persistence diagram) and ``score`` (cheap, once
per pair); ``score_matrix`` runs the one all-pairs engine.

* :class:`TopologicalMeasure` — a homology dimension, a diagram distance of
  :func:`tda_activations.homology.get_diagram_distance` and the options of
  :func:`tda_activations.homology.persistence`.  Diagrams are computed by the
  homology stage's :func:`~tda_activations.homology.layer_persistence`
  (parallel processes, optional content cache), once per cloud even when
  several topological measures share them (see :func:`prepare_measures`).
* Every measure of :func:`tda_activations.similarity.get_measure` is used as it is
  (:func:`similarity_measure` returns it).

:func:`all_measures` lists every combination; :func:`layer_measure` parses a
short spec (``"H1:sliced_wasserstein"``, ``"linear_cka"``).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._hashing import fingerprint_array, fingerprint_params
from .._measure import MeasureProperties, PairwiseMeasure, cloud_names, plain_value
from .._progress import CostEstimate, format_seconds
from ..types import Diagrams, unknown_name_error

__all__ = [
    "DEFAULT_MEASURES",
    "TopologicalMeasure",
    "all_measures",
    "as_measures",
    "calibrate_measures",
    "default_measures",
    "layer_measure",
    "measure_id",
    "measures_cost",
    "prepare_measures",
    "similarity_measure",
    "topological_measure",
]

log = logging.getLogger(__name__)

# ----------------------------------------------------------------- similarity


def similarity_measure(measure: Any, **params: Any) -> PairwiseMeasure:
    """The similarity measure of a similarity-registry name (or a measure object, as it is).

    Parameters
    ----------
    measure
        A registry name (see :func:`tda_activations.similarity.available_measures`)
        or a measure object.
    **params
        Parameters of the measure (only with a name).

    Returns
    -------
    tda_activations.similarity.Measure
        The measure (a pairwise measure of the one protocol).
    """
    from ..similarity import get_measure

    return get_measure(measure, **params)


# ------------------------------------------------------------------ topology

_DEFAULT_PERSISTENCE: dict[str, Any] = {"maxdim": 1}


@dataclass(frozen=True)
class _DiagramState:
    prepared: Any
    n_bars: int
    n_points: int


class TopologicalMeasure(PairwiseMeasure):
    """A diagram distance between the persistence diagrams of two clouds, in one homology dimension.

    ``prepare_many`` computes the diagrams (once per distinct cloud); ``score`` compares
    two of them with the diagram distance.

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

    family = "topology"

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

    @property
    def id(self) -> str:
        """The diagram distance's id in this dimension, e.g. ``sliced_wasserstein[H1,M=50]``."""
        return self.distance.measure_name(self.dim)

    @property
    def name(self) -> str:
        """The same as :attr:`id`."""
        return self.id

    @property
    def params(self) -> dict[str, Any]:
        """Homology dimension, diagram distance, its parameters and the persistence options."""
        return {
            "homology_dim": self.dim,
            "diagram_distance": self.distance.name,
            "distance_params": {k: plain_value(v) for k, v in self.distance.params.items()},
            "persistence": {k: plain_value(v) for k, v in self.persistence_options.items()},
        }

    @property
    def properties(self) -> MeasureProperties:
        """A symmetric distance that ignores the order of the points.

        A (pseudo)metric on clouds when the diagram distance is a metric.  With the
        Euclidean metric the
        diagrams, so the value, do not change under rotations, translations and
        permutations of the units.
        """
        euclidean = self.persistence_options.get("metric", "euclidean") == "euclidean"
        return MeasureProperties(
            kind="distance",
            symmetric=True,
            metric=bool(self.distance.is_metric),
            invariances=frozenset(
                {"orthogonal", "translation", "permutation"} if euclidean else ()
            ),
            identity_value=0.0,
            bounds=(0.0, float("inf")),
            needs_correspondence=False,
        )

    @property
    def persistence_key(self) -> str:
        """Fingerprint of the persistence options: measures with equal keys share diagrams."""
        return fingerprint_params(
            {"options": self.persistence_options, "cache": str(self.cache_dir)}
        )

    def diagrams(
        self, clouds: Sequence[Any], *, names: Sequence[str] | None = None
    ) -> list[Diagrams]:
        """Persistence diagrams of the clouds (through ``layer_persistence``).

        Parameters
        ----------
        clouds
            Point clouds.
        names
            Their names (log messages).

        Returns
        -------
        list of Diagrams
            In the order of ``clouds``.
        """
        from ..homology import layer_persistence

        names = cloud_names(clouds, names)
        # keyed by content: identical clouds are computed once, and cache files are found again
        # whatever the clouds are called in the next experiment
        keys = [f"cloud-{fingerprint_array(np.asarray(c))}" for c in clouds]
        keyed = {k: c for k, c in zip(keys, clouds)}
        named = {k: n for k, n in zip(keys, names)}
        log.debug(
            "persistence of %d distinct clouds (%s)",
            len(keyed),
            ", ".join(list(named.values())[:5]),
        )
        out = layer_persistence(
            keyed, n_jobs=self.n_jobs, cache_dir=self.cache_dir, **self.persistence_options
        )
        return [out[k] for k in keys]

    def prepare_diagrams(self, diagrams: Sequence[Diagrams]) -> list[Any]:
        """States from already computed diagrams (all prepared together).

        Raises
        ------
        TypeError
            If an item is not a Diagrams object.
        ValueError
            If diagrams were computed below this measure's dimension.
        """
        for d in diagrams:
            if not isinstance(d, Diagrams):
                raise TypeError(f"expected Diagrams, got {type(d).__name__}")
            if d.maxdim < self.dim:
                raise ValueError(
                    f"diagrams {d.label!r} were computed up to H{d.maxdim}; {self.id} needs H{self.dim}"
                )
        prepared = self.distance.prepare_many([d[self.dim] for d in diagrams])
        return [
            _DiagramState(p, len(d[self.dim]), int(d.n_points)) for p, d in zip(prepared, diagrams)
        ]

    def prepare_many(
        self, clouds: Sequence[Any], *, names: Sequence[str] | None = None
    ) -> list[Any]:
        """States of a collection of clouds: their diagrams, prepared together.

        Parameters
        ----------
        clouds
            Point clouds ``(n_points, width)``.
        names
            Their names (log messages).

        Returns
        -------
        list
            One state per cloud.
        """
        return self.prepare_diagrams(self.diagrams(clouds, names=names))

    def score(self, a: Any, b: Any) -> float:
        """The diagram distance between two prepared clouds.

        Raises
        ------
        TypeError
            If a state does not come from :meth:`prepare_many`.
        """
        if not isinstance(a, _DiagramState) or not isinstance(b, _DiagramState):
            raise TypeError("score() takes states from this measure's prepare_many()")
        return self.distance.score(a.prepared, b.prepared)

    def __repr__(self) -> str:
        return f"TopologicalMeasure({self.id!r}, kind='distance')"


def topological_measure(
    dim: int = 1, distance: str = "sliced_wasserstein", **kwargs: Any
) -> TopologicalMeasure:
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
    spec: str | PairwiseMeasure,
    *,
    persistence_options: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    n_jobs: int | None = 2,
    **params: Any,
) -> PairwiseMeasure:
    """Build a layer measure from a short spec.

    Parameters
    ----------
    spec
        ``"H<dim>:<diagram distance>"`` (e.g. ``"H1:sliced_wasserstein"``,
        ``"h0:bottleneck"``) for a topological measure, otherwise a
        similarity-registry name (``"linear_cka"``, ``"pwcca"``, ...).  A
        pairwise measure object is returned as is.
    persistence_options, cache_dir, n_jobs
        For a topological measure (see :class:`TopologicalMeasure`).
    **params
        Parameters of the diagram distance or of the similarity measure.

    Returns
    -------
    PairwiseMeasure
        A :class:`TopologicalMeasure` or a similarity measure.

    Raises
    ------
    ValueError
        Unknown names (close matches suggested).

    Examples
    --------
    >>> layer_measure("H1:bottleneck").id
    'bottleneck[H1]'
    """
    if isinstance(spec, PairwiseMeasure):
        if params:
            raise ValueError("parameters cannot be given with a ready measure object")
        return spec
    if not isinstance(spec, str):
        raise TypeError(
            f"a measure spec must be a string or a measure object, got {type(spec).__name__}"
        )
    m = _SPEC.match(spec.strip())
    if m:
        return TopologicalMeasure(
            int(m.group(1)),
            m.group(2),
            distance_params=params,
            persistence_options=persistence_options,
            cache_dir=cache_dir,
            n_jobs=n_jobs,
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
    return similarity_measure(spec, **params)


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
) -> tuple[PairwiseMeasure, ...]:
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
    tuple of PairwiseMeasure
        Topological measures first (by dimension, then distance), then similarity measures.
        The Wasserstein distance, whose parameters have no safe default, is the
        1-Wasserstein distance with the L2 ground metric (persim's), named so.
    """
    from ..homology import diagram_distance_names
    from ..similarity import available_measures

    dnames = (
        tuple(diagram_distance_names()) if diagram_distances is None else tuple(diagram_distances)
    )
    snames = (
        tuple(available_measures()) if similarity_measures is None else tuple(similarity_measures)
    )
    for d in dnames:
        if d not in diagram_distance_names():
            raise unknown_name_error("diagram distance", d, diagram_distance_names())
    for s in snames:
        if s not in available_measures():
            raise unknown_name_error("similarity measure", s, available_measures())
    if isinstance(exclude, str):
        exclude = (exclude,)
    out: list[PairwiseMeasure] = []
    for dim in homology_dims:
        for d in dnames:
            if d in exclude:
                continue
            tm = TopologicalMeasure(
                dim,
                d,
                distance_params=_CATALOGUE_PARAMS.get(d),
                persistence_options=persistence_options,
                cache_dir=cache_dir,
                n_jobs=n_jobs,
            )
            if tm.id not in exclude and f"H{dim}:{d}" not in exclude:
                out.append(tm)
    out.extend(similarity_measure(s) for s in snames if s not in exclude)
    known = set(dnames) | set(snames) | {m.id for m in out}
    unknown = [e for e in exclude if e not in known and not _SPEC.match(e)]
    if unknown:
        log.warning("exclude names %s match no measure", unknown)
    if not out:
        raise ValueError("no measures left; check homology_dims, the name lists and exclude")
    return tuple(out)


#: What ``measures=None`` means in the experiments: a few fast measures of both families
#: (H0 and H1 share one persistence computation per cloud).  ``measures="all"`` runs
#: every measure of :func:`all_measures` (about 30; minutes to hours on big clouds).
DEFAULT_MEASURES: tuple[str, ...] = (
    "H0:sliced_wasserstein",
    "H1:sliced_wasserstein",
    "linear_cka",
    "rsa",
)


def default_measures() -> tuple[PairwiseMeasure, ...]:
    """Build the measures of :data:`DEFAULT_MEASURES` (``measures=None`` in the experiments).

    Returns
    -------
    tuple of PairwiseMeasure
        The measures, in the order of :data:`DEFAULT_MEASURES`.
    """
    return tuple(layer_measure(s) for s in DEFAULT_MEASURES)


def as_measures(measures: Any) -> tuple[PairwiseMeasure, ...]:
    """Normalise a ``measures=`` argument into a tuple of layer measures.

    Parameters
    ----------
    measures
        ``None`` (:data:`DEFAULT_MEASURES`), ``"all"`` (every measure of
        :func:`all_measures`), one spec/measure, or a sequence of them.

    Returns
    -------
    tuple of PairwiseMeasure
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
    if isinstance(measures, (str, PairwiseMeasure)):
        measures = [measures]
    out = tuple(layer_measure(m) for m in measures)
    if not out:
        raise ValueError("no measures given; pass None for all, or a list of names")
    ids = [m.id for m in out]
    dup = sorted({n for n in ids if ids.count(n) > 1})
    if dup:
        raise ValueError(f"measures {dup} are given twice; every measure needs a unique id")
    return out


def prepare_measures(
    measures: Sequence[PairwiseMeasure], clouds: Mapping[str, Any]
) -> Iterator[tuple[PairwiseMeasure, dict[str, Any]]]:
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
    tuple of (PairwiseMeasure, dict)
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
                diagrams[key] = m.diagrams(arrays, names=names)
            states = m.prepare_diagrams(diagrams[key])
            remaining[key] -= 1
            if remaining[key] == 0:
                del diagrams[key]
        else:
            states = m.prepare_many(arrays, names=names)
        yield m, dict(zip(names, states))


def calibrate_measures(
    measures: Sequence[PairwiseMeasure], clouds: Sequence[Any]
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
                shared[m.persistence_key] = m.diagrams(sample, names=names)
            states = m.prepare_diagrams(shared[m.persistence_key])
        else:
            states = m.prepare_many(sample, names=names)
        prep = (time.perf_counter() - start) / len(sample)
        start = time.perf_counter()
        m.score(states[0], states[-1])
        out[m.id] = (prep, time.perf_counter() - start)
    return out


def measures_cost(
    measures: Sequence[PairwiseMeasure],
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
    units = int(sum(comparisons[m.id] for m in measures))
    detail = f"{len(measures)} measures x {n_clouds} clouds"
    if sample is None:
        return CostEstimate(what=what, units=units, unit="layer-pair comparison", detail=detail)
    start = time.perf_counter()
    timing = calibrate_measures(measures, sample)
    spent = time.perf_counter() - start
    seconds = sum(
        timing[m.id][0] * n_clouds + timing[m.id][1] * comparisons[m.id] for m in measures
    )
    detail += f"; calibrated on {len(list(sample)[:2])} clouds in {format_seconds(spent)}"
    return CostEstimate(
        what=what,
        units=units,
        unit="layer-pair comparison",
        seconds=max(seconds, 1e-6),
        detail=detail,
    )


def measure_id(measure: Any, known: Sequence[str]) -> str:
    """The id of ``measure`` among the ``known`` ids of a result.

    Parameters
    ----------
    measure
        An id (``"linear_cka[debiased=False,form=auto]"``), a spec or registry name
        (``"linear_cka"``, ``"H1:sliced_wasserstein"``) or a measure object.
    known
        The ids a result holds.

    Returns
    -------
    str
        The matching id.

    Raises
    ------
    ValueError
        If it names none of ``known`` (close matches suggested).
    """
    if isinstance(measure, str) and measure in known:
        return measure
    try:
        mid = layer_measure(measure, n_jobs=1).id
    except (TypeError, ValueError):
        mid = None
    if mid is None or mid not in known:
        raise unknown_name_error("measure", str(getattr(measure, "id", measure)), known)
    return mid
