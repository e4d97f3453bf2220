"""Saving figures explicitly: PDF, PNG and SVG with a sidecar JSON of what produced them."""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_bytes, atomic_write_text
from ._provenance import _jsonable, figure_provenance, result_fingerprint

__all__ = ["FORMATS", "save"]

log = logging.getLogger(__name__)

FORMATS = ("pdf", "png", "svg")
"""Formats :func:`save` writes by default."""

# Metadata that would otherwise embed the date or the software version in the files,
# so the same figure saved twice gives the same bytes.
_FILE_METADATA: dict[str, dict[str, Any]] = {
    "pdf": {"CreationDate": None, "Producer": None, "Creator": "tda_activations"},
    "svg": {"Date": None, "Creator": "tda_activations"},
    "png": {"Software": "tda_activations"},
}


def _figure_of(fig: Any) -> Any:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    if isinstance(fig, Axes):
        return fig.figure
    if isinstance(fig, SubFigure):
        return fig.figure
    if isinstance(fig, Figure):
        return fig
    raise TypeError(f"save needs a matplotlib Figure (or Axes), got {type(fig).__name__}")


def save(
    fig: Any,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
    result: Any = None,
    formats: Sequence[str] = FORMATS,
    dpi: float | None = None,
) -> dict[str, Path]:
    """Write a figure as PDF, PNG and SVG next to a JSON file saying what produced it.

    Every file is rendered in memory first and then written atomically, so a failure
    leaves nothing half-written.  The PDF and SVG carry no creation date, so saving the
    same figure twice gives the same bytes.

    Parameters
    ----------
    fig
        The figure (or one of its Axes).
    path
        Output path; a suffix that is one of ``formats`` is dropped
        (``"figs/heatmap.pdf"`` -> ``figs/heatmap.pdf``, ``.png``, ``.svg``, ``.json``).
    metadata
        Anything worth recording (experiment parameters, notes); JSON-able values.
    result
        A result to fingerprint in addition to those the plot functions recorded.
    formats
        Any of ``"pdf"``, ``"png"``, ``"svg"``.
    dpi
        Resolution of the PNG (default: ``savefig.dpi``, 300 inside :func:`paper_style`).

    Returns
    -------
    dict
        Format -> path written, and ``"json"`` -> the sidecar.

    Examples
    --------
    >>> ax = layer_heatmap(matrix)                       # doctest: +SKIP
    >>> save(ax.figure, "figures/fig2", metadata={"seed": 0})   # doctest: +SKIP
    """
    import matplotlib

    from .. import __version__

    figure = _figure_of(fig)
    if isinstance(formats, str):
        formats = (formats,)
    formats = tuple(dict.fromkeys(str(f).lower().lstrip(".") for f in formats))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"formats must be chosen from {FORMATS}, got {tuple(formats)!r}")
    base = Path(path)
    if base.suffix.lower().lstrip(".") in (*FORMATS, "json"):
        base = base.with_suffix("")
    if not base.name:
        raise ValueError(f"path {str(path)!r} names no file; give e.g. 'figures/heatmap'")

    # Constrained layout settles over the first draws and may then flip the last bit of
    # a position from draw to draw; lay out until it settles, round the positions to
    # 1e-6 of the figure (far below a pixel) and keep them: the figure's layout is fixed
    # as written, so saving it again gives the same bytes.
    def rounded() -> list[list[float]]:
        return [[round(float(v), 6) for v in a.get_position().bounds] for a in figure.axes]

    figure.draw_without_rendering()
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = figure.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        last = rounded()
        for _ in range(8):  # until the layout has settled (to 1e-6 of the figure)
            figure.draw_without_rendering()
            now = rounded()
            if now == last:
                break
            last = now
        for axes, box in zip(figure.axes, last):
            axes.set_position(box)
        figure.set_layout_engine("none")
    rendered: dict[str, bytes] = {}
    for fmt in formats:
        buf = io.BytesIO()
        kwargs: dict[str, Any] = {"format": fmt, "metadata": _FILE_METADATA[fmt]}
        if dpi is not None:
            kwargs["dpi"] = float(dpi)
        figure.savefig(buf, **kwargs)
        rendered[fmt] = buf.getvalue()

    sources = figure_provenance(figure)
    sidecar: dict[str, Any] = {
        "format": "tda_activations.figure",
        "version": 1,
        "files": {fmt: f"{base.name}.{fmt}" for fmt in formats},
        "package": {"name": "tda_activations", "version": __version__},
        "software": {"matplotlib": matplotlib.__version__, "python": platform.python_version()},
        "figure": {
            "size_inches": [round(float(v), 4) for v in figure.get_size_inches()],
            "dpi": float(
                dpi
                if dpi is not None
                else matplotlib.rcParams["savefig.dpi"]
                if matplotlib.rcParams["savefig.dpi"] != "figure"
                else figure.dpi
            ),
        },
        "sources": sources,
        "metadata": _jsonable(dict(metadata or {})),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if result is not None:
        sidecar["result"] = {
            "type": type(result).__qualname__,
            "fingerprint": result_fingerprint(result),
        }
    out: dict[str, Path] = {}
    for fmt, data in rendered.items():
        out[fmt] = atomic_write_bytes(base.with_name(f"{base.name}.{fmt}"), data)
    out["json"] = atomic_write_text(
        base.with_name(f"{base.name}.json"), json.dumps(sidecar, indent=2, sort_keys=False) + "\n"
    )
    log.info("saved figure %s (%s)", base, ", ".join(formats))
    return out
