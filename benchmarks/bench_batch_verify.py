"""Cost of run integrity on a resume: a fully cached rerun that verifies the SHA-256 of every
output, against the same rerun that only checks that each task's record exists (what a
resume did before checksums), in the same process; and the cost of the code fingerprints
that enter every task key (computed once per process).

    python benchmarks/bench_batch_verify.py [--limit 500] [--repeat 5]

The last line is the ratio (verified rerun / existence-only rerun).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from unittest import mock

CONFIG = """
[run]
name = "verify"
[data]
dataset = "digits:x2"
limit = {limit}
[[models]]
name = "a"
source = "tda_activations.models:MLP"
kwargs = {{ in_features = 256, num_classes = 10, hidden = [256, 128, 64] }}
[[models]]
name = "b"
source = "tda_activations.models:LeNet5"
kwargs = {{ in_channels = 1, num_classes = 10, image_size = 16 }}
[homology]
maxdim = 0
[distances]
dim = 0
metrics = ["bottleneck"]
[similarity]
measures = ["linear_cka"]
[mapper]
enabled = false
[probes]
run = []
"""

FINGERPRINT = """
import time
t0 = time.perf_counter()
from tda_activations.batch.codehash import code_fingerprint
t1 = time.perf_counter()
for f in ("extract_model", "persistence_layer", "distance_block", "similarity_block",
          "combine_blocks", "figure_matrix", "figure_embedding"):
    code_fingerprint("tda_activations.batch.stages:" + f)
print(f"{time.perf_counter() - t1:.3f}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from tda_activations import __version__
    from tda_activations.batch import run_batch, runner

    print(
        f"tda_activations {__version__}; python {platform.python_version()}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "verify.toml"
        cfg.write_text(textwrap.dedent(CONFIG.format(limit=args.limit)))
        out = Path(tmp) / "run"
        first = run_batch(cfg, out=out, workers=1, report=False)
        assert first.ok, first.summary()
        files = [f for f in out.rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in files)
        print(f"run: {len(first.records)} tasks, {len(files)} files, {size / 2**20:.1f} MiB")

        def rerun() -> float:
            t0 = time.perf_counter()
            again = run_batch(cfg, out=out, workers=1, report=False)
            assert again.counts()["cached"] == len(again.records)
            return time.perf_counter() - t0

        verified, existence = [], []
        for _ in range(args.repeat):
            verified.append(rerun())
            with mock.patch.object(runner, "verify_task", lambda run_dir, task: None):
                existence.append(rerun())
        v, e = statistics.median(verified), statistics.median(existence)
        print(
            f"cached rerun, every output's SHA-256 verified: "
            f"{', '.join(f'{x:.3f}' for x in verified)} s; median {v:.3f} s"
        )
        print(
            f"cached rerun, record exists only (reference): "
            f"{', '.join(f'{x:.3f}' for x in existence)} s; median {e:.3f} s"
        )
    cold = subprocess.run(
        [sys.executable, "-c", FINGERPRINT], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"code fingerprints of 7 stage functions in a fresh process: {cold} s (once per process)")
    print(f"ratio (verified rerun / existence-only rerun): {v / e:.2f}x")


if __name__ == "__main__":
    main()
