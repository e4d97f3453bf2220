"""Which order of correlations carries the class information at each layer.

Following Fischer et al. (2022, "Decomposing neural networks as mappings of
correlation functions"): at layer ``l``, replace the activations by samples
from Gaussians fitted to them, pass those through the rest of the network and
compare the accuracy with the true accuracy.  Three surrogates:

* ``class_means_class_covs`` -- class-conditional Gaussians with each class's
  mean and covariance (first and second order);
* ``class_means_pooled_cov`` -- each class's mean, the pooled within-class
  covariance shared by all classes (first order only);
* ``pooled_mean_class_covs`` -- the grand mean for every class, each class's
  covariance (second order only).

If a surrogate keeps the accuracy, statistics up to that order carry the class
information at that layer.  The replacement is made by a forward hook that
returns the surrogate, so any model works without being split.  Covariances of
wide layers are never formed: samples are drawn as ``mean + sqrt(1 - a) R^T g /
sqrt(n) + sqrt(a nu) e`` from the centred activations ``R`` (exactly the
Gaussian with the Ledoit-Wolf shrunk covariance ``(1 - a) S + a nu I``,
``nu = tr(S)/p``), and the Ledoit-Wolf intensity is computed from the ``n x n``
Gram matrix (same value as scikit-learn's ``ledoit_wolf_shrinkage``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._progress import CostEstimate, announce_cost, progress_bar, progress_enabled
from ..types import ImageDataset, Split, compact_repr, frozen_array
from ._cost import n_batches, time_forward
from ._hooks import (
    INPUT_LAYER,
    OutputReplacement,
    as_inputs,
    capture_outputs,
    check_model,
    default_layers,
    evaluation,
    layer_shapes,
    model_device,
    resolve_layer,
)

__all__ = [
    "SURROGATES",
    "CorrelationOrderProfile",
    "correlation_order",
    "correlation_order_cost",
    "ledoit_wolf_shrinkage",
]

log = logging.getLogger(__name__)

SURROGATES = ("class_means_class_covs", "class_means_pooled_cov", "pooled_mean_class_covs")
"""The three Gaussian surrogates, in the order of the result's columns."""


def ledoit_wolf_shrinkage(x: Any, *, assume_centered: bool = False) -> float:
    """Ledoit-Wolf shrinkage intensity of the covariance of ``x`` ``(n, p)``, for any ``p``.

    Computed from the ``n x n`` Gram matrix, so wide data (``p >> n``) cost
    ``O(n^2 p)`` time and ``O(n^2)`` memory; the value equals scikit-learn's
    ``sklearn.covariance.ledoit_wolf_shrinkage``.

    Parameters
    ----------
    x
        Samples ``(n, p)``.
    assume_centered
        Whether ``x`` is already centred (otherwise its mean is subtracted).

    Returns
    -------
    float
        The intensity ``a`` in ``[0, 1]`` of ``(1 - a) S + a tr(S)/p I``, where
        ``S = x^T x / n`` is the (maximum-likelihood) sample covariance.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < 1:
        raise ValueError(f"expected samples of shape (n, p), got {arr.shape}")
    n, p = arr.shape
    if p == 1:
        return 0.0
    if not assume_centered:
        arr = arr - arr.mean(axis=0)
    gram = arr @ arr.T
    sq_norms = np.diag(gram)
    trace = sq_norms.sum() / n  # tr(S)
    mu = trace / p
    beta_ = float(np.sum(sq_norms**2))  # sum_k ||x_k||^4
    delta_ = float(np.sum(gram**2)) / n**2  # ||S||_F^2
    beta = (beta_ / n - delta_) / (p * n)
    delta = (delta_ - 2.0 * mu * trace + p * mu**2) / p
    beta = min(beta, delta)
    return 0.0 if beta == 0 else float(beta / delta)


@dataclass
class _Gaussian:
    """A Gaussian given by a mean and centred samples ``R`` (covariance ``R^T R / n``), shrunk."""

    mean: np.ndarray  # (p,)
    residuals: np.ndarray  # (n, p), centred
    shrinkage: float
    nu: float  # tr(S)/p

    def sample(self, means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Samples ``means + noise`` with this Gaussian's (shrunk) covariance; ``means`` is ``(m, p)``."""
        m = means.shape[0]
        n = self.residuals.shape[0]
        g = rng.standard_normal((m, n))
        out = means + math.sqrt((1.0 - self.shrinkage) / n) * (g @ self.residuals)
        if self.shrinkage > 0 and self.nu > 0:
            out = out + math.sqrt(self.shrinkage * self.nu) * rng.standard_normal(means.shape)
        return out


