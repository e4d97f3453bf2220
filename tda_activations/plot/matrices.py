"""Layer x layer heatmaps, cross-model heatmaps and MDS embeddings of layers."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._figure_labels import figure_label
from ..types import LayerMatrix
from ._common import (
    BlockSpec,
    block_boundaries,
    block_groups,
    check_axes,
    finite_or_error,
    get_axes,
)
from ._provenance import record
from .style import categorical_colors

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

__all__ = [
    "cross_model_heatmap",
    "embed_layers",
    "heatmap_geometry",
    "layer_embedding",
    "layer_heatmap",
    "matrix_cmap",
]

_MAX_TICKS = 40
_MAX_CELL_IN = 0.42  # a small matrix stops growing here, so its fonts stay in proportion
_MIN_TICK_PT = 5.0  # the smallest tick label that still prints legibly
_SIZED = "tda_activations.heatmap_geometry"  # gid of a figure sized by the rule
_CBAR_IN = 0.95  # colour bar, its ticks and its (wrapped) label


def _text_in(labels: Sequence[str], size_pt: float) -> float:
    """Approximate width in inches of the longest label at ``size_pt`` (DejaVu Sans)."""
    return max((len(lbl) for lbl in labels), default=0) * 0.6 * size_pt / 72.0


def _font_pt(size: Any) -> float:
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=size).get_size_in_points())


def heatmap_geometry(
    n_rows: int,
    n_cols: int,
    *,
    row_labels: Sequence[str] = (),
    col_labels: Sequence[str] = (),
    width: float | None = None,
    colorbar: bool = True,
    title: bool = True,
) -> tuple[tuple[float, float], float]:
    """The one sizing rule of heatmaps: figure size and tick font size for a matrix.

    Cells are square and as large as the width allows (at most 0.42 in, so that a
    3 x 3 matrix does not get huge cells for its fonts); the tick font follows the cell
    (between 5 pt and the tick size in force); the figure is exactly as tall as the
    cells, the rotated column labels and the title need (no empty margin).

    Parameters
    ----------
    n_rows, n_cols
        Shape of the matrix.
    row_labels, col_labels
        The tick labels that will be written (for their widths).
    width
        The width available in inches (default: the figure width in force, which
        :func:`~tda_activations.plot.paper_style` sets to the column width).
    colorbar
        Whether room is kept for a colour bar.
    title
        Whether room is kept for a title.

    Returns
    -------
    tuple
        ``((width, height), tick_font_pt)``.

    Raises
    ------
    ValueError
        If a dimension is not positive.
    """
    import matplotlib as mpl

    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"heatmap_geometry needs a non-empty matrix, got {n_rows} x {n_cols}")
    avail = float(width if width is not None else mpl.rcParams["figure.figsize"][0])
    base = _font_pt(mpl.rcParams["ytick.labelsize"])
    font = base
    cell = _MAX_CELL_IN
    for _ in range(3):  # the labels' width depends on the font, the font on the cell
        side = _text_in(row_labels, font) + 0.12 + (_CBAR_IN if colorbar else 0.0) + 0.1
        cell = min(_MAX_CELL_IN, max(avail - side, 0.5) / n_cols)
        font = float(np.clip(cell * 72.0 * 0.8, _MIN_TICK_PT, base))
    side = _text_in(row_labels, font) + 0.12 + (_CBAR_IN if colorbar else 0.0) + 0.1
    title_in = 2.0 * _font_pt(mpl.rcParams["axes.titlesize"]) / 72.0 if title else 0.05
    # rotated column labels: their width (with a margin for wide glyphs) sets the bottom
    height = n_rows * cell + 1.15 * _text_in(col_labels, font) + 0.25 + title_in
    return (min(avail, n_cols * cell + side), height), font


def _tick_pt(axis: Any) -> float:
    """Font size in points of an axis's tick labels (the size in force when it has none)."""
    import matplotlib as mpl

    labels = axis.get_ticklabels()
    default = (
        mpl.rcParams["xtick.labelsize"]
        if axis.axis_name == "x"
        else mpl.rcParams["ytick.labelsize"]
    )
    return _font_pt(labels[0].get_fontsize() if labels else default)


