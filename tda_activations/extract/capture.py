"""Hooks, layer selection and streaming extraction of per-layer point clouds."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Union

import numpy as np
import torch
from torch import nn

from .._hashing import fingerprint_model
from .._torch import check_model, eval_mode, split_layer_call
from ..types import ActivationSet, ImageDataset, unknown_name_error
from .reductions import Reduction, get_reduction, hash_uniform

__all__ = [
    "DEFAULT_LAYER_TYPES",
    "LayerCall",
    "LayerSpec",
    "capture",
    "extract",
    "list_layers",
    "select_layers",
]

log = logging.getLogger(__name__)

LayerSpec = Union[
    None,
    str,
    Sequence[str],
    type,
    tuple[type, ...],
    Callable[[str, nn.Module], bool],
]

DEFAULT_LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


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



def _check_dataset(dataset: Any) -> ImageDataset:
    if not isinstance(dataset, ImageDataset):
        raise TypeError(
            f"expected an ImageDataset, got {type(dataset).__name__}; build one with "
            "tda_activations.datasets.load_dataset or ImageDataset(images=..., labels=..., hierarchy=...)"
        )
    return dataset




def list_layers(model: nn.Module, example: torch.Tensor | np.ndarray) -> tuple[LayerCall, ...]:
    """Every module call of one forward pass on ``example``, in call order.

    Parameters
    ----------
    model
        The model.
    example
        A batch of inputs (one sample is enough).

    Returns
    -------
    tuple of LayerCall
        The root module is not listed.
    """
    model = check_model(model)
    x = example if isinstance(example, torch.Tensor) else torch.from_numpy(np.array(example))
    calls: list[LayerCall] = []
    counts: dict[str, int] = {}
    handles = []

    def make(name: str, module: nn.Module) -> Callable[..., None]:
        def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
            k = counts.get(name, 0)
            counts[name] = k + 1
            calls.append(LayerCall(name if k == 0 else f"{name}:{k}", name, k, type(mod).__name__))

        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(make(name, module)))
        with eval_mode(model), torch.inference_mode():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return tuple(calls)


def select_layers(model: nn.Module, example: torch.Tensor | np.ndarray, spec: LayerSpec = None) -> tuple[str, ...]:
    """Resolve a layer specification to layer-call names in forward order.

    Parameters
    ----------
    model
        The model.
    example
        A batch of inputs used for one tracing forward pass.
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
    model = check_model(model)
    calls = list_layers(model, example)
    modules = dict(model.named_modules())
    names = [c.name for c in calls]
    if spec is None:
        chosen = [c.name for c in calls if isinstance(modules[c.module_name], DEFAULT_LAYER_TYPES)]
    elif isinstance(spec, type) or (isinstance(spec, tuple) and spec and all(isinstance(t, type) for t in spec)):
        chosen = [c.name for c in calls if isinstance(modules[c.module_name], spec)]
    elif callable(spec) and not isinstance(spec, str):
        chosen = [c.name for c in calls if spec(c.name, modules[c.module_name])]
    else:
        items = [spec] if isinstance(spec, str) else list(spec)
        chosen = []
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"layer names must be strings, got {type(item).__name__}")
            if any(ch in item for ch in "*?["):
                hits = [n for n in names if fnmatch.fnmatchcase(n, item)]
                if not hits:
                    raise ValueError(f"the layer pattern {item!r} matches no layer; list them with list_layers")
                chosen += [h for h in hits if h not in chosen]
            elif item in names:
                if item not in chosen:
                    chosen.append(item)
            elif item in modules and item:
                raise ValueError(
                    f"module {item!r} exists but is not called in the forward pass, so it has no "
                    "activations; choose a module that is used"
                )
            else:
                raise unknown_name_error("layer", item, names)
    if not chosen:
        raise ValueError(f"the layer selection {spec!r} selects no layer of this model")
    return tuple(chosen)


IO = Literal["output", "input"]


