"""Small torch helpers shared by every stage that runs a model (one place for each)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import nn

__all__ = ["check_model", "eval_mode", "split_layer_call"]


def check_model(model: Any) -> nn.Module:
    """Return ``model`` if it is a ``torch.nn.Module``, else raise a ``TypeError`` that says what to do."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"expected a torch.nn.Module, got {type(model).__name__}; load it first with "
            "tda_activations.models.load_model"
        )
    return model


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode; restore each one's own mode on exit (also on error)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def split_layer_call(name: str) -> tuple[str, int]:
    """Split a layer-call name ``"module.path:k"`` into ``("module.path", k)``; ``k`` is 0 without suffix."""
    base, sep, idx = name.rpartition(":")
    if sep and idx.isdigit():
        return base, int(idx)
    return name, 0
