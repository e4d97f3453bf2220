"""Content fingerprints: one place for hashing arrays, models, datasets and parameters.

Caches are keyed by content, never by a user-supplied name.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "fingerprint_array",
    "fingerprint_dataset",
    "fingerprint_model",
    "fingerprint_params",
    "stable_json",
]

_DIGEST = 16  # hex characters kept: 64 bits, ample for caches of one project


def _h() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=32)


def fingerprint_array(array: Any) -> str:
    """Hash of an array's dtype, shape and bytes."""
    arr = np.ascontiguousarray(np.asarray(array))
    h = _h()
    h.update(str(arr.dtype).encode())
    h.update(str(arr.shape).encode())
    h.update(arr.tobytes())
    return h.hexdigest()[:_DIGEST]


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return {"__array__": fingerprint_array(obj)}
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if hasattr(obj, "__fspath__"):
        return str(obj)
    if callable(obj):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
    return repr(obj)


def _normalise(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, Mapping):
        return {str(k): _normalise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_normalise(v) for v in obj]
    return obj


def stable_json(obj: Any) -> str:
    """JSON with sorted keys; arrays, callables and non-finite floats made hashable."""
    return json.dumps(_normalise(obj), sort_keys=True, default=_default, separators=(",", ":"))


def fingerprint_params(params: Any) -> str:
    """Hash of a parameter mapping (order of keys does not matter)."""
    h = _h()
    h.update(stable_json(params).encode())
    return h.hexdigest()[:_DIGEST]


def fingerprint_model(model: Any) -> str:
    """Hash of a torch module's architecture (its ``repr``) and all its weights and buffers."""
    import torch

    h = _h()
    h.update(type(model).__qualname__.encode())
    h.update(repr(model).encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        t = tensor.detach().cpu().contiguous()
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:_DIGEST]


def fingerprint_dataset(dataset: Any) -> str:
    """Hash of an :class:`~tda_activations.types.ImageDataset`'s images, labels and ids."""
    h = _h()
    h.update(fingerprint_array(dataset.images).encode())
    h.update(fingerprint_array(dataset.labels).encode())
    h.update(fingerprint_array(dataset.sample_ids).encode())
    h.update(stable_json(dataset.hierarchy.class_names).encode())
    return h.hexdigest()[:_DIGEST]
