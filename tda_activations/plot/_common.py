"""Helpers shared by the plot modules (no global matplotlib state is touched here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "as_frame",
    "block_boundaries",
    "check_axes",
    "depth_colors",
    "get_axes",
    "layer_tick_labels",
]


def check_axes(ax: Any) -> None:
    from matplotlib.axes import Axes

    if ax is not None and not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes (or None for a new figure), got {type(ax).__name__}"
        )


def get_axes(ax: Any, *, figsize: tuple[float, float] | None = None) -> Any:
    """``ax`` itself, or the Axes of a new figure (pyplot-managed, so notebooks display it).

    A new figure uses constrained layout (a keyword of this figure only, not a global
    setting) and the default size in force (``paper_style`` sets it).
    """
    check_axes(ax)
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def depth_colors(n: int, *, cmap: str | Any = "viridis") -> list[Any]:
    """``n`` colours along a sequential colour map (shallow -> deep)."""
    import matplotlib as mpl

    cm = mpl.colormaps[cmap] if isinstance(cmap, str) else cmap
    if n <= 1:
        return [cm(0.0)] * n
    return [cm(0.9 * i / (n - 1)) for i in range(n)]


def layer_tick_labels(labels: Sequence[str], *, strip: str | None = None) -> list[str]:
    """Labels for axis ticks (optionally with a common prefix such as ``"model/"`` removed)."""
    out = []
    for lab in labels:
        s = str(lab)
        if strip and s.startswith(strip):
            s = s[len(strip) :]
        out.append(s)
    return out


BlockSpec = None | str | Sequence[int] | Mapping[str, str] | Callable[[str], str]


def _auto_group(label: str, sep: str) -> str:
    if sep in label:
        return label.split(sep, 1)[0]
    return label.split(".", 1)[0] if "." in label else label


def block_groups(labels: Sequence[str], blocks: BlockSpec, *, sep: str = "/") -> list[str] | None:
    """The block (stage) of each label, or ``None`` when no blocks are asked for."""
    if blocks is None or blocks is False:
        return None
    labels = [str(l) for l in labels]
    if isinstance(blocks, str):
        if blocks == "auto":
            return [_auto_group(l, sep) for l in labels]
        if blocks == "model":
            return [l.split(sep, 1)[0] if sep in l else "" for l in labels]
        raise ValueError(
            f"blocks={blocks!r}: give 'auto' (stage = first part of the layer name), 'model' "
            "(the part before the separator), positions of the boundaries, a mapping "
            "label -> stage, or a function label -> stage"
        )
    if callable(blocks):
        return [str(blocks(l)) for l in labels]
    if isinstance(blocks, Mapping):
        missing = [l for l in labels if l not in blocks]
        if missing:
            raise ValueError(
                f"blocks: no stage given for {missing[:3]}; map every label to a stage"
            )
        return [str(blocks[l]) for l in labels]
    try:
        cuts = sorted({int(b) for b in blocks})  # type: ignore[union-attr]
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "blocks must be 'auto', a sequence of boundary positions, a mapping or a function"
        ) from exc
    if cuts and (cuts[0] <= 0 or cuts[-1] >= len(labels)):
        raise ValueError(f"block boundaries must lie in 1..{len(labels) - 1}, got {cuts}")
    group, out = 0, []
    for i in range(len(labels)):
        if group < len(cuts) and i >= cuts[group]:
            group += 1
        out.append(str(group))
    return out


def block_boundaries(groups: Sequence[str] | None) -> list[int]:
    """Positions ``i`` where ``groups[i] != groups[i - 1]``."""
    if not groups:
        return []
    return [i for i in range(1, len(groups)) if groups[i] != groups[i - 1]]


def as_frame(result: Any, *, what: str) -> Any:
    """A pandas DataFrame from a DataFrame or a result with ``to_pandas()``."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        return result
    to_pandas = getattr(result, "to_pandas", None)
    if callable(to_pandas):
        df = to_pandas()
        if isinstance(df, pd.DataFrame):
            return df
    raise TypeError(
        f"{what}: give the result object (with .to_pandas()) or a pandas DataFrame, "
        f"got {type(result).__name__}"
    )


def require_columns(df: Any, columns: Sequence[str], *, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what}: the table has no column(s) {missing}; its columns are {list(df.columns)}"
        )


def finite_or_error(values: np.ndarray, *, what: str) -> None:
    if not np.isfinite(values).all():
        raise ValueError(
            f"{what} has NaN or infinite entries; drop those layers or fill them first"
        )
