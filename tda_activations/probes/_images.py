"""Shared by the invariance and equivariance probes: image checks, layer choice, subsets.

Activations are read with forward hooks (registered in ``try``, removed in
``finally``), under :func:`torch.inference_mode`, with the model's training
mode restored afterwards.  Layer names are ``named_modules()`` paths; the
second call of a module in one forward pass is ``name:k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._select import resolve_layer_names
from .._torch import check_model
from ._hooks import LayerHooks, as_inputs
from .transforms import TensorFn, Transform

__all__ = ["GroupLike", "default_layers"]

GroupLike = str | Transform | Sequence[Transform | TensorFn]


# ----------------------------------------------------------------------- capture


def _images_of(data: Any, *, name: str = "images") -> np.ndarray:
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    x, _ = as_inputs(data, name=name)  # the probes' one input check (numeric, finite, non-empty)
    if x.ndim != 4:
        raise ValueError(
            f"{name} must have shape (n, channels, height, width) or be an ImageDataset; got "
            f"shape {x.shape}"
        )
    return x


def _forward(
    model: nn.Module, hooks: LayerHooks, x: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    hooks.reset()
    out = model(x)
    return dict(hooks.outputs), out


def default_layers(model: nn.Module, example: Any) -> tuple[str, ...]:
    """All convolution and linear layers of ``model``, in forward order.

    Parameters
    ----------
    model
        The network.
    example
        One batch of inputs (array, tensor or :class:`ImageDataset`; only the
        first image is used).

    Returns
    -------
    tuple of str
        ``named_modules()`` paths (``name:k`` for repeated calls).
    """
    from ._hooks import default_layers as _default_layers

    return _default_layers(check_model(model), _images_of(example)[:1])


def _resolve_layers(
    model: nn.Module, images: np.ndarray, layers: Sequence[str] | str | None
) -> tuple[str, ...]:
    found = default_layers(model, images)
    if layers is None:
        if not found:
            raise ValueError(
                "the model has no convolution or linear layer; name the layers to probe"
            )
        return found
    # Every module path, each followed by its repeated calls (``name:k``) in forward order.
    available: list[str] = []
    for name, _ in model.named_modules():
        if name:
            available.append(name)
            available.extend(f for f in found if f.startswith(name + ":"))
    return resolve_layer_names(available, layers)


def _subsample(n: int, max_n: int | None, seed: int) -> np.ndarray:
    if max_n is None or n <= max_n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_n, replace=False))
