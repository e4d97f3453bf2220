"""Activations as per-layer point clouds: hooks, layer selection, reductions, on-disk store."""

from .capture import LayerCall, capture, extract, list_layers, select_layers
from .reductions import REDUCTIONS, Reduction, get_reduction
from .store import CorruptStoreError, extract_to_store, load_store, save_store
from .subsample import Subsample, greedy_subsample, subsample_samples

__all__ = [
    "REDUCTIONS",
    "CorruptStoreError",
    "LayerCall",
    "Reduction",
    "Subsample",
    "capture",
    "extract",
    "extract_to_store",
    "get_reduction",
    "greedy_subsample",
    "list_layers",
    "load_store",
    "save_store",
    "select_layers",
    "subsample_samples",
]
