"""Probes from related studies, layer by layer.

Mean dimension (Owen & Hoyt; Hahn, Feinauer & Borgonovo 2022)
    :func:`total_indices`, :func:`logit_total_indices`, :func:`mean_dimension_profile`,
    :func:`logit_mean_dimensions`, the inverse-PCA layer (:func:`fit_pca`, :class:`InversePCA`).
Correlation order (Fischer et al. 2022)
    :func:`correlation_order`: accuracy when a layer is replaced by Gaussian surrogates
    that keep only first- or second-order class statistics.
Invariance and equivariance (Lenc & Vedaldi)
    :mod:`transforms` (flips, rotations, translations, groups), :func:`invariance_scores`,
    :func:`equivariance`, :func:`class_separability`, the group-invariant prototype
    :func:`fit_group_invariant_prototype`.
Architecture-only metrics
    :func:`architecture_metrics`: parameters, MACs, receptive field, compression and the
    Serra et al. (2018) bound on linear regions, from the module graph alone.
"""

from . import transforms
from .architecture import (
    ArchitectureReport,
    LayerArchitecture,
    architecture_metrics,
    count_parameters,
    regions_upper_bound_log10,
)
from .correlation_order import (
    SURROGATES,
    CorrelationOrderProfile,
    correlation_order,
    correlation_order_cost,
    ledoit_wolf_shrinkage,
)
from .invariance import (
    EquivarianceResult,
    EquivarianceRow,
    InvarianceResult,
    InvarianceRow,
    SeparabilityResult,
    SeparabilityRow,
    class_separability,
    equivariance,
    invariance_scores,
    invariance_scores_cost,
    layer_outputs,
    separability_of_features,
)
from .mean_dimension import (
    InversePCA,
    MeanDimensionProfile,
    ModelMeanDimensions,
    PCABasis,
    TotalIndices,
    fit_pca,
    logit_mean_dimensions,
    logit_total_indices,
    mean_dimension_profile,
    mean_dimension_profile_cost,
    product_of_marginals,
    total_indices,
)
from .prototype import GroupInvariantPrototype, OrbitPooling, fit_group_invariant_prototype

__all__ = [
    "SURROGATES", "ArchitectureReport", "CorrelationOrderProfile", "EquivarianceResult",
    "EquivarianceRow", "GroupInvariantPrototype", "InvarianceResult", "InvarianceRow", "InversePCA",
    "LayerArchitecture", "MeanDimensionProfile", "ModelMeanDimensions", "OrbitPooling", "PCABasis",
    "SeparabilityResult", "SeparabilityRow", "TotalIndices", "architecture_metrics",
    "class_separability", "correlation_order", "correlation_order_cost", "count_parameters",
    "equivariance",
    "fit_group_invariant_prototype", "fit_pca", "invariance_scores", "invariance_scores_cost",
    "layer_outputs",
    "ledoit_wolf_shrinkage", "logit_mean_dimensions", "logit_total_indices",
    "mean_dimension_profile", "mean_dimension_profile_cost", "product_of_marginals",
    "regions_upper_bound_log10",
    "separability_of_features", "total_indices", "transforms",
]
