"""Cost of streaming data through ``as_source`` next to the ways torch itself does it.

1. A map-style ``Dataset`` of 20,000 CIFAR-sized samples (``(3, 32, 32)`` float32 and a label,
   each item built on access), read in batches of 256: ``as_source(ds).batches(256)`` against
   the reference ``torch.utils.data.DataLoader(ds, batch_size=256)`` (single process, the same
   ``default_collate``), both to the end.
2. An in-memory ``ImageDataset`` of the same size: ``as_source`` copies each batch (so that a
   model writing into its input cannot alter the dataset) against zero-copy
   ``torch.from_numpy`` views of the same slices; the forward pass of a small CNN over the same
   data is printed alongside, for scale.

Median of 5 runs each.  The last line is the ratio of (1): as_source time / DataLoader time.

Run: ``.venv/bin/python benchmarks/bench_sources.py`` (about 1.5 minutes on 2 busy cores).
Results: ``benchmarks/results/sources.txt``.
"""

from __future__ import annotations

import platform
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

N, SHAPE, BATCH, REPEATS = 20_000, (3, 32, 32), 256, 5


class Lazy(Dataset):
    """Samples built on access from a seed table (no big array held)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.full(SHAPE, float(i % 97) / 97.0), i % 10


def _median(fn: Callable[[], int]) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        count = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), count


def main() -> None:
    from tda_activations.datasets import as_source, flat_hierarchy
    from tda_activations.models import build_model
    from tda_activations.types import ImageDataset

    torch.set_num_threads(1)
    lines = [
        (
            f"machine: {platform.processor() or platform.machine()}, torch threads 1, "
            f"{N} samples of {SHAPE} float32, batches of {BATCH}, median of {REPEATS}"
        )
    ]
    ds = Lazy(N)
    ours, n1 = _median(lambda: sum(len(b) for b in as_source(ds).batches(BATCH)))
    ref, n2 = _median(lambda: sum(len(y) for _, y in DataLoader(ds, batch_size=BATCH)))
    assert n1 == n2 == N
    lines.append(f"map-style Dataset: as_source {ours:.3f} s, DataLoader {ref:.3f} s")

    rng = np.random.default_rng(0)
    images = ImageDataset(
        images=rng.random((N, *SHAPE), dtype=np.float32),
        labels=rng.integers(0, 10, N),
        hierarchy=flat_hierarchy("0123456789"),
    )
    copy_t, _ = _median(lambda: sum(len(b) for b in as_source(images).batches(BATCH)))

    def views() -> int:
        total = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # read-only arrays: torch warns once
            for start in range(0, N, BATCH):
                total += torch.from_numpy(images.images[start : start + BATCH]).shape[0]
        return total

    view_t, _ = _median(views)
    net = build_model("lenet", in_channels=3, image_size=32, seed=0).eval()

    def forward() -> int:
        with torch.inference_mode():
            for b in as_source(images).batches(BATCH):
                net(b.inputs)
        return N

    fwd_t, _ = _median(forward)
    lines.append(
        f"ImageDataset: batches with a copy {copy_t:.3f} s, zero-copy views "
        f"{view_t:.3f} s; LeNet forward over the same batches {fwd_t:.3f} s "
        f"(the copy is {100 * (copy_t - view_t) / fwd_t:.1f}% of it)"
    )
    lines.append(
        f"as_source over a map-style Dataset takes {ours / ref:.2f}x the time of "
        "torch's DataLoader (single process)"
    )
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "sources.txt"
    out.write_text(text + "\n")


if __name__ == "__main__":
    main()
