"""Paper style: fonts, sizes for single and double columns, colour-blind-safe palettes.

Nothing here changes matplotlib's global state except inside ``with paper_style():``,
which restores every ``rcParams`` entry on exit (it is :func:`matplotlib.rc_context`).
The style also pins what makes rendering reproducible (font family, hinting, SVG hash
salt, DPI), so image baselines and saved figures do not change from run to run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from ..types import unknown_name_error

__all__ = [
    "COLUMN_WIDTHS",
    "PALETTES",
    "PaperStyle",
    "categorical_colors",
    "figure_size",
    "paper_rc",
    "paper_style",
]

Column = Literal["single", "double"]

COLUMN_WIDTHS: dict[str, float] = {"single": 3.5, "double": 7.16}
"""Figure widths in inches: a single column and the full text width of a two-column
paper (IEEE/ACM/NeurIPS-like layouts are within a few hundredths of an inch of these)."""

PALETTES: dict[str, tuple[str, ...]] = {
    # Okabe & Ito (2008), "Color Universal Design"; black moved last for line plots.
    "okabe_ito": (
        "#E69F00",
        "#56B4E9",
        "#009E73",
        "#F0E442",
        "#0072B2",
        "#D55E00",
        "#CC79A7",
        "#000000",
    ),
    # Paul Tol's qualitative schemes (https://personal.sron.nl/~pault/).
    "tol_bright": ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"),
    "tol_muted": (
        "#CC6677",
        "#332288",
        "#DDCC77",
        "#117733",
        "#88CCEE",
        "#882255",
        "#44AA99",
        "#999933",
        "#AA4499",
        "#DDDDDD",
    ),
    "tol_light": (
        "#77AADD",
        "#EE8866",
        "#EEDD88",
        "#FFAABB",
        "#99DDFF",
        "#44BB99",
        "#BBCC33",
        "#AAAA00",
        "#DDDDDD",
    ),
}
"""Colour-blind-safe qualitative palettes (hex colours), by name."""


@dataclass(frozen=True)
class PaperStyle:
    """What ``with paper_style() as style:`` gives: the sizes and colours in force.

    Attributes
    ----------
    column
        ``"single"`` or ``"double"``.
    figsize
        Default figure size ``(width, height)`` in inches.
    font_size
        Base font size in points.
    colors
        The palette's colours (also the axes' colour cycle).
    """

    column: str
    figsize: tuple[float, float]
    font_size: float
    colors: tuple[str, ...]


def _check_column(column: str) -> float:
    if column not in COLUMN_WIDTHS:
        raise unknown_name_error("column", str(column), COLUMN_WIDTHS)
    return COLUMN_WIDTHS[column]


def _palette(palette: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(palette, str):
        if palette not in PALETTES:
            raise unknown_name_error("palette", palette, PALETTES)
        return PALETTES[palette]
    colors = tuple(str(c) for c in palette)
    if not colors:
        raise ValueError("palette: give a palette name or at least one colour")
    return colors


def figure_size(
    column: Column = "single", *, aspect: float = 0.75, rows: int = 1
) -> tuple[float, float]:
    """Figure size in inches for a column width.

    Parameters
    ----------
    column
        ``"single"`` (3.5 in) or ``"double"`` (7.16 in).
    aspect
        Height over width of one row of panels.
    rows
        Rows of panels (the height grows with them).

    Returns
    -------
    tuple
        ``(width, height)``.
    """
    width = _check_column(column)
    if not aspect > 0:
        raise ValueError(f"aspect must be positive, got {aspect!r}")
    if int(rows) < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    return (
        width,
        round(
            width * float(aspect) * int(rows)
            if column == "single"
            else width * float(aspect) * int(rows) / 2,
            3,
        ),
    )


def categorical_colors(n: int, *, palette: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """``n`` distinct colours for categories (classes, models), colour-blind safe up to 10.

    With no ``palette``: Okabe-Ito up to 8, Paul Tol's muted up to 10, then evenly spaced
    hues (no longer colour-blind safe; a warning-free fallback for many classes).

    Parameters
    ----------
    n
        Number of colours.
    palette
        A name in :data:`PALETTES` or a sequence of colours, cycled when shorter than ``n``.

    Returns
    -------
    tuple of str
        The colours.

    Raises
    ------
    ValueError
        If ``n`` is negative.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if palette is not None:
        colors = _palette(palette)
        return tuple(colors[i % len(colors)] for i in range(n))
    if n <= 8:
        return PALETTES["okabe_ito"][:n]
    if n <= 10:
        return PALETTES["tol_muted"][:n]
    from ..mapper.export import group_colors

    return group_colors(n)


