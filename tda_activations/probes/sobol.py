"""Given-data total indices and mean dimension of any function (NumPy only, no torch).

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
0).  The network-facing probes built on this estimator (PCA coordinates through an
inverse-PCA layer, depth profiles, logits) are in :mod:`.mean_dimension`.

Every index comes with a standard error (the spread of the per-row terms over
``sqrt(n)``; for the mean dimension, a ratio, the delta method through its
influence function).  All forward passes are batched and seeded.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..types import ImageDataset, compact_repr, frozen_array, unknown_name_error
from ._inputs import as_inputs

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas
    from torch import nn

__all__ = ["TotalIndices", "product_of_marginals", "total_indices"]

log = logging.getLogger(__name__)


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
                raise IndexError(
                    f"output {output} out of range (there are {len(self.output_names)})"
                )
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

    def to_pandas(self) -> pandas.DataFrame:
        """One row per (output, feature): total index, its standard error, normalised index."""
        import pandas as pd

        q, d = self.indices.shape
        return pd.DataFrame(
            {
                "output": np.repeat(self.output_names, d),
                "feature": np.tile(self.feature_names, q),
                "total_index": self.indices.ravel(),
                "total_index_se": self.index_se.ravel(),
                "normalized_total_index": self.normalized_indices.ravel(),
            }
        )

    def output_table(self) -> pandas.DataFrame:
        """One row per output: variance, sum of total indices, mean dimension and its standard error."""
        import pandas as pd

        return pd.DataFrame(
            {
                "output": list(self.output_names),
                "variance": self.variances,
                "sum_total_indices": self.indices.sum(axis=1),
                "mean_dimension": self.mean_dimensions,
                "mean_dimension_se": self.mean_dimension_se,
            }
        )

    def summary(self) -> str:
        """One line: the pooled mean dimension with its standard error, and the sizes."""
        return (
            f"mean dimension {self.pooled_mean_dimension:.4g} "
            f"(SE {self.pooled_mean_dimension_se:.2g}) of {len(self.output_names)} output(s) "
            f"over {len(self.feature_names)} {self.features} feature(s), {self.n_rows} rows, "
            f"seed {self.seed}"
        )


def _indices_from_sweep(sw: _Sweep) -> dict[str, Any]:
    terms, values = sw.terms, sw.values
    assert values is not None
    n, _, q = terms.shape
    indices = terms.mean(axis=0).T  # (q, G)
    index_se = (
        terms.std(axis=0, ddof=1).T / math.sqrt(n) if n > 1 else np.full_like(indices, np.nan)
    )
    centred_sq = (values - values.mean(axis=0)) ** 2 * (n / max(n - 1, 1))  # (n, q)
    sums = terms.sum(axis=1)  # (n, q)
    md, md_se, var = np.empty(q), np.empty(q), np.empty(q)
    for j in range(q):
        md[j], md_se[j], var[j] = _ratio_with_se(sums[:, j], centred_sq[:, j])
    pooled, pooled_se, _ = _ratio_with_se(sums.sum(axis=1), centred_sq.sum(axis=1))
    constant = [j for j in range(q) if not var[j] > 0]
    if constant:
        log.warning(
            "%d output(s) are constant over the rows: mean dimension undefined (NaN)", len(constant)
        )
    return {
        "indices": indices,
        "index_se": index_se,
        "variances": var,
        "mean_dimensions": md,
        "mean_dimension_se": md_se,
        "pooled_mean_dimension": pooled,
        "pooled_mean_dimension_se": pooled_se,
    }


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
    """Wrap a NumPy callable ``f`` as ``(m, p) float -> (m, q) float64``."""
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


def _is_torch_module(f: Any) -> bool:
    """Whether ``f`` is a ``torch.nn.Module`` (without importing torch when it is not loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(f, torch.nn.Module)


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
    arr64 = (
        np.asarray(x, dtype=np.float64)
        if not isinstance(x, ImageDataset)
        else arr.astype(np.float64)
    )
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
        raise ValueError(
            f"{len(names)} feature names for {len(groups)} features; give one name each"
        )
    rng = np.random.default_rng(seed)
    rows = _choose_rows(n, n_rows, rng)
    coords = flat[rows]
    partner = _derangement(rows.size, rng)
    context: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if _is_torch_module(f):
        from ._hooks import evaluation
        from .mean_dimension import _module_function

        module: Any = f
        call = _module_function(module, input_shape)
        context = evaluation(module)
    else:
        call = _numpy_function(f, input_shape)

    def evaluate(xb: np.ndarray, _rows: np.ndarray) -> dict[str, np.ndarray]:
        return {"f": call(xb)}

    with context:
        sw = _sweep(
            evaluate, coords, groups, partner, per_unit=["f"], pooled=[], batch_size=batch_size
        )
    est = _indices_from_sweep(sw["f"])
    q = est["indices"].shape[0]
    outs = list(output_names) if output_names is not None else [f"y{j}" for j in range(q)]
    if len(outs) != q:
        raise ValueError(f"{len(outs)} output names for {q} outputs; give one name each")
    return TotalIndices(
        output_names=tuple(outs),
        feature_names=tuple(names),
        n_rows=int(rows.size),
        seed=int(seed),
        features="given",
        feature_shape=shape,
        params={"batch_size": int(batch_size)},
        **est,
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
