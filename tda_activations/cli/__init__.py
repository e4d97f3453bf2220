"""The ``tda-activations`` command line: each subcommand calls one public function."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Literal, Optional, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import experiment, homology, mapper, probes_invariance, probes_meandim, run, similarity
from ._sidecar import sidecar

app = typer.Typer(
    name="tda-activations",
    help="Topological data analysis of neural-network activations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

probes_app = typer.Typer(
    help="Probes: mean dimension, correlation order, invariance, architecture metrics."
)
probes_app.registered_commands += probes_meandim.app.registered_commands
probes_app.registered_commands += probes_invariance.app.registered_commands

app.add_typer(homology.app, name="homology")
app.add_typer(similarity.app, name="similarity")
app.add_typer(mapper.app, name="mapper")
app.add_typer(probes_app, name="probes")
app.add_typer(experiment.app, name="experiment")
app.command("run")(run.run_command)


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler that writes to whatever ``sys.stderr`` is when a record is emitted.

    A plain ``StreamHandler()`` keeps the stream it was created with; under a test runner
    or an embedding application that stream can be closed by the next record.
    """

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


@app.callback()
def _root(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", metavar="", help="Log progress at INFO level."
    ),
    log_file: Optional[Path] = typer.Option(
        None, help="Also write the log to this file (for cluster jobs)."
    ),
) -> None:
    handlers: list[logging.Handler] = [_CurrentStderr()]
    if log_file is not None:
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(
        level=logging.INFO if verbose or log_file else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=True,
    )


@app.command("extract")
def extract_cmd(
    ctx: typer.Context,
    model: str = typer.Argument(
        ...,
        help="Zoo name (trained on digits; 'modular_addition' on its token data), 'package.module:callable', TorchScript or checkpoint file.",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Extraction store directory to write (or reuse)."
    ),
    data: str = typer.Option(
        "",
        help="Dataset: 'digits', 'digits:x4', a CIFAR folder, an image folder or an .npz; default: the zoo model's own data.",
    ),
    split: str = typer.Option("test", help="Split to extract: 'test' or 'train'."),
    layers: Optional[list[str]] = typer.Option(
        None,
        "--layer",
        "-l",
        help="Layer name or glob (repeatable); default: every conv and linear layer.",
    ),
    reduction: str = typer.Option(
        "top_l2",
        help="flatten | global_avg_pool | top_l2 | random_position | all_positions | first_token | last_token.",
    ),
    layout: Optional[list[str]] = typer.Option(
        None,
        "--layout",
        help="Layout of layers: GLOB=LAYOUT (e.g. 'blocks.*=tokens'; repeatable or comma-separated) "
        "or one LAYOUT for every layer; layouts: channels_first, tokens, flat. Default: inferred.",
    ),
    max_points: Optional[int] = typer.Option(
        None, help="Keep at most this many points per layer (seeded)."
    ),
    limit: Optional[int] = typer.Option(None, help="Use only the first N samples."),
    seed: int = typer.Option(
        0, help="Seed of training (zoo models), random reductions and subsampling."
    ),
    architecture: Optional[str] = typer.Option(
        None, help="Architecture of a state_dict checkpoint (zoo name or import path)."
    ),
    batch_size: int = typer.Option(256, help="Images per forward pass."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", metavar="", help="No progress bar or summary."
    ),
) -> None:
    """Extract per-layer point clouds of a model on a dataset into a store."""
    from ..datasets import load_dataset
    from ..extract import extract_to_store
    from ..models import ZOO, load_model, pretrained
    from ..models.loading import MissingArchitectureError
    from ._common import fail, parse_layout

    try:
        layout_spec = parse_layout(layout)
    except ValueError as exc:
        fail(exc)
    if model in ZOO or model == "modular_addition":  # the zoo, and the model of token data
        tm = pretrained(model, seed=seed)
        net, default = tm.model, (tm.data.test if split == "test" else tm.data.train)
    else:
        try:
            net, default = load_model(model, architecture=architecture), None
        except MissingArchitectureError as exc:
            raise ValueError(exc.message(cli=True)) from None
    if data:
        dataset = load_dataset(data, split=cast(Literal["train", "test"], split), limit=limit)
    elif default is None:
        raise typer.BadParameter(
            "--data is required for a model outside the zoo", param_hint="--data"
        )
    else:
        dataset = default if limit is None else default.subset(range(min(limit, len(default))))
    from .._torch import check_input_fit
    from ..datasets import as_source

    check_input_fit(net, as_source(dataset).example())  # a one-line error before any work
    with _progress(quiet) as progress:
        task = progress.add_task("extracting", total=len(dataset))
        acts = extract_to_store(
            net,
            dataset,
            out,
            layers=layers or None,
            reduction=reduction,
            max_points=max_points,
            seed=seed,
            batch_size=batch_size,
            layout=layout_spec,
            on_batch=lambda done, total: progress.update(task, completed=done),
        )
    if not quiet:
        print_summary(acts)
    sidecar(ctx, out, result=acts)


def print_summary(acts) -> None:  # type: ignore[no-untyped-def]
    """Print a table of an ActivationSet's layers to the console."""
    table = Table(title=f"{len(acts.layers)} layers, reduction {acts.reduction}")
    for col in ("layer", "points", "dim", "mean norm"):
        table.add_column(col, justify="right" if col != "layer" else "left")
    import numpy as np

    for layer in acts.layers:
        cloud = acts.cloud(layer)
        table.add_row(
            layer,
            str(cloud.shape[0]),
            str(cloud.shape[1]),
            f"{float(np.linalg.norm(cloud, axis=1).mean()):.3g}",
        )
    Console().print(table)


def main() -> None:
    """Entry point of the ``tda-activations`` script: clear one-line errors, no tracebacks."""
    try:
        app()
    except (ValueError, TypeError, FileNotFoundError) as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)  # one line, not wrapped
        raise SystemExit(2) from None
