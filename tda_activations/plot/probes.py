"""Probe results: mean dimension per layer, index heatmaps, correlation order, invariance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._common import get_axes
from ._provenance import record
from .style import categorical_colors

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "architecture_profile",
    "correlation_order_accuracy",
    "equivariance_profile",
    "index_heatmap",
    "invariance_profile",
    "mean_dimension_profile",
    "model_mean_dimensions",
    "separability_profile",
]


def _layer_axis(
    ax: Any, names: Sequence[str], *, label: str = "layer (forward order)"
) -> np.ndarray:
    pos = np.arange(len(names))
    ax.set_xticks(pos)
    ax.set_xticklabels([str(n) for n in names], rotation=90, fontsize="x-small")
    ax.set_xlabel(label)
    return pos


def _check_type(obj: Any, cls_name: str, module: str, what: str) -> None:
    import importlib

    cls = getattr(importlib.import_module(module), cls_name)
    if not isinstance(obj, cls):
        raise TypeError(f"{what} needs a {cls_name} (from {module}), got {type(obj).__name__}")


def mean_dimension_profile(
    profile: Any,
    *,
    ax: Any = None,
    which: Sequence[Literal["layer_given_input", "output_given_layer"]] = (
        "layer_given_input",
        "output_given_layer",
    ),
    errorbars: bool = True,
    title: str | None = None,
) -> Axes:
    """Mean dimension per layer: of each layer given the input, of the output given each layer.

    Parameters
    ----------
    profile
        A :class:`~tda_activations.probes.mean_dimension.MeanDimensionProfile`.
    ax
        Axes to draw into (default: a new figure).
    which
        The profiles to draw.
    errorbars
        Draw +-1 standard error.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_type(
        profile,
        "MeanDimensionProfile",
        "tda_activations.probes.mean_dimension",
        "mean_dimension_profile",
    )
    labels = {"layer_given_input": "layer given input", "output_given_layer": "output given layer"}
    bad = [w for w in which if w not in labels]
    if bad or not which:
        raise ValueError(f"which must list some of {list(labels)}, got {list(which)!r}")
    ax = get_axes(ax)
    pos = _layer_axis(ax, profile.layers)
    for k, (w, c) in enumerate(zip(which, categorical_colors(len(which)))):
        y = np.asarray(getattr(profile, w), dtype=float)
        se = np.asarray(getattr(profile, f"{w}_se"), dtype=float)
        ax.plot(pos, y, marker="os"[k % 2], color=c, label=labels[w])
        if errorbars:
            ax.fill_between(pos, y - se, y + se, color=c, alpha=0.25, linewidth=0)
    ax.axhline(1.0, color="0.6", lw=0.6, ls=":", zorder=0)
    ax.set_ylabel("mean dimension")
    ax.set_ylim(bottom=min(0.9, ax.get_ylim()[0]))
    ax.legend(fontsize="x-small")
    if title is not None:
        ax.set_title(title)
    record(ax, "mean_dimension_profile", profile, {"which": list(which)})
    return ax


