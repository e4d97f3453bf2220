"""CLI for the invariance/equivariance probes, the group-invariant prototype and architecture metrics.

Each subcommand is thin: it loads a zoo model (trained on the embedded digits,
from the cache or now), calls one public function and prints its table; with
``--out`` the table is also written as CSV (atomically).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from ._common import emit_table as _emit
from ._common import fail as _fail
from ._common import split_list as _layers
from ._sidecar import sidecar

if TYPE_CHECKING:
    import torch

app = typer.Typer(
    help="Invariance, equivariance, class separability and architecture-only metrics."
)


@app.command("invariance")
def invariance_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="zoo model: mlp, lenet, resnet18, densenet"),
    group: str = typer.Option(
        "flips", help="flips, hflip, vflip, rotations, dihedral, translations, translations-zeros"
    ),
    layers: Optional[str] = typer.Option(
        None, help="comma-separated layer names (default: all conv/linear)"
    ),
    seed: int = typer.Option(0, help="seed of the trained model and of the image subset"),
    max_images: int = typer.Option(500, help="test images used"),
    out: Optional[Path] = typer.Option(None, help="CSV file for the table"),
) -> None:
    """Invariance score per layer on the test digits (0 = invariant)."""
    from ..models import pretrained
    from ..probes.invariance import invariance_scores

    try:
        tm = pretrained(model, seed=seed)
        res = invariance_scores(
            tm.model,
            tm.data.test,
            group=group,
            layers=_layers(layers),
            max_images=max_images,
            seed=seed,
        )
    except (ValueError, TypeError) as exc:
        _fail(exc)
    _emit(res.to_pandas(), out)
    if out is not None:
        sidecar(ctx, out, result=res)


@app.command("equivariance")
def equivariance_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="zoo model: mlp, lenet, resnet18, densenet"),
    group: str = typer.Option("flips", help="transform group name"),
    layers: Optional[str] = typer.Option(
        None, help="comma-separated layer names (default: all conv/linear)"
    ),
    ridge: float = typer.Option(1e-3, help="ridge penalty relative to the mean feature variance"),
    no_accuracy: bool = typer.Option(
        False, "--no-accuracy", metavar="", help="skip the replaced-layer accuracy"
    ),
    seed: int = typer.Option(0, help="seed of the trained model and of the subsets"),
    out: Optional[Path] = typer.Option(None, help="CSV file for the table"),
) -> None:
    """Lenc-Vedaldi equivariance per layer and transform (residual 0 = equivariant)."""
    from ..models import pretrained
    from ..probes.invariance import equivariance

    try:
        tm = pretrained(model, seed=seed)
        res = equivariance(
            tm.model,
            tm.data,
            group=group,
            layers=_layers(layers),
            ridge=ridge,
            with_accuracy=not no_accuracy,
            seed=seed,
        )
    except (ValueError, TypeError) as exc:
        _fail(exc)
    typer.echo(f"accuracy on untransformed test images: {res.accuracy_original:.4f}")
    _emit(res.to_pandas(), out)
    if out is not None:
        sidecar(ctx, out, result=res)


@app.command("separability")
def separability_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(
        ..., help="zoo model name, or 'prototype' for the group-invariant prototype"
    ),
    group: str = typer.Option("flips", help="orbit group of the prototype"),
    layers: Optional[str] = typer.Option(None, help="comma-separated layer names"),
    seed: int = typer.Option(0, help="seed of the trained model"),
    out: Optional[Path] = typer.Option(None, help="CSV file for the table"),
) -> None:
    """Class separability per layer (distance ratio, Fisher criterion) of whole layer outputs."""
    from ..probes.invariance import class_separability, layer_outputs

    try:
        net: torch.nn.Module
        if model == "prototype":
            from ..datasets import load_digits
            from ..probes.prototype import fit_group_invariant_prototype

            data = load_digits(upsample=2)
            net = fit_group_invariant_prototype(data.train, group=group, seed=seed)
        else:
            from ..models import pretrained

            tm = pretrained(model, seed=seed)
            net, data = tm.model, tm.data
        res = class_separability(layer_outputs(net, data.test, layers=_layers(layers)), seed=seed)
    except (ValueError, TypeError) as exc:
        _fail(exc)
    _emit(res.to_pandas(), out)
    if out is not None:
        sidecar(ctx, out, result=res)


@app.command("architecture")
def architecture_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="zoo model: mlp, lenet, resnet18, densenet"),
    input_shape: str = typer.Option("1,16,16", help="shape of one input sample, comma-separated"),
    width: Optional[float] = typer.Option(None, help="width multiplier (default: the zoo's)"),
    all_nodes: bool = typer.Option(
        False, "--all-nodes", metavar="", help="list every graph node, not only conv/linear/merges"
    ),
    out: Optional[Path] = typer.Option(None, help="CSV file for the table"),
) -> None:
    """Parameters, MACs, receptive field, compression and the linear-region bound (no data, no weights)."""
    from ..models import build_model
    from ..probes.architecture import architecture_metrics

    try:
        shape = tuple(int(s) for s in input_shape.split(","))
        net = build_model(model, in_channels=shape[0], image_size=shape[-1], width=width, seed=0)
        rep = architecture_metrics(net, input_shape=shape)
    except (ValueError, TypeError) as exc:
        _fail(exc)
    kinds = None if all_nodes else ["Conv2d", "Linear", "add", "cat"]
    typer.echo(rep.summary())
    _emit(rep.to_pandas(kinds=kinds), out)
    if out is not None:
        sidecar(ctx, out, result=rep)
