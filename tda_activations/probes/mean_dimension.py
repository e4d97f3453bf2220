"""Mean dimension of networks: an inverse-PCA layer, logits' indices, depth profiles.

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

The estimator itself (NumPy only) is :mod:`.sobol`; the PCA basis is :mod:`.pca`.
Every index comes with a standard error (the spread of the per-row terms over
``sqrt(n)``; for the mean dimension, a ratio, the delta method through its
influence function).  All forward passes are batched and seeded.
"""

from __future__ import annotations

import logging
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
from .pca import RANK_TOL, PCABasis, fit_pca
from .sobol import (
    TotalIndices,
    _check_rows,
    _choose_rows,
    _derangement,
    _indices_from_sweep,
    _ratio_with_se,
    _Sweep,
    _sweep,
    product_of_marginals,
    total_indices,
)

# PCABasis, fit_pca, TotalIndices, total_indices and product_of_marginals have torch-free
# homes (.pca, .sobol); they stay importable from here, where they were before the split.
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

    mean: torch.Tensor
    components: torch.Tensor

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


def _module_function(
    f: nn.Module, input_shape: tuple[int, ...]
) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a torch module as ``(m, p) float -> (m, q) float64`` (run it under :func:`evaluation`)."""
    device = model_device(f)

    def call(xb: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32).reshape(-1, *input_shape))
        out = f(t.to(device))
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned {type(out).__name__}, not a tensor")
        return out.detach().double().cpu().numpy().reshape(xb.shape[0], -1)

    return call


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
    with_residual = resid_var > RANK_TOL * max(basis.total_variance, np.finfo(float).tiny)
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
        params.update(
            n_components=basis.n_components,
            explained_variance_ratio=basis.explained_variance_ratio,
            residual_feature=with_residual,
        )
    else:
        coords = x.reshape(x.shape[0], -1).astype(np.float64)
        groups = [np.array([i]) for i in range(coords.shape[1])]
        names = [_pixel_name(i, input_shape) for i in range(coords.shape[1])]
        net = model
        shape = input_shape
    rng = np.random.default_rng(seed)
    rows = _choose_rows(coords.shape[0], n_rows, rng)
    partner = _derangement(rows.size, rng)
    call = _module_function(net, (coords.shape[1],) if features == "pca" else input_shape)
    with evaluation(model):
        sw = _sweep(
            lambda xb, _r: {"f": call(xb)},
            coords[rows],
            groups,
            partner,
            per_unit=["f"],
            pooled=[],
            batch_size=batch_size,
        )
    est = _indices_from_sweep(sw["f"])
    return TotalIndices(
        output_names=tuple(_class_names(data, est["indices"].shape[0])),
        feature_names=tuple(names),
        n_rows=int(rows.size),
        seed=int(seed),
        features=features,
        feature_shape=shape,
        params=params,
        **est,
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
        for name in (
            "layer_given_input",
            "layer_given_input_se",
            "output_given_layer",
            "output_given_layer_se",
            "explained_variance_ratio",
        ):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,):
                raise ValueError(
                    f"{name} must have one value per layer ({n}), got shape {arr.shape}"
                )
            object.__setattr__(self, name, frozen_array(arr))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "n_units", tuple(int(v) for v in self.n_units))
        object.__setattr__(self, "n_components", tuple(int(v) for v in self.n_components))
        object.__setattr__(self, "params", dict(self.params))

    def to_pandas(self) -> Any:
        """One row per layer."""
        import pandas as pd

        return pd.DataFrame(
            {
                "layer": list(self.layers),
                "n_units": list(self.n_units),
                "md_layer_given_input": self.layer_given_input,
                "md_layer_given_input_se": self.layer_given_input_se,
                "md_output_given_layer": self.output_given_layer,
                "md_output_given_layer_se": self.output_given_layer_se,
                "n_components": list(self.n_components),
                "explained_variance_ratio": self.explained_variance_ratio,
            }
        )


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
        announce_cost(
            _profile_cost(model, x, fx, layer_list, basis, n_components, n_rows, batch_size)
        )
    with progress_bar(
        total=1 + len(layer_list), desc="mean_dimension_profile", unit="sweep", enabled=progress
    ) as bar:
        return _profile(
            model,
            x,
            fx,
            layer_list,
            basis,
            n_components,
            input_components,
            fit_data is None,
            n_rows,
            seed,
            batch_size,
            bar,
        )


def _profile_plan(
    model: nn.Module,
    data: Any,
    layers: Sequence[str] | None,
    fit_data: Any,
    n_rows: int | None,
    batch_size: int,
) -> tuple[nn.Module, np.ndarray, np.ndarray, list[str]]:
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


def _profile_cost(
    model: nn.Module,
    x: np.ndarray,
    fx: np.ndarray,
    layer_list: Sequence[str],
    basis: PCABasis,
    n_components: int | float | None,
    n_rows: int | None,
    batch_size: int,
) -> CostEstimate:
    n = x.shape[0] if n_rows is None else min(int(n_rows), x.shape[0])
    g_in = basis.n_components + 1  # with the residual, at most
    if isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool):
        g_layer = int(n_components) + 1
    else:
        g_layer = min(n, fx.shape[0]) + 1
    passes = _sweep_passes(n, g_in, batch_size) + len(layer_list) * (
        _sweep_passes(n, g_layer, batch_size) + 2 * n_batches(fx.shape[0], batch_size)
    )
    t_fwd = time_forward(model, x, batch_size=batch_size)
    return CostEstimate(
        what="mean_dimension_profile",
        units=1 + len(layer_list),
        unit="sweep",
        seconds=passes * t_fwd,
        detail=f"about {passes} forward passes of up to {batch_size}, one timed at "
        f"{t_fwd * 1e3:.0f} ms; a lower bound: the sweeps' bookkeeping adds to it",
    )


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


def _centred_sq(sweep: _Sweep) -> np.ndarray:
    """The per-row centred squared norms of a pooled sweep (always recorded for those)."""
    if sweep.centred_sq is None:
        raise RuntimeError("a pooled sweep without centred norms")  # pragma: no cover
    return sweep.centred_sq


def _profile(
    model: nn.Module,
    x: np.ndarray,
    fx: np.ndarray,
    layer_list: list[str],
    basis: PCABasis,
    n_components: int | float | None,
    input_components: int | float | None,
    same_fit: bool,
    n_rows: int | None,
    seed: int,
    batch_size: int,
    bar: Any,
) -> MeanDimensionProfile:
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
        sw = _sweep(
            eval_input,
            coords[rows],
            groups,
            partner,
            per_unit=[],
            pooled=keys,
            batch_size=batch_size,
        )
        for layer in layer_list:
            units[layer] = int(cap.outputs[layer].shape[1])
    for k in keys:
        md, se, _ = _ratio_with_se(
            sw[k].terms.sum(axis=1), _centred_sq(sw[k]) * rows.size / max(rows.size - 1, 1)
        )
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
            acts = (
                acts_fit
                if fit_data is None
                else capture_outputs(model, x, layer, batch_size=batch_size)
            )
            lb = fit_pca(acts_fit, n_components=n_components)
            lcoords, lgroups, _, l_res = _pca_coordinates(lb, acts)
            linv = lb.inverse_layer(with_residual=l_res).to(device)
            kept[layer], evr[layer] = lb.n_components, lb.explained_variance_ratio
            with OutputReplacement(model, layer) as rep:

                def eval_layer(
                    xb: np.ndarray, base_rows: np.ndarray, linv: nn.Module = linv
                ) -> dict[str, np.ndarray]:
                    rep.replacement = linv(
                        torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(device)
                    )
                    carrier = torch.from_numpy(np.ascontiguousarray(xs[base_rows])).to(device)
                    return {"__output__": model(carrier).double().cpu().numpy()}

                swl = _sweep(
                    eval_layer,
                    lcoords[rows],
                    lgroups,
                    partner,
                    per_unit=[],
                    pooled=["__output__"],
                    batch_size=batch_size,
                )
            s = swl["__output__"]
            md, se, _ = _ratio_with_se(
                s.terms.sum(axis=1), _centred_sq(s) * rows.size / max(rows.size - 1, 1)
            )
            md_out[layer] = (md, se)
            log.info("mean dimension profile: %s done (%d components)", layer, lb.n_components)
            bar.update(1)
    order = [INPUT_LAYER, *layer_list]
    return MeanDimensionProfile(
        layers=tuple(order),
        n_units=tuple(units[k] for k in order),
        layer_given_input=np.array([md_in[k][0] for k in order]),
        layer_given_input_se=np.array([md_in[k][1] for k in order]),
        output_given_layer=np.array([md_out[k][0] for k in order]),
        output_given_layer_se=np.array([md_out[k][1] for k in order]),
        n_components=tuple(kept[k] for k in order),
        explained_variance_ratio=np.array([evr[k] for k in order]),
        n_rows=int(rows.size),
        seed=int(seed),
        params={
            "batch_size": int(batch_size),
            "n_components": n_components,
            "input_components": input_components,
            "output_mean_dimension_given_input": md_in["__output__"][0],
        },
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
            rows.append(
                {
                    "model": name,
                    "md_logit_mean": float(np.nanmean(md)),
                    "md_logit_min": float(np.nanmin(md)),
                    "md_logit_max": float(np.nanmax(md)),
                    "md_logit_max_se": float(res.mean_dimension_se[int(np.nanargmax(md))]),
                    "md_pooled": res.pooled_mean_dimension,
                    "md_pooled_se": res.pooled_mean_dimension_se,
                    "n_features": len(res.feature_names),
                    "n_rows": res.n_rows,
                }
            )
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
        logit_total_indices(
            m,
            data,
            features=features,
            n_components=n_components,
            fit_data=fit_data,
            n_rows=n_rows,
            seed=seed,
            batch_size=batch_size,
        )
        for m in models.values()
    )
    return ModelMeanDimensions(models=tuple(models), results=results)