def paper_rc(
    *,
    column: Column = "single",
    font_size: float = 8.0,
    palette: str | Sequence[str] = "okabe_ito",
    aspect: float = 0.75,
    dpi: float = 300.0,
) -> dict[str, Any]:
    """The ``rcParams`` entries :func:`paper_style` sets (a plain dict; nothing is applied).

    Parameters
    ----------
    column, font_size, palette, aspect, dpi
        As for :func:`paper_style`.

    Returns
    -------
    dict
        ``rcParams`` name -> value.

    Raises
    ------
    ValueError
        If ``font_size`` is not positive.
    """
    from cycler import cycler

    colors = _palette(palette)
    fs = float(font_size)
    if not fs > 0:
        raise ValueError(f"font_size must be positive, got {font_size!r}")
    return {
        # fonts: one family that ships with matplotlib, so every machine renders the same
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],
        "mathtext.fontset": "dejavusans",
        "text.usetex": False,
        "font.size": fs,
        "axes.titlesize": fs,
        "axes.labelsize": fs,
        "xtick.labelsize": fs - 1,
        "ytick.labelsize": fs - 1,
        "legend.fontsize": fs - 1,
        "legend.title_fontsize": fs - 1,
        "figure.titlesize": fs + 1,
        # reproducible rendering
        "text.hinting": "none",
        "text.antialiased": True,
        "svg.hashsalt": "tda_activations",
        "svg.fonttype": "none",  # text stays text (editable) in SVG
        "pdf.fonttype": 42,  # TrueType in PDF/PS (no Type 3 fonts, as venues ask)
        "ps.fonttype": 42,
        "figure.dpi": float(dpi),
        "savefig.dpi": float(dpi),
        "savefig.format": "pdf",
        "savefig.bbox": "standard",
        "savefig.transparent": False,
        "savefig.facecolor": "white",
        "figure.facecolor": "white",
        # sizes and layout
        "figure.figsize": figure_size(column, aspect=aspect),
        "figure.constrained_layout.use": True,
        "figure.constrained_layout.h_pad": 0.02,
        "figure.constrained_layout.w_pad": 0.02,
        "axes.linewidth": 0.6,
        "lines.linewidth": 1.0,
        "lines.markersize": 3.0,
        "patch.linewidth": 0.5,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.minor.size": 1.5,
        "ytick.minor.size": 1.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlepad": 3.0,
        "axes.labelpad": 2.0,
        "legend.frameon": False,
        "legend.handlelength": 1.5,
        "legend.borderaxespad": 0.3,
        "axes.prop_cycle": cycler(color=list(colors)),
        "image.cmap": "viridis",
        "image.interpolation": "nearest",
    }


@contextlib.contextmanager
def paper_style(
    *,
    column: Column = "single",
    font_size: float = 8.0,
    palette: str | Sequence[str] = "okabe_ito",
    aspect: float = 0.75,
    dpi: float = 300.0,
    rc: Mapping[str, Any] | None = None,
) -> Iterator[PaperStyle]:
    """Matplotlib settings for paper figures, in force only inside the ``with`` block.

    Parameters
    ----------
    column
        ``"single"`` (3.5 in wide) or ``"double"`` (7.16 in) default figure size.
    font_size
        Base font size in points (tick labels and legends are one point smaller).
    palette
        A name in :data:`PALETTES` or a sequence of colours: the axes' colour cycle.
    aspect
        Height over width of the default figure (for ``"double"`` half of that, as two
        panels side by side are the usual use).
    dpi
        Resolution of the screen figure and of raster output.
    rc
        Further ``rcParams`` entries, applied last.

    Yields
    ------
    PaperStyle
        The sizes and colours in force.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> with paper_style(column="double") as style:       # doctest: +SKIP
    ...     fig, ax = plt.subplots(figsize=style.figsize)
    ...     layer_heatmap(matrix, ax=ax)
    ...     save(fig, "figures/heatmap")
    """
    import matplotlib as mpl

    params = paper_rc(column=column, font_size=font_size, palette=palette, aspect=aspect, dpi=dpi)
    if rc is not None:
        params.update(dict(rc))
    with mpl.rc_context(cast(Any, params)):
        yield PaperStyle(
            column=column,
            figsize=tuple(params["figure.figsize"]),  # type: ignore[arg-type]
            font_size=float(font_size),
            colors=_palette(palette),
        )
