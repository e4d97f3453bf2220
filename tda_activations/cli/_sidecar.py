"""Every file (or directory) the command line writes gets a provenance sidecar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

__all__ = ["sidecar"]


def sidecar(ctx: typer.Context, path: Path, *, result: Any = None) -> Path:
    """Write ``<path>.provenance.json`` for an output of the running command ``ctx``.

    Records the command (``tda-activations homology distances``), its options, the
    result's type, fingerprint and parameters, and the SHA-256 of what was written
    (see :func:`tda_activations.io.write_provenance`).

    Returns
    -------
    pathlib.Path
        The sidecar's path.
    """
    from ..io import write_provenance

    params = {k: str(v) if isinstance(v, Path) else v for k, v in ctx.params.items()}
    what = ctx.command_path
    out = write_provenance(path, result=result, what=what, parameters=params)
    typer.echo(f"wrote {out}")
    return out
