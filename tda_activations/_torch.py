"""Small torch helpers shared by every stage that runs a model (one place for each)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

__all__ = [
    "autocast",
    "autocast_dtype",
    "available_devices",
    "call_model",
    "check_input_fit",
    "check_model",
    "compute_device",
    "eval_mode",
    "model_devices",
    "move_inputs",
    "resolve_device",
    "select_output",
    "split_layer_call",
]

log = logging.getLogger(__name__)


def check_model(model: Any) -> nn.Module:
    """Return ``model`` if it is a ``torch.nn.Module``, else raise a ``TypeError``.

    The error says what was given and what to do.
    """
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
    """Split a layer-call name ``"module.path:k"`` into ``("module.path", k)``.

    ``k`` is 0 without a suffix.
    """
    base, sep, idx = name.rpartition(":")
    if sep and idx.isdigit():
        return base, int(idx)
    return name, 0


# ---------------------------------------------------------------- devices and precision

_AUTOCAST_NAMES: dict[str, torch.dtype] = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}


def available_devices() -> tuple[str, ...]:
    """Names of the devices this process can run on: ``"cpu"``, ``"cuda:0"``..., ``"mps"``."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return tuple(names)


def model_devices(model: nn.Module) -> tuple[torch.device, ...]:
    """Devices of a model's parameters and buffers, in first-seen order (empty if it has none)."""
    seen: dict[torch.device, None] = {}
    for t in itertools.chain(model.parameters(), model.buffers()):
        seen.setdefault(t.device, None)
    return tuple(seen)


def _parse_device(device: Any) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if isinstance(device, int) and not isinstance(device, bool):
        return torch.device("cuda", device)
    if not isinstance(device, str):
        raise TypeError(
            f"device must be a string such as 'cpu' or 'cuda:0', a torch.device or None, "
            f"got {type(device).__name__}"
        )
    try:
        return torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device {device!r} is not a device name; write e.g. 'cpu' or 'cuda:0' (available "
            f"here: {', '.join(available_devices())})"
        ) from None


def _check_exists(dev: torch.device) -> None:
    available = available_devices()
    if dev.type == "meta":
        raise ValueError(
            "device 'meta' holds no data, so nothing can be computed on it; load the model's "
            f"weights and use one of: {', '.join(available)}"
        )
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        index = 0 if dev.index is None else dev.index
        if f"cuda:{index}" in available:
            return
    elif dev.type in available:
        return
    raise ValueError(
        f"device {str(dev)!r} does not exist on this machine; available: {', '.join(available)}"
    )


def resolve_device(model: nn.Module, device: str | torch.device | None = None) -> torch.device:
    """The device on which to run ``model``: its own by default, or a checked ``device``.

    Parameters
    ----------
    model
        The model.  A model split over several devices runs with its inputs on the device of
        its first parameter (where embeddings and stems usually live).
    device
        ``None`` (the model's device; ``cpu`` for a model without parameters), or a device
        name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``) or :class:`torch.device`.

    Returns
    -------
    torch.device
        The device; ``cuda`` without an index is made ``cuda:<current>``.

    Raises
    ------
    ValueError
        The device does not exist here (the message lists those that do), is ``meta``, or is
        not where the model's weights are (move the model with ``model.to(device)`` first: it
        is never moved behind your back).
    TypeError
        ``device`` is neither a string, a :class:`torch.device` nor ``None``.
    """
    model = check_model(model)
    own = model_devices(model)
    if device is None:
        dev = own[0] if own else torch.device("cpu")
        _check_exists(dev)
        return dev
    dev = compute_device(device)
    if own and dev not in own:
        where = ", ".join(str(d) for d in own)
        raise ValueError(
            f"the model's weights are on {where} but device {str(dev)!r} was asked; move the "
            f"model first (model.to({str(dev)!r})) or leave device=None to run where it is"
        )
    return dev


