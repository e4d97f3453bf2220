"""Extraction overhead: ``top_l2`` on all 17 conv layers of the zoo ResNet-18 vs a plain forward pass.

Both run over the same batches of the digits test split in the same process,
interleaved, repeated; the medians are compared.  The extraction includes
everything a user pays for: the layer-tracing pass, the hooks, the reduction
inside each hook, the copy to NumPy, the NaN/Inf check and the fingerprints of
model and data.  Goal (issue 2): at most 1.3x.

Run: ``.venv/bin/python benchmarks/bench_extract.py [--repeats 7] [--threads 2]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from tda_activations.datasets import load_digits
from tda_activations.extract import extract
from tda_activations.models import pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--upsample", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tm = pretrained("resnet18", seed=0)
    data = (
        load_digits(upsample=tm.params["upsample"]).test
        if args.upsample == tm.params["upsample"]
        else None
    )
    if data is None:
        raise SystemExit("--upsample must match the trained model's input size")
    model = tm.model.eval()
    x_all = torch.from_numpy(np.array(data.images))
    convs = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
    )
    print(
        f"model: zoo resnet18 width {tm.params['width']}, {len(convs)} conv layers; data: {data.name}, "
        f"{len(data)} images {data.image_shape}, batch {args.batch_size}"
    )

    def plain() -> None:
        with torch.inference_mode():
            for s in range(0, len(data), args.batch_size):
                model(x_all[s : s + args.batch_size])

    def ours() -> None:
        extract(model, data, layers=torch.nn.Conv2d, reduction="top_l2", batch_size=args.batch_size)

    plain(), ours()  # warm-up
    t_plain, t_ours = [], []
    for _ in range(args.repeats):
        for fn, acc in ((plain, t_plain), (ours, t_ours)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    mp, mo = statistics.median(t_plain), statistics.median(t_ours)
    print(
        f"plain forward: median {mp * 1e3:.1f} ms  (runs: {', '.join(f'{t * 1e3:.0f}' for t in t_plain)})"
    )
    print(
        f"extract top_l2, 17 conv layers: median {mo * 1e3:.1f} ms  (runs: {', '.join(f'{t * 1e3:.0f}' for t in t_ours)})"
    )
    print(f"ratio (extract/plain forward): {mo / mp:.2f}x")


if __name__ == "__main__":
    main()