@contextmanager
def capture(
    model: nn.Module,
    layers: Sequence[str],
    sink: Callable[[str, torch.Tensor], None],
    *,
    io: IO = "output",
    tensor_index: int | Mapping[str, int] | None = None,
) -> Iterator[None]:
    """Register hooks that pass each selected layer's tensor to ``sink(layer, tensor)``.

    The sink is called inside the hook, before any later in-place operation can
    change the tensor; it must copy what it keeps.  Hooks are removed on exit, also
    when the forward pass raises.

    Parameters
    ----------
    model
        The model.
    layers
        Layer-call names (see :func:`select_layers`).
    sink
        Receives ``(layer name, tensor)`` for every call of a selected layer.
    io
        Capture the module's ``"output"`` or its (first) ``"input"``.
    tensor_index
        Which element to take when a module returns (or receives) a tuple; an int for
        every layer or a mapping per layer.  A tuple without an index is an error,
        never a silent ``[0]``.
    """
    model = check_model(model)
    if io not in ("output", "input"):
        raise ValueError(f"io must be 'output' or 'input', got {io!r}")
    modules = dict(model.named_modules())
    wanted = set(layers)
    by_module: dict[str, None] = {}
    for layer in layers:
        base = split_layer_call(layer)[0]
        if base not in modules:
            raise unknown_name_error("layer", layer, [n for n in modules if n])
        by_module[base] = None
    counts: dict[str, int] = {}

    def pick(layer: str, value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            return value
        if isinstance(value, (tuple, list)) and len(value) == 1:
            return pick(layer, value[0])  # a one-element tuple is unambiguous
        if isinstance(value, (tuple, list)):
            idx = tensor_index.get(layer) if isinstance(tensor_index, Mapping) else tensor_index
            if idx is None:
                raise ValueError(
                    f"layer {layer!r} {'returns' if io == 'output' else 'receives'} a "
                    f"{type(value).__name__} of {len(value)} elements; choose one with "
                    f"tensor_index={{{layer!r}: i}}"
                )
            if not -len(value) <= idx < len(value):
                raise ValueError(f"tensor_index {idx} is out of range for layer {layer!r} ({len(value)} elements)")
            return pick(layer, value[idx])
        raise TypeError(f"layer {layer!r} produced a {type(value).__name__}, not a tensor")

    def make(base: str) -> Callable[..., None]:
        def hook(mod: nn.Module, inputs: Any, output: Any) -> None:
            k = counts.get(base, 0)
            counts[base] = k + 1
            name = base if k == 0 else f"{base}:{k}"
            if name in wanted:
                sink(name, pick(name, output if io == "output" else inputs))

        return hook

    handles = [modules[base].register_forward_hook(make(base)) for base in by_module]
    pre = model.register_forward_pre_hook(lambda m, i: counts.clear())
    try:
        yield
    finally:
        pre.remove()
        for h in handles:
            h.remove()


def _bottom_k(keys: np.ndarray, k: int) -> np.ndarray:
    if keys.size <= k:
        return np.arange(keys.size)
    return np.argpartition(keys, k - 1)[:k]


def extract(
    model: nn.Module,
    dataset: ImageDataset,
    *,
    layers: LayerSpec = None,
    reduction: str | Reduction = "top_l2",
    io: IO = "output",
    tensor_index: int | Mapping[str, int] | None = None,
    batch_size: int = 256,
    seed: int = 0,
    max_points: int | None = None,
    record_predictions: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ActivationSet:
    """Run ``model`` over ``dataset`` and keep each layer's activations as a point cloud.

    Batches are streamed: memory holds one batch of feature maps plus the reduced
    points.  The model runs in eval mode under ``torch.inference_mode()``; its
    modes are restored and the hooks removed afterwards, also on error.

    Parameters
    ----------
    model
        The model.
    dataset
        Images and labels.
    layers
        Layer specification (see :func:`select_layers`); ``None`` takes every
        convolution and linear layer in forward order.
    reduction
        How feature maps become points: ``"top_l2"`` (default, the core paper's),
        ``"flatten"``, ``"global_avg_pool"``, ``"random_position"``, ``"all_positions"``.
    io
        Capture module ``"output"`` (default) or ``"input"``.
    tensor_index
        Element to take from tuple outputs (see :func:`capture`).
    batch_size
        Images per forward pass.
    seed
        Seed of the random reductions and of the subsampling.
    max_points
        Keep at most this many points per layer, a uniform random subset chosen by
        a hash of (seed, layer, sample, position): the same points whatever the
        batch size.  Points stay in sample order.
    record_predictions
        Keep the argmax of the model output as predictions when it has one logit per class.
    progress
        Called with ``(images done, total)`` after each batch.

    Returns
    -------
    ActivationSet
        Float32 clouds per layer with the sample each point came from.

    Raises
    ------
    ValueError
        Unknown layers, a tuple output without ``tensor_index``, or NaN/Inf
        activations (the layer and the count are named).
    """
    model = check_model(model)
    dataset = _check_dataset(dataset)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_points is not None and max_points < 1:
        raise ValueError(f"max_points must be >= 1 or None, got {max_points}")
    red = get_reduction(reduction, seed=seed)
    images = dataset.images
    chosen = select_layers(model, images[:1], layers)
    points: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    rows: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    keys: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    within: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    predictions: list[np.ndarray] = []
    state = {"start": 0, "ids": np.empty(0, dtype=np.int64)}

    def sink(layer: str, tensor: torch.Tensor) -> None:
        p, r = red(tensor.detach(), sample_ids=state["ids"], layer=layer)
        p_np = p.to(dtype=torch.float32).cpu().numpy()
        bad = int(np.count_nonzero(~np.isfinite(p_np)))
        if bad:
            raise ValueError(
                f"layer {layer!r} produced {bad} non-finite (NaN/Inf) activation values in images "
                f"{state['start']}..{state['start'] + len(state['ids']) - 1}; check the model's "
                "weights and the input scaling"
            )
        rows_global = r + state["start"]
        if max_points is not None:
            pos = np.arange(r.size) - np.searchsorted(r, r)  # index of the point within its sample
            keys[layer].append(hash_uniform(seed, layer, state["ids"][r], pos))
            within[layer].append(pos)
            if sum(map(len, keys[layer])) > max_points:  # running bottom-k: memory bounded by max_points
                points[layer].append(p_np)
                rows[layer].append(rows_global)
                parts = [np.concatenate(x[layer]) for x in (points, rows, keys, within)]
                keep = _bottom_k(parts[2], max_points)
                points[layer], rows[layer], keys[layer], within[layer] = ([x[keep]] for x in parts)
                return
        points[layer].append(p_np)
        rows[layer].append(rows_global)

    with eval_mode(model), capture(model, chosen, sink, io=io, tensor_index=tensor_index), torch.inference_mode():
        for start in range(0, len(dataset), batch_size):
            stop = min(start + batch_size, len(dataset))
            state["start"], state["ids"] = start, np.asarray(dataset.sample_ids[start:stop])
            out = model(torch.from_numpy(np.array(images[start:stop])))
            if record_predictions and isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[1] == dataset.n_classes:
                predictions.append(out.argmax(dim=1).numpy())
            if progress is not None:
                progress(stop, len(dataset))

    clouds, index = {}, {}
    for layer in chosen:
        if not points[layer]:
            raise ValueError(f"layer {layer!r} was not called during extraction")
        cloud = np.concatenate(points[layer])
        idx = np.concatenate(rows[layer]).astype(np.int64)
        if max_points is not None:  # back to (sample, position) order
            order = np.lexsort((np.concatenate(within[layer]), idx))
            cloud, idx = cloud[order], idx[order]
        clouds[layer], index[layer] = cloud, idx
    preds = None
    if predictions and sum(map(len, predictions)) == len(dataset):
        preds = np.concatenate(predictions)
    params = {
        "reduction": red.name, "seed": int(seed), "io": io, "max_points": max_points,
        "tensor_index": dict(tensor_index) if isinstance(tensor_index, Mapping) else tensor_index,
        "dataset": dataset.name, "n_samples": len(dataset),
    }
    log.info("extracted %d layers from %d images (%s)", len(chosen), len(dataset), red.name)
    return ActivationSet(
        clouds=clouds, sample_index=index, labels=dataset.labels, hierarchy=dataset.hierarchy,
        reduction=red.name, params=params, model_fingerprint=fingerprint_model(model),
        data_fingerprint=dataset.fingerprint, predictions=preds,
    )
