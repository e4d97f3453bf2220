"""The core paper's full scale through the batch runner: 100 ResNet-18s x 17 conv layers x
1,000 ``top_l2`` points, persistence H0+H1, the 1,700 x 1,700 H1 sliced-Wasserstein matrix
(M = 50) and the linear CKA matrix over every layer of every model, on 2 cores.

The models are randomly initialised zoo CIFAR ResNet-18s (width 0.25, option-A shortcuts;
one ``state_dict`` checkpoint per seed, written before the clock starts), the data the first
1,000 images of the embedded digits' train split upsampled to 16x16 (``digits:x2``): the
pipeline's cost depends on the clouds, not on what the weights learned.  Mapper, probes and
experiments are off (not part of this workload).

Measured, in one invocation:

1. ``run_batch`` with 2 local worker processes into a fresh directory: wall time, the time
   of each stage (sum of its task times), and the runner's own work, timed by wrapping its
   functions: planning (``Planner``), cache checks (``verify_task``), manifest writes and
   the report, with their share of the wall time; peak RSS of the runner and of the largest
   worker.
2. The same config again into the same directory (fully cached: nothing computed).
3. The same config on a Dask ``LocalCluster`` (2 workers, 1 thread each) into another
   directory: wall time, and the combined matrices compared with those of step 1 (equal
   bit for bit) and the same figures.
4. The reference, in the same run: the naive loop, ``ripser(X, maxdim=1)`` per layer and
   ``persim.sliced_wasserstein(a, b, M=50)`` per pair of H1 diagrams, timed on a sample
   (layers and pairs of this run) and extrapolated to all 1,700 layers and 1,444,150 pairs;
   the sample's values are checked against ours.

The last line is the ratio: extrapolated naive total / our wall time (local processes).
Output copied to ``benchmarks/results/scale.txt`` (``--quick``: ``scale_quick.txt``).

Run: ``.venv/bin/python benchmarks/bench_scale.py`` (``--quick``: 10 models x 300 points,
for development; ``--models``, ``--points`` to choose; ``--no-dask`` to skip step 3).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import platform
import resource
import shutil
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

CONFIG = """
[run]
name = "scale"
description = "{n_models} randomly initialised ResNet-18s, {n_points} top_l2 points per conv layer"
seed = 0

[data]
dataset = "digits:x2"
split = "train"
limit = {n_points}
hierarchy = "digits"

[[models]]
name = "r18"
source = "ckpt/r18-{{seed}}.pt"
architecture = "tda_activations.models:CifarResNet18"
kwargs = {{ in_channels = 1, num_classes = 10, width = 0.25 }}
seeds = {seeds}

[extract]
layers = ["conv1", "layer*.conv*"]
reduction = "top_l2"

[homology]
maxdim = 1
coeff = 2

[distances]
dim = 1
metrics = [{{ name = "sliced_wasserstein", n_directions = 50 }}]
cross_models = true

[similarity]
measures = ["linear_cka"]
cross_models = true

[mapper]
enabled = false

[probes]
run = []

