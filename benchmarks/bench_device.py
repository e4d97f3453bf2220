"""The device path against the CPU path, in one run: extraction, sliced Wasserstein, linear CKA.

One short script for a machine with a GPU (it prints that there is nothing to compare
and exits 0 where there is none).  Workload: ``--models`` randomly initialised zoo
ResNet-18s (``--width``, default 1: the full network) on the first ``--points`` embedded
digits (x2, 16x16, train split), every conv layer as one ``top_l2`` point per image:

1. extraction of every model: ``extract(..., device="cpu")`` against
   ``extract(..., device="cuda")`` (models moved there), after one warm-up each;
   clouds compared (max relative difference: convolutions sum in another order);
2. H0+H1 persistence of every cloud on the CPU (``layer_persistence``, all cores: the
   engines have no device path), then the all-pairs H1 sliced-Wasserstein matrix
   (M = 50): the NumPy engine on ``--cpu-jobs`` processes against ``device="cuda"``;
3. the all-pairs linear CKA matrix over every layer of every model: NumPy (one BLAS
   thread, the batch's deterministic engine, and all threads) against ``device="cuda"``.

Each comparison prints both times, the largest difference between the results, and the
ratio CPU/device; the last line is the ratio of the summed CPU time to the summed device
time over the three stages (total time is total time).

Run: ``.venv/bin/python benchmarks/bench_device.py [--models 12] [--cpu-jobs -1]``
(``--device cpu --models 2 --width 0.25`` runs the torch engines on the CPU: a smoke test
of the script itself, not a measurement).
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch


def _timed(fn):  # noqa: ANN001, ANN202 - a tiny helper
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t


def main() -> None:
    from threadpoolctl import threadpool_limits

    from tda_activations.datasets import load_digits
    from tda_activations.extract import extract
    from tda_activations.homology import distance_matrix, layer_persistence, stack_models
    from tda_activations.models import build_model
    from tda_activations.similarity import similarity_matrix
    from tda_activations.types import ActivationSet

    ap = argparse.ArgumentParser()
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--cpu-jobs", type=int, default=-1)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    cpus = os.cpu_count() or 1
    print(f"torch {torch.__version__}; {cpus} CPUs")
    dev = args.device
    if dev.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: nothing to compare (this script is for a machine with a GPU)")
        print("ratio (CPU / device, total of the three stages): n/a (no GPU)")
        return
    print(f"device: {torch.cuda.get_device_name(0) if dev.startswith('cuda') else dev}")
    train = load_digits(upsample=2).train
    data = train.subset(np.arange(min(args.points, len(train))))
    models = [build_model("resnet18", width=args.width, seed=s).eval() for s in range(args.models)]
    spec = {"layers": torch.nn.Conv2d, "reduction": "top_l2", "progress": False}

    # 1. extraction
    extract(models[0], data, **spec)  # warm-up
    cpu_sets, t_cpu_x = _timed(lambda: [extract(m, data, **spec) for m in models])
    gpu_models = [copy.deepcopy(m).to(dev) for m in models]  # the same weights
    extract(gpu_models[0], data, **spec)  # warm-up (cuDNN autotuning, allocator)
    gpu_sets, t_gpu_x = _timed(lambda: [extract(m, data, **spec) for m in gpu_models])
    worst = 0.0
    for a, b in zip(cpu_sets, gpu_sets):
        for layer in a.layers:
            x, y = a.cloud(layer), b.cloud(layer)
            if x.shape == y.shape:
                worst = max(worst, float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-30)))
    n_layers = len(cpu_sets[0].layers)
    print(
        f"1. extraction of {args.models} ResNet-18s x {n_layers} conv layers on "
        f"{len(data)} images: CPU {t_cpu_x:.2f} s, {dev} {t_gpu_x:.2f} s "
        f"({t_cpu_x / t_gpu_x:.1f}x); largest relative difference of the clouds {worst:.1e}"
    )

    # 2. persistence on the CPU, then the sliced-Wasserstein matrix
    clouds = {f"m{k}/{layer}": s.cloud(layer) for k, s in enumerate(cpu_sets) for layer in s.layers}
    dgms, t_pers = _timed(lambda: layer_persistence(clouds, maxdim=1, n_jobs=cpus, progress=False))
    print(f"   persistence of {len(clouds)} clouds on {cpus} CPU cores: {t_pers:.1f} s")
    flat = stack_models({"all": dgms})
    sw_cpu, t_cpu_sw = _timed(
        lambda: distance_matrix(flat, metric="sliced_wasserstein", n_jobs=args.cpu_jobs)
    )
    sw_dev, t_dev_sw = _timed(
        lambda: distance_matrix(flat, metric="sliced_wasserstein", device=dev)
    )
    pairs = len(flat) * (len(flat) - 1) // 2
    diff = float(np.abs(sw_cpu.values - sw_dev.values).max())
    print(
        f"2. H1 sliced Wasserstein (M=50), {pairs:,} pairs: CPU ({args.cpu_jobs} jobs) "
        f"{t_cpu_sw:.2f} s, {dev} {t_dev_sw:.2f} s ({t_cpu_sw / t_dev_sw:.1f}x); largest "
        f"difference {diff:.1e} (values up to {sw_cpu.values.max():.3g})"
    )

    # 3. linear CKA over every layer of every model (one point set: the same images)
    first = cpu_sets[0]
    merged = ActivationSet(
        clouds={f"m{k}/{la}": s.cloud(la) for k, s in enumerate(cpu_sets) for la in s.layers},
        sample_index={
            f"m{k}/{la}": s.sample_index[la] for k, s in enumerate(cpu_sets) for la in s.layers
        },
        labels=first.labels,
        hierarchy=first.hierarchy,
        reduction=first.reduction,
        params=first.params,
        model_fingerprint="models",
        data_fingerprint=first.data_fingerprint,
    )
    with threadpool_limits(limits=1):
        ck_cpu, t_cpu_ck = _timed(lambda: similarity_matrix(merged, measure="linear_cka"))
    _, t_cpu_ck_all = _timed(lambda: similarity_matrix(merged, measure="linear_cka"))
    ck_dev, t_dev_ck = _timed(lambda: similarity_matrix(merged, measure="linear_cka", device=dev))
    diff = float(np.abs(ck_cpu.values - ck_dev.values).max())
    print(
        f"3. linear CKA over {len(merged.layers)} layers: CPU {t_cpu_ck:.2f} s (1 thread; "
        f"{t_cpu_ck_all:.2f} s on all threads), {dev} {t_dev_ck:.2f} s "
        f"({t_cpu_ck / t_dev_ck:.1f}x); largest difference {diff:.1e}"
    )
    total_cpu = t_cpu_x + t_cpu_sw + t_cpu_ck
    total_dev = t_gpu_x + t_dev_sw + t_dev_ck
    print(
        f"ratio (CPU / device, total of the three stages): {total_cpu / total_dev:.1f}x "
        f"({total_cpu:.1f} s / {total_dev:.1f} s)"
    )


if __name__ == "__main__":
    main()
