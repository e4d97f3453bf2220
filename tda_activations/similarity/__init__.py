"""Representational similarity measures with declared properties, and all-pairs matrices.

Every measure is an object that declares what its number is (similarity or
distance, symmetric, metric, invariances; see :class:`MeasureProperties`) and splits
the work into ``prepare(X)`` (once per cloud) and ``score(prepared_a, prepared_b)``.
A measure is also a function: ``measure(X, Y) -> float``.

>>> import numpy as np
>>> from tda_activations import similarity as sim
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 10)); Y = X @ rng.normal(size=(10, 5))
>>> cka = sim.get_measure("linear_cka")
>>> round(cka(X, X), 6)
1.0
>>> cka.properties.invariant_to("orthogonal")
True
>>> sim.angular_distance("linear_cka").properties.metric
True

Registered names: see :func:`available_measures` and :func:`measure_table`.
"""

from __future__ import annotations

from ._base import (
    INVARIANCES,
    AngularDistance,
    MeaninglessValueWarning,
    Measure,
    MeasureProperties,
    OneMinusSimilarity,
    PreparedCloud,
    angular_distance,
    available_measures,
    get_measure,
    measure_table,
    one_minus_similarity,
    register_measure,
)
from .cca import CCA, PWCCA, SVCCA, canonical_correlations
from .cka import RBFCKA, LinearCKA, MinibatchCKA, double_centre, u_centre
from .matrix import cloud_matrix, cross_similarity_matrix, similarity_matrix
from .neighbors import DistanceCorrelation, KNNJaccard
from .rsa import RSA, rdm_vector
from .rtd import RTD, cross_barcode
from .shape import AngularShapeMetric, ProcrustesDistance

register_measure(
    "linear_cka_angular",
    lambda **kw: angular_distance(LinearCKA(**kw)),
    defaults={"debiased": False},
    description="arccos(linear CKA): angle between centred Gram matrices (a metric)",
)
register_measure(
    "knn_jaccard_distance",
    lambda **kw: one_minus_similarity(KNNJaccard(**kw)),
    defaults={"k": 10},
    description="1 - mean k-NN Jaccard index (a metric)",
)

__all__ = [
    "CCA",
    "INVARIANCES",
    "PWCCA",
    "RBFCKA",
    "RSA",
    "RTD",
    "SVCCA",
    "AngularDistance",
    "AngularShapeMetric",
    "DistanceCorrelation",
    "KNNJaccard",
    "LinearCKA",
    "Measure",
    "MeaninglessValueWarning",
    "MeasureProperties",
    "MinibatchCKA",
    "OneMinusSimilarity",
    "PreparedCloud",
    "ProcrustesDistance",
    "angular_distance",
    "available_measures",
    "canonical_correlations",
    "cloud_matrix",
    "cross_barcode",
    "cross_similarity_matrix",
    "double_centre",
    "get_measure",
    "measure_table",
    "one_minus_similarity",
    "rdm_vector",
    "register_measure",
    "similarity_matrix",
    "u_centre",
]
