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

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Names are imported from their modules on first use, so that the torch-free modules
# (``pca``, ``sobol``) import without torch and ``import tda_activations.probes`` stays cheap.
_HOMES: dict[str, str] = {
    "ArchitectureReport": "architecture",
    "LayerArchitecture": "architecture",
    "architecture_metrics": "architecture",
    "count_parameters": "architecture",
    "regions_upper_bound_log10": "architecture",
    "SURROGATES": "correlation_order",
    "CorrelationOrderProfile": "correlation_order",
    "correlation_order": "correlation_order",
    "correlation_order_cost": "correlation_order",
    "ledoit_wolf_shrinkage": "correlation_order",
    "InvarianceResult": "invariance",
    "InvarianceRow": "invariance",
    "invariance_scores": "invariance",
    "invariance_scores_cost": "invariance",
    "EquivarianceResult": "equivariance",
    "EquivarianceRow": "equivariance",
    "equivariance": "equivariance",
    "SeparabilityResult": "separability",
    "SeparabilityRow": "separability",
    "class_separability": "separability",
    "layer_outputs": "separability",
    "separability_of_features": "separability",
    "PCABasis": "pca",
    "fit_pca": "pca",
    "TotalIndices": "sobol",
    "total_indices": "sobol",
    "product_of_marginals": "sobol",
    "InversePCA": "mean_dimension",
    "MeanDimensionProfile": "mean_dimension",
    "ModelMeanDimensions": "mean_dimension",
    "logit_mean_dimensions": "mean_dimension",
    "logit_total_indices": "mean_dimension",
    "mean_dimension_profile": "mean_dimension",
    "mean_dimension_profile_cost": "mean_dimension",
    "GroupInvariantPrototype": "prototype",
    "OrbitPooling": "prototype",
    "fit_group_invariant_prototype": "prototype",
}

__all__ = [
    "SURROGATES",
    "ArchitectureReport",
    "CorrelationOrderProfile",
    "EquivarianceResult",
    "EquivarianceRow",
    "GroupInvariantPrototype",
    "InvarianceResult",
    "InvarianceRow",
    "InversePCA",
    "LayerArchitecture",
    "MeanDimensionProfile",
    "ModelMeanDimensions",
    "OrbitPooling",
    "PCABasis",
    "SeparabilityResult",
    "SeparabilityRow",
    "TotalIndices",
    "architecture_metrics",
    "class_separability",
    "correlation_order",
    "correlation_order_cost",
    "count_parameters",
    "equivariance",
    "fit_group_invariant_prototype",
    "fit_pca",
    "invariance_scores",
    "invariance_scores_cost",
    "layer_outputs",
    "ledoit_wolf_shrinkage",
    "logit_mean_dimensions",
    "logit_total_indices",
    "mean_dimension_profile",
    "mean_dimension_profile_cost",
    "product_of_marginals",
    "regions_upper_bound_log10",
    "separability_of_features",
    "total_indices",
    "transforms",
]


def __getattr__(name: str) -> Any:
    if name == "transforms":
        module = importlib.import_module(".transforms", __name__)
        globals()[name] = module
        return module
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Namespace(types.ModuleType):
    """Keeps a public function when its homonymous module is imported.

    Importing ``tda_activations.probes.equivariance`` (the module) would otherwise bind the
    module over the function ``equivariance`` in this namespace (the same for
    ``correlation_order``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Namespace


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
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
    from .equivariance import EquivarianceResult, EquivarianceRow, equivariance
    from .invariance import (
        InvarianceResult,
        InvarianceRow,
        invariance_scores,
        invariance_scores_cost,
    )
    from .mean_dimension import (
        InversePCA,
        MeanDimensionProfile,
        ModelMeanDimensions,
        logit_mean_dimensions,
        logit_total_indices,
        mean_dimension_profile,
        mean_dimension_profile_cost,
    )
    from .pca import PCABasis, fit_pca
    from .prototype import GroupInvariantPrototype, OrbitPooling, fit_group_invariant_prototype
    from .separability import (
        SeparabilityResult,
        SeparabilityRow,
        class_separability,
        layer_outputs,
        separability_of_features,
    )
    from .sobol import TotalIndices, product_of_marginals, total_indices
