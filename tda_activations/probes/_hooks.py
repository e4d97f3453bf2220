"""Forward hooks shared by the probes: capture a layer's output, or replace it.

Replacing a layer's output with a forward hook that *returns* a tensor lets any
model be treated as "the rest of the network after layer l" without splitting
it into pieces.  Layer names are the ``named_modules()`` dotted paths; a module
called more than once in one forward pass is addressed as ``name:k`` for its
``k``-th call (``name`` and ``name:0`` are the first).  The pseudo-layer
:data:`INPUT_LAYER` (``"input"``) stands for the model's input.

Hygiene, as everywhere in the package: eval mode and ``torch.inference_mode()``
while running, the model's mode restored and every hook removed in ``finally``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from .._hooks import DEFAULT_LAYER_TYPES, call_name, check_hookable, hook_calls
from .._torch import check_model, eval_mode, model_devices, split_layer_call
from ..types import unknown_name_error

if TYPE_CHECKING:  # typing.Self is Python 3.11+; the package supports 3.10
    from typing_extensions import Self
from ._inputs import as_inputs

__all__ = [
    "INPUT_LAYER",
    "LayerCapture",
    "LayerHooks",
    "OutputReplacement",
    "as_inputs",
    "capture_outputs",
    "check_model",
    "default_layers",
    "evaluation",
    "layer_shapes",
    "model_device",
    "resolve_layer",
]

log = logging.getLogger(__name__)

INPUT_LAYER = "input"
"""Pseudo-layer name for the model's input (the data themselves)."""


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter or buffer (CPU for a model without any)."""
    devices = model_devices(model)
    return devices[0] if devices else torch.device("cpu")


def resolve_layer(model: nn.Module, name: str) -> tuple[nn.Module, int]:
    """The module named ``name`` (``named_modules()`` path, optional ``:k``) and its call index."""
    if not isinstance(name, str):
        raise TypeError(f"a layer name must be a string, got {type(name).__name__}")
    base, call = split_layer_call(name)
    modules = dict(model.named_modules())
    modules.pop("", None)
    if base not in modules:
        raise unknown_name_error("layer", name, [INPUT_LAYER, *modules])
    return modules[base], call


@contextlib.contextmanager
def evaluation(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and inference mode inside; the model's previous mode restored on exit."""
    with eval_mode(model), torch.inference_mode():
        yield model


class LayerHooks:
    """Context manager that records, and optionally replaces, the outputs of named layers.

    The probes' use of the package's one hook mechanism (:func:`tda_activations._hooks.hook_calls`).
    On every forward pass of the root model, each listed layer's output is passed to
    :meth:`record` (by default kept as a detached clone in :attr:`outputs`, its shape
    without the batch axis in :attr:`shapes`); if the layer has an entry in
    :attr:`replace`, the hook returns that tensor instead of the layer's own output, so
    the rest of the network runs on it (a replacement of the same number of values is
    reshaped to the output's shape).  Call counts restart with every forward pass of
    the root model, so ``name:k`` always means the k-th call within one pass.  Hooks
    are removed on exit.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        self.model = check_hookable(model)
        self.layers = tuple(layers)
        self.outputs: dict[str, torch.Tensor] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.replace: dict[str, torch.Tensor] = {}
        self._targets = [(layer, *resolve_layer(model, layer)) for layer in self.layers]
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> Self:
        modules: dict[str, nn.Module] = {}
        wanted: dict[str, list[str]] = {}
        for layer, module, call in self._targets:
            base = split_layer_call(layer)[0]
            modules[base] = module
            wanted.setdefault(call_name(base, call), []).append(layer)
        stack = contextlib.ExitStack()
        stack.enter_context(hook_calls(self.model, modules, self._make_hook(wanted)))
        self._stack = stack
        return self

    def reset(self) -> None:
        """Forget the outputs recorded so far."""
        self.outputs = {}

    def record(self, layer: str, output: torch.Tensor) -> None:
        """Keep a layer's output (override to reduce it inside the hook)."""
        self.outputs[layer] = output.detach().clone()

    def replacement_for(self, layer: str, output: torch.Tensor) -> torch.Tensor:
        """The tensor the hook returns instead of ``output``, checked and shaped like it."""
        rep = self.replace[layer]
        if rep.shape[0] != output.shape[0]:
            raise ValueError(
                f"replacement for layer {layer!r} has batch size {rep.shape[0]} but the "
                f"forward pass has {output.shape[0]}"
            )
        if rep.numel() != output.numel():
            raise ValueError(
                f"replacement for layer {layer!r} has shape {tuple(rep.shape)}, which does not fit "
                f"the layer's output {tuple(output.shape)}"
            )
        return rep.reshape(output.shape).to(dtype=output.dtype, device=output.device)

    def _make_hook(self, wanted: dict[str, list[str]]) -> Callable[[str, nn.Module, Any, Any], Any]:
        def hook(name: str, module: nn.Module, args: Any, output: Any) -> Any:
            result = None
            for layer in wanted.get(name, ()):
                if not isinstance(output, torch.Tensor):
                    raise TypeError(
                        f"layer {layer!r} returns {type(output).__name__}, not a tensor; choose "
                        "a module whose output is a single tensor"
                    )
                self.shapes[layer] = tuple(output.shape[1:])
                self.record(layer, output)
                if layer in self.replace:
                    result = self.replacement_for(layer, output)
            return result

        return hook

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()


