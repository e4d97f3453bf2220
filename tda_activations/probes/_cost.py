"""Quick calibrations for the probes' cost estimates: one timed batch, then arithmetic."""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from ._hooks import evaluation, model_device

__all__ = ["n_batches", "time_forward"]


def n_batches(n: int, batch_size: int) -> int:
    """Forward passes needed for ``n`` samples."""
    return max(1, math.ceil(n / batch_size))


def time_forward(model: nn.Module, x: np.ndarray, *, batch_size: int) -> float:
    """Seconds of one forward pass of a full batch (the best of two, after a warm-up).

    Parameters
    ----------
    model
        The model (run in evaluation mode, without gradients).
    x
        Inputs; the first ``batch_size`` rows (repeated if fewer) make the batch.
    batch_size
        Batch size of the call being estimated.

    Returns
    -------
    float
        Seconds, positive.
    """
    reps = math.ceil(batch_size / max(1, x.shape[0]))
    batch = np.concatenate([x] * reps)[:batch_size] if reps > 1 else x[:batch_size]
    xb = torch.from_numpy(np.ascontiguousarray(batch)).to(model_device(model))
    best = math.inf
    with evaluation(model), torch.inference_mode():
        model(xb[:1])
        for _ in range(2):
            start = time.perf_counter()
            model(xb)
            best = min(best, time.perf_counter() - start)
    return max(best, 1e-6)
