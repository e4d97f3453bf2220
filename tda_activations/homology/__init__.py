"""Persistent homology of layer point clouds: diagrams, distances, vectorisations, matrices.

Persistence
    :func:`persistence` (a cloud), :func:`persistence_of_distances` (a
    distance matrix), :func:`layer_persistence` (every layer, in parallel
    processes, optionally cached), backends ``"ripser"``, ``"giotto-ph"``
    (optional, AGPL-3), ``"gudhi"``; one diagram format
    (:class:`~tda_activations.types.Diagrams`).
Large clouds
    :func:`greedy_subsample` (covering radius and bottleneck bound),
    :func:`estimate_memory`, :class:`PersistenceTooLarge`.
Distances
    :func:`bottleneck_distance`, :func:`wasserstein_distance` (explicit
    ``order`` and ``internal_p``), :func:`sliced_wasserstein_distance`
    (persim-compatible); the registry :func:`get_diagram_distance` /
    :func:`diagram_distance_names` used by other stages.
Vectorisations
    :func:`betti_curve`, :func:`landscape`, :func:`persistence_image`,
    :func:`persistence_entropy`, :func:`total_persistence` (and their
    distances in the registry).
Matrices
    :func:`distance_matrix` (layer x layer), :func:`cross_distance_matrix`
    (model A x model B), :func:`model_distance_matrix` (model x model), as
    :class:`~tda_activations.types.LayerMatrix`.
"""

from __future__ import annotations

from .distances import (
    DiagramDistance,
    bottleneck_distance,
    diagram_distance,
    diagram_distance_names,
    get_diagram_distance,
    register_diagram_distance,
    sliced_wasserstein_distance,
    wasserstein_distance,
)
from .large import (
    MemoryEstimate,
    PersistenceTooLarge,
    Subsample,
    estimate_memory,
    greedy_subsample,
    max_points_for_memory,
)
from .layers import (
    cached_persistence,
    layer_persistence,
    load_diagrams,
    save_diagrams,
)
from .matrix import cross_distance_matrix, distance_matrix, model_distance_matrix, stack_models
from .rips import BACKENDS, enclosing_radius, h0_from_mst, persistence, persistence_of_distances
from .vectorize import (
    betti_curve,
    betti_curve_distance,
    landscape,
    persistence_entropy,
    persistence_image,
    total_persistence,
)

__all__ = [
    "BACKENDS",
    "DiagramDistance",
    "MemoryEstimate",
    "PersistenceTooLarge",
    "Subsample",
    "betti_curve",
    "betti_curve_distance",
    "bottleneck_distance",
    "cached_persistence",
    "cross_distance_matrix",
    "diagram_distance",
    "diagram_distance_names",
    "distance_matrix",
    "enclosing_radius",
    "estimate_memory",
    "get_diagram_distance",
    "greedy_subsample",
    "h0_from_mst",
    "landscape",
    "layer_persistence",
    "load_diagrams",
    "max_points_for_memory",
    "model_distance_matrix",
    "persistence",
    "persistence_entropy",
    "persistence_image",
    "persistence_of_distances",
    "register_diagram_distance",
    "save_diagrams",
    "sliced_wasserstein_distance",
    "stack_models",
    "total_persistence",
    "wasserstein_distance",
]