[experiments]
run = []
"""


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
            st.flush()
        return len(s)


class _Timers:
    """Wall time spent inside wrapped functions, by name (the runner's own work)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
                self.calls[name] += 1

        self._undo.append((owner, attr, original))
        setattr(owner, attr, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def undo(self) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)


def _write_checkpoints(folder: Path, seeds: list[int]) -> None:
    import torch

    from tda_activations.models import CifarResNet18

    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        torch.manual_seed(seed)
        torch.save(
            CifarResNet18(in_channels=1, num_classes=10, width=0.25).state_dict(),
            folder / f"r18-{seed}.pt",
        )


def _peak_rss_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # KiB on Linux


def _stage_table(result: Any) -> None:
    per: dict[str, list[float]] = defaultdict(list)
    for r in result.records:
        per[r.kind].append(r.seconds)
    print(f"{'stage':<16}{'tasks':>7}{'sum s':>9}{'max s':>8}")
    for kind, secs in sorted(per.items(), key=lambda kv: -sum(kv[1])):
        print(f"{kind:<16}{len(secs):>7}{sum(secs):>9.1f}{max(secs):>8.2f}")
    print(f"{'all':<16}{sum(map(len, per.values())):>7}{sum(map(sum, per.values())):>9.1f}")


def _overheads(timers: _Timers, wall: float) -> float:
    names = ("config", "planning", "cache checks", "manifest", "report")
    total = sum(timers.seconds[n] for n in names)
    print("runner's own work (wall seconds inside it, share of the run's wall time):")
    for n in names:
        print(
            f"  {n:<14}{timers.seconds[n]:>8.2f} s  {timers.seconds[n] / wall:>6.1%}  "
            f"({timers.calls[n]} calls)"
        )
    print(f"  {'total':<14}{total:>8.2f} s  {total / wall:>6.1%}  (goal: at most 5%)")
    return total


def _matrices(result: Any) -> dict[str, Any]:
    from tda_activations.batch import load_matrix

    return {
        r.kind: load_matrix(result.run_dir / r.path)
        for r in result.records
        if r.kind in ("distances-all", "similarity-all")
    }


def _reference(result: Any, *, n_layers: int, n_pairs: int, seed: int = 0) -> float:
    """Time the naive loop on a sample, check its values against ours, return the extrapolation."""
    import gudhi
    import persim
    from ripser import ripser

    from tda_activations.extract import load_store
    from tda_activations.homology import load_diagrams

    rng = np.random.default_rng(seed)
    run_dir = result.run_dir
    stores = {r.info["model"]: r for r in result.records if r.kind == "extract"}
    pers = [r for r in result.records if r.kind == "persistence"]
    # persistence: a spread of depths across models
    sample = [pers[i] for i in rng.choice(len(pers), size=min(6, len(pers)), replace=False)]
    times, worst = [], 0.0
    for r in sample:
        acts = load_store(run_dir / stores[r.info["model"]].path / "store")
        x = np.asarray(acts.cloud(r.info["layer"]))
        t0 = time.perf_counter()
        ref = ripser(x, maxdim=1)["dgms"]
        times.append(time.perf_counter() - t0)
        ours = load_diagrams(run_dir / r.path / "diagrams.npz")
        for d in (0, 1):
            a = np.asarray(ours[d], dtype=float)
            b = np.asarray(ref[d], dtype=float)
            if a.shape != b.shape:
                raise AssertionError(f"{r.name} H{d}: {a.shape} bars vs ripser's {b.shape}")
            if np.isinf(a[:, 1]).sum() != np.isinf(b[:, 1]).sum():
                raise AssertionError(f"{r.name} H{d}: essential bars differ from ripser's")
            # GUDHI's exact bottleneck distance (ripser.py works in float32, so ~1e-8 here);
            # a sort-and-subtract comparison would pair bars wrongly wherever float32
            # rounding swaps the order of two births
            worst = max(worst, float(gudhi.bottleneck_distance(a, b, 0.0)))
    ph = float(np.mean(times))
    print(
        f"ripser(X, maxdim=1): {len(times)} layers of this run, mean {ph:.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}); our diagrams: same numbers of "
        f"bars, largest bottleneck distance (GUDHI) {worst:.2e}"
    )
    # sliced Wasserstein: random pairs of the run's H1 diagrams
    full = _matrices(result)["distances-all"]
    where = {label: i for i, label in enumerate(full.row_labels)}
    dg = {f"{r.info['model']}/{r.info['layer']}": r for r in pers}
    labels = list(full.row_labels)
    k = min(150, len(labels) * (len(labels) - 1) // 2)
    cache: dict[str, np.ndarray] = {}

    def h1(label: str) -> np.ndarray:
        if label not in cache:
            cache[label] = np.asarray(load_diagrams(run_dir / dg[label].path / "diagrams.npz")[1])
        return cache[label]

    sw_times, diff, done = [], 0.0, 0
    while done < k:
        i, j = rng.choice(len(labels), size=2, replace=False)
        a, b = h1(labels[i]), h1(labels[j])
        if len(a) == 0 or len(b) == 0:
            continue
        t0 = time.perf_counter()
        v = persim.sliced_wasserstein(a, b, M=50)
        sw_times.append(time.perf_counter() - t0)
        diff = max(diff, abs(v - full.values[where[labels[i]], where[labels[j]]]))
        done += 1
    sw = float(np.mean(sw_times))
    print(
        f"persim.sliced_wasserstein(M=50): {done} pairs of this run's H1 diagrams, mean "
        f"{sw * 1e3:.2f} ms; our matrix equals it to {diff:.1e}"
    )
    total = ph * n_layers + sw * n_pairs
    print(
        f"naive loop extrapolated: {n_layers} x {ph:.3f} s + {n_pairs:,} x {sw * 1e3:.2f} ms "
        f"= {ph * n_layers:.0f} s + {sw * n_pairs:.0f} s = {total:.0f} s "
        "(persistence and sliced Wasserstein only: no extraction, no CKA, no report)"
    )
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="10 models x 300 points (development)")
    ap.add_argument("--models", type=int, default=None, help="number of models (default 100)")
    ap.add_argument("--points", type=int, default=None, help="points per layer (default 1000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster run")
    ap.add_argument("--keep", action="store_true", help="keep the run directories")
    args = ap.parse_args(argv)
    n_models = args.models or (10 if args.quick else 100)
    n_points = args.points or (300 if args.quick else 1000)
    if not 2 <= n_models or not 10 <= n_points <= 1257:
        ap.error("--models must be at least 2 and --points between 10 and 1257 (the train split)")
    out_name = "scale_quick.txt" if args.quick else "scale.txt"
    buf = io.StringIO()
    sys.stdout = _Tee(sys.__stdout__, buf)  # type: ignore[assignment]
    try:
        return _run(args, n_models, n_points)
    finally:
        sys.stdout = sys.__stdout__
        if args.models is None and args.points is None:
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / out_name).write_text(buf.getvalue())


