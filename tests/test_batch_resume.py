"""kill -9 in the middle of a run, then resume: nothing finished is recomputed, nothing is
corrupted, and the results equal those of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tda_activations.batch import run_batch

CONFIG = """
[run]
name = "resume"
[data]
dataset = "digits:x2"
limit = 150
[[models]]
name = "mlp"
zoo = "mlp"
[[models]]
name = "lenet"
zoo = "lenet"
[homology]
maxdim = 1
[distances]
metrics = ["sliced_wasserstein"]
[similarity]
measures = ["linear_cka"]
[mapper]
n_intervals = 4
html = false
[probes]
run = ["separability"]
"""

SCRIPT = """
import sys
from tda_activations.batch import run_batch
if __name__ == "__main__":
    run_batch(sys.argv[1], out=sys.argv[2], workers=2, report=False)
"""


def _finished(run_dir: Path) -> dict[str, dict]:
    out = {}
    for f in run_dir.glob("tasks/*/*/_task.json"):
        if f.parent.name.startswith("."):  # a .partial folder (pathlib's '*' matches dot names)
            continue
        rec = json.loads(f.read_text())
        out[rec["key"]] = rec
    return out


def _arrays(run_dir: Path) -> dict[str, np.ndarray]:
    """Every array result of a run, keyed by its path relative to the run directory."""
    out = {}
    for f in sorted(run_dir.glob("tasks/*/*/*.npz")):
        with np.load(f, allow_pickle=False) as z:
            for name in z.files:
                if name != "meta":
                    out[f"{f.relative_to(run_dir)}:{name}"] = np.array(z[name])
    for f in sorted(run_dir.glob("tasks/*/*/*.csv")):
        out[str(f.relative_to(run_dir))] = np.array(f.read_text())
    return out


@pytest.mark.slow
def test_kill_minus_nine_then_resume(tmp_path):
    cfg = tmp_path / "resume.toml"
    cfg.write_text(textwrap.dedent(CONFIG))
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    run_dir = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(cfg), str(run_dir)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if len(_finished(run_dir)) >= 6 or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, (
            "the run finished before it could be killed: " + proc.stderr.read().decode()[-2000:]
        )
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes, at once
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.stderr is not None:
            proc.stderr.close()
    before = _finished(run_dir)
    assert before, "no task had finished"
    manifest = (
        json.loads((run_dir / "manifest.json").read_text())
        if (run_dir / "manifest.json").exists()
        else {}
    )
    assert manifest.get("state", "running") == "running"  # the killed run never completed

    resumed = run_batch(cfg, out=run_dir, workers=2, report=False)
    assert resumed.ok, resumed.summary()
    after = _finished(run_dir)
    # nothing finished before the kill was computed again: same record, same run id and time
    for key, rec in before.items():
        assert after[key]["run_id"] == rec["run_id"] and after[key]["finished"] == rec["finished"]
    statuses = {r.key: r.status for r in resumed.records}
    assert all(statuses[k] == "cached" for k in before)
    assert any(s == "done" for s in statuses.values())  # the rest was computed now
    assert not list(run_dir.glob("tasks/*/.*"))  # no partial folder left

    clean = run_batch(cfg, out=tmp_path / "clean", workers=1, report=False)
    assert clean.ok
    a, b = _arrays(run_dir), _arrays(tmp_path / "clean")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
