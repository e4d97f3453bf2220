"""Experiments that test layer measures: sensitivity, specificity / layer correspondence, monotonicity.

Every topological distance (homology dimension x diagram distance) and every
similarity measure plugs in through one interface, :class:`LayerMeasure`
(``prepare_many`` once per cloud, ``compare`` per pair); :func:`all_measures`
lists them all and ``measures=None`` means all of them.

>>> from tda_activations import experiments as ex
>>> models = ex.zoo_activations("resnet18", seeds=range(5), layers="*conv*")   # doctest: +SKIP
>>> ex.layer_correspondence(models).to_pandas()                                 # doctest: +SKIP
>>> ex.layer_monotonicity(models["seed0"]).to_pandas()                          # doctest: +SKIP
>>> ex.sensitivity(models["seed0"], layers=["layer2.0.conv1"]).curves.to_pandas()  # doctest: +SKIP

Results are frozen dataclasses of :class:`Table` objects (``to_pandas()``,
``to_csv(path)``, ``save(directory)``); every seed is recorded in ``params``.
"""

from __future__ import annotations

from ._tables import Table
from .correspondence import CorrespondenceResult, depth_targets, layer_correspondence, specificity
from .measures import (
    LayerMeasure,
    SimilarityMeasure,
    TopologicalMeasure,
    all_measures,
    as_measures,
    layer_measure,
    prepare_measures,
    similarity_measure,
    topological_measure,
)
from .monotonicity import MonotonicityResult, layer_monotonicity, monotonicity_statistics
from .sensitivity import (
    DEFAULT_FRACTIONS,
    SensitivityResult,
    delete_principal_directions,
    linear_probe_accuracy,
    sensitivity,
)
from .statistics import (
    BootstrapResult,
    PermutationResult,
    bootstrap_ci,
    percentile_interval,
    permutation_p_value,
    permutation_test,
    spearman,
)
from .zoo import digits_images, zoo_activations

__all__ = [
    "DEFAULT_FRACTIONS",
    "BootstrapResult",
    "CorrespondenceResult",
    "LayerMeasure",
    "MonotonicityResult",
    "PermutationResult",
    "SensitivityResult",
    "SimilarityMeasure",
    "Table",
    "TopologicalMeasure",
    "all_measures",
    "as_measures",
    "bootstrap_ci",
    "delete_principal_directions",
    "depth_targets",
    "digits_images",
    "layer_correspondence",
    "layer_measure",
    "layer_monotonicity",
    "linear_probe_accuracy",
    "monotonicity_statistics",
    "percentile_interval",
    "permutation_p_value",
    "permutation_test",
    "prepare_measures",
    "sensitivity",
    "similarity_measure",
    "specificity",
    "spearman",
    "topological_measure",
    "zoo_activations",
]
