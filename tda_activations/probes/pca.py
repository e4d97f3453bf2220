"""PCA for the probes: a fitted basis (NumPy only; its inverse layer needs torch).

:func:`fit_pca` returns a :class:`PCABasis`: mean, orthonormal components (signs fixed),
variances.  :meth:`PCABasis.inverse_layer` builds the frozen inverse transform as a
``torch.nn.Module`` (:class:`~tda_activations.probes.mean_dimension.InversePCA`), imported
only when asked for, so this module is importable without torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..types import compact_repr, frozen_array

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .mean_dimension import InversePCA

__all__ = ["PCABasis", "fit_pca"]

RANK_TOL = 1e-10
"""Components with variance below this fraction of the total are numerical zeros."""


@dataclass(frozen=True)
class PCABasis:
    """A fitted PCA: mean, orthonormal components and their variances.

    Attributes
    ----------
    mean
        Float64 ``(p,)``: mean of the (flattened) data.
    components
        Float64 ``(k, p)``: orthonormal principal directions, largest variance first.
    variances
        Float64 ``(k,)``: variance (``ddof=1``) of the data along each component.
    total_variance
        Sum of the variances of all ``p`` features (``ddof=1``).
    input_shape
        Shape of one sample (without the batch axis); the inverse map returns it.
    """

    mean: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    total_variance: float
    input_shape: tuple[int, ...]

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", frozen_array(self.mean, dtype=np.float64))
        object.__setattr__(self, "components", frozen_array(self.components, dtype=np.float64))
        object.__setattr__(self, "variances", frozen_array(self.variances, dtype=np.float64))
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))

    @property
    def n_components(self) -> int:
        """Number of kept components ``k``."""
        return int(self.components.shape[0])

    @property
    def explained_variance_ratio(self) -> float:
        """Fraction of the total variance the kept components explain."""
        if self.total_variance <= 0:
            return 1.0
        return float(min(1.0, self.variances.sum() / self.total_variance))

    def _flat(self, x: Any) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float64)
        if arr.shape[1:] != self.input_shape:
            raise ValueError(
                f"expected samples of shape {self.input_shape}, got {arr.shape[1:]}; use the data "
                "the PCA was fitted on (or data of the same shape)"
            )
        return arr.reshape(arr.shape[0], -1)

    def transform(self, x: Any) -> np.ndarray:
        """PCA coordinates ``(n, k)`` of samples ``x`` of shape ``(n, *input_shape)``."""
        return (self._flat(x) - self.mean) @ self.components.T

    def residual(self, x: Any) -> np.ndarray:
        """What the kept components miss: ``x - inverse(transform(x))``, flattened ``(n, p)``."""
        flat = self._flat(x) - self.mean
        return flat - (flat @ self.components.T) @ self.components

    def inverse_layer(self, *, with_residual: bool = False) -> InversePCA:
        """The frozen inverse transform as a module (needs torch; see :class:`InversePCA`)."""
        from .mean_dimension import InversePCA

        return InversePCA(self, with_residual=with_residual)


def fit_pca(x: Any, *, n_components: float | None = None) -> PCABasis:
    """Fit a PCA to samples ``x`` of shape ``(n, ...)`` (flattened to features).

    Parameters
    ----------
    x
        The samples (inputs or a layer's activations), any shape with the batch first.
    n_components
        ``None`` keeps every component with non-zero variance (the numerical rank,
        so the inverse map reproduces the data exactly); an ``int`` keeps that many;
        a float in ``(0, 1]`` keeps the fewest that explain this fraction of the
        variance.

    Returns
    -------
    PCABasis
        Mean, components (signs fixed: the largest-magnitude loading is positive)
        and variances.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[0] < 2:
        raise ValueError(
            f"fit_pca needs at least 2 samples of shape (n, ...), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("fit_pca: the data contain NaN or infinite values; clean them first")
    n = arr.shape[0]
    flat = arr.reshape(n, -1)
    mean = flat.mean(axis=0)
    centred = flat - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variances = s**2 / (n - 1)
    total = float((centred**2).sum() / (n - 1))
    rank = int(np.sum(variances > RANK_TOL * max(total, np.finfo(float).tiny)))
    if n_components is None:
        k = rank
    elif isinstance(n_components, (bool, np.bool_)):
        raise TypeError("n_components must be None, an int or a float, not a bool")
    elif isinstance(n_components, (int, np.integer)):
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        k = min(int(n_components), rank)
    elif isinstance(n_components, float):
        if not 0.0 < n_components <= 1.0:
            raise ValueError(f"a fractional n_components must be in (0, 1], got {n_components}")
        cum = np.cumsum(variances) / total if total > 0 else np.ones_like(variances)
        k = min(int(np.searchsorted(cum, n_components - 1e-12) + 1), rank)
    else:
        raise TypeError(
            f"n_components must be None, an int or a float, got {type(n_components).__name__}"
        )
    k = max(k, 1)
    comps = vt[:k]
    # deterministic signs (as scikit-learn's svd_flip on the components)
    flip = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    flip[flip == 0] = 1.0
    comps = comps * flip[:, None]
    return PCABasis(
        mean=mean,
        components=comps,
        variances=variances[:k],
        total_variance=total,
        input_shape=arr.shape[1:],
    )
