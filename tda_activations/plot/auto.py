"""One call from any result to its figure: :func:`plot_result` dispatches on the type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["plot_result"]


def _table(name: str) -> dict[str, Any]:
    from . import experiments, homology, mapper, matrices, probes

    return {
        "Diagrams": homology.persistence_diagram,
        "LayerMatrix": matrices.layer_heatmap,
        "LayerMapper": mapper.hierarchy_trend,
        "PieChartData": mapper.mapper_pie_graph,
        "ClassGraph": mapper.class_dendrogram,
        "MeanDimensionProfile": probes.mean_dimension_profile,
        "ModelMeanDimensions": probes.model_mean_dimensions,
        "TotalIndices": probes.index_heatmap,
        "CorrelationOrderProfile": probes.correlation_order_accuracy,
        "InvarianceResult": probes.invariance_profile,
        "EquivarianceResult": probes.equivariance_profile,
        "SeparabilityResult": probes.separability_profile,
        "ArchitectureReport": probes.architecture_profile,
        "SensitivityResult": experiments.sensitivity_curve,
        "CorrespondenceResult": experiments.correspondence_curve,
        "SpecificityResult": experiments.correspondence_curve,
    }


def plot_result(result: Any, *, ax: Any = None, **style: Any) -> Any:
    """Draw any result with its default figure.

    ``Diagrams`` -> :func:`persistence_diagram`; ``LayerMatrix`` -> :func:`layer_heatmap`;
    a mapping layer -> ``Diagrams`` -> :func:`betti_curves`; ``LayerMapper`` ->
    :func:`hierarchy_trend`; ``ClassGraph`` -> :func:`class_dendrogram`; the probes'
    results -> their profile figures; the experiments' results -> their curves.

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
    """
    from ..types import Diagrams
    from .homology import betti_curves

    if isinstance(result, Mapping) and result and all(isinstance(v, Diagrams) for v in result.values()):
        return betti_curves(result, ax=ax, **style)
    table = _table(type(result).__name__)
    for cls in type(result).__mro__:
        if cls.__name__ in table:
            return table[cls.__name__](result, ax=ax, **style)
    raise TypeError(
        f"no default figure for {type(result).__name__}; known: {', '.join(sorted(table))} "
        "(and a mapping layer -> Diagrams)"
    )
