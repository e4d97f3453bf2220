"""The embedded batch (tda_activations/data/configs/embedded.toml) on 2 worker processes: parallel efficiency
and the time of a fully cached second run.

In one run of the embedded config into a fresh directory (zoo weights already cached),
compares the wall time with the reference: the sum of the times of its tasks, i.e. what
the same tasks take run one after the other (each task's time is measured inside its
worker, so the sum excludes scheduling but includes each task's own loading).
Parallel efficiency = sum / (workers x wall).  Then the same config is run again into
the same directory three times: every task is found finished, nothing is computed; the
median wall time of these runs is the "second run" figure (it includes validating the
config, planning every task and rewriting the report), in this process and, as a user
sees it, from the command line in a new process (with interpreter start and imports).

The full run takes a few minutes, so it is run once; the cached run is repeated.

Run: ``.venv/bin/python benchmarks/bench_batch.py`` (about 3-5 minutes on 2 cores).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    from tda_activations import __version__
    from tda_activations.batch import embedded_config_path, run_batch

    workers = 2
    cfg = embedded_config_path()
    root = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    run_dir = root / "run"
    print(
        f"tda_activations {__version__}; python {platform.python_version()}; {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared machine); config {cfg.name}; {workers} worker processes"
    )
    try:
        # warm the zoo cache (training is not what is measured)
        from tda_activations.models import pretrained

        for name in ("mlp", "lenet", "resnet18", "densenet"):
            pretrained(name, seed=0)
        t0 = time.perf_counter()
        first = run_batch(cfg, out=run_dir, workers=workers)
        wall = time.perf_counter() - t0
        assert first.ok, first.summary()
        per_kind: dict[str, list[float]] = defaultdict(list)
        for r in first.records:
            per_kind[r.kind].append(r.seconds)
        total = sum(sum(v) for v in per_kind.values())
        print(f"\nfirst run: {len(first.records)} tasks, wall {wall:.1f} s")
        print(f"{'stage':<16}{'tasks':>6}{'sum s':>9}{'max s':>8}")
        for kind, secs in sorted(per_kind.items(), key=lambda kv: -sum(kv[1])):
            print(f"{kind:<16}{len(secs):>6}{sum(secs):>9.1f}{max(secs):>8.1f}")
        print(f"sum of task times (sequential reference): {total:.1f} s")
        print(f"parallel efficiency on {workers} workers: {total / (workers * wall):.0%}")

        cached = []
        for _ in range(3):
            t0 = time.perf_counter()
            again = run_batch(cfg, out=run_dir, workers=workers)
            cached.append(time.perf_counter() - t0)
            assert again.ok and again.counts()["done"] == 0
        med = statistics.median(cached)
        print(
            f"\nsecond (fully cached) run: {', '.join(f'{c:.2f}' for c in cached)} s; median {med:.2f} s "
            f"({len(again.records)} tasks found finished, report rewritten)"
        )
        import subprocess

        cli = []
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from tda_activations.cli.run import app; app()",
                    str(cfg),
                    "--out",
                    str(run_dir),
                    "--quiet",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            cli.append(time.perf_counter() - t0)
        print(
            f"second run from the command line (new process: interpreter start, imports, "
            f"validation, planning, report): {', '.join(f'{c:.2f}' for c in cli)} s; "
            f"median {statistics.median(cli):.2f} s"
        )
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert len(manifest["history"]) == 7 and manifest["counts"]["done"] == 0
        print(f"ratio (first run / cached run): {wall / med:.1f}x")
        print(f"ratio (sequential sum / parallel wall): {total / wall:.2f}x")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
