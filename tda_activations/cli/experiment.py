"""CLI for the experiments: ``tda-activations experiment sensitivity|specificity|monotonicity``.

Each subcommand works on extraction stores (directories written by
``tda-activations extract``) or, for ``specificity`` and ``monotonicity``,
on zoo models trained from several seeds (``--zoo resnet18 --seeds 0,1,2,3,4``);
it prints the summary table and, with ``--out DIR``, writes every table as CSV
and the parameters as ``params.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, cast

import typer

from ._common import fail as _fail
from ._sidecar import sidecar

app = typer.Typer(
    help="Experiments on layer measures: sensitivity, specificity (layer correspondence), monotonicity."
)


def _ints(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: give comma-separated integers, e.g. 0,1,2,3,4"
        ) from None


def _floats(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: give comma-separated numbers, e.g. 0,0.5,0.9"
        ) from None


def _measures(
    specs: Optional[list[str]], exclude: Optional[list[str]], cache: Optional[Path], n_jobs: int
) -> Any:
    from ..experiments import DEFAULT_MEASURES, all_measures, layer_measure

    if specs == ["all"] or (not specs and exclude):
        return all_measures(exclude=tuple(exclude or ()), cache_dir=cache, n_jobs=n_jobs)
    if exclude:
        raise ValueError("--exclude leaves measures out of --measure all; give one or the other")
    return [layer_measure(s, cache_dir=cache, n_jobs=n_jobs) for s in specs or DEFAULT_MEASURES]


def _models(
    stores: Optional[list[Path]],
    zoo: Optional[str],
    seeds: str,
    n_images: int,
    layers: Optional[list[str]],
) -> dict[str, Any]:
    from ..experiments import zoo_activations
    from ..extract import load_store

    if stores and zoo:
        raise ValueError("give extraction stores or --zoo, not both")
    if stores:
        out: dict[str, Any] = {}
        for s in stores:
            name = s.name if s.name not in out else str(s)
            out[name] = load_store(s)
        return out
    if not zoo:
        raise ValueError("give extraction stores (STORE ...) or --zoo NAME --seeds 0,1,...")
    return zoo_activations(zoo, seeds=_ints(seeds), n_images=n_images, layers=layers or None)


def _cache(cache_dir: Optional[Path], stores: Optional[list[Path]]) -> Optional[Path]:
    from ..homology.layers import store_cache_dir
    from ..models import cache_dir as model_cache

    if cache_dir is not None:
        return cache_dir
    if stores:
        return store_cache_dir(stores[0])
    return model_cache() / "experiments" / "diagrams"


def _show(ctx: typer.Context, result: Any, out: Optional[Path]) -> None:
    frame = result.to_pandas()
    typer.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        result.save(out)
        typer.echo(f"wrote {out}")
        sidecar(ctx, out, result=result)


_MEASURE = typer.Option(
    None,
    "--measure",
    "-m",
    help="measure (repeatable): a similarity name (linear_cka) or H<dim>:<diagram distance> "
    "(H1:sliced_wasserstein), or all; default: H0/H1 sliced Wasserstein, "
    "linear_cka, rsa",
)
_EXCLUDE = typer.Option(
    None, "--exclude", "-x", help="leave out a measure or family name (repeatable), e.g. rtd"
)
_LAYER = typer.Option(
    None, "--layer", "-l", help="layer name (repeatable); default: all layers of the store"
)
_OUT = typer.Option(None, "--out", "-o", help="directory for every table (CSV) and params.json")
_CACHE = typer.Option(None, help="diagram cache directory (default: <first store>/homology)")
_JOBS = typer.Option(2, help="processes for persistence")
_SEED = typer.Option(0, help="seed of permutations, bootstrap and probe splits (recorded)")


@app.command("sensitivity")
def sensitivity_cmd(
    ctx: typer.Context,
    store: Path = typer.Argument(..., help="extraction store of one model"),
    measure: Optional[list[str]] = _MEASURE,
    exclude: Optional[list[str]] = _EXCLUDE,
    layer: Optional[list[str]] = _LAYER,
    fractions: str = typer.Option(
        "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.99",
        help="fractions of principal directions removed",
    ),
    order: str = typer.Option(
        "lowest_variance_first", help="lowest_variance_first | highest_variance_first"
    ),
    seed: int = _SEED,
    cache_dir: Optional[Path] = _CACHE,
    n_jobs: int = _JOBS,
    out: Optional[Path] = _OUT,
) -> None:
    """Distance to the original as principal directions are deleted, with a linear probe's accuracy drop."""
    from ..experiments import sensitivity
    from ..extract import load_store

    try:
        acts = load_store(store)
        ms = _measures(measure, exclude, _cache(cache_dir, [store]), n_jobs)
        result = sensitivity(
            acts,
            measures=ms,
            layers=layer or None,
            fractions=_floats(fractions),
            order=cast(Literal["lowest_variance_first", "highest_variance_first"], order),
            seed=seed,
        )  # type: ignore[arg-type]
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(exc)
        return
    _show(ctx, result, out)