def compute_device(device: str | torch.device | int) -> torch.device:
    """A checked device for a computation that belongs to no model (e.g. a distance matrix).

    Parameters
    ----------
    device
        A device name (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``), an index (CUDA) or a
        :class:`torch.device`.

    Returns
    -------
    torch.device
        The device; ``cuda`` without an index is made ``cuda:<current>``.

    Raises
    ------
    ValueError
        The device does not exist here (the message lists those that do) or is ``meta``.
    TypeError
        ``device`` is not one of the accepted types.
    """
    dev = _parse_device(device)
    _check_exists(dev)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def move_inputs(inputs: Any, device: torch.device | str) -> Any:
    """The same structure (tensor, mapping, list or tuple of them) with every tensor on ``device``.

    Non-tensor leaves are passed through unchanged; mappings come back as ``dict``.
    """
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    if isinstance(inputs, Mapping):
        return {k: move_inputs(v, device) for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(move_inputs(v, device) for v in inputs)
    return inputs


def autocast_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """Normalise an autocast precision: ``None``/float32 -> ``None``, names -> torch dtypes.

    Raises
    ------
    ValueError
        An unknown name or a dtype autocast does not use.
    """
    if dtype is None or dtype == torch.float32 or dtype in ("float32", "fp32"):
        return None
    if isinstance(dtype, str):
        if dtype.lower() not in _AUTOCAST_NAMES:
            raise ValueError(
                f"dtype {dtype!r} is not an autocast precision; use 'bfloat16', 'float16' or "
                "None (full float32)"
            )
        return _AUTOCAST_NAMES[dtype.lower()]
    if dtype in (torch.bfloat16, torch.float16):
        return dtype  # type: ignore[return-value]
    raise ValueError(
        f"dtype {dtype!r} is not an autocast precision; use torch.bfloat16, torch.float16 or "
        "None (full float32)"
    )


def autocast(
    device: torch.device | str, dtype: str | torch.dtype | None
) -> contextlib.AbstractContextManager[Any]:
    """Mixed-precision context for running a model on ``device``; ``dtype=None`` is a no-op.

    Parameters
    ----------
    device
        The device the model runs on.
    dtype
        ``"bfloat16"`` / ``"float16"`` (or the torch dtypes), or ``None`` / float32 for full
        precision.

    Returns
    -------
    contextlib.AbstractContextManager
        :class:`torch.autocast` for that device and dtype, or a null context.

    Raises
    ------
    ValueError
        An unknown precision, or one the device type cannot autocast to (torch itself would
        only warn and silently run in float32).
    """
    dt = autocast_dtype(dtype)
    if dt is None:
        return contextlib.nullcontext()
    dev = _parse_device(device)
    if not torch.amp.is_autocast_available(dev.type):
        raise ValueError(
            f"autocast is not available on device type {dev.type!r}; use dtype=None there"
        )
    if dev.type == "cuda" and dt == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError(f"{dev} does not support bfloat16; use dtype='float16' or dtype=None")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return torch.autocast(dev.type, dtype=dt)
        except (UserWarning, RuntimeError) as exc:
            raise ValueError(
                f"autocast to {str(dt).removeprefix('torch.')} is not supported on "
                f"{dev.type!r} ({str(exc).splitlines()[0]}); use dtype=None"
            ) from None


# ---------------------------------------------------------------- calling a model

_SHAPE_ERRORS = (
    "expected input",
    "to have",
    "channels",
    "shapes cannot be multiplied",
    "kernel size can't be greater",
    "input size",
    "is invalid for input of size",
    "must match the size of tensor",
    "expected 2d",
    "expected 3d",
    "expected 4d",
    "expected 5d",
    "but got input of size",
    "size mismatch",
    "output size is too small",
)


def _shape_of(inputs: Any) -> str:
    if isinstance(inputs, torch.Tensor):
        return str(tuple(inputs.shape))
    if isinstance(inputs, Mapping):
        return "{" + ", ".join(f"{k}: {_shape_of(v)}" for k, v in inputs.items()) + "}"
    if isinstance(inputs, (list, tuple)):
        return "(" + ", ".join(_shape_of(v) for v in inputs) + ")"
    return type(inputs).__name__


def _expectation(module: nn.Module) -> str:
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    if isinstance(module, conv):
        kernel = "x".join(str(k) for k in module.kernel_size)
        return (
            f"{type(module).__name__} with {module.in_channels} input channels and a "
            f"{kernel} kernel"
        )
    if isinstance(module, nn.Linear):
        return f"Linear with {module.in_features} input features"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        return f"{type(module).__name__} over {module.num_features} channels"
    if isinstance(module, nn.LayerNorm):
        return f"LayerNorm over a last dimension of {tuple(module.normalized_shape)}"
    if isinstance(module, nn.Embedding):
        return f"Embedding of {module.num_embeddings} tokens"
    return type(module).__name__


def _first_layers(model: nn.Module) -> str:
    found = []
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    for kinds, label in ((convs, "convolution"), ((nn.Linear,), "linear layer")):
        for name, m in model.named_modules():
            if isinstance(m, kinds):
                found.append(f"its first {label} {name!r} is a {_expectation(m)}")
                break
    return "; ".join(found)


def _failing_module(model: nn.Module, inputs: Any) -> str:
    """Rerun the failing call with pre-hooks to find the module whose input was refused."""
    entered: list[tuple[str, nn.Module, str]] = []
    handles = []

    def make(name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            entered.append((name, module, _shape_of(args[0]) if args else "no input"))

        return hook

    try:
        for name, module in model.named_modules():
            if name and not list(module.children()):
                handles.append(module.register_forward_pre_hook(make(name)))
        with torch.no_grad():
            _forward(model, inputs)
    except Exception as exc:  # noqa: BLE001 - the same failure again, now with the culprit known
        log.debug("rerun to locate the refusing layer failed as expected: %s", exc)
    finally:
        for h in handles:
            h.remove()
    if not entered:
        return ""
    name, module, shape = entered[-1]
    return f"layer {name!r} ({_expectation(module)}) received shape {shape}"


def _forward(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(inputs)


def call_model(model: nn.Module, inputs: Any) -> Any:
    """Run ``model`` on one batch: ``model(x)`` for a tensor, ``model(**x)`` for a mapping.

    Parameters
    ----------
    model
        The model (already on the inputs' device, in the mode the caller wants).
    inputs
        A tensor or a mapping of keyword tensors (``input_ids``, ``attention_mask``...).

    Returns
    -------
    Any
        Whatever the model returns (see :func:`select_output`).

    Raises
    ------
    ValueError
        The model rejects the inputs' shape (channels, image size, feature count): the message
        names the input shape, the layer that refused it and what it expects, and what to do.
    TypeError
        The model's ``forward`` does not take the keyword inputs the data provide (or needs
        them).
    """
    try:
        return _forward(model, inputs)
    except TypeError as exc:
        text = str(exc)
        if "argument" not in text:
            raise
        given = (
            f"keyword inputs {sorted(inputs)}"
            if isinstance(inputs, Mapping)
            else f"one positional tensor of shape {_shape_of(inputs)}"
        )
        raise TypeError(
            f"{type(model).__name__}.forward cannot take {given} ({text.splitlines()[0]}); give "
            "data whose inputs match its signature (a tensor for model(x), a dict of tensors "
            "for model(**x))"
        ) from None
    except RuntimeError as exc:
        text = str(exc)
        if not any(p in text.lower() for p in _SHAPE_ERRORS):
            raise
        where = _failing_module(model, inputs) or _first_layers(model)
        raise ValueError(
            f"the model rejects inputs of shape {_shape_of(inputs)}: "
            f"{where + ' ' if where else ''}(torch: {text.strip().splitlines()[0]}). "
            "Give data that fits the model: resize or upsample the images (e.g. 'digits:x2', "
            "load_digits(upsample=2), load_dataset(size=...)), match its channels (grey vs RGB) "
            "or pass transform= to as_source"
        ) from None


def select_output(output: Any, key: str | int | None = None) -> torch.Tensor:
    """The tensor to use from a model's output.

    Parameters
    ----------
    output
        What the model returned: a tensor (used as is), a tuple or list (indexed by an
        ``int`` key), or a mapping / Hugging Face ``ModelOutput`` (a ``str`` key; default
        ``"logits"`` when present).
    key
        Which element to take; ``None`` for the defaults above.

    Returns
    -------
    torch.Tensor
        The selected tensor.

    Raises
    ------
    ValueError
        A missing key or index (the message lists the available ones), or no key for a
        tuple or a mapping without ``"logits"``.
    TypeError
        The selected element is not a tensor, or the key's type does not fit the output.
    """
    if isinstance(output, torch.Tensor):
        if key is not None:
            raise ValueError(
                f"the model returns a single tensor, so there is nothing to select with "
                f"output={key!r}; leave it None"
            )
        return output
    if isinstance(output, Mapping):
        keys = [k for k, v in output.items() if v is not None]
        if key is None:
            if "logits" not in keys:
                raise ValueError(
                    f"the model returns a {type(output).__name__} without 'logits'; choose one "
                    f"of its keys with output=: {keys}"
                )
            key = "logits"
        if isinstance(key, int) and not isinstance(key, bool):
            if not -len(keys) <= key < len(keys):
                raise ValueError(
                    f"output={key} is out of range: the model's {type(output).__name__} has "
                    f"{len(keys)} entries {keys}"
                )
            key = keys[key]
        if key not in keys:
            raise ValueError(
                f"the model's {type(output).__name__} has no {key!r}; available: {keys}"
            )
        chosen = output[key]
    elif isinstance(output, (tuple, list)):
        if key is None:
            raise ValueError(
                f"the model returns a {type(output).__name__} of {len(output)} elements; "
                "choose one with output=<index> (e.g. output=0)"
            )
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(
                f"the model returns a {type(output).__name__}: output= must be an integer "
                f"index, got {key!r}"
            )
        if not -len(output) <= key < len(output):
            raise ValueError(
                f"output={key} is out of range for a {type(output).__name__} of {len(output)} "
                "elements"
            )
        chosen = output[key]
    else:
        raise TypeError(
            f"the model returns a {type(output).__name__}; expected a tensor, a tuple/list or "
            "a mapping of tensors"
        )
    if not isinstance(chosen, torch.Tensor):
        raise TypeError(
            f"output={key!r} selects a {type(chosen).__name__}, not a tensor; choose another "
            "element"
        )
    return chosen


def check_input_fit(
    model: nn.Module, inputs: Any, *, device: str | torch.device | None = None
) -> None:
    """Run ``model`` once on ``inputs`` (e.g. ``source.example()``) to check that they fit.

    A cheap check before a long run: the model runs in eval mode under
    ``torch.inference_mode()`` on its device (modes restored afterwards).

    Parameters
    ----------
    model
        The model.
    inputs
        A small batch: a tensor or a mapping of tensors, on any device.
    device
        Where to run (default: the model's device, see :func:`resolve_device`).

    Raises
    ------
    ValueError, TypeError
        As :func:`call_model` and :func:`resolve_device`: the inputs' shape, the layer that
        refuses them and what it expects, and what to do.
    """
    dev = resolve_device(model, device)
    with eval_mode(model), torch.inference_mode():
        call_model(model, move_inputs(inputs, dev))