def _fit_gaussian(mean: np.ndarray, residuals: np.ndarray, shrinkage: float | str) -> _Gaussian:
    n, p = residuals.shape
    nu = float((residuals**2).sum() / n / p)
    if shrinkage == "ledoit_wolf":
        a = ledoit_wolf_shrinkage(residuals, assume_centered=True)
    else:
        a = float(shrinkage)  # validated by the caller
    return _Gaussian(mean=mean, residuals=residuals, shrinkage=a, nu=nu)


@dataclass(frozen=True)
class CorrelationOrderProfile:
    """Accuracy of Gaussian surrogates of every layer next to the true accuracy.

    Attributes
    ----------
    layers
        Layer names in forward order (``"input"`` for the input itself).
    n_units
        Width of each layer's flattened output.
    true_accuracy
        The model's accuracy on the evaluation data.
    accuracy
        Float64 ``(n_layers, 3)``: accuracy with each surrogate, columns in the
        order of :data:`SURROGATES`.
    chance_accuracy
        Accuracy of always predicting the most frequent evaluation class.
    n_surrogates
        Surrogate samples per layer and kind (evaluation labels times ``n_draws``).
    class_shrinkage
        Float64 ``(n_layers, n_classes)``: shrinkage intensity of each class covariance.
    pooled_shrinkage
        Float64 ``(n_layers,)``: shrinkage intensity of the pooled covariance.
    classes
        The class labels, in the order of ``class_shrinkage``'s columns.
    seed
        Seed of the surrogate draws.
    params
        Other parameters (shrinkage rule, fit/eval sizes, ...).
    """

    layers: tuple[str, ...]
    n_units: tuple[int, ...]
    true_accuracy: float
    accuracy: np.ndarray
    chance_accuracy: float
    n_surrogates: int
    class_shrinkage: np.ndarray
    pooled_shrinkage: np.ndarray
    classes: tuple[int, ...]
    seed: int
    params: Mapping[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        n = len(self.layers)
        acc = np.asarray(self.accuracy, dtype=np.float64)
        if acc.shape != (n, len(SURROGATES)):
            raise ValueError(f"accuracy must have shape ({n}, {len(SURROGATES)}), got {acc.shape}")
        object.__setattr__(self, "accuracy", frozen_array(acc))
        cs = np.asarray(self.class_shrinkage, dtype=np.float64)
        if cs.shape != (n, len(self.classes)):
            raise ValueError(f"class_shrinkage must have shape ({n}, {len(self.classes)})")
        object.__setattr__(self, "class_shrinkage", frozen_array(cs))
        object.__setattr__(
            self, "pooled_shrinkage", frozen_array(self.pooled_shrinkage, dtype=np.float64)
        )
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "n_units", tuple(int(v) for v in self.n_units))
        object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))
        object.__setattr__(self, "params", dict(self.params))

    def accuracy_of(self, surrogate: str) -> np.ndarray:
        """Accuracy of one surrogate (a name in :data:`SURROGATES`) at every layer."""
        if surrogate not in SURROGATES:
            from ..types import unknown_name_error

            raise unknown_name_error("surrogate", surrogate, SURROGATES)
        return self.accuracy[:, SURROGATES.index(surrogate)]

    def to_pandas(self) -> Any:
        """One row per layer: true accuracy, each surrogate's accuracy (with binomial SE)."""
        import pandas as pd

        n = self.n_surrogates
        data: dict[str, Any] = {
            "layer": list(self.layers),
            "n_units": list(self.n_units),
            "true_accuracy": [self.true_accuracy] * len(self.layers),
        }
        for j, name in enumerate(SURROGATES):
            acc = self.accuracy[:, j]
            data[f"acc_{name}"] = acc
            data[f"acc_{name}_se"] = np.sqrt(acc * (1 - acc) / max(n, 1))
        data["chance_accuracy"] = [self.chance_accuracy] * len(self.layers)
        data["mean_class_shrinkage"] = self.class_shrinkage.mean(axis=1)
        data["pooled_shrinkage"] = self.pooled_shrinkage
        return pd.DataFrame(data)


