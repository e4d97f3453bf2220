"""The one forward-hook mechanism of the package: layer names, selection, layouts.

Everything that looks inside a model while it runs goes through here: extraction
(:mod:`tda_activations.extract`), the probes (:mod:`tda_activations.probes`) and the
architecture metrics' layer names.

Layer names
    The ``named_modules()`` dotted path of a module; a module called more than once
    in one forward pass of the root model is addressed as ``name:k`` for its
    ``k``-th call (``name`` is the first, ``k >= 1`` the later ones).  Call counts
    restart with every forward pass of the root model.

Hooks
    :func:`hook_calls` registers the hooks inside ``try`` and removes every one of
    them in ``finally``, also when the forward pass raises.  TorchScript modules
    cannot take Python hooks: a scripted or traced root model is refused with a
    message saying what to do, and scripted submodules of a Python model are not
    listed (what runs inside them is not observable).

Layouts
    Every captured tensor has a layout: ``"channels_first"`` feature maps
    ``(B, C, *spatial)``, ``"tokens"`` ``(B, T, D)`` (more than one position axis,
    as in channels-last maps ``(B, H, W, C)``, are flattened to ``T``) or
    ``"flat"`` ``(B, F)``.  :func:`infer_layout` decides from the module type and
    the shape; what it cannot decide is an error that names the ``layout=`` option.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from ._torch import check_model, split_layer_call
from .types import unknown_name_error

__all__ = [
    "DEFAULT_LAYER_TYPES",
    "IO",
    "LAYOUTS",
    "LayerCall",
    "LayerSpec",
    "Layout",
    "LayoutHints",
    "LayoutSpec",
    "call_name",
    "check_hookable",
    "check_layout",
    "check_layout_spec",
    "hook_calls",
    "hookable_modules",
    "infer_layout",
    "layout_hints",
    "list_calls",
    "pick_tensor",
    "positions_view",
    "resolve_layout",
    "select_calls",
    "to_host",
    "unnest",
]

log = logging.getLogger(__name__)

Layout = Literal["channels_first", "tokens", "flat"]
LAYOUTS: tuple[str, ...] = ("channels_first", "tokens", "flat")
LayoutSpec = str | Mapping[str, str] | None
IO = Literal["output", "input"]

LayerSpec = str | Sequence[str] | type | tuple[type, ...] | Callable[[str, nn.Module], bool] | None

DEFAULT_LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)

# Modules whose outputs are (B, C, *spatial) feature maps whatever their rank.
_CHANNELS_FIRST_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.conv._ConvNd,
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd,
    nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.Upsample,
    nn.PixelShuffle,
)
# Modules that act on the last axis: their 3-D outputs are token sequences, their
# 4-D+ outputs channels-last maps (flattened to tokens).
_LAST_AXIS_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.LayerNorm, nn.RMSNorm, nn.Embedding)
# Modules whose 3-D outputs are token sequences.
_TOKEN_TYPES: tuple[type[nn.Module], ...] = (
    *_LAST_AXIS_TYPES,
    nn.TransformerEncoderLayer,
    nn.TransformerDecoderLayer,
    nn.TransformerEncoder,
    nn.TransformerDecoder,
    nn.Transformer,
    nn.MultiheadAttention,
    nn.GELU,
    nn.Dropout,
)
# transformers' GPT-style Conv1D is a linear layer on the last axis.
_TOKEN_CLASS_PATHS = ("transformers.pytorch_utils.Conv1D",)
_TOKEN_MODULE_PREFIXES = ("transformers.activations",)


@dataclass(frozen=True)
class LayerCall:
    """One call of a module in a forward pass.

    Attributes
    ----------
    name
        ``named_modules()`` path, with ``":k"`` appended for the k-th repeated call
        (``k >= 1``) of a module called more than once per forward pass.
    module_name
        The module's path without the call suffix.
    call
        0 for the first call, 1 for the second, ...
    module_type
        Class name of the module.
    """

    name: str
    module_name: str
    call: int
    module_type: str


def call_name(module_name: str, call: int) -> str:
    """Name of the ``call``-th call (0-based) of the module ``module_name``."""
    return module_name if call == 0 else f"{module_name}:{call}"


def check_hookable(model: Any) -> nn.Module:
    """``model`` if Python forward hooks can be attached to it.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    ValueError
        If it is a TorchScript (scripted, traced or ``torch.jit.load``-ed) module.
    """
    model = check_model(model)
    if isinstance(model, torch.jit.ScriptModule):
        raise ValueError(  # noqa: TRY004 - a TorchScript module is a Module of the wrong kind
            f"{type(model).__name__} is a TorchScript module, and TorchScript modules cannot take "
            "the forward hooks that capture activations; pass the Python nn.Module instead (build "
            "it from its class and load the weights with load_state_dict)"
        )
    return model


def hookable_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Submodules (root excluded) that can take forward hooks, by ``named_modules()`` path.

    TorchScript submodules and everything inside them are left out.
    """
    scripted: list[str] = []
    out: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        if not name or any(name.startswith(p + ".") for p in scripted):
            continue
        if isinstance(module, torch.jit.ScriptModule):
            scripted.append(name)
            continue
        out[name] = module
    return out


