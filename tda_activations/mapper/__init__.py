"""Mapper graphs of activations and how they organise a class hierarchy.

Functions
---------
mapper_graph            a typed Mapper graph of one cloud (kmapper inside; paper defaults)
knee_eps, knee_index    DBSCAN eps at the knee of the sorted k-NN distances
nerve_edges             the nerve's edges (nodes sharing points), as kmapper's GraphNerve
class_composition       per-node counts of each class at one level
hierarchy_compositions  ... at every level of a hierarchy, with misclassification rates
hierarchy_summary       purity per level, components, separated groups, class graph scores
class_graph             classes linked by the nodes they share
layer_mapper            all of the above for every layer of an ActivationSet; ``.to_pandas()``
to_networkx, to_json, from_json, save_graph, load_graph, to_html, pie_chart_data
save_layer_mapper       every output of layer_mapper into a directory
"""

from .composition import NodeComposition, class_composition, hierarchy_compositions
from .export import (
    PieChartData,
    compositions_from_json,
    from_json,
    graph_layout,
    group_colors,
    load_graph,
    pie_chart_data,
    save_graph,
    to_json,
    to_networkx,
)
from .graph import MapperWarning, knee_eps, knee_index, mapper_graph, nerve_edges
from .html import MAX_THUMBNAILS, html_layers_page, html_page, to_html, to_html_layers
from .io import save_layer_mapper
from .lenses import (
    LENSES,
    Lens,
    as_lens,
    eccentricity_lens,
    knn_distance_lens,
    kth_neighbor_distances,
    l2norm_lens,
    pca_lens,
)
from .summary import (
    ClassGraph,
    HierarchySummary,
    LayerMapper,
    class_graph,
    connected_components,
    hierarchy_summary,
    layer_mapper,
)

__all__ = [
    "LENSES",
    "MAX_THUMBNAILS",
    "ClassGraph",
    "HierarchySummary",
    "LayerMapper",
    "Lens",
    "MapperWarning",
    "NodeComposition",
    "PieChartData",
    "as_lens",
    "class_composition",
    "class_graph",
    "compositions_from_json",
    "connected_components",
    "eccentricity_lens",
    "from_json",
    "graph_layout",
    "group_colors",
    "hierarchy_compositions",
    "hierarchy_summary",
    "html_layers_page",
    "html_page",
    "knee_eps",
    "knee_index",
    "knn_distance_lens",
    "kth_neighbor_distances",
    "l2norm_lens",
    "layer_mapper",
    "load_graph",
    "mapper_graph",
    "nerve_edges",
    "pca_lens",
    "pie_chart_data",
    "save_graph",
    "save_layer_mapper",
    "to_html",
    "to_html_layers",
    "to_json",
    "to_networkx",
]
