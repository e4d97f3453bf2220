"""``tda-activations run CONFIG``: a whole batch of models and analyses from a TOML config.

Thin: it validates the config and calls :func:`tda_activations.batch.run_batch`.
:func:`run_command` is the command; ``app`` wraps it alone for testing.
Exit status: 0 when every task finished, 1 when some failed (the summary names
them), 2 for bad input (invalid config, code the config may not run without
``--trust-config``, missing file, unreachable scheduler, a run directory that cannot
be written or is in use).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from ._common import fail

__all__ = ["app", "run_command"]


def _config_path(text: str) -> Path:
    path = Path(text)
    if path.exists():
        return path
    from ..batch import shipped_configs

    by_name = {p.stem: p for p in shipped_configs()}
    if text in by_name:
        return by_name[text]
    return path  # load_config reports it missing, listing the shipped configs


def _file_logging(log_file: Path) -> logging.Handler:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("tda_activations")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


def run_command(
    config: str = typer.Argument(
        ..., help="TOML run config (or the name of a shipped one: 'embedded', 'paper_cifar10')."
    ),
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        "-o",
        help="Run directory (default: the config's run.out, else runs/<name>). Rerunning into it resumes.",
    ),
    scheduler: Optional[str] = typer.Option(
        None,
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786) of an existing cluster; implies --executor dask.",
    ),
    scheduler_timeout: float = typer.Option(
        10.0, "--scheduler-timeout", help="Seconds to wait for the Dask scheduler to answer."
    ),
    executor: str = typer.Option(
        "local",
        "--executor",
        help="'local' processes or 'dask' (a LocalCluster started for the run unless --scheduler is given).",
    ),
    workers: Optional[int] = typer.Option(
        None,
        "--workers",
        "-j",
        help="Worker processes (local executor or local Dask cluster); default: every CPU.",
    ),
    quiet: bool = typer.Option(
        False,
        "--quiet",
        "-q",
        help="No progress bars (for cluster jobs); the summary is still printed.",
    ),
    log_file: Optional[Path] = typer.Option(
        None, "--log-file", help="Write an INFO-level log of every task to this file."
    ),
    check: bool = typer.Option(
        False,
        "--check",
        help="Only validate the config, list the models and the code it would import; run nothing.",
    ),
    report: bool = typer.Option(
        True, "--report/--no-report", help="Write index.html with figures at the end."
    ),
    trust_config: bool = typer.Option(
        False,
        "--trust-config",
        help="Let the config import and call code of its own choosing (a module:callable of yours). Without it, only zoo names, model files, torchvision:/timm: names, nn.Module classes and documented factories of tda_activations are accepted.",
    ),
) -> None:
    """Run a batch of models and analyses from a TOML config into a run directory (resumable)."""
    from ..batch import (
        ConfigError,
        RunDirectoryError,
        SchedulerUnreachable,
        check_trust,
        load_config,
        run_batch,
    )

    try:
        handler = _file_logging(log_file) if log_file is not None else None
    except OSError as exc:
        fail(ValueError(f"--log-file {log_file} cannot be written: {exc.strerror or exc}"))
    try:
        path = _config_path(config)
        if check:
            try:
                cfg = load_config(path)
                refs = check_trust(cfg, trust=trust_config)
            except (ConfigError, FileNotFoundError) as exc:
                fail(exc)
            labels = [m.label for m in cfg.instances()]
            typer.echo(
                f"config OK: {len(labels)} model(s): {', '.join(labels)}; data {cfg.dataset_spec()}"
            )
            if refs:
                typer.echo("code it imports:\n  " + "\n  ".join(r.describe() for r in refs))
            else:
                typer.echo("code it imports: none beyond tda_activations (zoo models, files)")
            return
        if workers is not None and workers < 1:
            fail(ValueError("--workers must be at least 1"))
        try:
            result = run_batch(
                path,
                out=out,
                executor=executor,
                scheduler=scheduler,
                workers=workers,
                quiet=quiet,
                report=report,
                scheduler_timeout=scheduler_timeout,
                trust=trust_config,
            )
        except (
            SchedulerUnreachable,
            ConfigError,
            FileNotFoundError,
            ValueError,
            RuntimeError,
            RunDirectoryError,
        ) as exc:
            fail(exc)
        typer.echo(result.summary())
        if not result.ok:
            raise typer.Exit(code=1)
    finally:
        if handler is not None:
            logging.getLogger("tda_activations").removeHandler(handler)
            handler.close()


app = typer.Typer(
    help="Run a batch of models and analyses from a TOML config.",
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run_command)