def _split_data(data: Any, fit_data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(data, Split):
        if fit_data is not None:
            raise ValueError(
                "give either a Split (fit on train, evaluate on test) or fit_data, not both"
            )
        fit_data, data = data.train, data.test
    xe, ye = as_inputs(data, name="data")
    xf, yf = (xe, ye) if fit_data is None else as_inputs(fit_data, name="fit_data")
    if ye is None or yf is None:
        raise ValueError(
            "the correlation-order probe needs class labels: give an ImageDataset, a Split or an "
            "(inputs, labels) pair"
        )
    if xf.shape[1:] != xe.shape[1:]:
        raise ValueError(
            f"fit inputs have shape {xf.shape[1:]} but evaluation inputs {xe.shape[1:]}"
        )
    return xf, yf, xe, ye


def correlation_order(
    model: nn.Module,
    data: Split | ImageDataset | tuple[Any, Any],
    *,
    fit_data: ImageDataset | tuple[Any, Any] | None = None,
    layers: Sequence[str] | None = None,
    include_input: bool = True,
    shrinkage: float | str = "ledoit_wolf",
    n_draws: int = 1,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool | None = None,
) -> CorrelationOrderProfile:
    """Accuracy of first- and second-order Gaussian surrogates at every layer.

    Parameters
    ----------
    model
        Any classifier returning logits.
    data
        A :class:`~tda_activations.types.Split` (Gaussians fitted on ``train``,
        accuracy measured on ``test``), or evaluation data (ImageDataset or an
        ``(inputs, labels)`` pair) with the Gaussians fitted on ``fit_data`` (default:
        the same data).
    fit_data
        Data the class statistics are estimated from (only without a Split).
    layers
        Layer names (``named_modules()`` paths, ``"name:k"`` for a repeated call);
        default: every conv and linear layer in forward order.
    include_input
        Also probe the input itself (layer ``"input"``), first.
    shrinkage
        ``"ledoit_wolf"`` (intensity estimated per covariance) or a fixed intensity
        in ``[0, 1]`` (``0``: the plain sample covariance).
    n_draws
        Surrogates drawn per evaluation sample (more: smaller sampling error).
    seed
        Seed of the draws (each layer gets its own stream).
    batch_size
        Samples per forward pass.
    progress
        Show a progress bar over the layers (``None``: in a terminal or notebook).  The
        estimate of :func:`correlation_order_cost` is logged first (INFO) whenever a bar
        or INFO logging is on.

    Returns
    -------
    CorrelationOrderProfile
        One row per layer; surrogates are drawn with the evaluation data's labels,
        so chance and class balance match the true accuracy.

    Notes
    -----
    For a hidden layer the input of the forward pass (which the hook overrides
    at ``l``) is the mean fit input, so paths that bypass ``l`` (skip
    connections) carry no class information; probe block outputs of residual
    networks for a clean cut.
    """
    model, xf, yf, xe, ye, order = _plan(
        model, data, fit_data, layers, include_input, shrinkage, n_draws, batch_size
    )
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(_cost(model, xf, yf, xe, order, n_draws=n_draws, batch_size=batch_size))
    classes = np.unique(yf)
    device = model_device(model)
    labels = np.tile(ye, n_draws)
    n_sur = labels.size
    carrier = torch.from_numpy(xf.mean(axis=0, keepdims=True)).to(device)
    input_shape = xf.shape[1:]

    def predict(x: np.ndarray) -> np.ndarray:
        out = []
        for s in range(0, x.shape[0], batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[s : s + batch_size])).to(device)
            out.append(model(xb).argmax(dim=1).cpu().numpy())
        return np.concatenate(out)

    acc = np.empty((len(order), len(SURROGATES)))
    cls_shrink = np.empty((len(order), classes.size))
    pooled_shrink = np.empty(len(order))
    units: list[int] = []
    with (
        evaluation(model),
        progress_bar(
            total=len(order), desc="correlation_order", unit="layer", enabled=progress
        ) as bar,
    ):
        true_acc = float(np.mean(predict(xe) == ye))
        for li, layer in enumerate(order):
            bar.set_postfix(layer)
            if layer == INPUT_LAYER:
                acts = xf.reshape(xf.shape[0], -1).astype(np.float64)
            else:
                acts = capture_outputs(model, xf, layer, batch_size=batch_size).astype(np.float64)
            units.append(int(acts.shape[1]))
            grand = acts.mean(axis=0)
            per_class: dict[int, _Gaussian] = {}
            resid_all = np.empty_like(acts)
            for c in classes:
                idx = np.nonzero(yf == c)[0]
                mu = acts[idx].mean(axis=0)
                resid_all[idx] = acts[idx] - mu
                per_class[int(c)] = _fit_gaussian(mu, resid_all[idx], shrinkage)
            pooled = _fit_gaussian(grand, resid_all, shrinkage)
            cls_shrink[li] = [per_class[int(c)].shrinkage for c in classes]
            pooled_shrink[li] = pooled.shrinkage
            rng = np.random.default_rng([int(seed), li])
            correct = np.zeros(len(SURROGATES))
            with contextlib.ExitStack() as stack:
                rep_ctx = (
                    None
                    if layer == INPUT_LAYER
                    else stack.enter_context(OutputReplacement(model, layer))
                )
                for s in range(0, n_sur, batch_size):
                    lab = labels[s : s + batch_size]
                    class_means = np.stack([per_class[int(c)].mean for c in lab])
                    draws = [np.empty((lab.size, acts.shape[1])) for _ in SURROGATES]
                    for c in np.unique(lab):
                        sel = np.nonzero(lab == c)[0]
                        g = per_class[int(c)]
                        draws[0][sel] = g.sample(class_means[sel], rng)
                        draws[1][sel] = pooled.sample(class_means[sel], rng)
                        draws[2][sel] = g.sample(
                            np.broadcast_to(grand, (sel.size, grand.size)), rng
                        )
                    for j, d in enumerate(draws):
                        t = torch.from_numpy(d.astype(np.float32))
                        if rep_ctx is None:
                            pred = model(t.reshape(-1, *input_shape).to(device)).argmax(dim=1)
                        else:
                            rep_ctx.replacement = t.to(device)
                            pred = model(carrier.expand(lab.size, *input_shape)).argmax(dim=1)
                        correct[j] += float(np.sum(pred.cpu().numpy() == lab))
            acc[li] = correct / n_sur
            log.info(
                "correlation order: %s accuracies %s (true %.3f)",
                layer,
                np.round(acc[li], 3),
                true_acc,
            )
            bar.update(1)
    _, freq = np.unique(ye, return_counts=True)
    return CorrelationOrderProfile(
        layers=tuple(order),
        n_units=tuple(units),
        true_accuracy=true_acc,
        accuracy=acc,
        chance_accuracy=float(freq.max() / freq.sum()),
        n_surrogates=int(n_sur),
        class_shrinkage=cls_shrink,
        pooled_shrinkage=pooled_shrink,
        classes=tuple(int(c) for c in classes),
        seed=int(seed),
        params={
            "shrinkage": shrinkage,
            "n_draws": int(n_draws),
            "n_fit": int(xf.shape[0]),
            "n_eval": int(xe.shape[0]),
            "batch_size": int(batch_size),
        },
    )


