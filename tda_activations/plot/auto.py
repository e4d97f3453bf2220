"""One call from any result to its figure: :func:`plot_result` dispatches on the type.

The dispatch is a :func:`functools.singledispatch` function with one registration per
result class (subclasses follow their base class).  The registrations are made on the
first call, so that importing :mod:`tda_activations.plot` does not import every stage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["figure_for", "plot_result", "plottable_types"]

_Figure = Callable[..., "Axes"]


@functools.singledispatch
def _dispatch(result: Any, *, ax: Any = None, **style: Any) -> Axes:
    names = ", ".join(t.__name__ for t in plottable_types())
    raise TypeError(
        f"no default figure for {type(result).__name__}; plot_result draws {names} "
        "and a mapping layer -> Diagrams; call a figure function of tda_activations.plot "
        "directly for anything else"
    )


def _layer_diagrams(result: Mapping[Any, Any], *, ax: Any = None, **style: Any) -> Axes:
    from ..types import Diagrams
    from .homology import betti_curves

    if result and all(isinstance(v, Diagrams) for v in result.values()):
        return betti_curves(result, ax=ax, **style)  # type: ignore[no-any-return]
    return _dispatch.dispatch(object)(result, ax=ax, **style)  # type: ignore[no-any-return]


@functools.cache
def _registrations() -> tuple[tuple[type, _Figure], ...]:
    """Result class -> figure function (imported on first use)."""
    from ..experiments import CorrespondenceResult, SensitivityResult
    from ..mapper import ClassGraph, LayerMapper, PieChartData
    from ..probes import (
        ArchitectureReport,
        CorrelationOrderProfile,
        EquivarianceResult,
        InvarianceResult,
        MeanDimensionProfile,
        ModelMeanDimensions,
        SeparabilityResult,
        TotalIndices,
    )
    from ..types import Diagrams, LayerMatrix
    from . import experiments, homology, mapper, matrices, probes

    return (
        (Diagrams, homology.persistence_diagram),
        (LayerMatrix, matrices.layer_heatmap),
        (LayerMapper, mapper.hierarchy_trend),
        (PieChartData, mapper.mapper_pie_graph),
        (ClassGraph, mapper.class_dendrogram),
        (MeanDimensionProfile, probes.mean_dimension_profile),
        (ModelMeanDimensions, probes.model_mean_dimensions),
        (TotalIndices, probes.index_heatmap),
        (CorrelationOrderProfile, probes.correlation_order_accuracy),
        (InvarianceResult, probes.invariance_profile),
        (EquivarianceResult, probes.equivariance_profile),
        (SeparabilityResult, probes.separability_profile),
        (ArchitectureReport, probes.architecture_profile),
        (SensitivityResult, experiments.sensitivity_curve),
        (CorrespondenceResult, experiments.correspondence_curve),
    )


@functools.cache
def _dispatcher() -> Any:
    for cls, figure in _registrations():
        _dispatch.register(cls, figure)
    _dispatch.register(Mapping, _layer_diagrams)
    return _dispatch


def plottable_types() -> tuple[type, ...]:
    """The result classes :func:`plot_result` draws (subclasses included), sorted by name.

    Returns
    -------
    tuple of type
    """
    return tuple(sorted((cls for cls, _ in _registrations()), key=lambda t: t.__name__))


def figure_for(result_type: type) -> Callable[..., Axes]:
    """The figure function :func:`plot_result` calls for results of ``result_type``.

    Parameters
    ----------
    result_type
        A result class.

    Returns
    -------
    callable
        The figure function (for an unknown type, one that raises :class:`TypeError`).
    """
    return _dispatcher().dispatch(result_type)


def plot_result(result: Any, *, ax: Any = None, **style: Any) -> Axes:
    """Draw any result with its default figure.

    ``Diagrams`` -> :func:`persistence_diagram`; ``LayerMatrix`` -> :func:`layer_heatmap`;
    a mapping layer -> ``Diagrams`` -> :func:`betti_curves`; ``LayerMapper`` ->
    :func:`hierarchy_trend`; ``PieChartData`` -> :func:`mapper_pie_graph`; ``ClassGraph`` ->
    :func:`class_dendrogram`; the probes' results -> their profile figures; the
    experiments' results -> their curves (:func:`plottable_types` lists them all).

    Parameters
    ----------
    result
        The result object.
    ax
        Axes to draw into (default: a new figure).
    **style
        Passed to the figure function.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        For an object of no plottable type; the message names the types that can be plotted.
    """
    return _dispatcher()(result, ax=ax, **style)
