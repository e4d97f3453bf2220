"""CLI for the similarity stage.

``tda-activations similarity measures`` lists every measure with its declared
properties.  ``tda-activations similarity matrix STORE [--against OTHER]`` prints (and
with ``--out`` writes as CSV, with the measure and provenance in a ``.json`` beside it)
the layer x layer matrix of a measure, within one model or between two models
extracted on the same data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from ._common import fail as _fail
from ._common import split_list as _layers
from ._sidecar import sidecar

app = typer.Typer(
    help="Representational similarity measures (CKA, CCA family, RSA, ...) between layers."
)


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _params(items: Optional[list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"{item!r}: give parameters as KEY=VALUE (e.g. debiased=true)")
        key, val = item.split("=", 1)
        out[key.strip()] = _value(val.strip())
    return out


@app.command("measures")
def measures() -> None:
    """List every measure: kind, symmetry, metric, invariances."""
    from ..similarity import measure_table

    for row in measure_table():
        typer.echo(
            f"{row['name']:22s} {row['kind']:10s} symmetric={str(row['symmetric']):5s} "
            f"metric={str(row['metric']):5s} invariant to: {', '.join(row['invariances']) or '-'}"
        )


@app.command("matrix")
def matrix(
    ctx: typer.Context,
    store: Path = typer.Argument(
        ..., help="extraction store (directory written by the extract stage)"
    ),
    against: Optional[Path] = typer.Option(
        None, help="second store (another model on the same data): rows from STORE, columns from it"
    ),
    measure: str = typer.Option("linear_cka", help="measure name (see `similarity measures`)"),
    param: Optional[list[str]] = typer.Option(
        None,
        "--param",
        "-p",
        help="measure parameter KEY=VALUE (repeatable), e.g. -p debiased=true",
    ),
    layers: Optional[str] = typer.Option(
        None, help="comma-separated layers of STORE (default: all)"
    ),
    layers_against: Optional[str] = typer.Option(None, help="comma-separated layers of --against"),
    out: Optional[Path] = typer.Option(
        None, help="write the matrix as CSV (and its metadata as .json)"
    ),
) -> None:
    """Layer x layer matrix of a similarity measure within one model or across two."""
    from .._atomic import atomic_write_text
    from .._hashing import stable_json
    from ..extract import load_store
    from ..similarity import cross_similarity_matrix, similarity_matrix

    kwargs = _params(param)
    try:
        acts = load_store(store)
        if against is None:
            result = similarity_matrix(acts, measure=measure, layers=_layers(layers), **kwargs)
        else:
            result = cross_similarity_matrix(
                acts,
                load_store(against),
                measure=measure,
                layers_a=_layers(layers),
                layers_b=_layers(layers_against),
                **kwargs,
            )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(exc)
        return
    frame = result.to_pandas()
    typer.echo(f"{result.measure} ({result.kind}); {result.params.get('conv_maps', '')}")
    typer.echo(frame.to_string(float_format=lambda v: f"{v:.4f}"))
    if out is not None:
        atomic_write_text(out, frame.to_csv(float_format="%.10g"))
        meta = {"measure": result.measure, "kind": result.kind, "params": result.params}
        atomic_write_text(
            out.with_suffix(".json"), json.dumps(json.loads(stable_json(meta)), indent=1)
        )
        typer.echo(f"wrote {out}")
        sidecar(ctx, out, result=result)
