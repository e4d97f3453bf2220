"""Helpers shared by the CLI modules: one-line errors, list options, table output."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import typer

from .._select import split_layer_spec

__all__ = ["emit_table", "fail", "parse_layout", "split_list"]


def fail(exc: BaseException) -> NoReturn:
    """Print ``error: <message>`` to stderr and exit with status 2 (bad input)."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def split_list(spec: str | None) -> list[str] | None:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; ``None`` or ``""`` -> ``None`` (all layers).

    The names and glob patterns then go through the library's one ``layers=`` rule
    (:func:`~tda_activations._select.resolve_layer_names`).
    """
    try:
        items = split_layer_spec(spec)
    except ValueError as exc:
        fail(exc)
    return None if items is None else list(items)


def parse_layout(values: list[str] | None) -> str | dict[str, str] | None:
    """``--layout`` values -> the ``layout=`` argument of :func:`~tda_activations.extract.extract`.

    Each value is one or more comma-separated items: ``GLOB=LAYOUT`` (``"blocks.*=tokens"``)
    for the layers the glob names, or a bare ``LAYOUT`` alone for every layer.

    Parameters
    ----------
    values
        The option's values (repeatable); ``None`` or empty: every layout inferred.

    Returns
    -------
    str or dict or None
        ``None``, one layout for every layer, or a mapping layer/glob -> layout.

    Raises
    ------
    ValueError
        An unknown layout, an empty glob or item, a glob given twice, or a bare layout
        mixed with ``GLOB=LAYOUT`` items (the message names the accepted layouts).
    """
    from .._hooks import LAYOUTS

    accepted = ", ".join(LAYOUTS)
    items = [item.strip() for value in values or () for item in value.split(",")]
    if not items:
        return None
    mapping: dict[str, str] = {}
    bare: list[str] = []
    for item in items:
        glob, eq, layout = (part.strip() for part in item.partition("="))
        if not eq:
            glob, layout = "", glob
        if not layout or (eq and not glob):
            raise ValueError(
                f"--layout {item!r}: write GLOB=LAYOUT (e.g. 'blocks.*=tokens') or "
                f"one layout for every layer; layouts: {accepted}"
            )
        if layout not in LAYOUTS:
            raise ValueError(
                f"--layout {item!r}: unknown layout {layout!r}; accepted layouts: {accepted}"
            )
        if not eq:
            bare.append(layout)
        elif glob in mapping and mapping[glob] != layout:
            raise ValueError(
                f"--layout: {glob!r} is given two layouts ({mapping[glob]!r} and "
                f"{layout!r}); give one"
            )
        else:
            mapping[glob] = layout
    if bare and (mapping or len(bare) > 1):
        raise ValueError(
            "--layout: a bare layout sets every layer; give it alone, or write "
            "GLOB=LAYOUT items (e.g. 'blocks.*=tokens')"
        )
    return bare[0] if bare else mapping


def emit_table(df: Any, out: Path | None) -> None:
    """Print a DataFrame; also write it as CSV (atomically) when ``out`` is given."""
    from .._atomic import atomic_write_text

    typer.echo(df.to_string(index=False))
    if out is not None:
        atomic_write_text(out, df.to_csv(index=False))
        typer.echo(f"wrote {out}")