class LayerCapture(LayerHooks):
    """Records the outputs of some layers on every forward pass, flattened.

    After each forward pass ``outputs[layer]`` holds that layer's output, flattened
    to ``(batch, features)``, as a CPU float tensor (cloned).  ``reduce``, when
    given, is applied to every captured tensor inside the hook (keeps memory
    bounded by one batch).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Sequence[str],
        *,
        reduce: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(model, layers)
        self.reduce = reduce

    def record(self, layer: str, output: torch.Tensor) -> None:
        out = output.detach().reshape(output.shape[0], -1).float()
        if self.reduce is not None:
            out = self.reduce(layer, out)
        self.outputs[layer] = out.to("cpu", copy=True)


class OutputReplacement(LayerHooks):
    """Replaces one layer's output on every forward pass.

    Set :attr:`replacement` (a tensor of the layer's output shape, batch first, or
    the same values flattened) before each forward pass; the hook returns it instead
    of the layer's own output.  A replacement whose batch size differs from the
    forward pass's raises ``ValueError``; :attr:`calls` counts the replacements made.
    """

    def __init__(self, model: nn.Module, layer: str) -> None:
        super().__init__(model, [layer])
        self.layer = layer
        self.module, self.call = resolve_layer(model, layer)
        self.calls = 0

    @property
    def replacement(self) -> torch.Tensor | None:
        """The tensor the layer's output is replaced by (``None``: not set)."""
        return self.replace.get(self.layer)

    @replacement.setter
    def replacement(self, value: torch.Tensor | None) -> None:
        if value is None:
            self.replace.pop(self.layer, None)
        else:
            self.replace[self.layer] = value

    def record(self, layer: str, output: torch.Tensor) -> None:
        if layer not in self.replace:
            raise RuntimeError(f"no replacement was set for layer {self.layer!r}")

    def replacement_for(self, layer: str, output: torch.Tensor) -> torch.Tensor:
        rep = super().replacement_for(layer, output)
        self.calls += 1
        return rep


def capture_outputs(
    model: nn.Module, x: np.ndarray, layer: str, *, batch_size: int = 256
) -> np.ndarray:
    """The flattened output of ``layer`` for every input, float32 ``(n, units)``.

    Call it inside :func:`evaluation` (the model is run as it is).
    """
    chunks = []
    device = model_device(model)
    with LayerCapture(model, [layer]) as cap:
        for start in range(0, x.shape[0], batch_size):
            model(torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size])).to(device))
            if layer not in cap.outputs:
                raise ValueError(
                    f"layer {layer!r} was not called in the forward pass; choose one that runs"
                )
            chunks.append(cap.outputs[layer].numpy())
    return np.concatenate(chunks)


def layer_shapes(
    model: nn.Module, example: np.ndarray, layers: Sequence[str]
) -> dict[str, tuple[int, ...]]:
    """Output shape (without the batch axis) of each layer on one example input."""
    with evaluation(model), LayerCapture(model, layers, reduce=lambda _l, t: t[:0]) as cap:
        model(torch.from_numpy(np.ascontiguousarray(example[:1])).to(model_device(model)))
    missing = [layer for layer in layers if layer not in cap.shapes]
    if missing:
        raise ValueError(
            f"layers {missing} were not called in a forward pass (a module called fewer times than "
            "the ':k' asked for, or one the forward pass skips); choose layers that run"
        )
    return dict(cap.shapes)


def default_layers(
    model: nn.Module,
    example: np.ndarray,
    *,
    kinds: tuple[type[nn.Module], ...] = DEFAULT_LAYER_TYPES,
) -> tuple[str, ...]:
    """All layers of the given kinds (conv and linear by default) in forward order.

    A module called ``k > 1`` times appears as ``name``, ``name:1``, ...
    """
    from ..extract.capture import select_layers

    x = torch.from_numpy(np.ascontiguousarray(example[:1])).to(model_device(model))
    try:
        return select_layers(model, x, kinds)
    except ValueError as exc:
        raise ValueError(
            "the model has no convolution or linear layers that run in a forward pass; name the "
            "layers explicitly"
        ) from exc
