"""Shared helpers of the homology benchmarks (not a benchmark itself)."""

from __future__ import annotations

import os
import platform
import time

import numpy as np


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 2**20:.0f} GiB"
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f} at start (shared machine)"
    return f"{platform.machine()}, {os.cpu_count()} cores{mem}{load}"


def median_time(fn, repeats: int = 3):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def activation_like_clouds(
    n_clouds: int, n_points: int, dim: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """ReLU of random projections of a clustered low-dimensional latent: activation-like clouds."""
    out = {}
    for s in range(n_clouds):
        rng = np.random.default_rng(seed + s)
        centres = rng.normal(size=(10, 8)) * 3
        z = centres[rng.integers(0, 10, n_points)] + rng.normal(size=(n_points, 8)) * rng.uniform(
            0.5, 2
        )
        w = rng.normal(size=(8, dim))
        out[f"c{s}"] = np.maximum(z @ w + rng.normal(size=dim) * 2, 0).astype(np.float32)
    return out


def paper_clouds(n_points: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """The core paper's clouds: top-L2 points of the 17 conv layers of the zoo ResNet-18.

    The embedded digits test split has 540 images, so the first ``n_points``
    training images are used (one point per image).
    """
    import torch

    from tda_activations.extract import extract
    from tda_activations.models import pretrained

    tm = pretrained("resnet18", seed=seed)
    data = tm.data.train.subset(np.arange(n_points))
    acts = extract(tm.model, data, layers=None, reduction="top_l2", seed=seed)
    convs = [l for l in acts.layers if isinstance(tm.model.get_submodule(l), torch.nn.Conv2d)]
    return {l: np.asarray(acts.cloud(l)) for l in convs}


def augmented_digit_clouds(
    n_points: int, seed: int = 0, max_shift: int = 1
) -> dict[str, np.ndarray]:
    """Activation clouds of more points than the digits have: the zoo MLP's hidden layers.

    Every digit (train + test, 16x16) shifted by up to ``max_shift`` pixels in each
    direction (zero fill; 1: 9 shifts, 16,173 images; 2: 25 shifts, 44,925 images), plus
    Gaussian pixel noise (sd 0.05 of the pixel range); ``n_points`` of them, drawn with
    ``seed``, go through the trained MLP, whose ReLU outputs (256 and 128 features) are
    the clouds.  Duplicate points are possible (ReLU) and are kept: persistence merges them.
    """
    import torch

    from tda_activations.models import pretrained

    tm = pretrained("mlp", seed=0)
    images = np.concatenate([tm.data.train.images, tm.data.test.images]).astype(np.float32)
    lo, hi = float(images.min()), float(images.max())
    shifted = []
    shifts = range(-max_shift, max_shift + 1)
    for dy in shifts:
        for dx in shifts:
            im = np.zeros_like(images)
            src = images[
                :,
                :,
                max(0, -dy) : images.shape[2] - max(0, dy),
                max(0, -dx) : images.shape[3] - max(0, dx),
            ]
            im[
                :, :, max(0, dy) : max(0, dy) + src.shape[2], max(0, dx) : max(0, dx) + src.shape[3]
            ] = src
            shifted.append(im)
    pool = np.concatenate(shifted)
    rng = np.random.default_rng(seed)
    if n_points > pool.shape[0]:
        raise ValueError(f"at most {pool.shape[0]} augmented digits, asked for {n_points}")
    pick = rng.permutation(pool.shape[0])[:n_points]  # the first n are the same for every n
    batch = pool[pick] + rng.normal(scale=0.05 * (hi - lo), size=pool[pick].shape).astype(
        np.float32
    )
    out = {}
    feats = tm.model.features
    with torch.inference_mode():
        h = torch.from_numpy(batch)
        for k, mod in enumerate(feats):
            h = mod(h)
            if isinstance(mod, torch.nn.ReLU):
                out[f"features.{k}"] = h.numpy().astype(np.float32).copy()
    return out
