"""CLI for the Mapper stage: ``tda-activations mapper run STORE --out DIR``.

Thin: it loads an extraction store, calls :func:`tda_activations.mapper.layer_mapper`
(the paper's settings by default) and writes everything with
:func:`tda_activations.mapper.save_layer_mapper`; the trend table is printed.  The pages
show thumbnails of each node's samples: the images come from ``--data`` (as given to
``tda-activations extract``; checked against the store's data fingerprint) or, without
it, from the embedded digits when the store was extracted from them (a zoo model's own
data).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ._common import fail as _fail
from ._common import split_list
from ._sidecar import sidecar

if TYPE_CHECKING:
    from ..types import ActivationSet, ImageDataset

app = typer.Typer(help="Mapper graphs of every layer and how they organise the class hierarchy.")

_SHOWN = (
    "depth",
    "n_nodes",
    "n_components",
    "coverage",
    "purity_fine",
    "purity_coarse",
    "separated_fine",
    "separated_coarse",
    "cophenetic_correlation",
    "adjusted_rand_coarse",
)


@app.callback()
def _group() -> None:
    """Mapper graphs of every layer and how they organise the class hierarchy."""


def _eps(spec: str) -> float | str:
    if spec == "knee":
        return "knee"
    try:
        value = float(spec)
    except ValueError:
        raise typer.BadParameter(f"{spec!r}: give 'knee' or a positive number") from None
    if not value > 0:
        raise typer.BadParameter(f"{spec!r}: eps must be positive")
    return value


#: Upsampling factors of the embedded digits tried when ``--data`` is not given.
_DIGITS_UPSAMPLE = (1, 2, 3, 4)


def store_images(
    acts: ActivationSet, data: str = "", *, split: str = "test", limit: int | None = None
) -> ImageDataset | None:
    """The image dataset a store was extracted from, for the pages' thumbnails.

    ``data`` (a :func:`~tda_activations.datasets.load_dataset` specification) is loaded
    and must have the store's data fingerprint.  Without it, the embedded digits (both
    splits, upsampled 1-4 times, the store's number of samples) are tried; ``None`` when
    none of them is the store's data.

    Parameters
    ----------
    acts
        The store's activations (their ``data_fingerprint`` and labels are used).
    data
        A dataset specification (``"digits:x2"``, a folder, an ``.npz``), or ``""``.
    split
        Split of ``data``.
    limit
        The first ``limit`` samples of ``data``.

    Returns
    -------
    ImageDataset or None
        The images the store was extracted from, row ``i`` = sample ``i``.

    Raises
    ------
    ValueError
        If ``data`` is given but is not the data the store was extracted from.
    """
    from ..datasets import as_source, load_dataset

    n = len(acts.labels)
    if data:
        ds = load_dataset(data, split=split, limit=limit)  # type: ignore[arg-type]
        if as_source(ds).fingerprint != acts.data_fingerprint:
            raise ValueError(
                f"--data {data} (split {split}, {len(ds)} samples) is not the data this store "
                f"was extracted from ({n} samples); give the --data, --split and --limit used "
                "with 'tda-activations extract', or --no-thumbnails"
            )
        return ds
    for k in _DIGITS_UPSAMPLE:
        for part in ("test", "train"):
            ds = load_dataset(
                "digits" if k == 1 else f"digits:x{k}",
                split=part,  # type: ignore[arg-type]
                limit=n,
            )
            if len(ds) == n and as_source(ds).fingerprint == acts.data_fingerprint:
                return ds
    return None


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    store: Path = typer.Argument(..., help="extraction store directory"),
    out: Path = typer.Option(..., "--out", "-o", help="output directory (replaced atomically)"),
    layers: str | None = typer.Option(
        None, help="comma-separated layers (default: all, forward order)"
    ),
    lens: str = typer.Option("l2norm", help="l2norm (paper), pca, knn_distance, eccentricity"),
    n_intervals: int = typer.Option(10, help="cover intervals"),
    overlap: float = typer.Option(0.5, help="overlap of adjacent intervals, in [0, 1)"),
    min_samples: int = typer.Option(5, help="DBSCAN min_samples"),
    eps: str = typer.Option("knee", help="DBSCAN eps: 'knee' (paper) or a number"),
    hierarchy: str | None = typer.Option(
        None, help="class hierarchy name or JSON file (default: the store's)"
    ),
    separation_purity: float = typer.Option(
        0.9, help="threshold for 'a group has components of its own'"
    ),
    html: bool = typer.Option(
        True, "--html/--no-html", help="write an offline HTML page per layer", metavar=""
    ),
    seed: int = typer.Option(0, help="seed of the page layout"),
    thumbnails: bool = typer.Option(
        True,
        "--thumbnails/--no-thumbnails",
        metavar="",
        help="inline the images of each node's first samples in the pages (larger files)",
    ),
    data: str = typer.Option(
        "",
        help="the dataset the store was extracted from, as given to 'extract' (for the "
        "thumbnails; default: found when it is the embedded digits)",
    ),
    split: str = typer.Option("test", help="split of --data"),
    limit: int | None = typer.Option(None, help="--limit given to 'extract' with --data"),
) -> None:
    """Build the Mapper graph of every layer of a store and write the trend table and pages."""
    import pandas as pd

    from ..datasets import load_hierarchy
    from ..extract import load_store
    from ..mapper import layer_mapper, save_layer_mapper

    try:
        acts = load_store(store)
        hier = load_hierarchy(hierarchy) if hierarchy else None
        names = split_list(layers)
        images = store_images(acts, data, split=split, limit=limit) if html and thumbnails else None
        res = layer_mapper(
            acts,
            layers=names,
            hierarchy=hier,
            lens=lens,
            n_intervals=n_intervals,
            overlap=overlap,
            min_samples=min_samples,
            eps=_eps(eps),
            separation_purity=separation_purity,
        )
        save_layer_mapper(
            res, out, html=html, seed=seed, sample_index=acts.sample_index, images=images
        )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(exc)
    if html and thumbnails and images is None:
        typer.echo(
            "no thumbnails: the store's data is not the embedded digits; pass --data "
            "(as given to 'tda-activations extract') for them",
            err=True,
        )
    table = res.to_pandas()
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format
    ):
        typer.echo(table[[c for c in _SHOWN if c in table.columns]].to_string())
    typer.echo(
        f"wrote {out} (trend.csv, graphs/, {'html/, layers.html, ' if html else ''}index.html)"
    )
    sidecar(ctx, out, result=res)
