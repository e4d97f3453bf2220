"""Experiments that test layer measures: sensitivity, specificity / layer correspondence, monotonicity.

Every topological distance (homology dimension x diagram distance) and every
similarity measure plugs in through one protocol, :class:`PairwiseMeasure`
(``prepare_many`` once per cloud, ``score`` per pair, ``id`` for tables, ``label`` for
figures); :func:`all_measures`
lists them all: ``measures="all"`` runs all of them, ``measures=None`` the few fast
ones of :data:`DEFAULT_MEASURES`.  Every long call takes ``progress=`` and logs what it
will cost first; ``*_cost(...)`` functions say it before you run anything.

>>> from tda_activations import experiments as ex
>>> models = ex.zoo_activations("resnet18", seeds=range(5), layers="*conv*")   # doctest: +SKIP
>>> ex.layer_correspondence(models).to_pandas()                                 # doctest: +SKIP
>>> ex.layer_monotonicity(models["seed0"]).to_pandas()                          # doctest: +SKIP
>>> ex.sensitivity(models["seed0"], layers=["layer2.0.conv1"]).curves.to_pandas()  # doctest: +SKIP

Results are frozen dataclasses of :class:`Table` objects (``to_pandas()``,
``to_csv(path)``, ``save(directory)``); every seed is recorded in ``params``.
"""

from __future__ import annotations

from .._measure import PairwiseMeasure
from ._tables import Table
from .correspondence import (
    CorrespondenceResult,
    depth_targets,
    layer_correspondence,
    layer_correspondence_cost,
    specificity,
)
from .measures import (
    DEFAULT_MEASURES,
    TopologicalMeasure,
    all_measures,
    as_measures,
    calibrate_measures,
    default_measures,
    layer_measure,
    measure_id,
    measures_cost,
    prepare_measures,
    similarity_measure,
    topological_measure,
)
from .monotonicity import (
    MonotonicityResult,
    layer_monotonicity,
    layer_monotonicity_cost,
    monotonicity_statistics,
)
from .sensitivity import (
    DEFAULT_FRACTIONS,
    SensitivityResult,
    delete_principal_directions,
    linear_probe_accuracy,
    sensitivity,
    sensitivity_cost,
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
    "DEFAULT_MEASURES",
    "BootstrapResult",
    "CorrespondenceResult",
    "MonotonicityResult",
    "PairwiseMeasure",
    "PermutationResult",
    "SensitivityResult",
    "Table",
    "TopologicalMeasure",
    "all_measures",
    "as_measures",
    "bootstrap_ci",
    "calibrate_measures",
    "default_measures",
    "delete_principal_directions",
    "depth_targets",
    "digits_images",
    "layer_correspondence",
    "layer_correspondence_cost",
    "layer_measure",
    "layer_monotonicity",
    "layer_monotonicity_cost",
    "linear_probe_accuracy",
    "measure_id",
    "measures_cost",
    "monotonicity_statistics",
    "percentile_interval",
    "permutation_p_value",
    "permutation_test",
    "prepare_measures",
    "sensitivity",
    "sensitivity_cost",
    "similarity_measure",
    "spearman",
    "specificity",
    "topological_measure",
    "zoo_activations",
]