def model_mean_dimensions(
    result: Any,
    *,
    ax: Any = None,
    statistic: Literal["pooled", "mean"] = "pooled",
    title: str | None = None,
) -> Axes:
    """Logit mean dimension of several models (architectures, checkpoints) as bars.

    Parameters
    ----------
    result
        A :class:`~tda_activations.probes.mean_dimension.ModelMeanDimensions`.
    ax
        Axes to draw into (default: a new figure).
    statistic
        ``"pooled"`` (all logits, variance-weighted, with its standard error) or
        ``"mean"`` (mean over logits, with the min-max range as the error bar).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_type(
        result,
        "ModelMeanDimensions",
        "tda_activations.probes.mean_dimension",
        "model_mean_dimensions",
    )
    if statistic not in ("pooled", "mean"):
        raise ValueError(f"statistic must be 'pooled' or 'mean', got {statistic!r}")
    df = result.to_pandas()
    ax = get_axes(ax)
    pos = np.arange(len(df))
    if statistic == "pooled":
        y = df["md_pooled"].to_numpy(float)
        err = df["md_pooled_se"].to_numpy(float)
    else:
        y = df["md_logit_mean"].to_numpy(float)
        err = np.vstack(
            [y - df["md_logit_min"].to_numpy(float), df["md_logit_max"].to_numpy(float) - y]
        )
    cs = categorical_colors(len(df))
    ax.bar(pos, y, yerr=err, color=cs, width=0.7, capsize=2, error_kw={"elinewidth": 0.6})
    ax.set_xticks(pos)
    ax.set_xticklabels(list(df["model"]), rotation=0 if len(df) <= 6 else 90, fontsize="x-small")
    ax.axhline(1.0, color="0.6", lw=0.6, ls=":")
    ax.set_ylabel(
        "logit mean dimension" + (" (pooled)" if statistic == "pooled" else " (mean over logits)")
    )
    if title is not None:
        ax.set_title(title)
    record(ax, "model_mean_dimensions", result, {"statistic": statistic})
    return ax


def index_heatmap(
    indices: Any,
    *,
    ax: Any = None,
    output: str | int | None = None,
    channel: int | Literal["sum"] = "sum",
    image: Any = None,
    alpha: float = 0.6,
    cmap: str = "magma",
    colorbar: bool = True,
    title: str | None = None,
) -> Axes:
    """Heatmap of normalised total indices over the input image (which pixels matter).

    Parameters
    ----------
    indices
        A :class:`~tda_activations.probes.mean_dimension.TotalIndices` computed with
        ``features="inputs"`` (one index per pixel).
    ax
        Axes to draw into (default: a new figure).
    output
        One output (class logit name or position); ``None`` pools the outputs.
    channel
        For multi-channel inputs: one channel, or ``"sum"`` over channels.
    image
        An input image ``(c, h, w)`` or ``(h, w)`` to draw underneath in grey.
    alpha
        Opacity of the heatmap over ``image``.
    cmap
        Colour map of the indices.
    colorbar
        A colour bar of the index values.
    title
        Axes title (default: the output drawn).

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_type(indices, "TotalIndices", "tda_activations.probes.mean_dimension", "index_heatmap")
    heat = np.asarray(indices.heatmap(output), dtype=float)  # raises for non-pixel features
    if heat.ndim == 3:
        if channel == "sum":
            heat = heat.sum(axis=0)
        else:
            if not 0 <= int(channel) < heat.shape[0]:
                raise ValueError(
                    f"channel {channel} out of range: the input has {heat.shape[0]} channels"
                )
            heat = heat[int(channel)]
    elif heat.ndim != 2:
        raise ValueError(f"the indices form shape {heat.shape}; a heatmap needs an image shape")
    ax = get_axes(ax)
    if image is not None:
        img = np.asarray(image, dtype=float)
        if img.ndim == 3:
            img = img.mean(axis=0)
        if img.shape != heat.shape:
            raise ValueError(f"image has shape {img.shape} but the indices {heat.shape}")
        ax.imshow(img, cmap="gray", interpolation="nearest")
    im = ax.imshow(
        heat,
        cmap=cmap,
        interpolation="nearest",
        alpha=alpha if image is not None else 1.0,
        vmin=0.0,
    )
    ax.set_xticks([])
    ax.set_yticks([])
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, shrink=0.85, pad=0.02)
        cb.set_label("total Sobol' index")
        cb.outline.set_linewidth(0.5)
    ax.set_title(
        title
        if title is not None
        else ("all outputs (pooled)" if output is None else f"output {output}")
    )
    record(ax, "index_heatmap", indices, {"output": output, "channel": channel})
    return ax


