"""Mean dimension from data: given-data total indices, an inverse-PCA layer, depth profiles.

For a function ``f`` of ``d`` features ``x = (x_1, ..., x_d)``, the (unnormalised)
total index of feature ``i`` is

    tau_i = 1/2 E[(f(x) - f(x_{-i}, z_i))^2],

where ``z`` is an independent copy of ``x`` (Jansen's formula).  The *given-data*
estimator draws ``z`` from the data themselves: row ``k`` is paired with another,
randomly chosen row ``pi(k)`` (a random derangement), so nothing is resampled
from an external distribution.  The **mean dimension** (Owen's superposition
mean dimension; Hoyt & Owen 2021) is ``sum_i tau_i / Var f``: 1 for an additive
function, ``k`` for a product of ``k`` independent zero-mean features.

With correlated features the swap evaluates ``f`` off the data manifold and the
index is the *generalised* total index of Hahn, Feinauer & Borgonovo (2022); it
keeps the zero-independence property (a feature that ``f`` ignores gets exactly
0).  To work on uncorrelated coordinates without retraining, fit a PCA on the
inputs (or on a layer's activations) and prepend the frozen inverse transform
(:class:`InversePCA`) so that the model becomes a function of PCA coordinates.
When fewer components than the rank are kept, the residual (what the kept
components miss) is one more, grouped feature called ``"residual"``, so the
function being analysed is always exactly the model.

Every index comes with a standard error (the spread of the per-row terms over
``sqrt(n)``; for the mean dimension, a ratio, the delta method through its
influence function).  All forward passes are batched and seeded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from .._progress import CostEstimate, announce_cost, progress_bar, progress_enabled
from ..types import ImageDataset, compact_repr, frozen_array, unknown_name_error
from ._cost import n_batches, time_forward
from ._hooks import (
    INPUT_LAYER,
    LayerCapture,
    OutputReplacement,
    as_inputs,
    capture_outputs,
    check_model,
    default_layers,
    evaluation,
    model_device,
    resolve_layer,
)

__all__ = [
    "InversePCA",
    "MeanDimensionProfile",
    "ModelMeanDimensions",
    "PCABasis",
    "TotalIndices",
    "fit_pca",
    "logit_mean_dimensions",
    "logit_total_indices",
    "mean_dimension_profile",
    "mean_dimension_profile_cost",
    "product_of_marginals",
    "total_indices",
]

log = logging.getLogger(__name__)

FeatureSpace = Literal["pca", "inputs"]
_RESIDUAL = "residual"
_RANK_TOL = 1e-10  # components with variance below this fraction of the total are numerical zeros


# ------------------------------------------------------------------------------ PCA


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
        """The frozen inverse transform as a module (see :class:`InversePCA`)."""
        return InversePCA(self, with_residual=with_residual)


class InversePCA(nn.Module):
    """Frozen inverse PCA: coordinates ``(m, k)`` to samples ``(m, *input_shape)``.

    ``x = mean + z @ components``; with ``with_residual=True`` the input is
    ``(m, k + p)``, the last ``p`` columns a residual added as is (so any sample
    is represented exactly).  Prepend it to a model, ``nn.Sequential(inv, model)``,
    to make the model a function of PCA coordinates without retraining.

    Parameters
    ----------
    basis
        The PCA basis (:func:`fit_pca`).
    with_residual
        Take the residual columns as well (see above).
    """

    def __init__(self, basis: PCABasis, *, with_residual: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.array(basis.mean), dtype=torch.float32))
        self.register_buffer(
            "components", torch.as_tensor(np.array(basis.components), dtype=torch.float32)
        )
        self.input_shape = tuple(basis.input_shape)
        self.with_residual = bool(with_residual)
        self.n_inputs = basis.n_components + (basis.mean.shape[0] if with_residual else 0)
        self.requires_grad_(False)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if coords.ndim != 2 or coords.shape[1] != self.n_inputs:
            raise ValueError(
                f"InversePCA expects coordinates of shape (m, {self.n_inputs}), got "
                f"{tuple(coords.shape)}"
            )
        k = self.components.shape[0]
        x = coords[:, :k].to(self.components.dtype) @ self.components + self.mean
        if self.with_residual:
            x = x + coords[:, k:].to(x.dtype)
        return x.reshape(coords.shape[0], *self.input_shape)


def fit_pca(x: Any, *, n_components: int | float | None = None) -> PCABasis:
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
        raise ValueError(f"fit_pca needs at least 2 samples of shape (n, ...), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("fit_pca: the data contain NaN or infinite values; clean them first")
    n = arr.shape[0]
    flat = arr.reshape(n, -1)
    mean = flat.mean(axis=0)
    centred = flat - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variances = s**2 / (n - 1)
    total = float((centred**2).sum() / (n - 1))
    rank = int(np.sum(variances > _RANK_TOL * max(total, np.finfo(float).tiny)))
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
        raise TypeError(f"n_components must be None, an int or a float, got {type(n_components).__name__}")
    k = max(k, 1)
    comps = vt[:k]
    # deterministic signs (as scikit-learn's svd_flip on the components)
    flip = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    flip[flip == 0] = 1.0
    comps = comps * flip[:, None]
    return PCABasis(
        mean=mean, components=comps, variances=variances[:k], total_variance=total,
        input_shape=arr.shape[1:],
    )


# ------------------------------------------------------------------- the estimator


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation without fixed points: one random cycle through all rows."""
    order = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = order[np.roll(np.arange(n), -1)]
    return partner


