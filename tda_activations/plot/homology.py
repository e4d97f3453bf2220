"""Persistence diagrams, barcodes and Betti curves per layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..types import Diagrams
from ._common import depth_colors, get_axes
from ._provenance import record
from .style import categorical_colors

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["barcode", "betti_curves", "persistence_diagram"]


def _as_dgms(diagrams: Any, what: str) -> tuple[list[tuple[int, np.ndarray]], str]:
    """``[(dim, (k, 2) array), ...]`` and a label."""
    if isinstance(diagrams, Diagrams):
        return [(d, np.asarray(diagrams[d])) for d in range(diagrams.maxdim + 1)], diagrams.label
    try:
        arr = np.asarray(diagrams, dtype=float) if not isinstance(diagrams, (list, tuple)) else None
    except (TypeError, ValueError):
        arr = None
    if arr is not None and arr.ndim == 2 and arr.shape[1] == 2:
        return [(-1, arr)], ""
    if isinstance(diagrams, (list, tuple)):
        out = []
        for d, item in enumerate(diagrams):
            try:
                a = (
                    np.asarray(item, dtype=float).reshape(-1, 2)
                    if np.size(item)
                    else np.zeros((0, 2))
                )
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"{what}: item {d} is not a (k, 2) array of (birth, death) pairs"
                ) from exc
            out.append((d, a))
        if out:
            return out, ""
    raise TypeError(
        f"{what} needs Diagrams, a (k, 2) array or a list of (k, 2) arrays (one per "
        f"dimension), got {type(diagrams).__name__}"
    )


def _select(
    dgms: list[tuple[int, np.ndarray]], dims: Sequence[int] | int | None
) -> list[tuple[int, np.ndarray]]:
    if dims is None:
        return dgms
    wanted = [int(dims)] if isinstance(dims, (int, np.integer)) else [int(d) for d in dims]
    have = {d for d, _ in dgms}
    missing = [d for d in wanted if d not in have]
    if missing:
        raise ValueError(
            f"dimension(s) {missing} were not computed; the diagrams have {sorted(have)}"
        )
    return [(d, a) for d, a in dgms if d in wanted]


def _check_finite_births(dgms: list[tuple[int, np.ndarray]]) -> None:
    for d, a in dgms:
        if a.size and (np.isnan(a).any() or not np.isfinite(a[:, 0]).all()):
            raise ValueError(f"diagram H{d}: births must be finite and no value NaN")


def _dim_label(d: int) -> str:
    return "diagram" if d < 0 else f"$H_{d}$"


def persistence_diagram(
    diagrams: Diagrams | np.ndarray | Sequence[np.ndarray],
    *,
    ax: Any = None,
    dims: int | Sequence[int] | None = None,
    colors: Sequence[str] | None = None,
    marker_size: float = 8.0,
    essential: bool = True,
    diagonal: bool = True,
    legend: bool = True,
    title: str | None = None,
) -> Axes:
    """Persistence diagram: (birth, death) of every bar, one colour per homology dimension.

    Essential bars (death ``inf``) are drawn as triangles on a dashed line marked
    ``inf`` above every finite death.

    Parameters
    ----------
    diagrams
        :class:`~tda_activations.types.Diagrams`, one ``(k, 2)`` array, or a list of
        arrays (list index = dimension).
    ax
        Axes to draw into (default: a new figure).
    dims
        Dimensions to draw (default: all computed).
    colors
        One colour per drawn dimension (default: colour-blind safe).
    marker_size
        Marker area in points^2.
    essential
        Draw the essential bars.
    diagonal
        Draw the diagonal ``death = birth``.
    legend
        A legend of the dimensions.
    title
        Axes title (default: the diagrams' label).

    Returns
    -------
    matplotlib.axes.Axes
    """
    dgms, label = _as_dgms(diagrams, "persistence_diagram")
    dgms = _select(dgms, dims)
    _check_finite_births(dgms)
    ax = get_axes(ax)
    cs = list(colors) if colors is not None else list(categorical_colors(max(len(dgms), 1)))
    if len(cs) < len(dgms):
        raise ValueError(f"colors: {len(cs)} colours for {len(dgms)} dimensions")
    values = [a[np.isfinite(a)] for _, a in dgms]
    allv = np.concatenate(values) if values else np.zeros(0)
    lo = float(min(0.0, allv.min())) if allv.size else 0.0
    hi = float(allv.max()) if allv.size else 1.0
    if hi <= lo:
        hi = lo + 1.0
    span = hi - lo
    inf_y = hi + 0.1 * span
    any_essential = False
    for (d, a), c in zip(dgms, cs):
        fin = np.isfinite(a[:, 1])
        ax.scatter(
            a[fin, 0],
            a[fin, 1],
            s=marker_size,
            color=c,
            alpha=0.75,
            linewidths=0,
            label=f"{_dim_label(d)} ({int(fin.sum())}{' + ' + str(int((~fin).sum())) + ' ess.' if (~fin).any() and essential else ''})",
            zorder=3,
        )
        if essential and (~fin).any():
            any_essential = True
            ax.scatter(
                a[~fin, 0],
                np.full(int((~fin).sum()), inf_y),
                s=marker_size * 2.5,
                marker="^",
                color=c,
                edgecolors="black",
                linewidths=0.4,
                zorder=4,
                clip_on=False,
            )
    top = inf_y + 0.05 * span if any_essential else hi + 0.05 * span
    if diagonal:
        ax.plot([lo, top], [lo, top], color="0.5", lw=0.6, zorder=1)
    ax.set_xlim(lo - 0.02 * span, top)
    ax.set_ylim(lo - 0.02 * span, top)
    if any_essential:
        ax.axhline(inf_y, color="0.5", lw=0.6, ls="--", zorder=1)
        # the y ticks: the finite ones below the largest death, and "inf" on the dashed line
        from matplotlib.ticker import MaxNLocator

        ticks = [
            t
            for t in MaxNLocator(nbins=5).tick_values(lo, hi)
            if lo - 1e-12 <= t <= hi - 0.04 * span
        ]
        ax.set_yticks([*ticks, inf_y], labels=[f"{t:g}" for t in ticks] + [r"$\infty$"])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("birth")
    ax.set_ylabel("death")
    if legend and dgms:
        ax.legend(loc="lower right", fontsize="x-small", markerscale=1.5)
    if title is not None or label:
        ax.set_title(title if title is not None else label)
    record(
        ax, "persistence_diagram", diagrams, {"dims": [d for d, _ in dgms], "essential": essential}
    )
    return ax


def barcode(
    diagrams: Diagrams | np.ndarray | Sequence[np.ndarray],
    *,
    ax: Any = None,
    dims: int | Sequence[int] | None = None,
    max_bars: int | None = 50,
    colors: Sequence[str] | None = None,
    linewidth: float = 1.2,
    legend: bool = True,
    title: str | None = None,
) -> Axes:
    """Barcode: one horizontal bar per homology class, grouped by dimension.

    Within a dimension the bars are sorted by birth; essential bars run to the right
    edge and end in an arrow.

    Parameters
    ----------
    diagrams
        As in :func:`persistence_diagram`.
    ax
        Axes to draw into (default: a new figure).
    dims
        Dimensions to draw (default: all).
    max_bars
        Keep only the longest bars of each dimension (essential ones first);
        ``None`` keeps all.  The count left out is written in the legend.
    colors
        One colour per drawn dimension.
    linewidth
        Bar thickness in points.
    legend
        A legend of the dimensions.
    title
        Axes title (default: the diagrams' label).

    Returns
    -------
    matplotlib.axes.Axes
    """
    dgms, label = _as_dgms(diagrams, "barcode")
    dgms = _select(dgms, dims)
    _check_finite_births(dgms)
    if max_bars is not None and (not isinstance(max_bars, (int, np.integer)) or max_bars < 1):
        raise ValueError(f"max_bars must be a positive integer or None, got {max_bars!r}")
    ax = get_axes(ax)
    cs = list(colors) if colors is not None else list(categorical_colors(max(len(dgms), 1)))
    if len(cs) < len(dgms):
        raise ValueError(f"colors: {len(cs)} colours for {len(dgms)} dimensions")
    finite_vals = [a[np.isfinite(a)] for _, a in dgms]
    allv = np.concatenate(finite_vals) if finite_vals else np.zeros(0)
    lo = float(min(0.0, allv.min())) if allv.size else 0.0
    hi = float(allv.max()) if allv.size else 1.0
    if hi <= lo:
        hi = lo + 1.0
    right = hi + 0.08 * (hi - lo)
    y = 0
    for (d, a), c in zip(dgms, cs):
        pers = np.where(np.isfinite(a[:, 1]), a[:, 1] - a[:, 0], np.inf)
        keep = np.argsort(-pers, kind="stable")
        dropped = 0
        if max_bars is not None and keep.size > max_bars:
            dropped = keep.size - int(max_bars)
            keep = keep[: int(max_bars)]
        bars = a[keep]
        bars = bars[np.lexsort((bars[:, 1], bars[:, 0]))]
        ys = y + np.arange(bars.shape[0])
        ends = np.where(np.isfinite(bars[:, 1]), bars[:, 1], right)
        lab = f"{_dim_label(d)}" + (f" ({dropped} shorter not shown)" if dropped else "")
        ax.hlines(ys, bars[:, 0], ends, color=c, lw=linewidth, label=lab if bars.size else None)
        ess = ~np.isfinite(bars[:, 1])
        if ess.any():
            ax.scatter(
                np.full(int(ess.sum()), right),
                ys[ess],
                marker=">",
                s=10,
                color=c,
                zorder=3,
                clip_on=False,
            )
        y += bars.shape[0] + 2
    ax.set_xlim(lo, right + 0.02 * (hi - lo))
    ax.set_ylim(-1, max(y - 1, 1))
    ax.invert_yaxis()
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("filtration value")
    if legend and dgms:
        ax.legend(loc="lower right", fontsize="x-small")
    if title is not None or label:
        ax.set_title(title if title is not None else label)
    record(ax, "barcode", diagrams, {"dims": [d for d, _ in dgms], "max_bars": max_bars})
    return ax


def betti_curves(
    diagrams: Mapping[str, Diagrams] | Diagrams,
    *,
    ax: Any = None,
    dim: int = 1,
    grid: Any = None,
    n_grid: int = 256,
    scale: Literal["absolute", "relative"] = "absolute",
    cmap: str = "viridis",
    legend: bool | Literal["auto"] = "auto",
    title: str | None = None,
) -> Axes:
    """Betti curves ``beta_dim(t)`` of every layer, coloured from shallow to deep.

    Parameters
    ----------
    diagrams
        Layer -> :class:`~tda_activations.types.Diagrams` in forward order (from
        :func:`~tda_activations.homology.layer_persistence`), or one Diagrams.
    ax
        Axes to draw into (default: a new figure).
    dim
        Homology dimension.
    grid
        Filtration values (default: ``n_grid`` points from 0 to just past the largest
        finite death of any layer).
    n_grid
        Points of the default grid.
    scale
        ``"absolute"``: filtration values as they are; ``"relative"``: each layer's
        values divided by its largest finite death (layers at different scales overlay).
    cmap
        Sequential colour map along depth.
    legend
        ``"auto"``: a legend for up to 8 layers, a depth colour bar beyond.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from ..homology import betti_curve

    if isinstance(diagrams, Diagrams):
        layers = {diagrams.label or "diagrams": diagrams}
    elif isinstance(diagrams, Mapping):
        layers = dict(diagrams)
        bad = [k for k, v in layers.items() if not isinstance(v, Diagrams)]
        if bad:
            raise TypeError(f"betti_curves: the value for {bad[0]!r} is not Diagrams")
    else:
        raise TypeError(
            f"betti_curves needs a mapping layer -> Diagrams or one Diagrams, got "
            f"{type(diagrams).__name__}"
        )
    if not layers:
        raise ValueError("betti_curves: no diagrams given")
    if scale not in ("absolute", "relative"):
        raise ValueError(f"scale must be 'absolute' or 'relative', got {scale!r}")
    for name, dg in layers.items():
        if dim > dg.maxdim:
            raise ValueError(
                f"betti_curves: layer {name!r} was computed up to H{dg.maxdim}; "
                f"dim={dim} needs maxdim >= {dim}"
            )

    def max_death(dg: Diagrams) -> float:
        fin = dg.finite(dim)
        vals = np.concatenate([fin.ravel(), dg.essential(dim)])
        return float(vals.max()) if vals.size else 0.0

    if grid is None:
        if scale == "relative":
            g = np.linspace(0.0, 1.05, int(n_grid))
        else:
            top = max(max_death(dg) for dg in layers.values())
            g = np.linspace(0.0, (top if top > 0 else 1.0) * 1.05, int(n_grid))
    else:
        g = np.asarray(grid, dtype=float)
    ax = get_axes(ax)
    colors = depth_colors(len(layers), cmap=cmap)
    for (name, dg), c in zip(layers.items(), colors):
        s = max_death(dg) if scale == "relative" else 1.0
        s = s if s > 0 else 1.0
        curve = betti_curve(dg[dim] / np.array([s, s]), grid=g, dim=dim)
        ax.step(g, curve, where="post", color=c, lw=0.9, label=name)
    show_legend = (len(layers) <= 8) if legend == "auto" else bool(legend)
    if show_legend:
        ax.legend(fontsize="xx-small", loc="upper right")
    elif legend == "auto" and len(layers) > 1:
        import matplotlib as mpl

        sm = mpl.cm.ScalarMappable(
            cmap=mpl.colors.LinearSegmentedColormap.from_list("depth", colors),
            norm=mpl.colors.Normalize(0, len(layers) - 1),
        )
        cb = ax.figure.colorbar(sm, ax=ax, pad=0.02, shrink=0.85)
        cb.set_label("layer depth")
        cb.outline.set_linewidth(0.5)
    ax.set_xlabel("filtration value" + (" / largest death" if scale == "relative" else ""))
    ax.set_ylabel(f"Betti number $\\beta_{dim}$")
    ax.set_xlim(g[0], g[-1])
    ax.set_ylim(bottom=0)
    if title is not None:
        ax.set_title(title)
    record(ax, "betti_curves", diagrams, {"dim": dim, "scale": scale, "n_grid": int(g.size)})
    return ax