def _cell_pt(ax: Any, n_rows: int, n_cols: int) -> float:
    """Side of one cell in points, for axes already laid out."""
    bbox = ax.get_position()
    w, h = ax.figure.get_size_inches()
    return 72.0 * min(bbox.width * w / max(n_cols, 1), bbox.height * h / max(n_rows, 1))


def _check_matrix(matrix: Any, what: str) -> LayerMatrix:
    if not isinstance(matrix, LayerMatrix):
        raise TypeError(
            f"{what} needs a LayerMatrix (from homology.distance_matrix, "
            f"similarity.similarity_matrix, ...), got {type(matrix).__name__}"
        )
    if 0 in matrix.shape:
        raise ValueError(f"{what}: the matrix is empty ({matrix.shape}); give at least one layer")
    return matrix


def matrix_cmap(matrix: LayerMatrix) -> tuple[str, bool]:
    """The colour map a matrix is drawn with, and whether it is centred at zero.

    A distance is drawn with ``magma_r`` and a similarity with ``viridis`` (both
    perceptually uniform and colour-blind safe; in both, lighter = closer); a similarity
    with negative entries (a correlation) with the diverging ``RdBu_r`` centred at 0.

    Parameters
    ----------
    matrix
        The matrix.

    Returns
    -------
    tuple
        ``(cmap_name, centred)``.
    """
    if matrix.kind == "distance":
        return "magma_r", False
    vals = np.asarray(matrix.values)
    finite = vals[np.isfinite(vals)]
    if finite.size and finite.min() < 0:
        return "RdBu_r", True
    return "viridis", False


def _ticks(
    ax: Any, axis: str, labels: Sequence[str], tick_labels: bool | str, fontsize: Any
) -> None:
    n = len(labels)
    if tick_labels is False:
        getattr(ax, f"set_{axis}ticks")([])
        return
    step = 1 if (tick_labels is True or n <= _MAX_TICKS) else int(np.ceil(n / _MAX_TICKS))
    pos = list(range(0, n, step))
    getattr(ax, f"set_{axis}ticks")(pos)
    kwargs: dict[str, Any] = {"fontsize": fontsize}
    if axis == "x":
        kwargs.update(rotation=90)
    getattr(ax, f"set_{axis}ticklabels")([labels[i] for i in pos], **kwargs)


