"""Runtime of every line of the README's API tour, next to the library's own cost estimate.

Each long call is timed (wall and CPU seconds of this process and its finished children)
after its ``*_cost`` preflight, so the table says how good the estimates are; lines without
a preflight show ``-``.  Zoo models are trained on first use (cached afterwards): run once to
fill the cache, then again for the numbers.  Writes ``benchmarks/results/tour.txt``; the
last line is the ratio of the summed estimates to the summed measured times of the lines
that have an estimate (1.0: exact; below 1: the estimates are too low).

Usage::

    python benchmarks/bench_tour.py            # about 5-10 minutes on 2 cores, zoo cached
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tda_activations as ta

OUT = Path(__file__).resolve().parent / "results" / "tour.txt"


def _cpu() -> float:
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def main() -> None:
    rows: list[tuple[str, float, float, float | None]] = []
    lines: list[str] = []

    def run(label: str, call: Callable[[], Any], estimate: Callable[[], Any] | None = None) -> Any:
        est = estimate() if estimate is not None else None
        t0, c0 = time.perf_counter(), _cpu()
        result = call()
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
        seconds = None if est is None else est.seconds
        rows.append((label, wall, cpu, seconds))
        text = f"{label:<58s} {wall:8.1f} {cpu:8.1f} " + (
            f"{seconds:9.1f}" if seconds else "        -"
        )
        print(text, flush=True)
        lines.append(text)
        return result

    header = (
        f"tda_activations {ta.__version__}; python {platform.python_version()}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f} at start"
    )
    print(header)
    cols = f"{'tour line':<58s} {'wall s':>8s} {'cpu s':>8s} {'estimate':>9s}"
    print(cols)
    ex, pr = ta.experiments, ta.probes
    tm = run(
        'models.pretrained("resnet18", seed=0)', lambda: ta.models.pretrained("resnet18", seed=0)
    )
    acts = run(
        'extract.extract(tm.model, tm.data.test, reduction="top_l2")',
        lambda: ta.extract.extract(tm.model, tm.data.test, layers=None, reduction="top_l2"),
    )
    dgms = run(
        "homology.layer_persistence(acts, maxdim=1, n_jobs=2)",
        lambda: ta.homology.layer_persistence(acts, maxdim=1, n_jobs=2),
    )
    run(
        'homology.distance_matrix(dgms, "sliced_wasserstein", dim=1)',
        lambda: ta.homology.distance_matrix(
            dgms, metric="sliced_wasserstein", dim=1, n_directions=50
        ),
    )
    run("mapper.layer_mapper(acts)", lambda: ta.mapper.layer_mapper(acts, progress=False))
    run(
        'similarity.similarity_matrix(acts, measure="linear_cka")',
        lambda: ta.similarity.similarity_matrix(acts, measure="linear_cka"),
    )
    models = run(
        'experiments.zoo_activations("resnet18", seeds=range(5), n_images=1000)',
        lambda: ex.zoo_activations("resnet18", seeds=range(5), n_images=1000, progress=False),
    )
    run(
        "experiments.layer_correspondence(models)",
        lambda: ex.layer_correspondence(models, progress=False),
        lambda: ex.layer_correspondence_cost(models),
    )
    run(
        'experiments.sensitivity(models["seed0"], layers=["layer2.0.conv1"])',
        lambda: ex.sensitivity(models["seed0"], layers=["layer2.0.conv1"], progress=False),
        lambda: ex.sensitivity_cost(models["seed0"], layers=["layer2.0.conv1"]),
    )
    run(
        "probes.correlation_order(tm.model, tm.data)",
        lambda: pr.correlation_order(tm.model, tm.data, progress=False),
        lambda: pr.correlation_order_cost(tm.model, tm.data),
    )
    run(
        'probes.invariance_scores(tm.model, tm.data.test, group="flips")',
        lambda: pr.invariance_scores(tm.model, tm.data.test, group="flips", progress=False),
        lambda: pr.invariance_scores_cost(tm.model, tm.data.test, group="flips"),
    )
    run(
        "probes.architecture_metrics(tm.model, input_shape=(1, 16, 16))",
        lambda: pr.architecture_metrics(tm.model, input_shape=(1, 16, 16)),
    )

    timed = [(w, s) for _, w, _, s in rows if s]
    ratio = sum(s for _, s in timed) / sum(w for w, _ in timed)
    last = f"ratio (sum of cost estimates / sum of measured wall times, {len(timed)} lines): {ratio:.2f}"
    print(last)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join([header, cols, *lines, last]) + "\n")


if __name__ == "__main__":
    main()
