"""Figures for every result, a paper style, and explicit saving.

Every plot function is ``f(result, *, ax=None, **style) -> Axes``: it draws into
``ax`` (or a new figure), never calls ``plt.show()`` or ``savefig``, never changes
``matplotlib.rcParams``, and records what it drew so :func:`save` can write a
sidecar JSON (result fingerprint, parameters, package version).

Homology
    :func:`persistence_diagram`, :func:`barcode`, :func:`betti_curves`.
Matrices
    :func:`layer_heatmap` (any LayerMatrix; distance or similarity picks the colour
    map; stage separators), :func:`cross_model_heatmap`, :func:`layer_embedding`
    (MDS trajectories, one per model) and :func:`embed_layers` (its coordinates).
Mapper
    :func:`mapper_pie_graph`, :func:`class_dendrogram`, :func:`hierarchy_trend`.
Experiments
    :func:`sensitivity_curve`, :func:`correspondence_curve` (from the tidy tables of
    :mod:`tda_activations.experiments`), :func:`tidy_curve`.
Probes
    :func:`mean_dimension_profile`, :func:`model_mean_dimensions`, :func:`index_heatmap`,
    :func:`correlation_order_accuracy`, :func:`invariance_profile`,
    :func:`equivariance_profile`, :func:`separability_profile`, :func:`architecture_profile`.
Any result
    :func:`plot_result` picks the figure from the result's type.
Style and output
    :func:`paper_style`, :func:`figure_size`, :data:`PALETTES`,
    :func:`categorical_colors`, :func:`save`.
"""

from __future__ import annotations

from .._figure_labels import figure_label
from ._provenance import figure_provenance, result_fingerprint
from .auto import plot_result
from .experiments import correspondence_curve, sensitivity_curve, tidy_curve
from .homology import barcode, betti_curves, persistence_diagram
from .mapper import class_dendrogram, hierarchy_trend, mapper_pie_graph
from .matrices import (
    cross_model_heatmap,
    embed_layers,
    heatmap_geometry,
    layer_embedding,
    layer_heatmap,
    matrix_cmap,
)
from .probes import (
    architecture_profile,
    correlation_order_accuracy,
    equivariance_profile,
    index_heatmap,
    invariance_profile,
    mean_dimension_profile,
    model_mean_dimensions,
    separability_profile,
)
from .save import FORMATS, save
from .style import (
    COLUMN_WIDTHS,
    PALETTES,
    PaperStyle,
    categorical_colors,
    figure_size,
    paper_rc,
    paper_style,
)

__all__ = [
    "COLUMN_WIDTHS",
    "FORMATS",
    "PALETTES",
    "PaperStyle",
    "architecture_profile",
    "barcode",
    "betti_curves",
    "categorical_colors",
    "class_dendrogram",
    "correlation_order_accuracy",
    "correspondence_curve",
    "cross_model_heatmap",
    "embed_layers",
    "equivariance_profile",
    "figure_label",
    "figure_provenance",
    "figure_size",
    "heatmap_geometry",
    "hierarchy_trend",
    "index_heatmap",
    "invariance_profile",
    "layer_embedding",
    "layer_heatmap",
    "mapper_pie_graph",
    "matrix_cmap",
    "mean_dimension_profile",
    "model_mean_dimensions",
    "paper_rc",
    "paper_style",
    "persistence_diagram",
    "plot_result",
    "result_fingerprint",
    "save",
    "sensitivity_curve",
    "separability_profile",
    "tidy_curve",
]
