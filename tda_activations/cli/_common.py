"""Helpers shared by the CLI modules: one-line errors, list options, table output."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

from .._select import split_layer_spec

__all__ = ["emit_table", "fail", "split_list"]


def fail(exc: BaseException) -> NoReturn:
    """Print ``error: <message>`` to stderr and exit with status 2 (bad input)."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


def split_list(spec: Optional[str]) -> Optional[list[str]]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; ``None`` or ``""`` -> ``None`` (all layers).

    The names and glob patterns then go through the library's one ``layers=`` rule
    (:func:`~tda_activations._select.resolve_layer_names`).
    """
    try:
        items = split_layer_spec(spec)
    except ValueError as exc:
        fail(exc)
    return None if items is None else list(items)


def emit_table(df: Any, out: Optional[Path]) -> None:
    """Print a DataFrame; also write it as CSV (atomically) when ``out`` is given."""
    from .._atomic import atomic_write_text

    typer.echo(df.to_string(index=False))
    if out is not None:
        atomic_write_text(out, df.to_csv(index=False))
        typer.echo(f"wrote {out}")