def correlation_order_accuracy(
    profile: Any,
    *,
    ax: Any = None,
    surrogates: Sequence[str] | None = None,
    errorbars: bool = True,
    title: str | None = None,
) -> Axes:
    """Accuracy of first- and second-order Gaussian surrogates at every layer.

    The model's true accuracy is a dashed line and chance a dotted one: where a
    surrogate reaches the true accuracy, the layer's class information is in its
    first two moments.

    Parameters
    ----------
    profile
        A :class:`~tda_activations.probes.correlation_order.CorrelationOrderProfile`.
    ax
        Axes to draw into (default: a new figure).
    surrogates
        Names from ``SURROGATES`` to draw (default: all three).
    errorbars
        Binomial +-1 standard error bands.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_type(
        profile,
        "CorrelationOrderProfile",
        "tda_activations.probes.correlation_order",
        "correlation_order_accuracy",
    )
    from ..probes.correlation_order import SURROGATES

    names = list(SURROGATES if surrogates is None else surrogates)
    df = profile.to_pandas()
    ax = get_axes(ax)
    pos = _layer_axis(ax, profile.layers)
    pretty = {
        "class_means_class_covs": "class means + class covariances",
        "class_means_pooled_cov": "class means + pooled covariance",
        "pooled_mean_class_covs": "pooled mean + class covariances",
    }
    for k, (name, c) in enumerate(zip(names, categorical_colors(len(names)))):
        acc = profile.accuracy_of(name)
        ax.plot(pos, acc, marker="osD"[k % 3], color=c, label=pretty.get(name, name))
        if errorbars:
            se = df[f"acc_{name}_se"].to_numpy(float)
            ax.fill_between(pos, acc - se, acc + se, color=c, alpha=0.2, linewidth=0)
    ax.axhline(profile.true_accuracy, color="black", lw=0.8, ls="--", label="model")
    ax.axhline(profile.chance_accuracy, color="0.5", lw=0.8, ls=":", label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize="xx-small", loc="lower right")
    if title is not None:
        ax.set_title(title)
    record(ax, "correlation_order_accuracy", profile, {"surrogates": names})
    return ax


def _results_by_model(results: Any, cls_name: str, module: str, what: str) -> dict[str, Any]:
    if isinstance(results, Mapping):
        out = dict(results)
        if not out:
            raise ValueError(f"{what}: no results given")
        for v in out.values():
            _check_type(v, cls_name, module, what)
        return out
    _check_type(results, cls_name, module, what)
    return {"": results}


def invariance_profile(
    results: Any,
    *,
    ax: Any = None,
    statistic: Literal["score", "median_unit_score"] = "score",
    title: str | None = None,
) -> Axes:
    """Invariance score by depth, one line per model (0 = invariant, 1 = not at all).

    Parameters
    ----------
    results
        An :class:`~tda_activations.probes.invariance.InvarianceResult`, or a mapping
        model name -> result (models of different depths share the relative-depth axis).
    ax
        Axes to draw into (default: a new figure).
    statistic
        ``"score"`` (pooled over units) or ``"median_unit_score"``.
    title
        Axes title (default: the group of transforms).

    Returns
    -------
    matplotlib.axes.Axes
    """
    res = _results_by_model(
        results, "InvarianceResult", "tda_activations.probes.invariance", "invariance_profile"
    )
    if statistic not in ("score", "median_unit_score"):
        raise ValueError(f"statistic must be 'score' or 'median_unit_score', got {statistic!r}")
    ax = get_axes(ax)
    single = len(res) == 1
    for k, ((name, r), c) in enumerate(zip(res.items(), categorical_colors(len(res)))):
        df = r.to_pandas()
        y = df[statistic].to_numpy(float)
        if single:
            x = np.arange(len(y), dtype=float)
        else:
            x = np.linspace(0.0, 1.0, len(y)) if len(y) > 1 else np.zeros(1)
        ax.plot(x, y, marker="osD^v"[k % 5], color=c, label=name or None)
    if single:
        _layer_axis(ax, next(iter(res.values())).layers)
    else:
        ax.set_xlabel("relative depth (first layer 0, last 1)")
        ax.legend(fontsize="x-small")
    ax.set_ylim(0, max(1.02, ax.get_ylim()[1]))
    ax.set_ylabel("within-orbit / total variance" if statistic == "score" else "median unit score")
    group = next(iter(res.values())).group
    ax.set_title(title if title is not None else "invariance to " + ", ".join(group))
    record(
        ax,
        "invariance_profile",
        results if not single else next(iter(res.values())),
        {"statistic": statistic},
    )
    return ax


def equivariance_profile(
    result: Any,
    *,
    ax: Any = None,
    statistic: Literal["residual", "identity_residual"] = "residual",
    title: str | None = None,
) -> Axes:
    """Equivariance residual by layer, one line per transform (0 = exactly equivariant).

    Parameters
    ----------
    result
        An :class:`~tda_activations.probes.invariance.EquivarianceResult`.
    ax
        Axes to draw into (default: a new figure).
    statistic
        ``"residual"`` (after the fitted map ``M_g``) or ``"identity_residual"``
        (``M_g`` the identity: invariance).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_type(
        result, "EquivarianceResult", "tda_activations.probes.invariance", "equivariance_profile"
    )
    if statistic not in ("residual", "identity_residual"):
        raise ValueError(f"statistic must be 'residual' or 'identity_residual', got {statistic!r}")
    df = result.to_pandas()
    if df.empty:
        raise ValueError("equivariance_profile: the result has no rows")
    ax = get_axes(ax)
    layers = list(dict.fromkeys(df["layer"]))
    pos = {l: i for i, l in enumerate(layers)}
    transforms = list(dict.fromkeys(df["transform"]))
    for k, (t, c) in enumerate(zip(transforms, categorical_colors(len(transforms)))):
        sub = df[df["transform"] == t]
        ax.plot(
            [pos[l] for l in sub["layer"]],
            sub[statistic].to_numpy(float),
            marker="osD^v"[k % 5],
            color=c,
            label=t,
        )
    _layer_axis(ax, layers)
    ax.set_ylabel("fraction of variance unexplained")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small")
    if title is not None:
        ax.set_title(title)
    record(ax, "equivariance_profile", result, {"statistic": statistic})
    return ax