HookFn = Callable[[str, nn.Module, Any, Any], Any]


@contextlib.contextmanager
def hook_calls(model: nn.Module, modules: Mapping[str, nn.Module], fn: HookFn) -> Iterator[None]:
    """Call ``fn(layer, module, inputs, output)`` for every call of the given modules.

    ``layer`` is the call's name (``name`` or ``name:k``, counted within one forward
    pass of ``model``).  What ``fn`` returns replaces the module's output when it is
    not ``None`` (standard forward-hook semantics).  The hooks are registered inside
    ``try`` and all removed on exit, also when the body raises.

    Parameters
    ----------
    model
        The root model (its forward pre-hook restarts the call counts).
    modules
        ``named_modules()`` path -> module, for the modules to hook.
    fn
        The callback.
    """
    counts: dict[str, int] = {}
    handles: list[Any] = []

    def reset(module: nn.Module, args: Any) -> None:
        counts.clear()

    def make(base: str) -> Callable[[nn.Module, Any, Any], Any]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            k = counts.get(base, 0)
            counts[base] = k + 1
            return fn(call_name(base, k), module, inputs, output)

        return hook

    try:
        handles.append(model.register_forward_pre_hook(reset))
        for base, module in modules.items():
            if isinstance(module, torch.jit.ScriptModule):
                raise ValueError(  # noqa: TRY004 - a Module of the wrong kind
                    f"layer {base!r} is a TorchScript submodule and cannot take a forward hook; "
                    "choose a Python module, or pass the model without scripting it"
                )
            handles.append(module.register_forward_hook(make(base)))
        yield
    finally:
        for h in reversed(handles):
            h.remove()


def _run(model: nn.Module, example: Any) -> Any:
    from ._torch import call_model, move_inputs, resolve_device

    return call_model(model, move_inputs(example, resolve_device(model, None)))


def list_calls(model: nn.Module, example: Any) -> tuple[LayerCall, ...]:
    """Every hookable module call of one forward pass on ``example``, in call order.

    The model is run as it is (callers set eval and inference mode).
    """
    model = check_hookable(model)
    calls: list[LayerCall] = []

    def record(layer: str, module: nn.Module, inputs: Any, output: Any) -> None:
        base, k = split_layer_call(layer)
        calls.append(LayerCall(layer, base, k, type(module).__name__))

    with hook_calls(model, hookable_modules(model), record):
        _run(model, example)
    return tuple(calls)


def select_calls(
    calls: Sequence[LayerCall], modules: Mapping[str, nn.Module], spec: LayerSpec
) -> tuple[str, ...]:
    """Resolve a layer specification against the calls of one forward pass.

    Parameters
    ----------
    calls
        The calls (see :func:`list_calls`).
    modules
        Every module of the model by path (to tell "not called" from "unknown").
    spec
        ``None`` (every convolution and linear layer), an exact name, a glob
        (``"layer*.conv1"``), a list of names/globs (kept in the order given), a module
        type or tuple of types, or a callable ``(name, module) -> bool``.

    Returns
    -------
    tuple of str
        Layer-call names (``"name"`` or ``"name:k"``).

    Raises
    ------
    ValueError
        For an unknown name (with close matches), a glob that matches nothing, or an
        empty selection.
    """
    names = [c.name for c in calls]
    by_call = {c.name: modules[c.module_name] for c in calls}
    if spec is None:
        chosen = [n for n in names if isinstance(by_call[n], DEFAULT_LAYER_TYPES)]
    elif isinstance(spec, type) or (
        isinstance(spec, tuple) and spec and all(isinstance(t, type) for t in spec)
    ):
        chosen = [n for n in names if isinstance(by_call[n], spec)]
    elif callable(spec) and not isinstance(spec, str):
        chosen = [n for n in names if spec(n, by_call[n])]
    else:
        items = [spec] if isinstance(spec, str) else list(spec)  # type: ignore[arg-type]
        chosen = []
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"layer names must be strings, got {type(item).__name__}")
            if any(ch in item for ch in "*?["):
                hits = [n for n in names if fnmatch.fnmatchcase(n, item)]
                if not hits:
                    raise ValueError(
                        f"the layer pattern {item!r} matches no layer; list them with list_layers"
                    )
                chosen += [h for h in hits if h not in chosen]
            elif item in names:
                if item not in chosen:
                    chosen.append(item)
            elif item in modules and item:
                raise ValueError(
                    f"module {item!r} exists but is not called in the forward pass (or runs inside "
                    "TorchScript), so it has no activations; choose a module that is used"
                )
            else:
                raise unknown_name_error("layer", item, names)
    if not chosen:
        raise ValueError(f"the layer selection {spec!r} selects no layer of this model")
    return tuple(chosen)


