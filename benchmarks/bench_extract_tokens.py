"""Token extraction overhead: every block of a GPT-2-small-sized model, all tokens as points.

A randomly initialised ``GPT2Model(GPT2Config())`` (12 blocks, width 768, 124M
parameters; nothing downloaded) runs over 64 sequences of 128 tokens.  The
extraction (``reduction="all_positions"`` on ``h.0`` ... ``h.11``: 8192 points of
dimension 768 per block) is timed against a plain forward pass over the same
batches in the same process, interleaved, repeated; the medians are compared.  The
extraction includes everything a user pays for: the tracing pass, the hooks, the
reduction, the copy to NumPy, the NaN/Inf check and the fingerprints.  Goal: at
most 1.3x.

A second run streams a dataset 10 times larger with ``max_points`` set to the first
run's points per block: its peak memory (resident set, reset before each run) stays
that of the first run, not ten times it.

Run: ``.venv/bin/python benchmarks/bench_extract_tokens.py [--quick] [--repeats 1]``
(``--quick``: 2 blocks of width 128, 16 sequences of 32 tokens).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import GPT2Config, GPT2Model

from tda_activations.datasets import TokenDataset
from tda_activations.datasets.sources import as_source
from tda_activations.extract import extract


def _tokens(n: int, length: int, vocab: int, seed: int) -> TokenDataset:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, vocab, size=(n, length))
    return TokenDataset(
        input_ids=ids, attention_mask=np.ones_like(ids), name=f"random-{n}x{length}"
    )


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux); False where impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _rss_mib(field: str) -> float:
    """``VmRSS`` (current) or ``VmHWM`` (peak since the last reset) in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _measured(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Seconds and peak resident memory above the starting point (MiB) of ``fn()``."""
    _reset_peak_rss()
    base = _rss_mib("VmRSS")
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, _rss_mib("VmHWM") - base, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small model and data (seconds)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--stream-factor", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.quick:
        cfg = GPT2Config(n_layer=2, n_embd=128, n_head=2, n_positions=64)
        n_seq, length = 16, 32
    else:
        cfg = GPT2Config()
        n_seq, length = 64, 128
    model = GPT2Model(cfg).eval()
    layers = [f"h.{i}" for i in range(cfg.n_layer)]
    data = _tokens(n_seq, length, cfg.vocab_size, seed=0)
    batches = [b.inputs for b in as_source(data).batches(args.batch_size)]

    def plain() -> None:
        with torch.inference_mode():
            for inputs in batches:
                model(**inputs)

    def run() -> object:
        return extract(
            model,
            data,
            layers=layers,
            reduction="all_positions",
            batch_size=args.batch_size,
            progress=False,
        )

    with torch.inference_mode():
        model(**batches[0])  # warm-up
    plain_s, extract_s, mem_first = [], [], []
    acts = None
    for _ in range(args.repeats):
        plain_s.append(_measured(plain)[0])
        seconds, peak, acts = _measured(run)
        extract_s.append(seconds)
        mem_first.append(peak)
    assert acts is not None
    points = acts.cloud(layers[0]).shape[0]  # type: ignore[attr-defined]
    kept_mib = sum(acts.cloud(layer).nbytes for layer in layers) / 2**20  # type: ignore[attr-defined]
    del acts

    big = _tokens(n_seq * args.stream_factor, length, cfg.vocab_size, seed=1)
    stream_s, mem_stream, streamed = _measured(
        lambda: extract(
            model,
            big,
            layers=layers,
            reduction="all_positions",
            batch_size=args.batch_size,
            max_points=points,
            progress=False,
        )
    )
    stream_points = streamed.cloud(layers[0]).shape[0]  # type: ignore[attr-defined]

    params = sum(p.numel() for p in model.parameters())
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"torch {torch.__version__}, {args.threads} threads, load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(
        f"model: GPT2Model({'quick' if args.quick else 'GPT2Config()'}) {cfg.n_layer} blocks, "
        f"width {cfg.n_embd}, {params / 1e6:.1f}M parameters, random weights"
    )
    print(
        f"data: {n_seq} sequences x {length} tokens, batch size {args.batch_size}, "
        f"{args.repeats} repeat(s)"
    )
    print(f"plain forward:        median {statistics.median(plain_s):.2f} s  {plain_s}")
    print(f"extract all_positions: median {statistics.median(extract_s):.2f} s  {extract_s}")
    print(
        f"  {len(layers)} blocks x {points} points x {cfg.n_embd} dims kept: {kept_mib:.0f} MiB; "
        f"peak RSS above start {max(mem_first):.0f} MiB"
    )
    print(
        f"streaming {n_seq * args.stream_factor} sequences ({args.stream_factor}x) with "
        f"max_points={points}: {stream_s:.2f} s, {stream_points} points per block kept, "
        f"peak RSS above start {mem_stream:.0f} MiB"
    )
    print(
        f"peak memory: streaming {args.stream_factor}x the data with max_points used "
        f"{mem_stream / max(max(mem_first), 1e-9):.2f}x the first run's peak"
    )
    ratio = statistics.median(extract_s) / statistics.median(plain_s)
    print(f"extract overhead: extraction takes {ratio:.2f}x the time of a plain forward pass")


if __name__ == "__main__":
    main()