def separability_profile(
    result: Any,
    *,
    ax: Any = None,
    statistic: Literal["distance_ratio", "fisher_criterion"] = "fisher_criterion",
    title: str | None = None,
) -> Axes:
    """Class separability by layer (Fisher criterion or inter/intra distance ratio).

    Parameters
    ----------
    result
        A :class:`~tda_activations.probes.invariance.SeparabilityResult`.
    ax
        Axes to draw into (default: a new figure).
    statistic
        ``"fisher_criterion"`` or ``"distance_ratio"`` (inter- over intra-class distance).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_type(
        result, "SeparabilityResult", "tda_activations.probes.invariance", "separability_profile"
    )
    if statistic not in ("distance_ratio", "fisher_criterion"):
        raise ValueError(
            f"statistic must be 'distance_ratio' or 'fisher_criterion', got {statistic!r}"
        )
    df = result.to_pandas()
    ax = get_axes(ax)
    pos = _layer_axis(ax, list(df["layer"]))
    ax.plot(pos, df[statistic].to_numpy(float), marker="o", color=categorical_colors(1)[0])
    ax.set_ylabel(
        {
            "distance_ratio": "inter / intra-class distance",
            "fisher_criterion": "Fisher criterion tr(S_B)/tr(S_W)",
        }[statistic]
    )
    if title is not None:
        ax.set_title(title)
    record(ax, "separability_profile", result, {"statistic": statistic})
    return ax


def architecture_profile(
    report: Any,
    *,
    ax: Any = None,
    metric: Literal[
        "output_dim",
        "receptive_field",
        "params",
        "macs",
        "cumulative_compression",
        "log10_regions_bound",
    ] = "output_dim",
    kinds: Sequence[str] | None = ("Conv2d", "Linear"),
    log: bool | None = None,
    title: str | None = None,
) -> Axes:
    """One architecture quantity along the network (width, receptive field, cost...).

    Parameters
    ----------
    report
        An :class:`~tda_activations.probes.architecture.ArchitectureReport`, or a mapping
        model name -> report (one line per model, relative depth).
    ax
        Axes to draw into (default: a new figure).
    metric
        A per-node field of the report.
    kinds
        Node kinds to keep (default: convolutions and linear layers); ``None``: all.
    log
        Logarithmic y axis (default: for sizes and costs).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    reports = _results_by_model(
        report, "ArchitectureReport", "tda_activations.probes.architecture", "architecture_profile"
    )
    allowed = (
        "output_dim",
        "receptive_field",
        "params",
        "macs",
        "cumulative_compression",
        "log10_regions_bound",
    )
    if metric not in allowed:
        raise ValueError(f"metric must be one of {allowed}, got {metric!r}")
    ax = get_axes(ax)
    single = len(reports) == 1
    for k, ((name, r), c) in enumerate(zip(reports.items(), categorical_colors(len(reports)))):
        df = r.to_pandas(kinds=kinds)
        if df.empty:
            raise ValueError(
                f"architecture_profile: no node of kinds {kinds} in {name or r.model!r}"
            )
        col = df[metric]
        y = (
            np.array([max(v) if v is not None else np.nan for v in col], dtype=float)
            if metric == "receptive_field"
            else col.to_numpy(float)
        )
        x = (
            np.arange(len(y))
            if single
            else (np.linspace(0, 1, len(y)) if len(y) > 1 else np.zeros(1))
        )
        ax.plot(x, y, marker="osD^v"[k % 5], color=c, label=name or None)
        if single:
            _layer_axis(ax, list(df["layer"]))
    if not single:
        ax.set_xlabel("relative depth (first layer 0, last 1)")
        ax.legend(fontsize="x-small")
    if log if log is not None else metric in ("output_dim", "params", "macs"):
        ax.set_yscale("log")
    ax.set_ylabel(metric.replace("_", " "))
    if title is not None:
        ax.set_title(title)
    record(
        ax,
        "architecture_profile",
        report if not single else next(iter(reports.values())),
        {"metric": metric, "kinds": list(kinds) if kinds else None},
    )
    return ax
