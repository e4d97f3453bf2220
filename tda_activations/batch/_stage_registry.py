"""The stages of a run, registered once: task functions, config section, dependencies, order.

Every stage (``kind`` of a task: ``"extract"``, ``"persistence"``, ...) is one
:class:`StageSpec` in one :class:`~tda_activations._registry.Registry`, registered in
display order.  The rest of the batch layer reads it instead of restating it:

* the config (:mod:`.config`): the analysis options of a section take their defaults
  from the signature of the library function that receives them
  (:func:`library_option`), except where the batch deliberately differs, which the
  stage declares with a reason (:attr:`StageSpec.batch_defaults`);
* the planner (:mod:`.plan`): every task it makes is checked against its stage (a task
  function of that stage, inputs only from the stages it depends on), and the options it
  passes to a library function are the section's keys that the function takes
  (:func:`section_options`);
* the runner (:mod:`.runner`): scheduling priority, the order of progress bars, records
  and the manifest;
* the report (:mod:`.report`): the order of the timing table.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._imports import import_object
from .._registry import Registry

__all__ = [
    "StageSpec",
    "Variant",
    "display_rank",
    "library_default",
    "library_option",
    "priority",
    "section_options",
    "stage",
    "stage_kinds",
    "stage_of_path",
    "stages",
]

#: Where the task functions live (``Task.func`` is ``STAGES_MODULE + ":" + name``).
STAGES_MODULE = "tda_activations.batch.stages"


@dataclass(frozen=True)
class Variant:
    """One named kind of task of a stage (a probe, an experiment) and the function it calls.

    Attributes
    ----------
    function
        ``"module:function"`` of the library function; ``[<section>.params.<name>]`` is
        checked against its keyword parameters.
    reserved
        Its parameters that the run sets itself (model, data, layers, ...).
    """

    function: str
    reserved: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageSpec:
    """One stage of a run.

    Attributes
    ----------
    kind
        The stage name (``Task.kind``; tasks live under ``tasks/<kind>/``).
    tasks
        Names of its task functions in :mod:`tda_activations.batch.stages`.
    after
        Stages whose task folders its tasks may read (their inputs).
    priority
        Scheduling priority among ready tasks (lower first): extractions first, so that
        the plan grows early, then the cheap per-layer work.
    section
        The config section that configures it (``None``: none of its own).
    library
        ``"module:function"`` of the library functions receiving the section's analysis
        options: a section key that one of them takes as a keyword takes its default from
        that function's signature.
    batch_defaults
        Option -> ``(value, reason)`` where a run deliberately uses another default than
        the library function.
    variants
        Name -> :class:`Variant` for a stage whose section picks named kinds of task
        (``[probes] run``, ``[experiments] run``), in the order they are listed.
    variant_noun
        What one variant is called in messages (``"probe"``).
    description
        One line.
    """

    kind: str
    tasks: tuple[str, ...]
    after: tuple[str, ...] = ()
    priority: int = 9
    section: str | None = None
    library: tuple[str, ...] = ()
    batch_defaults: Mapping[str, tuple[Any, str]] = field(default_factory=dict)
    variants: Mapping[str, Variant] = field(default_factory=dict)
    variant_noun: str = "variant"
    description: str = ""

    def task_func(self, name: str) -> str:
        """The ``module:function`` path of task function ``name`` of this stage.

        Raises
        ------
        ValueError
            If ``name`` is not one of this stage's task functions.
        """
        if name not in self.tasks:
            raise ValueError(
                f"{name!r} is not a task function of stage {self.kind!r} "
                f"(registered: {', '.join(self.tasks)})"
            )
        return f"{STAGES_MODULE}:{name}"

    def variant(self, name: str) -> Variant:
        """The variant ``name`` (unknown: ``ValueError`` naming the known ones, close first)."""
        if name not in self.variants:
            from ..types import unknown_name_error

            raise unknown_name_error(self.variant_noun, name, self.variants)
        return self.variants[name]

    def variant_function(self, name: str) -> Callable[..., Any]:
        """The library function of variant ``name``, imported."""
        return _resolve(self.variant(name).function)

    def option_default(self, param: str) -> Any:
        """The default a run uses for option ``param`` of this stage's section.

        The declared batch default if any, else the default of the first library function
        that takes ``param``.

        Raises
        ------
        ValueError
            If no library function of the stage takes ``param`` (or it has no default).
        """
        if param in self.batch_defaults:
            return self.batch_defaults[param][0]
        for path in self.library:
            if param in _keywords(_resolve(path)):
                return library_default(path, param)
        raise ValueError(
            f"no library function of stage {self.kind!r} ({', '.join(self.library) or 'none'}) "
            f"takes {param!r}"
        )


def _same(spec: StageSpec) -> StageSpec:
    return spec


_STAGES: Registry[StageSpec] = Registry("stage", types=StageSpec)


def _register(spec: StageSpec) -> None:
    unknown = [k for k in spec.after if k not in _STAGES]
    if unknown:  # registration order is display order and must be a topological order
        raise ValueError(f"stage {spec.kind!r} depends on {unknown}, registered after it")
    _STAGES.register(spec.kind, functools.partial(_same, spec), description=spec.description)


@functools.cache
def _resolve(path: str) -> Callable[..., Any]:
    return import_object(path)  # type: ignore[no-any-return]


def _keywords(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    return {
        n: p
        for n, p in inspect.signature(fn).parameters.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }


def library_default(fn: Callable[..., Any] | str, param: str) -> Any:
    """The default of keyword parameter ``param`` in the signature of ``fn``.

    Parameters
    ----------
    fn
        A function, or its ``"module:function"`` path (imported on first use).
    param
        The parameter.

    Returns
    -------
    object
        Its default value.

    Raises
    ------
    ValueError
        If ``fn`` has no such keyword parameter, or it has no default.

    Examples
    --------
    >>> library_default("tda_activations.homology:persistence", "maxdim")
    1
    """
    func = _resolve(fn) if isinstance(fn, str) else fn
    p = _keywords(func).get(param)
    if p is None or p.default is inspect.Parameter.empty:
        raise ValueError(
            f"{getattr(func, '__qualname__', func)} has no keyword parameter {param!r} "
            "with a default"
        )
    return p.default


class _LibraryDefault:
    """A pydantic ``default_factory``: the stage's default of one option, looked up when used.

    Lazy, so that reading the config module imports no library stage (``extract`` pulls
    in torch); :func:`library_option` makes these.
    """

    def __init__(self, kind: str, param: str) -> None:
        self.kind, self.param = kind, param

    def __call__(self) -> Any:
        value = stage(self.kind).option_default(self.param)
        return dict(value) if isinstance(value, Mapping) else value  # no shared mutable default

    def __repr__(self) -> str:
        return f"library default of {self.kind}.{self.param}"


def library_option(kind: str, param: str, **constraints: Any) -> Any:
    """A config field whose default is stage ``kind``'s default of ``param`` (not restated).

    Parameters
    ----------
    kind
        The stage.
    param
        The option: a keyword parameter of one of the stage's library functions.
    **constraints
        Passed to :func:`pydantic.Field` (``ge``, ``lt``, ...).

    Returns
    -------
    pydantic.fields.FieldInfo
        The field.
    """
    from pydantic import Field

    return Field(default_factory=_LibraryDefault(kind, param), **constraints)


def section_options(section: Any, kind: str, function: str) -> dict[str, Any]:
    """The keys of a config section that a library function of stage ``kind`` takes.

    Parameters
    ----------
    section
        The validated section (a pydantic model).
    kind
        The stage.
    function
        One of the stage's :attr:`StageSpec.library` functions, by path or by name
        (``"mapper_graph"``).

    Returns
    -------
    dict
        Option -> configured value, in the section's field order.
    """
    spec = stage(kind)
    path = next((p for p in spec.library if function in (p, p.rpartition(":")[2])), None)
    if path is None:
        raise ValueError(
            f"{function!r} is not a library function of stage {kind!r} "
            f"({', '.join(spec.library) or 'none'})"
        )
    takes = _keywords(_resolve(path))
    return {k: getattr(section, k) for k in type(section).model_fields if k in takes}


def stage(kind: str) -> StageSpec:
    """The registered stage ``kind`` (unknown: ``ValueError`` with close matches)."""
    return _STAGES.entry(kind).factory()


def stage_kinds() -> tuple[str, ...]:
    """Every stage, in display order (a topological order of the dependencies)."""
    return _STAGES.names()


def stages() -> tuple[StageSpec, ...]:
    """Every :class:`StageSpec`, in display order."""
    return tuple(stage(k) for k in _STAGES.names())


def priority(kind: str) -> int:
    """Scheduling priority of ``kind`` (an unregistered kind: with the last stages)."""
    if kind in _STAGES:
        return stage(kind).priority
    return max(stage(k).priority for k in _STAGES.names())


def display_rank(kind: str) -> int:
    """Position of ``kind`` in display order (an unregistered kind: after every stage)."""
    names = _STAGES.names()
    return names.index(kind) if kind in names else len(names)


def stage_of_path(path: str) -> str:
    """The stage of a task folder ``tasks/<kind>/<name>-<key>``."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tasks":
        raise ValueError(f"{path!r} is not a task folder (tasks/<kind>/<name>-<key>)")
    return parts[1]