def _run(args: argparse.Namespace, n_models: int, n_points: int) -> int:
    from tda_activations import __version__
    from tda_activations.batch import plan as plan_module
    from tda_activations.batch import report as report_module
    from tda_activations.batch import run_batch
    from tda_activations.batch import runner as runner_module

    workers = args.workers
    seeds = list(range(n_models))
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    load = os.getloadavg()
    print(
        f"tda_activations {__version__}; python {platform.python_version()}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; load average at start "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min)"
    )
    print(
        f"{n_models} randomly initialised ResNet-18s (width 0.25) x 17 conv layers x "
        f"{n_points} top_l2 points (digits:x2, train split); H0+H1; H1 sliced Wasserstein "
        f"(M=50) and linear CKA over all {17 * n_models} layers; {workers} workers"
    )
    try:
        _write_checkpoints(root / "ckpt", seeds)
        cfg = root / "scale.toml"
        cfg.write_text(
            textwrap.dedent(CONFIG.format(n_models=n_models, n_points=n_points, seeds=seeds))
        )
        timers = _Timers()
        timers.wrap(runner_module, "_as_config", "config")
        for attr in ("__init__", "initial", "expand"):
            timers.wrap(plan_module.Planner, attr, "planning")
        timers.wrap(runner_module, "verify_task", "cache checks")
        timers.wrap(runner_module._Scheduler, "write_manifest", "manifest")
        timers.wrap(report_module, "build_report", "report")

        # 1. local processes
        t0 = time.perf_counter()
        first = run_batch(cfg, out=root / "local", workers=workers, quiet=True)
        wall = time.perf_counter() - t0
        if not first.ok:
            print(first.summary())
            return 1
        print(
            f"\n1. local processes: {len(first.records)} tasks, wall {wall:.1f} s "
            f"({wall / 60:.1f} min; goal: at most 10 min)"
        )
        _stage_table(first)
        _overheads(timers, wall)
        print(
            f"peak RSS: runner {_peak_rss_mib(resource.RUSAGE_SELF):.0f} MiB, largest worker "
            f"{_peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB"
        )
        size = sum(f.stat().st_size for f in (root / "local").rglob("*") if f.is_file())
        print(f"run directory: {size / 2**20:.0f} MiB")

        # 2. fully cached
        timers.reset()
        t0 = time.perf_counter()
        again = run_batch(cfg, out=root / "local", workers=workers, quiet=True)
        cached = time.perf_counter() - t0
        assert again.ok and again.counts()["done"] == 0, again.summary()
        print(
            f"\n2. fully cached rerun: {len(again.records)} tasks found finished, nothing "
            f"computed: {cached:.1f} s"
        )
        _overheads(timers, cached)

        # 3. Dask LocalCluster
        if not args.no_dask:
            timers.reset()
            t0 = time.perf_counter()
            dask = run_batch(cfg, out=root / "dask", executor="dask", workers=workers, quiet=True)
            dwall = time.perf_counter() - t0
            assert dask.ok, dask.summary()
            mine, theirs = _matrices(first), _matrices(dask)
            same = all(
                np.array_equal(mine[k].values, theirs[k].values)
                and mine[k].row_labels == theirs[k].row_labels
                for k in mine
            )
            figs = [
                sorted(r.name for r in res.records if r.kind == "figures") for res in (first, dask)
            ]
            print(
                f"\n3. Dask LocalCluster ({workers} workers x 1 thread): wall {dwall:.1f} s; "
                f"combined matrices {'equal bit for bit' if same else 'DIFFERENT'} to the "
                f"local run's; figures {'the same' if figs[0] == figs[1] else 'DIFFERENT'} "
                f"({len(figs[1])})"
            )
            _overheads(timers, dwall)
            if not same or figs[0] != figs[1]:
                return 1
        timers.undo()

        # 4. the naive reference
        n_layers = 17 * n_models
        print("\n4. reference (naive loop, sampled, same run):")
        naive = _reference(first, n_layers=n_layers, n_pairs=n_layers * (n_layers - 1) // 2)
        print(
            f"ratio naive/ours (extrapolated naive total / our wall, local processes): "
            f"{naive / wall:.0f}x"
        )
    finally:
        if args.keep:
            print(f"(run directories kept in {root})", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