@dataclass
class _Sweep:
    """Per-row terms of one output group: ``terms[k, g(, j)]`` and ``v[k(, j)]``."""

    terms: np.ndarray  # (n, G, q) or (n, G): half squared changes
    values: np.ndarray | None  # (n, q) base outputs (per-unit groups)
    centred_sq: np.ndarray | None  # (n,) ||f_k - mean||^2 (pooled groups)


def _sweep(
    evaluate: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]],
    coords: np.ndarray,
    groups: Sequence[np.ndarray],
    partner: np.ndarray,
    *,
    per_unit: Sequence[str],
    pooled: Sequence[str],
    batch_size: int,
) -> dict[str, _Sweep]:
    """Evaluate ``f`` at every row and at every row with one feature group swapped.

    ``evaluate(coords_batch, base_rows)`` returns, for each output key, a float
    array ``(m, q)``.  Keys in ``per_unit`` keep every unit's terms; keys in
    ``pooled`` keep only the sum over units (so memory stays bounded by one
    batch even for wide layers).
    """
    n, n_groups = coords.shape[0], len(groups)
    keys = [*per_unit, *pooled]

    def run(xb: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        out = evaluate(xb, rows)
        missing = [k for k in keys if k not in out]
        if missing:
            raise RuntimeError(f"the evaluation returned no values for {missing}")
        return {k: np.asarray(out[k], dtype=np.float64).reshape(len(rows), -1) for k in keys}

    # pass 1: means of the pooled outputs (needed for their per-row centred norms)
    means: dict[str, np.ndarray] = {}
    if pooled:
        sums: dict[str, np.ndarray] = {}
        for start in range(0, n, batch_size):
            rows = np.arange(start, min(n, start + batch_size))
            out = run(coords[rows], rows)
            for k in pooled:
                sums[k] = sums.get(k, 0.0) + out[k].sum(axis=0)
        means = {k: sums[k] / n for k in pooled}

    terms: dict[str, np.ndarray] = {}
    values: dict[str, np.ndarray] = {}
    centred: dict[str, np.ndarray] = {k: np.zeros(n) for k in pooled}
    chunk = max(1, batch_size // max(n_groups, 1))
    for c0 in range(0, n, chunk):
        rows = np.arange(c0, min(n, c0 + chunk))
        b = rows.size
        base = run(coords[rows], rows)
        for k in per_unit:
            if k not in values:
                values[k] = np.empty((n, base[k].shape[1]))
                terms[k] = np.empty((n, n_groups, base[k].shape[1]))
            values[k][rows] = base[k]
        for k in pooled:
            if k not in terms:
                terms[k] = np.empty((n, n_groups))
            centred[k][rows] = ((base[k] - means[k]) ** 2).sum(axis=1)
        # items (g, i): group g swapped in row rows[i]; g-major order
        n_items = n_groups * b
        for s0 in range(0, n_items, batch_size):
            items = np.arange(s0, min(n_items, s0 + batch_size))
            g_idx, i_idx = np.divmod(items, b)
            xb = coords[rows[i_idx]].copy()
            for g in np.unique(g_idx):
                sel = np.nonzero(g_idx == g)[0]
                cols = groups[g]
                xb[np.ix_(sel, cols)] = coords[np.ix_(partner[rows[i_idx[sel]]], cols)]
            out = run(xb, rows[i_idx])
            for k in per_unit:
                terms[k][rows[i_idx], g_idx] = 0.5 * (out[k] - base[k][i_idx]) ** 2
            for k in pooled:
                terms[k][rows[i_idx], g_idx] = 0.5 * ((out[k] - base[k][i_idx]) ** 2).sum(axis=1)
    result = {}
    for k in per_unit:
        result[k] = _Sweep(terms=terms[k], values=values[k], centred_sq=None)
    for k in pooled:
        result[k] = _Sweep(terms=terms[k], values=None, centred_sq=centred[k])
    return result


def _ratio_with_se(num_terms: np.ndarray, den_terms: np.ndarray) -> tuple[float, float, float]:
    """``mean(num)/mean(den)`` with its delta-method standard error, and ``mean(den)``.

    ``num_terms`` and ``den_terms`` are per-row terms ``(n,)`` whose means
    estimate the numerator and the (variance) denominator.
    """
    n = num_terms.shape[0]
    den = float(den_terms.mean())
    if not den > 0:
        return math.nan, math.nan, den
    ratio = float(num_terms.mean()) / den
    influence = (num_terms - ratio * den_terms) / den
    se = float(influence.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return ratio, se, den


@dataclass(frozen=True)
class TotalIndices:
    """Given-data total indices of every feature for every output, and mean dimensions.

    Attributes
    ----------
    output_names
        One name per output (class logit, unit, ...).
    feature_names
        One name per feature (or feature group, e.g. ``"residual"``).
    indices
        Float64 ``(n_outputs, n_features)``: unnormalised total indices (in units of
        the output's variance), ``1/2 E[(f(x) - f(x_{-i}, z_i))^2]``.
    index_se
        Standard errors of ``indices``.
    variances
        Float64 ``(n_outputs,)``: variance (``ddof=1``) of each output over the rows.
    mean_dimensions
        ``sum_i indices[j, i] / variances[j]`` for each output ``j`` (NaN for a
        constant output).
    mean_dimension_se
        Delta-method standard errors of ``mean_dimensions``.
    pooled_mean_dimension, pooled_mean_dimension_se
        Mean dimension of the outputs taken together (variance-weighted):
        ``sum_j sum_i indices[j, i] / sum_j variances[j]``, and its standard error.
    n_rows
        Number of data rows used (each paired with another row).
    seed
        Seed of the row subsample and of the pairing.
    features
        What the features are: ``"pca"`` (PCA coordinates), ``"inputs"`` (the raw
        input features, e.g. pixels) or ``"given"`` (whatever ``x`` held).
    feature_shape
        Shape the features form when each is one raw input feature (for heatmaps),
        else ``None``.
    params
        Everything else worth recording (batch size, PCA components kept, ...).
    """

    output_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    indices: np.ndarray
    index_se: np.ndarray
    variances: np.ndarray
    mean_dimensions: np.ndarray
    mean_dimension_se: np.ndarray
    pooled_mean_dimension: float
    pooled_mean_dimension_se: float
    n_rows: int
    seed: int
    features: str = "given"
    feature_shape: tuple[int, ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        q, d = len(self.output_names), len(self.feature_names)
        for name in ("indices", "index_se"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (q, d):
                raise ValueError(f"{name} must have shape ({q}, {d}), got {arr.shape}")
            object.__setattr__(self, name, frozen_array(arr))
        for name in ("variances", "mean_dimensions", "mean_dimension_se"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (q,):
                raise ValueError(f"{name} must have shape ({q},), got {arr.shape}")
            object.__setattr__(self, name, frozen_array(arr))
        object.__setattr__(self, "output_names", tuple(map(str, self.output_names)))
        object.__setattr__(self, "feature_names", tuple(map(str, self.feature_names)))
        object.__setattr__(self, "params", dict(self.params))

    @property
    def normalized_indices(self) -> np.ndarray:
        """Total Sobol' indices ``indices / variances`` (each row sums to the mean dimension)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.indices / self.variances[:, None]
        out.setflags(write=False)
        return out

    def _output_index(self, output: str | int) -> int:
        if isinstance(output, (int, np.integer)):
            if not 0 <= int(output) < len(self.output_names):
                raise IndexError(f"output {output} out of range (there are {len(self.output_names)})")
            return int(output)
        if output not in self.output_names:
            raise unknown_name_error("output", output, self.output_names)
        return self.output_names.index(output)

    def heatmap(self, output: str | int | None = None) -> np.ndarray:
        """Normalised total indices arranged as the inputs (a per-pixel heatmap).

        Parameters
        ----------
        output
            Name or position of one output; ``None`` pools the outputs
            (variance-weighted: ``sum_j indices[j] / sum_j variances[j]``).

        Returns
        -------
        numpy.ndarray
            Shape ``feature_shape``.
        """
        if self.feature_shape is None:
            raise ValueError(
                f"these indices are of {self.features!r} features, not one per raw input feature; "
                "compute them with features='inputs' for a per-pixel heatmap"
            )
        if output is None:
            values = self.indices.sum(axis=0) / self.variances.sum()
        else:
            values = self.normalized_indices[self._output_index(output)]
        return np.asarray(values).reshape(self.feature_shape)

    def to_pandas(self) -> Any:
        """One row per (output, feature): total index, its standard error, normalised index."""
        import pandas as pd

        q, d = self.indices.shape
        return pd.DataFrame({
            "output": np.repeat(self.output_names, d),
            "feature": np.tile(self.feature_names, q),
            "total_index": self.indices.ravel(),
            "total_index_se": self.index_se.ravel(),
            "normalized_total_index": self.normalized_indices.ravel(),
        })

    def summary(self) -> Any:
        """One row per output: variance, mean dimension and its standard error."""
        import pandas as pd

        return pd.DataFrame({
            "output": list(self.output_names),
            "variance": self.variances,
            "sum_total_indices": self.indices.sum(axis=1),
            "mean_dimension": self.mean_dimensions,
            "mean_dimension_se": self.mean_dimension_se,
        })


def _indices_from_sweep(sw: _Sweep) -> dict[str, Any]:
    terms, values = sw.terms, sw.values
    assert values is not None
    n, _, q = terms.shape
    indices = terms.mean(axis=0).T  # (q, G)
    index_se = terms.std(axis=0, ddof=1).T / math.sqrt(n) if n > 1 else np.full_like(indices, np.nan)
    centred_sq = (values - values.mean(axis=0)) ** 2 * (n / max(n - 1, 1))  # (n, q)
    sums = terms.sum(axis=1)  # (n, q)
    md, md_se, var = np.empty(q), np.empty(q), np.empty(q)
    for j in range(q):
        md[j], md_se[j], var[j] = _ratio_with_se(sums[:, j], centred_sq[:, j])
    pooled, pooled_se, _ = _ratio_with_se(sums.sum(axis=1), centred_sq.sum(axis=1))
    constant = [j for j in range(q) if not var[j] > 0]
    if constant:
        log.warning("%d output(s) are constant over the rows: mean dimension undefined (NaN)", len(constant))
    return dict(indices=indices, index_se=index_se, variances=var, mean_dimensions=md,
                mean_dimension_se=md_se, pooled_mean_dimension=pooled, pooled_mean_dimension_se=pooled_se)


def _check_rows(n: int, n_rows: int | None, batch_size: int) -> None:
    if n_rows is not None and (not isinstance(n_rows, (int, np.integer)) or n_rows < 2):
        raise ValueError(f"n_rows must be an integer >= 2 (or None for all rows), got {n_rows!r}")
    if n < 2:
        raise ValueError(f"the given-data estimator needs at least 2 rows to pair, got {n}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _choose_rows(n: int, n_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    if n_rows is None or n_rows >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=int(n_rows), replace=False))


def _numpy_function(f: Any, input_shape: tuple[int, ...]) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap ``f`` (NumPy callable or torch module) as ``(m, p) float -> (m, q) float64``."""
    if isinstance(f, nn.Module):
        device = model_device(f)

        def call(xb: np.ndarray) -> np.ndarray:
            t = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32).reshape(-1, *input_shape))
            out = f(t.to(device))
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"the model returned {type(out).__name__}, not a tensor")
            return out.detach().double().cpu().numpy().reshape(xb.shape[0], -1)

        return call
    if not callable(f):
        raise TypeError(f"f must be a callable or a torch.nn.Module, got {type(f).__name__}")

    def call_np(xb: np.ndarray) -> np.ndarray:
        out = np.asarray(f(xb.reshape(-1, *input_shape)), dtype=np.float64)
        if out.shape[:1] != (xb.shape[0],):
            raise ValueError(
                f"f returned shape {out.shape} for {xb.shape[0]} inputs; it must return one value "
                "(or one row of values) per input"
            )
        return out.reshape(xb.shape[0], -1)

    return call_np


def total_indices(
    f: Callable[[np.ndarray], Any] | nn.Module,
    x: Any,
    *,
    n_rows: int | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    feature_groups: Sequence[Sequence[int]] | None = None,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
) -> TotalIndices:
    """Given-data total indices and mean dimension of ``f`` on the rows of ``x``.

    Each row is paired with another, randomly chosen row (a random derangement);
    the total index of feature ``i`` is the mean over rows of half the squared
    change of ``f`` when feature ``i`` takes its value from the paired row.

    Parameters
    ----------
    f
        A function of a batch ``(m, *x.shape[1:])`` returning ``(m,)`` or ``(m, q)``
        values (NumPy in, NumPy out), or a ``torch.nn.Module`` (run in eval and
        inference mode; its mode is restored).
    x
        The data, ``(n, ...)``; its features are the flattened trailing axes.
    n_rows
        Use a random subset of this many rows (``None``: all rows).
    seed
        Seed of the subset and of the pairing.
    batch_size
        Rows per call of ``f``.
    feature_groups
        Optional groups of flattened feature positions swapped together (each
        group is one "feature"); default: every feature alone.
    feature_names, output_names
        Optional names (default ``x0, x1, ...``/``g0, ...`` and ``y0, y1, ...``).

    Returns
    -------
    TotalIndices
        Indices with standard errors, variances and mean dimensions per output.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2000, 3))
    >>> ti = total_indices(lambda z: z[:, 0] * z[:, 1], x)
    >>> round(float(ti.mean_dimensions[0]), 0)
    2.0
    """
    arr, _ = as_inputs(x, name="x")
    arr64 = np.asarray(x, dtype=np.float64) if not isinstance(x, ImageDataset) else arr.astype(np.float64)
    n = arr64.shape[0]
    _check_rows(n, n_rows, batch_size)
    input_shape = tuple(arr64.shape[1:])
    flat = arr64.reshape(n, -1)
    p = flat.shape[1]
    if feature_groups is None:
        groups = [np.array([i]) for i in range(p)]
        shape: tuple[int, ...] | None = input_shape
        default_names = [f"x{i}" for i in range(p)]
    else:
        groups = [np.asarray(g, dtype=np.int64).ravel() for g in feature_groups]
        if not groups or any(g.size == 0 or g.min() < 0 or g.max() >= p for g in groups):
            raise ValueError(f"feature_groups must be non-empty groups of positions in [0, {p})")
        shape = None
        default_names = [f"g{i}" for i in range(len(groups))]
    names = list(feature_names) if feature_names is not None else default_names
    if len(names) != len(groups):
        raise ValueError(f"{len(names)} feature names for {len(groups)} features; give one name each")
    rng = np.random.default_rng(seed)
    rows = _choose_rows(n, n_rows, rng)
    coords = flat[rows]
    partner = _derangement(rows.size, rng)
    call = _numpy_function(f, input_shape)

    def evaluate(xb: np.ndarray, _rows: np.ndarray) -> dict[str, np.ndarray]:
        return {"f": call(xb)}

    if isinstance(f, nn.Module):
        with evaluation(f):
            sw = _sweep(evaluate, coords, groups, partner, per_unit=["f"], pooled=[], batch_size=batch_size)
    else:
        sw = _sweep(evaluate, coords, groups, partner, per_unit=["f"], pooled=[], batch_size=batch_size)
    est = _indices_from_sweep(sw["f"])
    q = est["indices"].shape[0]
    outs = list(output_names) if output_names is not None else [f"y{j}" for j in range(q)]
    if len(outs) != q:
        raise ValueError(f"{len(outs)} output names for {q} outputs; give one name each")
    return TotalIndices(
        output_names=tuple(outs), feature_names=tuple(names), n_rows=int(rows.size), seed=int(seed),
        features="given", feature_shape=shape, params={"batch_size": int(batch_size)}, **est,
    )


def product_of_marginals(x: Any, *, seed: int = 0) -> np.ndarray:
    """The data with every feature shuffled separately: independent features, same marginals.

    Total indices on these rows are the classical (independent-input) ones, the
    setting of Hoyt & Owen's MNIST mean dimensions; on the original rows they are
    the generalised indices of correlated features.

    Parameters
    ----------
    x
        Samples ``(n, ...)`` (an ImageDataset's images or an array).
    seed
        Seed of the shuffles.

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and dtype.
    """
    arr = np.asarray(x.images if isinstance(x, ImageDataset) else x)
    if arr.ndim < 2 or arr.shape[0] < 2:
        raise ValueError(f"expected at least 2 samples of shape (n, ...), got shape {arr.shape}")
    flat = arr.reshape(arr.shape[0], -1)
    rng = np.random.default_rng(seed)
    out = np.empty_like(flat)
    for j in range(flat.shape[1]):
        out[:, j] = flat[rng.permutation(flat.shape[0]), j]
    return out.reshape(arr.shape)


# ------------------------------------------------------------------ model helpers


def _class_names(data: Any, n_out: int) -> list[str]:
    if isinstance(data, ImageDataset) and data.n_classes == n_out:
        return [f"logit[{c}]" for c in data.hierarchy.class_names]
    return [f"logit[{j}]" for j in range(n_out)]


def _pca_coordinates(
    basis: PCABasis, x: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray], list[str], bool]:
    """Coordinates (with a residual group when the basis is truncated), groups, names."""
    z = basis.transform(x)
    k = basis.n_components
    groups = [np.array([i]) for i in range(k)]
    names = [f"pc{i}" for i in range(k)]
    resid = basis.residual(x)
    resid_var = float((resid**2).sum() / max(x.shape[0] - 1, 1))
    with_residual = resid_var > _RANK_TOL * max(basis.total_variance, np.finfo(float).tiny)
    if with_residual:
        z = np.concatenate([z, resid], axis=1)
        groups.append(np.arange(k, z.shape[1]))
        names.append(_RESIDUAL)
    return z, groups, names, with_residual


def logit_total_indices(
    model: nn.Module,
    data: Any,
    *,
    features: FeatureSpace = "pca",
    n_components: int | float | None = None,
    fit_data: Any = None,
    n_rows: int | None = 500,
    seed: int = 0,
    batch_size: int = 512,
) -> TotalIndices:
    """Total indices and mean dimension of every class logit of ``model``.

    Parameters
    ----------
    model
        Any classifier returning logits ``(n, classes)``.
    data
        The rows to evaluate on: an :class:`~tda_activations.types.ImageDataset`
        or an array of inputs.
    features
        ``"pca"``: uncorrelated PCA coordinates of the inputs through a frozen
        inverse-PCA layer (no retraining); ``"inputs"``: the raw input features
        (generalised total indices, one per pixel; :meth:`TotalIndices.heatmap`).
    n_components
        PCA components kept (see :func:`fit_pca`); the rest is one ``"residual"``
        feature, so the function analysed is exactly the model.
    fit_data
        Data the PCA is fitted on (default: ``data``).
    n_rows, seed, batch_size
        As in :func:`total_indices`.

    Returns
    -------
    TotalIndices
        One output per logit.
    """
    model = check_model(model)
    x, _ = as_inputs(data)
    _check_rows(x.shape[0], n_rows, batch_size)
    if features not in ("pca", "inputs"):
        raise unknown_name_error("feature space", str(features), ["pca", "inputs"])
    input_shape = tuple(x.shape[1:])
    params: dict[str, Any] = {"batch_size": int(batch_size)}
    if features == "pca":
        fx = x if fit_data is None else as_inputs(fit_data, name="fit_data")[0]
        basis = fit_pca(fx, n_components=n_components)
        coords, groups, names, with_residual = _pca_coordinates(basis, x)
        inv = basis.inverse_layer(with_residual=with_residual).to(model_device(model))
        net: nn.Module = nn.Sequential(inv, model)
        shape = None
        params.update(n_components=basis.n_components,
                      explained_variance_ratio=basis.explained_variance_ratio,
                      residual_feature=with_residual)
    else:
        coords = x.reshape(x.shape[0], -1).astype(np.float64)
        groups = [np.array([i]) for i in range(coords.shape[1])]
        names = [_pixel_name(i, input_shape) for i in range(coords.shape[1])]
        net = model
        shape = input_shape
    rng = np.random.default_rng(seed)
    rows = _choose_rows(coords.shape[0], n_rows, rng)
    partner = _derangement(rows.size, rng)
    call = _numpy_function(net, (coords.shape[1],) if features == "pca" else input_shape)
    with evaluation(model):
        sw = _sweep(lambda xb, _r: {"f": call(xb)}, coords[rows], groups, partner,
                    per_unit=["f"], pooled=[], batch_size=batch_size)
    est = _indices_from_sweep(sw["f"])
    return TotalIndices(
        output_names=tuple(_class_names(data, est["indices"].shape[0])), feature_names=tuple(names),
        n_rows=int(rows.size), seed=int(seed), features=features, feature_shape=shape,
        params=params, **est,
    )


def _pixel_name(i: int, shape: tuple[int, ...]) -> str:
    return "x[" + ",".join(str(int(v)) for v in np.unravel_index(i, shape)) + "]"


# --------------------------------------------------------------------- depth profile


@dataclass(frozen=True)
class MeanDimensionProfile:
    """Per-layer mean dimensions of one model: a depth profile.

    Attributes
    ----------
    layers
        Layer names in forward order; the first is ``"input"``.
    n_units
        Width of each layer's (flattened) output.
    layer_given_input, layer_given_input_se
        Mean dimension of the layer's output (all its units, variance-weighted)
        as a function of the input's PCA coordinates, and its standard error.
    output_given_layer, output_given_layer_se
        Mean dimension of the model output (all logits, variance-weighted) as a
        function of the PCA coordinates of the layer's units, and its standard error.
    n_components
        PCA components of the layer kept (plus one ``"residual"`` feature when fewer
        than the rank).
    explained_variance_ratio
        Fraction of the layer's variance the kept components explain.
    n_rows, seed
        Rows used and seed of the subsample and pairing.
    params
        Other parameters.
    """

    layers: tuple[str, ...]
    n_units: tuple[int, ...]
    layer_given_input: np.ndarray
    layer_given_input_se: np.ndarray
    output_given_layer: np.ndarray
    output_given_layer_se: np.ndarray
    n_components: tuple[int, ...]
    explained_variance_ratio: np.ndarray
    n_rows: int
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        n = len(self.layers)
        for name in ("layer_given_input", "layer_given_input_se", "output_given_layer",
                     "output_given_layer_se", "explained_variance_ratio"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ValueError(f"{name} must have one value per layer ({n}), got shape {arr.shape}")
            object.__setattr__(self, name, frozen_array(arr))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "n_units", tuple(int(v) for v in self.n_units))
        object.__setattr__(self, "n_components", tuple(int(v) for v in self.n_components))
        object.__setattr__(self, "params", dict(self.params))

    def to_pandas(self) -> Any:
        """One row per layer."""
        import pandas as pd

        return pd.DataFrame({
            "layer": list(self.layers),
            "n_units": list(self.n_units),
            "md_layer_given_input": self.layer_given_input,
            "md_layer_given_input_se": self.layer_given_input_se,
            "md_output_given_layer": self.output_given_layer,
            "md_output_given_layer_se": self.output_given_layer_se,
            "n_components": list(self.n_components),
            "explained_variance_ratio": self.explained_variance_ratio,
        })


def mean_dimension_profile(
    model: nn.Module,
    data: Any,
    *,
    layers: Sequence[str] | None = None,
    n_components: int | float | None = 32,
    input_components: int | float | None = None,
    fit_data: Any = None,
    n_rows: int | None = 200,
    seed: int = 0,
    batch_size: int = 512,
    progress: bool | None = None,
) -> MeanDimensionProfile:
    """Mean dimension of each layer given the input, and of the output given each layer.

    For each layer ``l`` two numbers, both from given-data total indices on
    uncorrelated PCA coordinates through a frozen inverse-PCA layer:

    * the mean dimension of ``l``'s output (all units together, variance-weighted)
      as a function of the input's PCA coordinates (one sweep for all layers);
    * the mean dimension of the model's output (all logits, variance-weighted) as a
      function of ``l``'s units: a forward hook replaces ``l``'s output by the
      inverse PCA of swapped coordinates, so any model works without splitting it.
      Paths around ``l`` (skip connections) carry the base row's own input.

    Parameters
    ----------
    model
        Any classifier.
    data
        Rows to evaluate on (ImageDataset or array).
    layers
        Layer names (``named_modules()`` paths); default: every conv and linear
        layer in forward order.
    n_components
        PCA components kept for each layer (see :func:`fit_pca`); what they miss is
        one more feature, ``"residual"``, so the function stays exactly the model.
    input_components
        PCA components kept for the input (default: all, the numerical rank).
    fit_data
        Data the PCAs are fitted on (default: ``data``).
    n_rows, seed, batch_size
        As in :func:`total_indices`.
    progress
        Show a progress bar over the sweeps (one over the input, one per layer; ``None``:
        in a terminal or notebook).  The estimate of :func:`mean_dimension_profile_cost`
        is logged first (INFO) whenever a bar or INFO logging is on.

    Returns
    -------
    MeanDimensionProfile
        One row per layer, ``"input"`` first.
    """
    model, x, fx, layer_list = _profile_plan(model, data, layers, fit_data, n_rows, batch_size)
    basis = fit_pca(fx, n_components=input_components)
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(_profile_cost(model, x, fx, layer_list, basis, n_components, n_rows,
                                    batch_size))
    with progress_bar(total=1 + len(layer_list), desc="mean_dimension_profile", unit="sweep",
                      enabled=progress) as bar:
        return _profile(model, x, fx, layer_list, basis, n_components, input_components,
                        fit_data is None, n_rows, seed, batch_size, bar)


def _profile_plan(model: nn.Module, data: Any, layers: Sequence[str] | None, fit_data: Any,
                  n_rows: int | None, batch_size: int) -> tuple[
        nn.Module, np.ndarray, np.ndarray, list[str]]:
    model = check_model(model)
    x, _ = as_inputs(data)
    _check_rows(x.shape[0], n_rows, batch_size)
    fx = x if fit_data is None else as_inputs(fit_data, name="fit_data")[0]
    layer_list = list(default_layers(model, x) if layers is None else layers)
    if INPUT_LAYER in layer_list:
        layer_list.remove(INPUT_LAYER)
    for layer in layer_list:
        resolve_layer(model, layer)
    return model, x, fx, layer_list


def _sweep_passes(n: int, n_groups: int, batch_size: int) -> int:
    """Forward passes of :func:`_sweep` with one pooled key: means, then base + swapped rows."""
    chunk = max(1, batch_size // max(n_groups, 1))
    passes = n_batches(n, batch_size)
    for c0 in range(0, n, chunk):
        b = min(n, c0 + chunk) - c0
        passes += 1 + n_batches(n_groups * b, batch_size)
    return passes


def _profile_cost(model: nn.Module, x: np.ndarray, fx: np.ndarray, layer_list: Sequence[str],
                  basis: PCABasis, n_components: int | float | None, n_rows: int | None,
                  batch_size: int) -> CostEstimate:
    n = x.shape[0] if n_rows is None else min(int(n_rows), x.shape[0])
    g_in = basis.n_components + 1  # with the residual, at most
    if isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool):
        g_layer = int(n_components) + 1
    else:
        g_layer = min(n, fx.shape[0]) + 1
    passes = _sweep_passes(n, g_in, batch_size) + len(layer_list) * (
        _sweep_passes(n, g_layer, batch_size) + 2 * n_batches(fx.shape[0], batch_size))
    t_fwd = time_forward(model, x, batch_size=batch_size)
    return CostEstimate(
        what="mean_dimension_profile", units=1 + len(layer_list), unit="sweep",
        seconds=passes * t_fwd,
        detail=f"about {passes} forward passes of up to {batch_size}, one timed at "
               f"{t_fwd * 1e3:.0f} ms; a lower bound: the sweeps' bookkeeping adds to it")


def mean_dimension_profile_cost(
    model: nn.Module,
    data: Any,
    *,
    layers: Sequence[str] | None = None,
    n_components: int | float | None = 32,
    input_components: int | float | None = None,
    fit_data: Any = None,
    n_rows: int | None = 200,
    batch_size: int = 512,
) -> CostEstimate:
    """What :func:`mean_dimension_profile` with these arguments will cost, before running it.

    Parameters
    ----------
    model, data, layers, n_components, input_components, fit_data, n_rows, batch_size
        As for :func:`mean_dimension_profile` (checked the same way).

    Returns
    -------
    CostEstimate
        ``units``: sweeps (one over the input's coordinates, one per layer);
        ``seconds``: the forward passes counted, times one timed pass of a full batch -- a
        lower bound (on a small convolutional net the whole call took 2-4 times as long).
    """
    model, x, fx, layer_list = _profile_plan(model, data, layers, fit_data, n_rows, batch_size)
    basis = fit_pca(fx, n_components=input_components)
    return _profile_cost(model, x, fx, layer_list, basis, n_components, n_rows, batch_size)


def _profile(model: nn.Module, x: np.ndarray, fx: np.ndarray, layer_list: list[str],
             basis: PCABasis, n_components: int | float | None,
             input_components: int | float | None, same_fit: bool, n_rows: int | None,
             seed: int, batch_size: int, bar: Any) -> MeanDimensionProfile:
    fit_data = None if same_fit else fx
    rng = np.random.default_rng(seed)
    rows = _choose_rows(x.shape[0], n_rows, rng)
    partner = _derangement(rows.size, rng)
    device = model_device(model)

    # sweep A: every layer (and the logits) as a function of the input's PCA coordinates
    bar.set_postfix(INPUT_LAYER)
    coords, groups, _, with_res = _pca_coordinates(basis, x)
    inv = basis.inverse_layer(with_residual=with_res).to(device)
    md_in: dict[str, tuple[float, float]] = {}
    units: dict[str, int] = {INPUT_LAYER: int(np.prod(x.shape[1:]))}
    with evaluation(model), LayerCapture(model, layer_list) as cap:

        def eval_input(xb: np.ndarray, _r: np.ndarray) -> dict[str, np.ndarray]:
            xin = inv(torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(device))
            logits = model(xin)
            out = {k: v.double().numpy() for k, v in cap.outputs.items()}
            out[INPUT_LAYER] = xin.reshape(xin.shape[0], -1).double().cpu().numpy()
            out["__output__"] = logits.double().cpu().numpy()
            return out

        keys = [INPUT_LAYER, *layer_list, "__output__"]
        sw = _sweep(eval_input, coords[rows], groups, partner, per_unit=[], pooled=keys,
                    batch_size=batch_size)
        for layer in layer_list:
            units[layer] = int(cap.outputs[layer].shape[1])
    for k in keys:
        md, se, _ = _ratio_with_se(sw[k].terms.sum(axis=1), sw[k].centred_sq * rows.size / max(rows.size - 1, 1))
        md_in[k] = (md, se)
    bar.update(1)

    # sweep B: the output as a function of each layer's PCA coordinates
    md_out: dict[str, tuple[float, float]] = {INPUT_LAYER: md_in["__output__"]}
    kept: dict[str, int] = {INPUT_LAYER: basis.n_components}
    evr: dict[str, float] = {INPUT_LAYER: basis.explained_variance_ratio}
    xs = x[rows]
    with evaluation(model):
        for layer in layer_list:
            bar.set_postfix(layer)
            acts_fit = capture_outputs(model, fx, layer, batch_size=batch_size)
            acts = acts_fit if fit_data is None else capture_outputs(model, x, layer, batch_size=batch_size)
            lb = fit_pca(acts_fit, n_components=n_components)
            lcoords, lgroups, _, l_res = _pca_coordinates(lb, acts)
            linv = lb.inverse_layer(with_residual=l_res).to(device)
            kept[layer], evr[layer] = lb.n_components, lb.explained_variance_ratio
            with OutputReplacement(model, layer) as rep:

                def eval_layer(xb: np.ndarray, base_rows: np.ndarray) -> dict[str, np.ndarray]:
                    rep.replacement = linv(torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(device))
                    carrier = torch.from_numpy(np.ascontiguousarray(xs[base_rows])).to(device)
                    return {"__output__": model(carrier).double().cpu().numpy()}

                swl = _sweep(eval_layer, lcoords[rows], lgroups, partner, per_unit=[],
                             pooled=["__output__"], batch_size=batch_size)
            s = swl["__output__"]
            md, se, _ = _ratio_with_se(s.terms.sum(axis=1), s.centred_sq * rows.size / max(rows.size - 1, 1))
            md_out[layer] = (md, se)
            log.info("mean dimension profile: %s done (%d components)", layer, lb.n_components)
            bar.update(1)
    order = [INPUT_LAYER, *layer_list]
    return MeanDimensionProfile(
        layers=tuple(order), n_units=tuple(units[k] for k in order),
        layer_given_input=[md_in[k][0] for k in order], layer_given_input_se=[md_in[k][1] for k in order],
        output_given_layer=[md_out[k][0] for k in order], output_given_layer_se=[md_out[k][1] for k in order],
        n_components=tuple(kept[k] for k in order), explained_variance_ratio=[evr[k] for k in order],
        n_rows=int(rows.size), seed=int(seed),
        params={"batch_size": int(batch_size), "n_components": n_components,
                "input_components": input_components, "output_mean_dimension_given_input": md_in["__output__"][0]},
    )


# ------------------------------------------------------------- across models


@dataclass(frozen=True)
class ModelMeanDimensions:
    """Logit mean dimensions of several models (zoo architectures, training checkpoints).

    Attributes
    ----------
    models
        The names given to the models (architecture, checkpoint epoch, ...).
    results
        The :class:`TotalIndices` of each model's logits, in the same order.
    """

    models: tuple[str, ...]
    results: tuple[TotalIndices, ...]

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(map(str, self.models)))
        object.__setattr__(self, "results", tuple(self.results))
        if len(self.models) != len(self.results):
            raise ValueError("give one result per model")

    def to_pandas(self) -> Any:
        """One row per model: mean, min and max over logits of the mean dimension, and pooled."""
        import pandas as pd

        rows = []
        for name, res in zip(self.models, self.results):
            md = res.mean_dimensions
            rows.append({
                "model": name,
                "md_logit_mean": float(np.nanmean(md)),
                "md_logit_min": float(np.nanmin(md)),
                "md_logit_max": float(np.nanmax(md)),
                "md_logit_max_se": float(res.mean_dimension_se[int(np.nanargmax(md))]),
                "md_pooled": res.pooled_mean_dimension,
                "md_pooled_se": res.pooled_mean_dimension_se,
                "n_features": len(res.feature_names),
                "n_rows": res.n_rows,
            })
        return pd.DataFrame(rows)


def logit_mean_dimensions(
    models: Mapping[str, nn.Module],
    data: Any,
    *,
    features: FeatureSpace = "pca",
    n_components: int | float | None = None,
    fit_data: Any = None,
    n_rows: int | None = 500,
    seed: int = 0,
    batch_size: int = 512,
) -> ModelMeanDimensions:
    """:func:`logit_total_indices` for several models on the same data and rows.

    Parameters
    ----------
    models
        Name -> model (architectures of the zoo, checkpoints along training, ...).
    data, features, n_components, fit_data, n_rows, seed, batch_size
        As in :func:`logit_total_indices`; the same rows and pairing for every model.

    Returns
    -------
    ModelMeanDimensions
        One :class:`TotalIndices` per model, and a table.
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty mapping of name -> torch.nn.Module")
    results = tuple(
        logit_total_indices(m, data, features=features, n_components=n_components, fit_data=fit_data,
                            n_rows=n_rows, seed=seed, batch_size=batch_size)
        for m in models.values()
    )
    return ModelMeanDimensions(models=tuple(models), results=results)
