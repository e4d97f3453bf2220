"""CLI for the homology stage: diagrams and diagram-distance matrices of an extraction store.

``tda-activations homology diagrams STORE`` computes the persistence diagrams of
every layer (in parallel processes) and keeps them next to the activations in
``STORE/homology/``; asking again reuses them.  ``... homology distances
STORE [--against OTHER]`` prints (and with ``--out`` writes as CSV) the layer x
layer matrix of a diagram distance, within one model or across two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from ._common import fail as _fail
from ._common import split_list as _layers
from ._sidecar import sidecar

app = typer.Typer(help="Persistence diagrams of layer point clouds and distances between them.")


def _threshold(spec: str) -> float | str:
    if spec.lower() in ("enclosing", "none", ""):
        return "enclosing"
    try:
        return float(spec)
    except ValueError:
        raise typer.BadParameter(f"{spec!r}: give 'enclosing', 'inf' or a number") from None


def _load_activations(store: Path) -> Any:
    """The ActivationSet of an extraction store (the extract stage's reader)."""
    try:
        from ..extract import load_store
    except ImportError as exc:  # pragma: no cover - depends on the extract stage
        raise ValueError(f"this installation cannot read extraction stores ({exc})") from exc
    return load_store(store)


def _diagrams(
    store: Path,
    layers: Optional[str],
    maxdim: int,
    backend: str,
    coeff: int,
    threshold: str,
    max_points: Optional[int],
    n_jobs: int,
) -> dict[str, Any]:
    from ..homology import layer_persistence
    from ..homology.layers import store_cache_dir

    acts = _load_activations(store)
    return layer_persistence(
        acts,
        layers=_layers(layers),
        n_jobs=n_jobs,
        cache_dir=store_cache_dir(store),
        maxdim=maxdim,
        backend=backend,
        coeff=coeff,
        threshold=_threshold(threshold),
        max_points=max_points,
    )


_STORE = typer.Argument(..., help="extraction store (directory written by the extract stage)")
_LAYERS = typer.Option(None, help="comma-separated layer names (default: all)")
_MAXDIM = typer.Option(1, help="highest homology dimension")
_BACKEND = typer.Option("auto", help="auto, gudhi, ripser or giotto-ph")
_COEFF = typer.Option(2, help="prime field coefficient")
_THRESHOLD = typer.Option("enclosing", help="'enclosing' (exact, default), 'inf' or an edge length")
_MAXPTS = typer.Option(None, help="greedy-subsample clouds to this many points")
_NJOBS = typer.Option(2, help="worker processes")


@app.command("diagrams")
def diagrams_cmd(
    store: Path = _STORE,
    layers: Optional[str] = _LAYERS,
    maxdim: int = _MAXDIM,
    backend: str = _BACKEND,
    coeff: int = _COEFF,
    threshold: str = _THRESHOLD,
    max_points: Optional[int] = _MAXPTS,
    n_jobs: int = _NJOBS,
) -> None:
    """Persistence diagrams of every layer, cached in STORE/homology/."""
    try:
        dgms = _diagrams(store, layers, maxdim, backend, coeff, threshold, max_points, n_jobs)
    except (ValueError, TypeError, MemoryError, ImportError, OSError) as exc:
        _fail(exc)
    import pandas as pd

    rows = []
    for layer, dg in dgms.items():
        row: dict[str, Any] = {"layer": layer, "points": dg.n_points, "backend": dg.backend}
        for d in range(dg.maxdim + 1):
            fin = dg.finite(d)
            row[f"H{d} bars"] = len(dg[d])
            row[f"H{d} max pers"] = float((fin[:, 1] - fin[:, 0]).max()) if len(fin) else 0.0
        rows.append(row)
    typer.echo(pd.DataFrame(rows).to_string(index=False))
    typer.echo(f"diagrams kept in {store / 'homology'}")


@app.command("distances")
def distances_cmd(
    ctx: typer.Context,
    store: Path = _STORE,
    against: Optional[Path] = typer.Option(
        None, help="second store: rows = STORE's layers, columns = its layers"
    ),
    metric: str = typer.Option(
        "sliced_wasserstein", help="a diagram distance name (see the README)"
    ),
    dim: int = typer.Option(1, help="homology dimension compared"),
    n_directions: int = typer.Option(50, help="sliced Wasserstein: number of directions"),
    order: Optional[float] = typer.Option(None, help="Wasserstein (required): order q >= 1"),
    internal_p: Optional[float] = typer.Option(
        None, help="Wasserstein (required): ground metric L_p, p in [1, inf]"
    ),
    out: Optional[Path] = typer.Option(None, help="CSV file for the matrix"),
    layers: Optional[str] = _LAYERS,
    maxdim: int = _MAXDIM,
    backend: str = _BACKEND,
    coeff: int = _COEFF,
    threshold: str = _THRESHOLD,
    max_points: Optional[int] = _MAXPTS,
    n_jobs: int = _NJOBS,
) -> None:
    """Layer x layer matrix of a diagram distance (within STORE, or STORE x --against)."""
    from ..homology import cross_distance_matrix, distance_matrix

    params: dict[str, Any] = {}
    if metric == "sliced_wasserstein":
        params["n_directions"] = n_directions
    elif metric == "wasserstein":  # both required: the library names what is missing
        params.update(
            {k: v for k, v in (("order", order), ("internal_p", internal_p)) if v is not None}
        )
    try:
        opts = (layers, max(maxdim, dim), backend, coeff, threshold, max_points, n_jobs)
        dgms = _diagrams(store, *opts)
        if against is None:
            mat = distance_matrix(dgms, metric=metric, dim=dim, **params)
        else:
            mat = cross_distance_matrix(
                dgms, _diagrams(against, *opts), metric=metric, dim=dim, **params
            )
    except (ValueError, TypeError, MemoryError, ImportError, OSError) as exc:
        _fail(exc)
    df = mat.to_pandas()
    typer.echo(mat.measure)
    typer.echo(df.to_string(float_format=lambda v: f"{v:.6g}"))
    if out is not None:
        from .._atomic import atomic_write_text

        atomic_write_text(out, df.to_csv())
        typer.echo(f"wrote {out}")
        sidecar(ctx, out, result=mat)
