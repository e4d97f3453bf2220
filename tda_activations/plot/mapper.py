"""Mapper graphs with pie-chart nodes, the class dendrogram, and hierarchy trends by depth."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..types import MapperGraph
from ._common import as_frame, get_axes, require_columns
from ._provenance import record
from .style import categorical_colors

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = ["class_dendrogram", "hierarchy_trend", "mapper_pie_graph"]


def _layer_of(result: Any, layer: str | None) -> str:
    if layer is None:
        raise ValueError(
            "this is a LayerMapper: choose the layer to draw with layer=... (one of "
            f"{list(result.layers)[:5]}{' ...' if len(result.layers) > 5 else ''})"
        )
    if layer not in result.graphs:
        from ..types import unknown_name_error

        raise unknown_name_error("layer", layer, result.layers)
    return layer


def _pie_data(graph: Any, composition: Any, layer: str | None, level: str, seed: int) -> Any:
    from ..mapper import LayerMapper, NodeComposition, PieChartData, pie_chart_data

    if isinstance(graph, PieChartData):
        return graph
    if isinstance(graph, LayerMapper):
        layer = _layer_of(graph, layer)
        comps = graph.compositions[layer]
        if level not in comps:
            from ..types import unknown_name_error

            raise unknown_name_error("hierarchy level", level, comps)
        return pie_chart_data(graph.graphs[layer], comps[level], seed=seed)
    if isinstance(graph, MapperGraph):
        if composition is None:
            raise ValueError(
                "mapper_pie_graph: a MapperGraph needs its class composition: pass "
                "compositions=mapper.hierarchy_compositions(graph, labels, hierarchy) (or "
                "one class_composition(...)), or give a LayerMapper and layer="
            )
        if isinstance(composition, Mapping):
            if level not in composition:
                from ..types import unknown_name_error

                raise unknown_name_error("hierarchy level", level, composition)
            composition = composition[level]
        if not isinstance(composition, NodeComposition):
            raise TypeError(
                f"compositions must be a NodeComposition or a mapping level -> NodeComposition, "
                f"got {type(composition).__name__}"
            )
        return pie_chart_data(graph, composition, seed=seed)
    raise TypeError(
        "mapper_pie_graph needs a LayerMapper (with layer=), a MapperGraph (with compositions=) or "
        f"PieChartData, got {type(graph).__name__}"
    )


def _separate(
    pos: np.ndarray, radii: np.ndarray, *, gap: float, iterations: int = 300
) -> np.ndarray:
    """Move overlapping discs apart (deterministically), keeping the layout's shape.

    Each pass pushes every overlapping pair apart along the line between their
    centres (half each) until no two discs are closer than ``gap``; discs at the same
    spot are split along a fixed direction given by their indices.
    """
    p = np.array(pos, dtype=float, copy=True)
    n = p.shape[0]
    if n < 2:
        return p
    need = radii[:, None] + radii[None, :] + gap
    iu = np.triu_indices(n, 1)
    for _ in range(iterations):
        d = p[:, None, :] - p[None, :, :]
        dist = np.sqrt((d**2).sum(-1))
        over = (need - dist)[iu]
        hit = over > 1e-12
        if not hit.any():
            break
        i, j = iu[0][hit], iu[1][hit]
        dirs = d[i, j]
        norm = dist[i, j]
        tied = norm < 1e-12
        ang = (i[tied] * 0.618 + j[tied] * 0.382) * 2 * np.pi
        dirs[tied] = np.stack([np.cos(ang), np.sin(ang)], axis=1)
        norm = np.where(tied, 1.0, norm)
        step = (dirs / norm[:, None]) * (0.5 * over[hit])[:, None]
        move = np.zeros_like(p)
        np.add.at(move, i, step)
        np.add.at(move, j, -step)
        p += move
    return p


def mapper_pie_graph(
    graph: Any,
    *,
    compositions: Any = None,
    layer: str | None = None,
    level: str = "fine",
    ax: Any = None,
    seed: int = 0,
    colors: Sequence[str] | Literal["page"] | None = None,
    node_scale: float = 1.0,
    edge_color: str = "0.6",
    legend: bool = True,
    legend_cols: int | None = None,
    title: str | None = None,
    composition: Any = None,
) -> Axes:
    """A static Mapper graph whose nodes are pie charts of their class composition.

    Node area is proportional to the number of member points; each slice is the
    fraction of one class (or superclass, at ``level``) among them.  The layout is the
    seeded spring layout of :func:`~tda_activations.mapper.graph_layout` (the same as the
    offline HTML page), each connected component in its own cell.

    Parameters
    ----------
    graph
        A :class:`~tda_activations.mapper.LayerMapper` (choose ``layer``), a
        :class:`~tda_activations.types.MapperGraph` with ``compositions``, or
        :class:`~tda_activations.mapper.PieChartData`.
    compositions
        For a MapperGraph: the mapping level -> composition of ``hierarchy_compositions``
        (the keyword :func:`~tda_activations.mapper.to_html` takes too, and
        ``LayerMapper.compositions[layer]``), or one
        :class:`~tda_activations.mapper.NodeComposition`.
    layer
        For a LayerMapper: the layer to draw.
    level
        Hierarchy level of the slices (``"fine"``, ``"coarse"``, ...).
    ax
        Axes to draw into (default: a new figure).
    seed
        Seed of the spring layout.
    colors
        One colour per group; default colour-blind safe (Okabe-Ito / Tol muted up to
        10 groups); ``"page"``: the colours of the HTML page (tab10/tab20).
    node_scale
        Multiplies every node radius.
    edge_color
        Colour of the edges.
    legend
        A legend of the groups.
    legend_cols
        Columns of the legend (default: up to 5).
    title
        Axes title (default: ``"<layer> (<level>)"``).
    composition
        Deprecated alias of ``compositions`` (warns).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    TypeError
        If both ``compositions`` and the deprecated ``composition`` are given.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.patches import Patch, Wedge

    if composition is not None:
        if compositions is not None:
            raise TypeError(
                "mapper_pie_graph: give compositions= only (composition= is its deprecated alias)"
            )
        warnings.warn(
            "mapper_pie_graph(composition=) is deprecated; use compositions=, the "
            "keyword of mapper.to_html",
            FutureWarning,
            stacklevel=2,
        )
        compositions = composition
    data = _pie_data(graph, compositions, layer, level, seed)
    n_groups = len(data.group_names)
    if colors is None:
        cs = list(categorical_colors(n_groups))
    elif isinstance(colors, str) and colors == "page":
        cs = list(data.colors)
    else:
        cs = list(colors)
        if len(cs) < n_groups:
            raise ValueError(f"colors: {len(cs)} colours for {n_groups} groups")
    if not node_scale > 0:
        raise ValueError(f"node_scale must be positive, got {node_scale!r}")
    ax = get_axes(ax)
    pos = np.asarray(data.positions)
    n = pos.shape[0]
    if n:
        sizes = np.asarray(data.sizes, dtype=float)
        # the largest node gets a radius of 0.09 of the layout's [-1, 1] extent, scaled down
        # a little for crowded graphs; area is proportional to the member count
        r_max = 0.09 * node_scale * min(1.0, 3.0 / np.sqrt(max(n, 1)) + 0.35)
        radii = r_max * np.sqrt(sizes / max(sizes.max(), 1.0))
        radii = np.maximum(radii, 0.012 * node_scale)
        pos = _separate(pos, radii, gap=0.25 * float(radii.min()))
        if data.edges.size:
            segs = [[pos[a], pos[b]] for a, b in data.edges]
            ax.add_collection(LineCollection(segs, colors=edge_color, linewidths=0.6, zorder=1))
        for i in range(n):
            frac = np.asarray(data.fractions[i])
            start = 90.0
            for g in np.flatnonzero(frac > 0):
                sweep = 360.0 * frac[g]
                ax.add_patch(
                    Wedge(
                        tuple(pos[i]),
                        radii[i],
                        start,
                        start + sweep,
                        facecolor=cs[g],
                        edgecolor="white",
                        linewidth=0.15,
                        zorder=2,
                    )
                )
                start += sweep
            ax.add_patch(
                Wedge(
                    tuple(pos[i]),
                    radii[i],
                    0,
                    360,
                    facecolor="none",
                    edgecolor="0.25",
                    linewidth=0.3,
                    zorder=3,
                )
            )
        ax.autoscale_view()
    else:
        ax.text(
            0.5,
            0.5,
            "empty graph (no cluster found)",
            ha="center",
            va="center",
            transform=ax.transAxes,
            fontsize="small",
            color="0.4",
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.02)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if legend and n_groups:
        present = np.asarray(data.fractions).sum(axis=0) > 0 if n else np.ones(n_groups, bool)
        handles = [
            Patch(facecolor=cs[g], edgecolor="none", label=str(data.group_names[g]))
            for g in range(n_groups)
            if present[g]
        ]
        if handles:
            ax.legend(
                handles=handles,
                loc="upper center",
                bbox_to_anchor=(0.5, 0.0),
                ncol=legend_cols or min(5, len(handles)),
                frameon=False,
                handlelength=1.0,
                columnspacing=0.8,
            )
    label = data.label
    ax.set_title(
        title if title is not None else (f"{label} ({data.level})" if label else data.level)
    )
    record(
        ax, "mapper_pie_graph", data, {"level": data.level, "seed": seed, "node_scale": node_scale}
    )
    return ax


