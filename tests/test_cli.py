"""The root command line: every stage registered, extract end to end, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from typer.testing import CliRunner

from tda_activations.cli import app
from tda_activations.extract import load_store

runner = CliRunner()


def test_every_stage_is_a_subcommand() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("run", "extract", "homology", "similarity", "mapper", "probes", "experiment"):
        assert name in result.output


def test_extract_writes_a_store_and_reuses_it(tmp_path) -> None:
    out = tmp_path / "store"
    args = ["extract", "lenet", "--out", str(out), "--limit", "30", "--layer", "conv*", "--quiet"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    acts = load_store(out)
    assert acts.layers == ("conv1", "conv2")
    assert acts.cloud("conv2").shape == (30, 16)
    mtime = (out / "manifest.json").stat().st_mtime_ns
    assert runner.invoke(app, args).exit_code == 0
    assert (out / "manifest.json").stat().st_mtime_ns == mtime  # loaded, not rewritten
    assert np.isfinite(acts.cloud("conv1")).all()


def test_bad_input_is_one_line_with_exit_status_2(tmp_path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tda_activations.cli import main; main()",
            "extract",
            "lenet",
            "--out",
            str(tmp_path / "s"),
            "--limit",
            "5",
            "--layer",
            "conv3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown layer 'conv3'" in proc.stderr and "conv1" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()  # nothing half-written