def pick_tensor(
    layer: str,
    value: Any,
    *,
    io: str = "output",
    tensor_index: int | Mapping[str, int] | None = None,
) -> torch.Tensor:
    """The tensor a layer returned (or received), choosing in tuples by ``tensor_index``.

    ``None`` elements of a tuple hold nothing and are skipped, so ``(tensor, None)``
    (an attention module without weights) is unambiguous; a tuple of several tensors
    without an index is an error, never a silent ``[0]``.
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        idx = tensor_index.get(layer) if isinstance(tensor_index, Mapping) else tensor_index
        if idx is None:
            present = [v for v in value if v is not None]
            if len(present) == 1:
                return pick_tensor(layer, present[0], io=io, tensor_index=tensor_index)
            raise ValueError(
                f"layer {layer!r} {'returns' if io == 'output' else 'receives'} a "
                f"{type(value).__name__} of {len(value)} elements; choose one with "
                f"tensor_index={{{layer!r}: i}}"
            )
        if not -len(value) <= idx < len(value):
            raise ValueError(
                f"tensor_index {idx} is out of range for layer {layer!r} ({len(value)} elements)"
            )
        return pick_tensor(layer, value[idx], io=io, tensor_index=None)
    raise TypeError(f"layer {layer!r} produced a {type(value).__name__}, not a tensor")


# --------------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class LayoutHints:
    """What tells token sequences apart in a model whose module types say nothing.

    Attributes
    ----------
    width
        Hidden width of a known transformer (``transformers`` config ``hidden_size``,
        timm ``embed_dim``), ``None`` for other models.
    seq_len
        Length of the input token sequences (``input_ids`` or the attention mask),
        ``None`` when the inputs are not token ids.
    """

    width: int | None = None
    seq_len: int | None = None


def _class_path(module: nn.Module) -> str:
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def layout_hints(model: nn.Module, example: Any, *, mask_key: str | None = None) -> LayoutHints:
    """:class:`LayoutHints` for ``model`` (a ``transformers`` or timm model) and its inputs."""
    root = type(model).__module__
    width = None
    if root.startswith("transformers."):
        width = getattr(getattr(model, "config", None), "hidden_size", None)
    elif root.startswith("timm."):
        width = getattr(model, "embed_dim", None)
    if width is None:
        return LayoutHints()
    seq_len = None
    if isinstance(example, Mapping):
        for key in ("input_ids", mask_key):
            t = example.get(key) if key else None
            if isinstance(t, torch.Tensor) and t.ndim == 2:
                seq_len = int(t.shape[1])
                break
    return LayoutHints(width=int(width), seq_len=seq_len)


def infer_layout(
    module: nn.Module, shape: Sequence[int], hints: LayoutHints = LayoutHints()
) -> str | None:
    """The layout of a tensor of ``shape`` that ``module`` produced; ``None`` if undecided.

    2-D tensors are flat.  Convolutions, batch/instance/group norms, pooling and
    channel dropout give channels-first maps; linear layers, layer norms, embeddings,
    transformer layers, attention, GELU and dropout give tokens on 3-D tensors.
    Tensors of 4 or more axes are channels-first (PyTorch's image convention) unless
    the module acts on the last axis (linear, layer norm, embedding: channels-last,
    read as tokens).  A 3-D output of any other module is tokens only in a
    ``transformers``/timm model where its last axis is the model width or its second
    the input sequence length (and not both ambiguous); otherwise undecided.
    """
    ndim = len(shape)
    if ndim == 2:
        return "flat"
    if ndim < 2:
        return None
    if isinstance(module, _CHANNELS_FIRST_TYPES):
        return "channels_first"
    if ndim >= 4:
        return "tokens" if isinstance(module, _LAST_AXIS_TYPES) else "channels_first"
    if (
        isinstance(module, _TOKEN_TYPES)
        or _class_path(module) in _TOKEN_CLASS_PATHS
        or type(module).__module__.startswith(_TOKEN_MODULE_PREFIXES)
    ):
        return "tokens"
    if (
        hints.width is not None
        and shape[1] != shape[2]
        and (shape[2] == hints.width or (hints.seq_len is not None and shape[1] == hints.seq_len))
    ):
        return "tokens"
    return None


def _layout_from_spec(layer: str, spec: LayoutSpec) -> str | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return spec
    if layer in spec:
        return spec[layer]
    for pattern, value in spec.items():
        if fnmatch.fnmatchcase(layer, pattern):
            return value
    return None


def check_layout_spec(spec: Any) -> LayoutSpec:
    """Validate a ``layout=`` argument (``None``, a layout, or a mapping glob -> layout)."""
    if spec is None:
        return None
    values = [spec] if isinstance(spec, str) else None
    if isinstance(spec, Mapping):
        for key in spec:
            if not isinstance(key, str):
                raise TypeError(f"layout keys must be layer names or globs, got {key!r}")
        values = list(spec.values())
    if values is None:
        raise TypeError(
            f"layout must be None, a layout name or a mapping layer/glob -> layout, got "
            f"{type(spec).__name__}"
        )
    for v in values:
        if v not in LAYOUTS:
            raise unknown_name_error("layout", v, LAYOUTS)
    return spec


def check_layout(layer: str, layout: str, shape: Sequence[int]) -> None:
    """Raise a one-line ``ValueError`` when a tensor of ``shape`` cannot have ``layout``."""
    ndim = len(shape)
    need = {
        "flat": "(batch, features)",
        "tokens": "(batch, tokens, features)",
        "channels_first": "(batch, channels, *spatial)",
    }[layout]
    fits = ndim == 2 if layout == "flat" else ndim >= 3
    if not fits:
        raise ValueError(
            f"layer {layer!r} has shape {tuple(shape)}, which does not fit layout {layout!r} "
            f"{need}; give the right one with layout={{{layer!r}: ...}}"
        )


def resolve_layout(
    layer: str,
    module: nn.Module,
    shape: Sequence[int],
    spec: LayoutSpec,
    hints: LayoutHints = LayoutHints(),
) -> str:
    """The layout of ``layer``'s tensor: from ``spec`` when it names the layer, else inferred.

    Raises
    ------
    ValueError
        When the module type and the shape do not decide (naming the layer, the shape
        and the ``layout=`` option), or the layout does not fit the shape.
    """
    if len(shape) < 2:
        raise ValueError(
            f"layer {layer!r} has shape {tuple(shape)}; a layer's tensor needs a batch and a "
            "feature axis: choose another layer"
        )
    layout = _layout_from_spec(layer, spec)
    if layout is None:
        layout = infer_layout(module, shape, hints)
    if layout is None:
        raise ValueError(
            f"layer {layer!r} ({type(module).__name__}) has shape {tuple(shape)}, and its type does "
            f"not say whether that is (batch, tokens, features) or (batch, channels, length); say it "
            f"with layout={{{layer!r}: 'tokens'}} or 'channels_first' (globs allowed)"
        )
    check_layout(layer, layout, shape)
    return layout


def positions_view(tensor: torch.Tensor, layout: str) -> torch.Tensor:
    """``(B, positions, features)`` view of a tensor of the given layout.

    channels-first ``(B, C, *S)`` -> ``(B, prod(S), C)``; tokens ``(B, *T, D)`` ->
    ``(B, prod(T), D)``; flat ``(B, F)`` -> ``(B, 1, F)``.
    """
    b = tensor.shape[0]
    if layout == "channels_first":
        return tensor.reshape(b, tensor.shape[1], -1).transpose(1, 2)
    if layout == "tokens":
        return tensor.reshape(b, -1, tensor.shape[-1])
    return tensor.reshape(b, 1, -1)


def unnest(tensor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A nested tensor as a zero-padded one and its mask of real positions.

    Nested tensors (PyTorch's transformer fast path with a padding mask) hold one
    ``(T_i, D)`` sequence per sample; a plain tensor is returned as is with ``None``.
    """
    if not tensor.is_nested:
        return tensor, None
    parts = tensor.unbind()
    lengths = torch.tensor([p.shape[0] for p in parts])
    padded = torch.nested.to_padded_tensor(tensor, 0.0)
    mask = torch.arange(padded.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
    return padded, mask.to(padded.device)


def to_host(tensor: torch.Tensor) -> torch.Tensor:
    """A float32 CPU copy of a captured tensor (no copy when it is one already)."""
    return tensor.detach().to(device="cpu", dtype=torch.float32)
