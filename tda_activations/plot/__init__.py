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
Style and output
    :func:`paper_style`, :func:`figure_size`, :data:`PALETTES`,
    :func:`categorical_colors`, :func:`save`.
"""

from __future__ import annotations

from ._provenance import figure_provenance, result_fingerprint
from .homology import barcode, betti_curves, persistence_diagram
from .mapper import class_dendrogram, hierarchy_trend, mapper_pie_graph
from .matrices import cross_model_heatmap, embed_layers, layer_embedding, layer_heatmap, matrix_cmap
from .save import FORMATS, save
from .style import COLUMN_WIDTHS, PALETTES, PaperStyle, categorical_colors, figure_size, paper_rc, paper_style

__all__ = [
    "COLUMN_WIDTHS",
    "FORMATS",
    "PALETTES",
    "PaperStyle",
    "barcode",
    "betti_curves",
    "categorical_colors",
    "class_dendrogram",
    "cross_model_heatmap",
    "embed_layers",
    "figure_provenance",
    "figure_size",
    "hierarchy_trend",
    "layer_embedding",
    "layer_heatmap",
    "mapper_pie_graph",
    "matrix_cmap",
    "paper_rc",
    "paper_style",
    "persistence_diagram",
    "result_fingerprint",
    "save",
]
