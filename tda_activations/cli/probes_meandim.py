"""CLI for the mean-dimension and correlation-order probes.

Each subcommand is thin: it loads a zoo model (trained on the embedded digits,
from the cache or now), calls one public function and prints its table; with
``--out`` the table is also written as CSV (atomically).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._common import emit_table as _emit
from ._common import fail as _fail
from ._common import split_list as _layers
from ._sidecar import sidecar

app = typer.Typer(help="Mean dimension (given-data total indices) and correlation-order probes.")


def _components(spec: Optional[str]) -> int | float | None:
    if spec is None or spec.lower() in ("", "all", "none"):
        return None
    try:
        return int(spec)
    except ValueError:
        try:
            return float(spec)
        except ValueError:
            raise typer.BadParameter(
                f"{spec!r} is not a number of components: give an integer, a fraction in (0, 1] "
                "or 'all'"
            ) from None


@app.command("meandim")
def meandim_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="zoo model: mlp, lenet, resnet18, densenet"),
    features: str = typer.Option(
        "pca", help="pca (PCA coordinates via an inverse-PCA layer) or inputs (pixels)"
    ),
    n_components: Optional[str] = typer.Option(
        None, help="PCA components kept: integer, fraction, or all"
    ),
    n_rows: int = typer.Option(500, help="test images used (each paired with another one)"),
    seed: int = typer.Option(0, help="seed of the trained model, the rows and the pairing"),
    out: Optional[Path] = typer.Option(None, help="CSV file for the per-logit table"),
    indices_out: Optional[Path] = typer.Option(
        None, help="CSV file for the per-feature total indices"
    ),
) -> None:
    """Mean dimension of every class logit on the test digits."""
    from ..models import pretrained
    from ..probes.mean_dimension import logit_total_indices

    try:
        tm = pretrained(model, seed=seed)
        res = logit_total_indices(
            tm.model,
            tm.data.test,
            features=features,  # type: ignore[arg-type]
            n_components=_components(n_components),
            n_rows=n_rows,
            seed=seed,
        )
    except (ValueError, TypeError) as exc:
        _fail(exc)
    typer.echo(
        f"pooled mean dimension of the logits: {res.pooled_mean_dimension:.3f} "
        f"+- {res.pooled_mean_dimension_se:.3f}"
    )
    _emit(res.output_table(), out)
    if out is not None:
        sidecar(ctx, out, result=res)
    if indices_out is not None:
        from .._atomic import atomic_write_text

        atomic_write_text(indices_out, res.to_pandas().to_csv(index=False))
        typer.echo(f"wrote {indices_out}")
        sidecar(ctx, indices_out, result=res)


@app.command("meandim-profile")
def meandim_profile_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="zoo model: mlp, lenet, resnet18, densenet"),
    layers: Optional[str] = typer.Option(
        None, help="comma-separated layer names (default: all conv/linear)"
    ),
    n_components: Optional[str] = typer.Option(
        "32", help="PCA components kept per layer: integer, fraction, or all"
    ),
    n_rows: int = typer.Option(200, help="test images used"),
    seed: int = typer.Option(0, help="seed of the trained model, the rows and the pairing"),
    out: Optional[Path] = typer.Option(None, help="CSV file for the table"),
) -> None:
    """Depth profile: mean dimension of each layer given the input, and of the output given each layer."""
    from ..models import pretrained
    from ..probes.mean_dimension import mean_dimension_profile

    try:
        tm = pretrained(model, seed=seed)
        res = mean_dimension_profile(
            tm.model,
            tm.data.test,
            layers=_layers(layers),
            n_components=_components(n_components),
            n_rows=n_rows,
            seed=seed,
        )
    except (ValueError, TypeError) as exc:
        _fail(exc)
    _emit(res.to_pandas(), out)
    if out is not None:
        sidecar(ctx, out, result=res)


@app.command("corr-order")
def corr_order_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="zoo model: mlp, lenet, resnet18, densenet"),
    layers: Optional[str] = typer.Option(
        None, help="comma-separated layer names (default: all conv/linear)"
    ),
    shrinkage: str = typer.Option("ledoit_wolf", help="ledoit_wolf or a fixed intensity in [0, 1]"),
    n_draws: int = typer.Option(1, help="surrogates drawn per test image"),
    seed: int = typer.Option(0, help="seed of the trained model and of the draws"),
    out: Optional[Path] = typer.Option(None, help="CSV file for the table"),
) -> None:
    """Accuracy of first- and second-order Gaussian surrogates of every layer (fit on train, test on test)."""
    from ..models import pretrained
    from ..probes.correlation_order import correlation_order

    try:
        rule: float | str = float(shrinkage)
    except ValueError:
        rule = shrinkage
    try:
        tm = pretrained(model, seed=seed)
        res = correlation_order(
            tm.model, tm.data, layers=_layers(layers), shrinkage=rule, n_draws=n_draws, seed=seed
        )
    except (ValueError, TypeError) as exc:
        _fail(exc)
    _emit(res.to_pandas(), out)
    if out is not None:
        sidecar(ctx, out, result=res)