def _plan(
    model: nn.Module,
    data: Any,
    fit_data: Any,
    layers: Sequence[str] | None,
    include_input: bool,
    shrinkage: Any,
    n_draws: Any,
    batch_size: Any,
) -> tuple[nn.Module, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Checked inputs of :func:`correlation_order`: model, fit/eval data, layers in order."""
    model = check_model(model)
    if isinstance(shrinkage, str):
        if shrinkage != "ledoit_wolf":
            from ..types import unknown_name_error

            raise unknown_name_error("shrinkage rule", shrinkage, ["ledoit_wolf"])
    elif isinstance(shrinkage, (bool, np.bool_)) or not isinstance(
        shrinkage, (int, float, np.floating)
    ):
        raise TypeError(f"shrinkage must be 'ledoit_wolf' or a number in [0, 1], got {shrinkage!r}")
    elif not 0.0 <= float(shrinkage) <= 1.0:
        raise ValueError(f"a fixed shrinkage intensity must be in [0, 1], got {shrinkage}")
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ValueError(f"n_draws must be a positive integer, got {n_draws!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    xf, yf, xe, ye = _split_data(data, fit_data)
    classes = np.unique(yf)
    counts = {int(c): int(np.sum(yf == c)) for c in classes}
    missing = sorted(set(np.unique(ye).tolist()) - set(counts))
    if missing:
        raise ValueError(
            f"evaluation classes {missing} have no fit samples; fit on data with every class"
        )
    few = [c for c, k in counts.items() if k < 2]
    if few:
        raise ValueError(
            f"classes {few} have fewer than 2 fit samples; a covariance needs at least 2"
        )
    layer_list = list(default_layers(model, xf) if layers is None else layers)
    if INPUT_LAYER in layer_list:
        layer_list.remove(INPUT_LAYER)
    for layer in layer_list:
        resolve_layer(model, layer)
    order = ([INPUT_LAYER] if include_input else []) + layer_list
    if not order:
        raise ValueError("no layers to probe: give layers or include_input=True")
    return model, xf, yf, xe, ye, order


def _cost(
    model: nn.Module,
    xf: np.ndarray,
    yf: np.ndarray,
    xe: np.ndarray,
    order: list[str],
    *,
    n_draws: int,
    batch_size: int,
) -> CostEstimate:
    """The cost of :func:`correlation_order`, per layer.

    Forward passes (capture the fit data, three surrogates per batch), the
    draws of every batch (``m x (2 n_c + n_fit) x p``: class and pooled Gaussians) and the
    pooled Ledoit-Wolf Gram matrix (``n_fit^2 p``); each kind timed once on the widest layer
    and scaled by the layer's units.
    """
    hidden = [l for l in order if l != INPUT_LAYER]
    shapes = layer_shapes(model, xf, hidden) if hidden else {}
    units = {
        l: int(np.prod(shapes[l])) if l in shapes else int(np.prod(xf.shape[1:])) for l in order
    }
    t_fwd = time_forward(model, xf, batch_size=batch_size)
    n_sur = xe.shape[0] * n_draws
    n_fit = xf.shape[0]
    n_class = int(np.bincount(np.unique(yf, return_inverse=True)[1]).max())
    p0 = max(units.values())
    rng = np.random.default_rng(0)
    k = 2 * n_class + n_fit
    start = time.perf_counter()
    rng.standard_normal((min(batch_size, n_sur), k)) @ rng.standard_normal((k, p0))
    t_draw = time.perf_counter() - start  # one batch of draws of the widest layer
    n_s = min(n_fit, 256)
    sub = rng.standard_normal((n_s, p0))
    start = time.perf_counter()
    sub @ sub.T
    t_gram = (time.perf_counter() - start) * (n_fit / n_s) ** 2
    forward = n_batches(n_fit, batch_size) + 3 * n_batches(n_sur, batch_size)
    seconds = n_batches(xe.shape[0], batch_size) * t_fwd + sum(
        forward * t_fwd + (n_batches(n_sur, batch_size) * t_draw + t_gram) * units[l] / p0
        for l in order
    )
    return CostEstimate(
        what="correlation_order",
        units=len(order),
        unit="layer",
        seconds=seconds,
        detail=f"per layer {forward} forward passes of {batch_size} (one timed at "
        f"{t_fwd * 1e3:.0f} ms) and the Gaussian draws (timed at {t_draw:.2f} s per "
        f"batch for the widest layer, {p0:,} units)",
    )


def correlation_order_cost(
    model: nn.Module,
    data: Split | ImageDataset | tuple[Any, Any],
    *,
    fit_data: ImageDataset | tuple[Any, Any] | None = None,
    layers: Sequence[str] | None = None,
    include_input: bool = True,
    n_draws: int = 1,
    batch_size: int = 256,
) -> CostEstimate:
    """What :func:`correlation_order` with these arguments will cost, before running it.

    Parameters
    ----------
    model, data, fit_data, layers, include_input, n_draws, batch_size
        As for :func:`correlation_order` (checked the same way).

    Returns
    -------
    CostEstimate
        ``units``: layers probed; ``seconds``: from one timed forward pass and one timed
        draw of the widest layer.
    """
    model, xf, yf, xe, _, order = _plan(
        model, data, fit_data, layers, include_input, "ledoit_wolf", n_draws, batch_size
    )
    return _cost(model, xf, yf, xe, order, n_draws=n_draws, batch_size=batch_size)