def class_dendrogram(
    classes: Any,
    *,
    layer: str | None = None,
    ax: Any = None,
    method: Literal["average", "complete", "single", "weighted"] = "average",
    hierarchy: Any = None,
    level: str | None = None,
    orientation: Literal["top", "left"] = "top",
    color: str = "0.2",
    title: str | None = None,
) -> Axes:
    """Dendrogram of the classes from a Mapper class graph (which classes share nodes).

    The height of a merge is ``1 - similarity`` of the class graph
    (:class:`~tda_activations.mapper.ClassGraph`), clustered with SciPy's ``linkage``.
    With a hierarchy, the class names are coloured by their group at ``level``, so a
    reader sees whether the graph recovers the superclasses.

    Parameters
    ----------
    classes
        A :class:`~tda_activations.mapper.ClassGraph`, a fine-level
        :class:`~tda_activations.mapper.NodeComposition`, or a
        :class:`~tda_activations.mapper.LayerMapper` (with ``layer``; its hierarchy is used).
    layer
        For a LayerMapper: the layer.
    ax
        Axes to draw into (default: a new figure).
    method
        SciPy linkage method.
    hierarchy
        A :class:`~tda_activations.types.ClassHierarchy` to colour the class names.
    level
        Level of the colouring (default: the first coarser level).
    orientation
        ``"top"`` (leaves at the bottom) or ``"left"`` (leaves on the right).
    color
        Colour of the links.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from scipy.cluster.hierarchy import dendrogram

    from ..mapper import ClassGraph, LayerMapper, NodeComposition, class_graph

    if isinstance(classes, LayerMapper):
        lyr = _layer_of(classes, layer)
        hierarchy = classes.hierarchy if hierarchy is None else hierarchy
        cg = class_graph(classes.compositions[lyr]["fine"])
        title = lyr if title is None else title
    elif isinstance(classes, NodeComposition):
        cg = class_graph(classes)
    elif isinstance(classes, ClassGraph):
        cg = classes
    else:
        raise TypeError(
            "class_dendrogram needs a ClassGraph, a NodeComposition or a LayerMapper "
            f"(with layer=), got {type(classes).__name__}"
        )
    if orientation not in ("top", "left"):
        raise ValueError(f"orientation must be 'top' or 'left', got {orientation!r}")
    z = cg.linkage(method=method)  # raises for fewer than two classes present
    present = np.flatnonzero(cg.present)
    names = [cg.class_names[i] for i in present]
    ax = get_axes(ax)
    dendrogram(
        z,
        ax=ax,
        labels=names,
        orientation=orientation,
        link_color_func=lambda _k: color,
        leaf_font_size=None,
    )
    value_axis = "y" if orientation == "top" else "x"
    getattr(ax, f"set_{value_axis}label")("1 - class-graph similarity")
    label_axis = "x" if orientation == "top" else "y"
    if hierarchy is not None and hierarchy.parents:
        lvl = level if level is not None else next(iter(hierarchy.parents))
        groups = hierarchy.map_labels(np.arange(len(hierarchy.class_names)), lvl)
        gnames = hierarchy.names(lvl)
        gcolors = categorical_colors(len(gnames))
        name_to_group = {hierarchy.class_names[i]: int(groups[i]) for i in range(len(groups))}
        for tick in getattr(ax, f"get_{label_axis}ticklabels")():
            g = name_to_group.get(tick.get_text())
            if g is not None:
                tick.set_color(gcolors[g])
                tick.set_fontweight("bold")
        from matplotlib.patches import Patch

        handles = [Patch(color=gcolors[g], label=str(gnames[g])) for g in range(len(gnames))]
        ax.legend(
            handles=handles,
            fontsize="xx-small",
            title=lvl,
            title_fontsize="xx-small",
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
        )
    for side in ("top", "right") if orientation == "top" else ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if title is not None:
        ax.set_title(title)
    record(ax, "class_dendrogram", cg, {"method": method, "level": level})
    return ax


def hierarchy_trend(
    result: Any,
    *,
    ax: Any = None,
    columns: Sequence[str] | None = None,
    x: Literal["depth", "layer"] = "depth",
    title: str | None = None,
) -> Axes:
    """How Mapper graphs organise the class hierarchy with depth: purity per level by layer.

    Parameters
    ----------
    result
        A :class:`~tda_activations.mapper.LayerMapper` or its ``.to_pandas()`` (one row per layer).
    ax
        Axes to draw into (default: a new figure).
    columns
        Columns of the table to draw (default: ``purity_<level>`` for every level).
    x
        ``"depth"`` (layer position, names as tick labels) or ``"layer"``.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from ..mapper import LayerMapper

    df = (
        result.to_pandas()
        if isinstance(result, LayerMapper)
        else as_frame(result, what="hierarchy_trend")
    )
    if columns is None:
        columns = [c for c in df.columns if str(c).startswith("purity_")]
        if not columns:
            raise ValueError(
                "hierarchy_trend: the table has no purity_<level> column; pass columns="
            )
    require_columns(df, list(columns), what="hierarchy_trend")
    if x not in ("depth", "layer"):
        raise ValueError(f"x must be 'depth' or 'layer', got {x!r}")
    ax = get_axes(ax)
    pos = np.arange(len(df))
    cs = categorical_colors(len(columns))
    markers = "osD^v<>p"
    for k, (col, c) in enumerate(zip(columns, cs)):
        ax.plot(
            pos,
            df[col].to_numpy(dtype=float),
            marker=markers[k % len(markers)],
            color=c,
            label=str(col).replace("purity_", "purity, ").replace("_", " "),
        )
    names = (
        [str(v) for v in df.index] if "layer" not in df.columns else [str(v) for v in df["layer"]]
    )
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=90, fontsize="x-small")
    ax.set_xlabel("layer (forward order)")
    ax.set_ylabel("value")
    if all(str(c).startswith("purity") for c in columns):
        ax.set_ylabel("weighted node purity")
        ax.set_ylim(0, 1.02)
    ax.legend(fontsize="x-small")
    if title is not None:
        ax.set_title(title)
    record(ax, "hierarchy_trend", df, {"columns": list(columns)})
    return ax