@app.command("specificity")
def specificity_cmd(
    ctx: typer.Context,
    stores: Optional[list[Path]] = typer.Argument(
        None, help="extraction stores of models of one architecture"
    ),
    zoo: Optional[str] = typer.Option(
        None, help="instead of stores: a zoo model trained from --seeds"
    ),
    seeds: str = typer.Option("0,1,2,3,4", help="seeds of the zoo models"),
    n_images: int = typer.Option(
        1000, help="images (drawn with seed 0 from all digits) for zoo models"
    ),
    measure: Optional[list[str]] = _MEASURE,
    exclude: Optional[list[str]] = _EXCLUDE,
    layer: Optional[list[str]] = _LAYER,
    align: str = typer.Option(
        "names", help="names (same layers) | relative_depth (different depths)"
    ),
    pairs: str = typer.Option(
        "all", help="all ordered pairs | reference (first model vs the others)"
    ),
    n_permutations: int = typer.Option(999, help="shuffles of the layer order for the p-value"),
    n_bootstrap: int = typer.Option(1000, help="bootstrap replicates over model pairs"),
    seed: int = _SEED,
    cache_dir: Optional[Path] = _CACHE,
    n_jobs: int = _JOBS,
    out: Optional[Path] = _OUT,
) -> None:
    """Layer correspondence: how often each measure finds the same-depth layer of another seed's model."""
    from ..experiments import layer_correspondence

    try:
        models = _models(stores, zoo, seeds, n_images, layer)
        ms = _measures(measure, exclude, _cache(cache_dir, stores), n_jobs)
        result = layer_correspondence(
            models,
            measures=ms,
            layers=layer or None,
            align=cast(Literal["names", "relative_depth"], align),
            pairs=pairs,  # type: ignore[arg-type]
            n_permutations=n_permutations,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(exc)
        return
    _show(ctx, result, out)


@app.command("monotonicity")
def monotonicity_cmd(
    ctx: typer.Context,
    stores: Optional[list[Path]] = typer.Argument(
        None, help="extraction store(s); each model is tested"
    ),
    zoo: Optional[str] = typer.Option(
        None, help="instead of stores: a zoo model trained from --seeds"
    ),
    seeds: str = typer.Option("0", help="seeds of the zoo models"),
    n_images: int = typer.Option(
        1000, help="images (drawn with seed 0 from all digits) for zoo models"
    ),
    measure: Optional[list[str]] = _MEASURE,
    exclude: Optional[list[str]] = _EXCLUDE,
    layer: Optional[list[str]] = _LAYER,
    n_permutations: int = typer.Option(999, help="shuffles of the layer order for the p-value"),
    seed: int = _SEED,
    cache_dir: Optional[Path] = _CACHE,
    n_jobs: int = _JOBS,
    out: Optional[Path] = _OUT,
) -> None:
    """Within a model: whether dissimilarity grows with the distance in depth (rank correlation)."""
    from ..experiments import layer_monotonicity

    try:
        models = _models(stores, zoo, seeds, n_images, layer)
        ms = _measures(measure, exclude, _cache(cache_dir, stores), n_jobs)
        result = layer_monotonicity(
            models, measures=ms, layers=layer or None, n_permutations=n_permutations, seed=seed
        )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(exc)
        return
    _show(ctx, result, out)
