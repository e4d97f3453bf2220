"""Sensitivity and layer-correspondence curves (the experiments stage's tidy tables)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import as_frame, get_axes, require_columns
from ._provenance import record
from .style import categorical_colors

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["correspondence_curve", "sensitivity_curve", "tidy_curve"]

_SENS_X = (
    "fraction_removed",
    "n_removed",
    "n_components",
    "components",
    "k",
    "dimension",
    "fraction",
    "variance_kept",
    "explained_variance",
    "strength",
    "noise",
)
_SENS_Y = ("dissimilarity", "distance", "sensitivity", "value", "score")
_CORR_X = ("depth_a", "depth", "relative_depth", "layer_index", "layer", "offset")
_CORR_Y = (
    "credit",
    "accuracy",
    "correspondence_accuracy",
    "rate",
    "fraction_correct",
    "value",
    "score",
)
_HUE = ("measure", "metric", "layer", "model")


def _pick(df: Any, given: str | None, candidates: Sequence[str], what: str, role: str) -> str:
    if given is not None:
        require_columns(df, [given], what=what)
        return given
    for c in candidates:
        if c in df.columns:
            return c
    raise ValueError(
        f"{what}: cannot tell which column is {role}; pass {role}= (columns: {list(df.columns)})"
    )


def _pick_hue(df: Any, hue: str | None | bool, exclude: Sequence[str], what: str) -> str | None:
    if hue is False:
        return None
    if isinstance(hue, str):
        require_columns(df, [hue], what=what)
        return hue
    for c in _HUE:
        if c in df.columns and c not in exclude and df[c].nunique() > 1:
            return c
    return None


def tidy_curve(
    table: Any,
    *,
    x: str,
    y: str,
    hue: str | None = None,
    ax: Any = None,
    spread: str | None = "std",
    lower: str | None = None,
    upper: str | None = None,
    categorical_x: bool | None = None,
    colors: Sequence[str] | None = None,
    markers: bool = True,
    legend: bool = True,
    function: str = "tidy_curve",
) -> Axes:
    """Line per ``hue`` of ``y`` against ``x`` from a tidy table; repeats are averaged.

    Rows with the same ``(hue, x)`` (seeds, models) are averaged and drawn with a band
    of +-1 standard deviation (``spread="std"``), the standard error (``"se"``) or
    nothing (``None``); or give explicit ``lower``/``upper`` columns.

    Parameters
    ----------
    table
        A tidy table (a ``pandas.DataFrame`` or what can be turned into one).
    x, y
        Columns of the x and y values.
    hue
        Column whose values get one line each (default: a single line).
    ax
        Axes to draw into (default: a new figure).
    spread
        Band around the mean: ``"std"``, ``"se"`` or ``None``.
    lower, upper
        Columns of an explicit band (both needed; they replace ``spread``).
    categorical_x
        Treat ``x`` as categories (default: when the column is not numeric).
    colors
        One colour per line (default: :func:`categorical_colors`).
    markers
        Draw a marker at each point.
    legend
        Draw a legend (when ``hue`` is given).
    function
        Name recorded in the figure's provenance and used in error messages.

    Returns
    -------
    matplotlib.axes.Axes
    """
    df = as_frame(table, what=function)
    require_columns(
        df, [x, y] + ([hue] if hue else []) + [c for c in (lower, upper) if c], what=function
    )
    if spread not in (None, "std", "se"):
        raise ValueError(f"spread must be 'std', 'se' or None, got {spread!r}")
    if df.empty:
        raise ValueError(f"{function}: the table is empty")
    ax = get_axes(ax)
    groups = list(dict.fromkeys(df[hue])) if hue else [None]
    cs = list(colors) if colors is not None else list(categorical_colors(len(groups)))
    if len(cs) < len(groups):
        raise ValueError(f"colors: {len(cs)} colours for {len(groups)} lines")
    if categorical_x is None:
        categorical_x = not np.issubdtype(df[x].dtype, np.number)
    xorder: list[Any] = list(dict.fromkeys(df[x])) if categorical_x else []
    for k, (g, c) in enumerate(zip(groups, cs)):
        sub = df if g is None else df[df[hue] == g]
        agg = sub.groupby(x, sort=not categorical_x)[y].agg(["mean", "std", "count"])
        if categorical_x:
            agg = agg.reindex([v for v in xorder if v in agg.index])
            xs = np.array([xorder.index(v) for v in agg.index], dtype=float)
        else:
            xs = agg.index.to_numpy(dtype=float)
        ys = agg["mean"].to_numpy(float)
        ax.plot(
            xs,
            ys,
            marker="osD^v<>"[k % 7] if markers else None,
            color=c,
            label=str(g) if g is not None else None,
        )
        if lower and upper:
            lo = (
                sub.groupby(x, sort=not categorical_x)[lower]
                .mean()
                .reindex(agg.index)
                .to_numpy(float)
            )
            hi = (
                sub.groupby(x, sort=not categorical_x)[upper]
                .mean()
                .reindex(agg.index)
                .to_numpy(float)
            )
            ax.fill_between(xs, lo, hi, color=c, alpha=0.2, linewidth=0)
        elif spread and (agg["count"] > 1).any():
            sd = agg["std"].fillna(0.0).to_numpy(float)
            if spread == "se":
                sd = sd / np.sqrt(agg["count"].to_numpy(float))
            ax.fill_between(xs, ys - sd, ys + sd, color=c, alpha=0.2, linewidth=0)
    if categorical_x:
        ax.set_xticks(range(len(xorder)))
        ax.set_xticklabels([str(v) for v in xorder], rotation=90, fontsize="x-small")
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(y.replace("_", " "))
    if legend and hue:
        ax.legend(fontsize="x-small", title=hue.replace("_", " "), title_fontsize="x-small")
    record(ax, function, df, {"x": x, "y": y, "hue": hue, "spread": spread})
    return ax


def sensitivity_curve(
    result: Any,
    *,
    ax: Any = None,
    x: str | None = None,
    y: str | None = None,
    hue: str | None | bool = None,
    spread: str | None = "std",
    layer: str | None = None,
    normalize: bool = False,
    logx: bool = False,
    title: str | None = None,
) -> Axes:
    """Sensitivity curves: distance to the original layer as information is removed.

    The cloud is projected onto fewer principal directions (or perturbed more); one line
    per layer or measure.

    A sensitive measure grows as information is removed; a curve that stays flat
    misses what was removed.

    Parameters
    ----------
    result
        A :class:`~tda_activations.experiments.SensitivityResult` (its ``curves``: the
        dissimilarity to the original cloud against the fraction of principal directions
        removed, one line per measure), or any tidy table with ``to_pandas()``: one row
        per (line, amount removed, repeat).
    ax
        Axes to draw into (default: a new figure).
    x, y, hue
        Columns (default: found among the usual names: ``n_components``/``k``/...,
        ``distance``/``value``..., ``measure``/``layer``/``model``); ``hue=False``: one line.
    spread
        Band over repeats: ``"std"``, ``"se"`` or ``None``.
    layer
        Draw only this layer (a ``layer`` column); without it, rows of several layers
        are averaged, with the band over layers.
    normalize
        Divide each line by its largest absolute value, so measures on different scales
        (a sliced Wasserstein distance, ``1 - CKA``) share one axis.
    logx
        Logarithmic x axis (components often span orders of magnitude).
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    curves = getattr(result, "curves", None)
    df = as_frame(curves if curves is not None else result, what="sensitivity_curve")
    if layer is not None:
        require_columns(df, ["layer"], what="sensitivity_curve")
        if layer not in set(df["layer"]):
            from ..types import unknown_name_error

            raise unknown_name_error("layer", layer, list(dict.fromkeys(df["layer"])))
        df = df[df["layer"] == layer]
    xc = _pick(df, x, _SENS_X, "sensitivity_curve", "x")
    yc = _pick(df, y, _SENS_Y, "sensitivity_curve", "y")
    hc = _pick_hue(df, hue, (xc, yc), "sensitivity_curve")
    if normalize:
        df = df.copy()
        scale = (
            df.groupby(hc)[yc].transform(lambda v: np.nanmax(np.abs(v)))
            if hc
            else np.nanmax(np.abs(df[yc]))
        )
        df[yc] = df[yc] / np.where(np.asarray(scale) > 0, scale, 1.0)
    ax = tidy_curve(df, x=xc, y=yc, hue=hc, ax=ax, spread=spread, function="sensitivity_curve")
    if logx:
        ax.set_xscale("log")
    ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
    if xc == "fraction_removed":
        ax.set_xlabel("fraction of principal directions removed")
    if yc == "dissimilarity":
        ax.set_ylabel("dissimilarity to the original" + (" (relative)" if normalize else ""))
    n_layers = df["layer"].nunique() if "layer" in df.columns else 1
    if title is not None:
        ax.set_title(title)
    elif layer is not None:
        ax.set_title(layer)
    elif n_layers > 1:
        ax.set_title(f"mean over {n_layers} layers")
    return ax


