"""Test-wide settings: one torch thread per test process, a shared cache of trained zoo weights."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

# Trained zoo weights are cached by content (architecture, data, seed): share one cache
# between test processes and runs.  Writes are atomic, so parallel workers are safe.
os.environ.setdefault("TDA_ACTIVATIONS_CACHE", str(Path(__file__).resolve().parent.parent / ".tda_cache"))

import torch  # noqa: E402

# pytest-xdist runs two workers on two cores: more threads per worker only oversubscribe.
torch.set_num_threads(1)