def layer_heatmap(
    matrix: LayerMatrix,
    *,
    ax: Any = None,
    cmap: str | Any | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    blocks: BlockSpec = None,
    col_blocks: BlockSpec = None,
    block_color: str = "white",
    colorbar: bool = True,
    colorbar_label: str | None = None,
    annotate: bool | str = False,
    tick_labels: bool | Literal["auto"] = "auto",
    tick_fontsize: float | str | None = None,
    title: str | None = None,
    sep: str = "/",
) -> Axes:
    """Heatmap of a :class:`~tda_activations.types.LayerMatrix` with layer names on the axes.

    Parameters
    ----------
    matrix
        Any LayerMatrix: layer x layer, model A x model B, model x model.
    ax
        Axes to draw into (default: a new figure).
    cmap
        Colour map; default chosen by ``matrix.kind`` (:func:`matrix_cmap`).
    vmin, vmax
        Colour limits (default: the finite range; symmetric for a signed similarity).
    blocks
        Separators between stages of the network, for the rows (and the columns of a
        square matrix): ``"auto"`` (stage = first part of a dotted layer name, or the
        model before ``sep``), ``"model"``, boundary positions (``[3, 7]``), a mapping
        label -> stage, or a function label -> stage.
    col_blocks
        The same for the columns of a rectangular matrix (default: ``blocks``).
    block_color
        Colour of the separators.
    colorbar
        Draw a colour bar labelled with the measure.
    colorbar_label
        Label of the colour bar (default: the measure's short human label,
        :func:`~tda_activations.plot.figure_label`).
    annotate
        Write each value in its cell: ``True`` (``"{:.2g}"``) or a format string.
    tick_labels
        ``"auto"``: every label up to 40 per axis, then every k-th; ``True``/``False``.
    tick_fontsize
        Font size of the layer names (default: from the cell size,
        :func:`heatmap_geometry`; a new figure is also sized by that rule).
    title
        Axes title.
    sep
        Separator of ``model/layer`` labels (for ``blocks="auto"``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    m = _check_matrix(matrix, "layer_heatmap")
    if ax is None:
        show = tick_labels is not False
        size, font = heatmap_geometry(
            m.shape[0],
            m.shape[1],
            row_labels=m.row_labels if show else (),
            col_labels=m.col_labels if show else (),
            colorbar=colorbar,
            title=title is not None,
        )
        ax = get_axes(None, figsize=size)
        # a little more room than the layout measures: rotated labels end on the edge
        ax.figure.get_layout_engine().set(h_pad=0.06, w_pad=0.04)
        sized = True
    else:
        check_axes(ax)
        sized = ax.figure.get_gid() == _SIZED
        import matplotlib as mpl

        font = float(
            np.clip(
                _cell_pt(ax, *m.shape) * 0.8,
                _MIN_TICK_PT,
                _font_pt(mpl.rcParams["ytick.labelsize"]),
            )
        )
    tick_fontsize = font if tick_fontsize is None else tick_fontsize
    vals = np.asarray(m.values, dtype=float)
    default_cmap, centred = matrix_cmap(m)
    import matplotlib as mpl

    cm = (
        mpl.colormaps[cmap if cmap is not None else default_cmap]
        if (cmap is None or isinstance(cmap, str))
        else cmap
    )
    cm = cm.with_extremes(bad="#d9d9d9")
    finite = vals[np.isfinite(vals)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 1.0
    if centred and cmap is None:
        bound = max(abs(lo), abs(hi))
        lo, hi = -bound, bound
    vmin = lo if vmin is None else float(vmin)
    vmax = hi if vmax is None else float(vmax)
    im = ax.imshow(
        np.ma.masked_invalid(vals),
        cmap=cm,
        vmin=vmin,
        vmax=vmax,
        interpolation="nearest",
        # a figure sized by heatmap_geometry already has square cells; "auto" lets
        # constrained layout place the labels exactly (a fixed aspect can push them
        # off the figure)
        aspect="equal" if m.shape[0] == m.shape[1] and not sized else "auto",
    )
    _ticks(ax, "x", m.col_labels, tick_labels, tick_fontsize)
    _ticks(ax, "y", m.row_labels, tick_labels, tick_fontsize)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    square_same = m.row_labels == m.col_labels
    rgroups = block_groups(m.row_labels, blocks, sep=sep)
    cspec = (
        col_blocks
        if col_blocks is not None
        else (blocks if square_same or isinstance(blocks, str) else None)
    )
    cgroups = block_groups(m.col_labels, cspec, sep=sep)
    for b in block_boundaries(rgroups):
        ax.axhline(b - 0.5, color=block_color, lw=0.8)
    for b in block_boundaries(cgroups):
        ax.axvline(b - 0.5, color=block_color, lw=0.8)
    if annotate:
        fmt = "{:.2g}" if annotate is True else str(annotate)
        norm = im.norm
        for i in range(vals.shape[0]):
            for j in range(vals.shape[1]):
                v = vals[i, j]
                if not np.isfinite(v):
                    continue
                shade = cm(norm(v))
                lum = 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2]
                ax.text(
                    j,
                    i,
                    fmt.format(v),
                    ha="center",
                    va="center",
                    fontsize=0.85 * _font_pt(tick_fontsize),
                    color="black" if lum > 0.5 else "white",
                )
    if colorbar:
        label = colorbar_label if colorbar_label is not None else figure_label(m.measure)
        cb = ax.figure.colorbar(im, ax=ax, shrink=0.85, pad=0.02, fraction=0.08)
        cb.set_label(textwrap.fill(label, width=30))  # long measure names wrap, never overflow
        cb.outline.set_linewidth(0.5)
    if title is not None:
        ax.set_title(title)
    record(
        ax,
        "layer_heatmap",
        m,
        {
            "cmap": getattr(cm, "name", str(cm)),
            "vmin": vmin,
            "vmax": vmax,
            "blocks": blocks if isinstance(blocks, (str, type(None))) else "custom",
        },
    )
    return ax


def cross_model_heatmap(
    matrix: LayerMatrix,
    *,
    ax: Any = None,
    row_model: str | None = None,
    col_model: str | None = None,
    sep: str = "/",
    layer_ticks: bool | Literal["auto"] = "auto",
    **style: Any,
) -> Axes:
    """Heatmap of layers of several models: models as blocks, model names on the axes.

    Two layouts are understood:

    * labels ``"model/layer"`` (from :func:`~tda_activations.homology.stack_models` or a
      similarity matrix across models): the models are separated by lines and named at the
      centre of their block;
    * a rectangular matrix of model A's layers (rows) against model B's (columns), e.g.
      :func:`~tda_activations.homology.cross_distance_matrix`: name the models with
      ``row_model`` and ``col_model``.

    Parameters
    ----------
    matrix
        The LayerMatrix.
    ax
        Axes to draw into (default: a new figure).
    row_model, col_model
        Axis labels naming the models of the rows and columns.
    sep
        Separator between model and layer in the labels.
    layer_ticks
        Also write every layer name (``"auto"``: when at most 40 per axis).
    **style
        Passed to :func:`layer_heatmap` (``cmap``, ``vmin``, ``vmax``, ``colorbar``, ``title``...).

    Returns
    -------
    matplotlib.axes.Axes
    """
    m = _check_matrix(matrix, "cross_model_heatmap")
    stacked_rows = all(sep in l for l in m.row_labels)
    stacked_cols = all(sep in l for l in m.col_labels)
    if not (stacked_rows or stacked_cols) and row_model is None and col_model is None:
        raise ValueError(
            f"cross_model_heatmap: the labels are not 'model{sep}layer' and no model names were "
            "given; pass row_model= and col_model= (for a model A x model B matrix) or use "
            "layer_heatmap"
        )
    for key in ("blocks", "col_blocks", "tick_labels"):
        if key in style:
            raise TypeError(
                f"cross_model_heatmap sets {key} itself; use layer_heatmap to choose it"
            )
    show_layers = layer_ticks is True or (layer_ticks == "auto" and max(m.shape) <= _MAX_TICKS)
    if ax is None:  # size the figure for the labels actually written (layer part only)

        def short(labels: Sequence[str]) -> list[str]:
            return [lbl.split(sep, 1)[-1] for lbl in labels] if show_layers else ["model name"]

        size, _ = heatmap_geometry(
            m.shape[0],
            m.shape[1],
            row_labels=short(m.row_labels),
            col_labels=short(m.col_labels),
            colorbar=style.get("colorbar", True),
            title=style.get("title") is not None,
        )
        ax = get_axes(None, figsize=(size[0], size[1] + 0.25))
        ax.figure.set_gid(_SIZED)
    ax = layer_heatmap(
        m,
        ax=ax,
        sep=sep,
        blocks="model" if stacked_rows else None,
        col_blocks="model" if stacked_cols else None,
        tick_labels=bool(show_layers),
        **style,
    )
    for axis, labels, stacked, name in (
        ("y", m.row_labels, stacked_rows, row_model),
        ("x", m.col_labels, stacked_cols, col_model),
    ):
        if stacked:
            groups = [l.split(sep, 1)[0] for l in labels]
            if show_layers:
                getattr(ax, f"set_{axis}ticklabels")(
                    [
                        l.split(sep, 1)[1]
                        for l in [labels[int(t)] for t in getattr(ax, f"get_{axis}ticks")()]
                    ]
                )
            if len(set(groups)) == 1 and name is not None:
                groups = []  # one model, already named by the axis label: no second name
            if not groups:
                getattr(ax, f"set_{axis}label")(name)
                continue
            bounds = [0, *block_boundaries(groups), len(groups)]
            centres = [(a + b - 1) / 2 for a, b in zip(bounds[:-1], bounds[1:])]
            names = [groups[a] for a in bounds[:-1]]
            # model names on the left/top, never on the right where the colour bar is
            sec = ax.secondary_xaxis("top") if axis == "x" else ax.secondary_yaxis("left")
            if axis == "y" and show_layers:
                pad = (
                    _text_in([lbl.split(sep, 1)[-1] for lbl in labels], _tick_pt(ax.yaxis)) * 72 + 4
                )
                sec.tick_params(pad=pad)
            if not show_layers:
                getattr(ax, f"set_{axis}ticks")([])
            getattr(sec, f"set_{axis}ticks")(centres)
            getattr(sec, f"set_{axis}ticklabels")(
                names, **({"rotation": 0} if axis == "x" else {"rotation": 90, "va": "center"})
            )
            sec.tick_params(length=0)
            for spine in sec.spines.values():
                spine.set_visible(False)
            if axis == "x" and ax.get_title():  # lift the title above the model names
                ax.set_title(ax.get_title(), pad=2.2 * _tick_pt(ax.xaxis) + 6)
            if name is not None:
                sec.set_ylabel(name) if axis == "y" else sec.set_xlabel(name)
            continue
        if name is not None:
            getattr(ax, f"set_{axis}label")(name)
    return ax


# -------------------------------------------------------------------- embedding


def _as_distance(m: LayerMatrix, to_distance: str) -> np.ndarray:
    vals = np.asarray(m.values, dtype=float)
    if m.row_labels != m.col_labels:
        raise ValueError(
            "layer_embedding needs a square matrix with the same labels on rows and columns (all "
            "layers of all models against each other, e.g. distance_matrix(stack_models(...)))"
        )
    finite_or_error(vals, what="the matrix")
    if m.kind == "similarity":
        if to_distance == "kernel":
            d2 = np.diag(vals)[:, None] + np.diag(vals)[None, :] - 2 * vals
            vals = np.sqrt(np.clip(d2, 0.0, None))
        elif to_distance == "one_minus":
            vals = 1.0 - vals
        else:
            raise ValueError(f"to_distance must be 'kernel' or 'one_minus', got {to_distance!r}")
    vals = (vals + vals.T) / 2
    np.fill_diagonal(vals, 0.0)
    if (vals < -1e-12).any():
        raise ValueError("the dissimilarities have negative entries; an embedding needs d >= 0")
    return np.clip(vals, 0.0, None)


def _classical_mds(d: np.ndarray, k: int = 2) -> np.ndarray:
    n = d.shape[0]
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ (d**2) @ j
    w, v = np.linalg.eigh(b)
    order = np.argsort(w)[::-1][:k]
    w, v = w[order], v[:, order]
    x = v * np.sqrt(np.clip(w, 0.0, None))
    if x.shape[1] < k:
        x = np.hstack([x, np.zeros((n, k - x.shape[1]))])
    # a deterministic orientation: the largest coordinate of each axis is positive
    for c in range(x.shape[1]):
        i = int(np.argmax(np.abs(x[:, c])))
        if x[i, c] < 0:
            x[:, c] = -x[:, c]
    return x


def _groups_of(
    labels: Sequence[str], groups: Mapping[str, str] | None, sep: str
) -> list[tuple[str, str]]:
    out = []
    for l in labels:
        if groups is not None:
            if l not in groups:
                raise ValueError(
                    f"groups: no model given for label {l!r}; map every label to a model"
                )
            out.append((str(groups[l]), l))
        elif sep in l:
            model, layer = l.split(sep, 1)
            out.append((model, layer))
        else:
            out.append(("", l))
    return out


def embed_layers(
    matrix: LayerMatrix,
    *,
    method: Literal["classical", "metric"] = "classical",
    groups: Mapping[str, str] | None = None,
    sep: str = "/",
    to_distance: Literal["kernel", "one_minus"] = "kernel",
    seed: int = 0,
) -> Any:
    """Two-dimensional MDS coordinates of the layers of a layer-distance matrix.

    Parameters
    ----------
    matrix
        Square LayerMatrix over the layers of one or several models (labels
        ``"model/layer"`` in forward order within each model).
    method
        ``"classical"`` (Torgerson: eigenvectors of the double-centred squared
        distances; deterministic) or ``"metric"`` (scikit-learn's SMACOF, seeded).
    groups
        Label -> model, when the labels do not carry ``model/``.
    sep
        Separator between model and layer in the labels.
    to_distance
        How a similarity becomes a distance: ``"kernel"``,
        ``sqrt(s_ii + s_jj - 2 s_ij)`` (for CKA: ``sqrt(2 - 2 CKA)``), or ``"one_minus"``.
    seed
        Seed of the metric MDS.

    Returns
    -------
    pandas.DataFrame
        One row per label: ``label``, ``model``, ``layer``, ``depth`` (position within
        its model), ``x``, ``y``.
    """
    import pandas as pd

    m = _check_matrix(matrix, "embed_layers")
    d = _as_distance(m, to_distance)
    if method == "classical":
        xy = _classical_mds(d)
    elif method == "metric":
        from sklearn.manifold import MDS

        try:
            mds = MDS(
                n_components=2,
                metric="precomputed",
                random_state=seed,
                n_init=1,
                init="classical_mds",
            )
        except TypeError:  # scikit-learn < 1.8
            mds = MDS(
                n_components=2,
                dissimilarity="precomputed",
                random_state=seed,
                n_init=4,
                normalized_stress="auto",
            )
        xy = mds.fit_transform(d)
    else:
        raise ValueError(f"method must be 'classical' or 'metric', got {method!r}")
    pairs = _groups_of(m.row_labels, groups, sep)
    depth: dict[str, int] = {}
    rows = []
    for (model, layer), lab, (x, y) in zip(pairs, m.row_labels, xy):
        k = depth.get(model, 0)
        depth[model] = k + 1
        rows.append(
            {"label": lab, "model": model, "layer": layer, "depth": k, "x": float(x), "y": float(y)}
        )
    return pd.DataFrame(rows)


def _place_labels(
    ax: Any,
    labels: Sequence[tuple[str, tuple[float, float], tuple[float, float], Any]],
    *,
    obstacles: Sequence[tuple[float, float]] = (),
    fontsize: float,
    path_effects: Any = None,
    gap_pt: float = 5.0,
    iterations: int = 200,
) -> list[Any]:
    """Annotate points with labels that do not overlap each other (deterministically).

    Each label starts ``gap_pt`` points from its point along its outward direction (a
    trajectory's end direction), aligned so it grows away from the point; then, in display
    coordinates, overlapping label boxes push each other apart along the axis of least
    overlap (half each), and a label overlapping an obstacle (a marker) moves off it.
    Offsets are in points, so they hold at any figure size; a label moved far from its
    point gets a thin leader line.

    Parameters
    ----------
    ax
        Axes whose data limits and aspect are final.
    labels
        ``(text, (x, y), (dx, dy) outward direction in data units, colour)`` per label.
    obstacles
        Data points labels should not cover.
    fontsize
        Font size in points.
    path_effects
        Matplotlib path effects of the texts (e.g. a white halo).
    gap_pt
        Distance from the point to the label's nearest edge, in points.
    iterations
        Most repulsion passes.

    Returns
    -------
    list of matplotlib.text.Annotation
        The labels, in the order given.
    """
    if not labels:
        return []
    fig = ax.figure
    ax.apply_aspect()
    to_px = ax.transData.transform
    px_per_pt = fig.dpi / 72.0
    texts = []
    for text, xy, out, color in labels:
        d = to_px(np.add(xy, out)) - to_px(xy)
        norm = float(np.hypot(*d))
        u = d / norm if norm > 0 else np.array([np.sqrt(0.5), np.sqrt(0.5)])
        ha = "left" if u[0] > 0.38 else "right" if u[0] < -0.38 else "center"
        va = "bottom" if u[1] > 0.38 else "top" if u[1] < -0.38 else "center"
        t = ax.annotate(
            text,
            xy,
            xytext=tuple(gap_pt * u),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            color=color,
            path_effects=path_effects,
            zorder=5,
        )
        texts.append(t)
    renderer = fig.canvas.get_renderer()
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts])  # x0 y0 x1 y1
    centre = np.c_[(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2]
    half = np.c_[(boxes[:, 2] - boxes[:, 0]) / 2, (boxes[:, 3] - boxes[:, 1]) / 2]
    start = centre.copy()
    pad = 1.5 * px_per_pt
    marks = (
        to_px(np.asarray(obstacles, dtype=float).reshape(-1, 2))
        if len(obstacles)
        else np.empty((0, 2))
    )
    mark_half = 3.5 * px_per_pt  # about a marker's half width
    n = len(texts)
    for _ in range(iterations):
        moved = False
        for i in range(n):
            for j in range(i + 1, n):
                delta = centre[i] - centre[j]
                over = half[i] + half[j] + pad - np.abs(delta)
                if (over > 0).all():
                    k = int(np.argmin(over))  # the cheaper axis to separate on
                    sign = np.sign(delta[k]) or (1.0 if i < j else -1.0)
                    centre[i, k] += sign * over[k] / 2
                    centre[j, k] -= sign * over[k] / 2
                    moved = True
            for m in marks:
                delta = centre[i] - m
                over = half[i] + mark_half - np.abs(delta)
                if (over > 0).all():
                    k = int(np.argmin(over))
                    centre[i, k] += (np.sign(delta[k]) or 1.0) * over[k]
                    moved = True
        if not moved:
            break
    placed = []
    for t, c0, c1 in zip(texts, start, centre):
        offset = np.add(t.get_position(), (c1 - c0) / px_per_pt)
        far = float(np.hypot(*offset)) > 3 * gap_pt
        arrow = (
            {
                "arrowstyle": "-",
                "color": t.get_color(),
                "lw": 0.5,
                "alpha": 0.7,
                "shrinkA": 0,
                "shrinkB": 2,
            }
            if far
            else None
        )
        placed.append(
            ax.annotate(
                t.get_text(),
                t.xy,
                xytext=tuple(offset),
                textcoords="offset points",
                ha=t.get_ha(),
                va=t.get_va(),
                fontsize=fontsize,
                color=t.get_color(),
                path_effects=path_effects,
                zorder=5,
                arrowprops=arrow,
            )
        )
        t.remove()
    return placed


def layer_embedding(
    matrix: LayerMatrix,
    *,
    ax: Any = None,
    method: Literal["classical", "metric"] = "classical",
    groups: Mapping[str, str] | None = None,
    sep: str = "/",
    to_distance: Literal["kernel", "one_minus"] = "kernel",
    seed: int = 0,
    colors: Sequence[str] | Mapping[str, str] | None = None,
    annotate: Literal["ends", "all", "none"] = "ends",
    legend: bool = True,
    title: str | None = None,
) -> Axes:
    """MDS embedding of layers: one trajectory per model, from its first layer to its last.

    Models of different architectures drawn side by side show where their
    representations go with depth: a layer near another layer of any model is
    topologically (or representationally) close to it.

    Parameters
    ----------
    matrix
        Square LayerMatrix over all layers of all models (see :func:`embed_layers`).
    ax
        Axes to draw into (default: a new figure).
    method, groups, sep, to_distance, seed
        As in :func:`embed_layers`.
    colors
        A colour per model (sequence in model order, or mapping); default colour-blind safe.
    annotate
        ``"ends"``: name each model's first and last layer; ``"all"``: every layer;
        ``"none"``.
    legend
        A legend of the models.
    title
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if annotate not in ("ends", "all", "none"):
        raise ValueError(f"annotate must be 'ends', 'all' or 'none', got {annotate!r}")
    df = embed_layers(
        matrix, method=method, groups=groups, sep=sep, to_distance=to_distance, seed=seed
    )
    ax = get_axes(ax)
    models = list(dict.fromkeys(df["model"]))
    if colors is None:
        palette = dict(zip(models, categorical_colors(len(models))))
    elif isinstance(colors, Mapping):
        palette = {mdl: colors[mdl] for mdl in models}
    else:
        cs = list(colors)
        if len(cs) < len(models):
            raise ValueError(f"colors: {len(cs)} colours for {len(models)} models")
        palette = dict(zip(models, cs))
    import matplotlib as mpl
    import matplotlib.patheffects as pe
    from matplotlib.lines import Line2D

    label_pt = _font_pt(mpl.rcParams["legend.fontsize"])
    halo = [pe.withStroke(linewidth=2.0, foreground="white")]
    marked_stage = False
    labels: list[tuple[str, tuple[float, float], tuple[float, float], Any]] = []
    ends: list[tuple[float, float]] = []
    for mdl in models:
        sub = df[df["model"] == mdl]
        x, y = sub["x"].to_numpy(), sub["y"].to_numpy()
        c = palette[mdl]
        ax.plot(x, y, "-", color=c, lw=1.0, alpha=0.9, zorder=2, label=mdl or None)
        ax.scatter(x[1:-1], y[1:-1], s=8, color=c, zorder=3, linewidths=0)
        # stage marks: the first layer of each stage (first dotted part of the name)
        stages = [str(lbl).split(".", 1)[0] for lbl in sub["layer"]]
        starts = [i for i in range(1, len(stages) - 1) if stages[i] != stages[i - 1]]
        if starts and len(set(stages)) < len(stages):
            marked_stage = True
            ax.scatter(
                x[starts],
                y[starts],
                s=26,
                marker="D",
                facecolor="white",
                edgecolor=c,
                linewidths=0.9,
                zorder=3.5,
            )
        ax.scatter(
            x[:1], y[:1], s=30, facecolor="white", edgecolor=c, linewidths=1.2, zorder=4, marker="o"
        )
        ax.scatter(x[-1:], y[-1:], s=30, color=c, zorder=4, marker="s")
        if annotate != "none":
            idx = range(len(sub)) if annotate == "all" else sorted({0, len(sub) - 1})
            for i in idx:
                # outward: along the trajectory's direction at its ends, else up and right
                j = i + 1 if i == 0 and len(sub) > 1 else i - 1
                out = (x[i] - x[j], y[i] - y[j]) if j != i and 0 <= j < len(sub) else (1.0, 1.0)
                labels.append((str(sub["layer"].iloc[i]), (x[i], y[i]), out, c))
            ends.extend([(x[0], y[0]), (x[-1], y[-1])])
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.08)
    ax.set_xlabel("MDS 1")
    ax.set_ylabel("MDS 2")
    ax.set_xticks([])
    ax.set_yticks([])
    _place_labels(ax, labels, obstacles=ends, fontsize=label_pt * 0.9, path_effects=halo)
    if legend and any(models):
        handles = [Line2D([], [], color=palette[mdl], lw=1.5, label=mdl) for mdl in models if mdl]
        grey = "0.35"
        handles += [
            Line2D([], [], ls="", marker="o", mfc="white", mec=grey, label="first layer"),
            Line2D([], [], ls="", marker="s", color=grey, label="last layer"),
        ]
        if marked_stage:
            handles.append(
                Line2D([], [], ls="", marker="D", mfc="white", mec=grey, ms=4, label="stage start")
            )
        # below the axes and their x label, so it never covers a trajectory
        from matplotlib.transforms import ScaledTranslation

        below = -2.0 * _font_pt(mpl.rcParams["axes.labelsize"]) / 72.0
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            bbox_transform=ax.transAxes + ScaledTranslation(0.0, below, ax.figure.dpi_scale_trans),
            ncol=min(4, len(handles)),
            borderaxespad=0.0,
            frameon=False,
            handlelength=1.4,
            columnspacing=1.0,
        )
    if title is not None:
        ax.set_title(title)
    record(
        ax, "layer_embedding", matrix, {"method": method, "to_distance": to_distance, "seed": seed}
    )
    return ax