def correspondence_curve(
    result: Any,
    *,
    ax: Any = None,
    x: str | None = None,
    y: str | None = None,
    hue: str | None | bool = None,
    spread: str | None = "std",
    chance: float | str | None = "auto",
    title: str | None = None,
) -> Axes:
    """Specificity: how often the nearest layer of another seed's model has the same depth.

    By depth, one line per measure.

    Parameters
    ----------
    result
        A :class:`~tda_activations.experiments.CorrespondenceResult` (its ``matches``:
        the credit of each layer of model A for finding the same-depth layer of model B,
        averaged over model pairs by depth, chance from its ``table``), or any tidy
        table with ``to_pandas()``: one row per (measure, layer depth, model pair).
    ax
        Axes to draw into (default: a new figure).
    x, y, hue
        Columns (default: found among ``depth``/``layer``..., ``accuracy``/...,
        ``measure``/...); ``hue=False``: one line.
    spread
        Band over repeats (model pairs): ``"std"``, ``"se"`` or ``None``.
    chance
        A horizontal chance line: a number, a column name holding it, ``"auto"``
        (the ``chance`` column if there is one, else ``1 / number of depths`` when ``y``
        is an accuracy) or ``None``.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    matches = getattr(result, "matches", None)
    table = getattr(result, "table", None)
    df = as_frame(matches if matches is not None else result, what="correspondence_curve")
    if chance == "auto" and table is not None and "chance" not in df.columns:
        sdf = as_frame(table, what="correspondence_curve")
        if "chance" in sdf.columns:
            chance = float(sdf["chance"].mean())
    xc = _pick(df, x, _CORR_X, "correspondence_curve", "x")
    yc = _pick(df, y, _CORR_Y, "correspondence_curve", "y")
    hc = _pick_hue(df, hue, (xc, yc), "correspondence_curve")
    ax = tidy_curve(df, x=xc, y=yc, hue=hc, ax=ax, spread=spread, function="correspondence_curve")
    level = None
    if isinstance(chance, (int, float)) and not isinstance(chance, bool):
        level = float(chance)
    elif isinstance(chance, str) and chance != "auto":
        require_columns(df, [chance], what="correspondence_curve")
        level = float(df[chance].mean())
    elif chance == "auto":
        if "chance" in df.columns:
            level = float(df["chance"].mean())
        elif "accuracy" in yc or yc == "credit":
            level = 1.0 / max(df[xc].nunique(), 1)
    if level is not None:
        ax.axhline(level, color="0.5", lw=0.8, ls=":", label="chance")
    if yc in ("credit", "accuracy") or "accuracy" in yc or "rate" in yc or "fraction" in yc:
        ax.set_ylim(0, 1.02)
    if xc == "depth_a":
        ax.set_xlabel("layer depth (model A)")
    if yc == "credit":
        ax.set_ylabel("correspondence accuracy")
    if title is not None:
        ax.set_title(title)
    return ax