# ----------------------------------------------------------------- the stages
# Registered in display order: results, manifests, progress bars and the report list stages
# in this order, and each stage comes after every stage it depends on.

_HOMOLOGY = "tda_activations.homology:persistence"
_MAPPER_GRAPH = "tda_activations.mapper:mapper_graph"
_LAYER_MAPPER = "tda_activations.mapper:layer_mapper"
_SAVE_MAPPER = "tda_activations.mapper:save_layer_mapper"

for _spec in (
    StageSpec(
        "extract",
        tasks=("extract_model",),
        priority=0,
        section="extract",
        library=("tda_activations.extract:extract",),
        description="load a model and the data; per-layer point clouds into a store",
    ),
    StageSpec(
        "persistence",
        tasks=("persistence_layer",),
        after=("extract",),
        priority=1,
        section="homology",
        library=(_HOMOLOGY,),
        batch_defaults={
            "on_too_large": (
                "subsample",
                "a run over many models should complete: a layer whose complex would not "
                "fit in memory is subsampled (its error bound recorded) instead of failing "
                "its model's persistence and everything downstream",
            )
        },
        description="Vietoris-Rips persistence diagrams of one layer",
    ),
    StageSpec(
        "distances",
        tasks=("distance_block",),
        after=("persistence",),
        priority=3,
        section="distances",
        description="diagram distances between the layers of a model or of two model groups",
    ),
    StageSpec(
        "distances-all",
        tasks=("combine_blocks",),
        after=("distances",),
        priority=9,
        section="distances",
        description="the diagram-distance matrix over every layer of every model",
    ),
    StageSpec(
        "similarity",
        tasks=("similarity_block", "similarity_groups"),
        after=("extract",),
        priority=3,
        section="similarity",
        description="representational similarity between the layers of a model or two groups",
    ),
    StageSpec(
        "similarity-all",
        tasks=("combine_blocks",),
        after=("similarity",),
        priority=9,
        section="similarity",
        description="the similarity matrix over every layer of every model",
    ),
    StageSpec(
        "mapper",
        tasks=("mapper_layer",),
        after=("extract",),
        priority=2,
        section="mapper",
        library=(_MAPPER_GRAPH, _LAYER_MAPPER, _SAVE_MAPPER),
        batch_defaults={
            "lens_params": (
                {},
                "TOML has no null: an empty table stands for the library's None "
                "(no lens parameters)",
            )
        },
        description="the Mapper graph of one layer and its class-hierarchy summary",
    ),
    StageSpec(
        "mapper-trend",
        tasks=("mapper_trend",),
        after=("mapper", "extract"),
        priority=5,
        section="mapper",
        description="a model's Mapper trend over depth (and page of every layer)",
    ),
    StageSpec(
        "probes",
        tasks=("probe_model",),
        after=("extract",),
        priority=4,
        section="probes",
        variants={
            "architecture": Variant(
                "tda_activations.probes.architecture:architecture_metrics", ("input_shape",)
            ),
            "separability": Variant("tda_activations.probes.invariance:class_separability"),
            "mean_dimension": Variant(
                "tda_activations.probes.mean_dimension:mean_dimension_profile",
                ("layers", "fit_data"),
            ),
            "correlation_order": Variant(
                "tda_activations.probes.correlation_order:correlation_order",
                ("layers", "fit_data"),
            ),
            "invariance": Variant(
                "tda_activations.probes.invariance:invariance_scores", ("layers",)
            ),
        },
        variant_noun="probe",
        description="one probe of one model",
    ),
    StageSpec(
        "experiments",
        tasks=("sensitivity_layer", "specificity_models", "monotonicity_blocks"),
        after=("extract", "distances", "similarity"),
        priority=5,
        section="experiments",
        variants={
            "sensitivity": Variant(
                "tda_activations.experiments:sensitivity", ("data", "measures", "layers", "labels")
            ),
            "specificity": Variant(
                "tda_activations.experiments:layer_correspondence", ("models", "measures", "layers")
            ),
            "monotonicity": Variant(
                "tda_activations.experiments:monotonicity_statistics", ("dissimilarity",)
            ),
        },
        variant_noun="experiment",
        description="sensitivity per layer, layer correspondence, monotonicity",
    ),
    StageSpec(
        "figures",
        tasks=(
            "figure_matrix",
            "figure_embedding",
            "figure_depth_embedding",
            "figure_sensitivity",
            "figure_trend",
        ),
        after=(
            "distances",
            "distances-all",
            "similarity",
            "similarity-all",
            "mapper-trend",
            "experiments",
        ),
        priority=9,
        description="one figure of a matrix, embedding, trend or experiment",
    ),
):
    _register(_spec)
del _spec
