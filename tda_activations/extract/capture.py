"""Layer listing and selection, capture hooks and streaming extraction of per-layer clouds.

The hooks, layer names and layouts live in :mod:`tda_activations._hooks` (one
mechanism for the whole package); this module runs them over a data source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from .._hashing import fingerprint_model
from .._hooks import (
    DEFAULT_LAYER_TYPES,
    IO,
    LayerCall,
    LayerSpec,
    LayoutSpec,
    check_hookable,
    check_layout,
    check_layout_spec,
    hook_calls,
    hookable_modules,
    layout_hints,
    list_calls,
    pick_tensor,
    resolve_layout,
    select_calls,
    to_host,
    unnest,
)
from .._progress import progress_bar
from .._torch import (
    autocast,
    autocast_dtype,
    call_model,
    eval_mode,
    move_inputs,
    resolve_device,
    select_output,
    split_layer_call,
)
from ..types import ActivationSet, unknown_name_error
from .reductions import TOKEN_REDUCTIONS, Reduction, get_reduction, hash_uniform

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


def _as_example(example: Any) -> Any:
    if isinstance(example, np.ndarray):
        return torch.from_numpy(np.array(example))
    return example


def list_layers(model: nn.Module, example: Any) -> tuple[LayerCall, ...]:
    """Every module call of one forward pass on ``example``, in call order.

    Parameters
    ----------
    model
        The model (a Python ``nn.Module``; TorchScript submodules are not listed).
    example
        A batch of inputs (one sample is enough): a tensor or array, or a mapping of
        keyword inputs (``{"input_ids": ..., "attention_mask": ...}``).

    Returns
    -------
    tuple of LayerCall
        The root module is not listed.

    Raises
    ------
    ValueError
        For a TorchScript model (it cannot take hooks), or inputs the model refuses.
    """
    model = check_hookable(model)
    with eval_mode(model), torch.inference_mode():
        return list_calls(model, _as_example(example))


def select_layers(model: nn.Module, example: Any, spec: LayerSpec = None) -> tuple[str, ...]:
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
    calls = list_layers(model, example)
    return select_calls(calls, dict(model.named_modules()), spec)


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
        every layer or a mapping per layer.  A tuple of several tensors without an
        index is an error, never a silent ``[0]``.

    Yields
    ------
    None
        Run the model inside the ``with`` block.
    """
    model = check_hookable(model)
    if io not in ("output", "input"):
        raise ValueError(f"io must be 'output' or 'input', got {io!r}")
    modules = dict(model.named_modules())
    wanted = set(layers)
    targets: dict[str, nn.Module] = {}
    for layer in layers:
        base = split_layer_call(layer)[0]
        if base not in modules or not base:
            raise unknown_name_error("layer", layer, [n for n in modules if n])
        targets[base] = modules[base]

    def fn(layer: str, module: nn.Module, inputs: Any, output: Any) -> None:
        if layer in wanted:
            value = output if io == "output" else inputs
            sink(layer, pick_tensor(layer, value, io=io, tensor_index=tensor_index))

    with hook_calls(model, targets, fn):
        yield


def _bottom_k(keys: np.ndarray, k: int) -> np.ndarray:
    if keys.size <= k:
        return np.arange(keys.size)
    return np.argpartition(keys, k - 1)[:k]


class _BottomK:
    """The ``k`` points with the smallest keys seen so far, kept in buffers filled in place.

    A batch's selected points overwrite the slots of the points they evict, so streaming
    allocates one ``(k, dim)`` buffer and nothing of the kept points' size per batch
    (concatenating the kept points with every batch made the allocator hold about 1.4x
    the memory of a run that keeps everything).  The kept set is the bottom ``k`` of all
    keys, whatever the batch sizes.
    """

    def __init__(self, k: int) -> None:
        self.k = k
        self.n = 0
        self.points: np.ndarray | None = None
        self.rows = np.empty(k, dtype=np.int64)
        self.within = np.empty(k, dtype=np.int64)
        self.keys: np.ndarray | None = None

    def add(
        self, points: np.ndarray, rows: np.ndarray, keys: np.ndarray, within: np.ndarray
    ) -> None:
        """Offer a batch of points with their keys; keep the bottom ``k`` of everything seen."""
        if self.points is None or self.keys is None:
            self.points = np.empty((self.k, *points.shape[1:]), dtype=points.dtype)
            self.keys = np.empty(self.k, dtype=keys.dtype)
        b = len(keys)
        if self.n + b <= self.k:
            take = np.arange(b)
            slots = np.arange(self.n, self.n + b)
            self.n += b
        else:
            keep = _bottom_k(np.concatenate([self.keys[: self.n], keys]), self.k)
            kept_old = np.zeros(self.n, dtype=bool)
            kept_old[keep[keep < self.n]] = True
            take = keep[keep >= self.n] - self.n
            slots = np.concatenate([np.flatnonzero(~kept_old), np.arange(self.n, self.k)])
            self.n = self.k
        self.points[slots] = points[take]
        self.rows[slots] = rows[take]
        self.keys[slots] = keys[take]
        self.within[slots] = within[take]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points, sample rows and positions within the sample of what is kept."""
        if self.points is None:
            raise ValueError("no points were offered")
        return self.points[: self.n], self.rows[: self.n], self.within[: self.n]


def _trace(
    model: nn.Module, example: Any, *, io: str, tensor_index: int | Mapping[str, int] | None
) -> tuple[tuple[LayerCall, ...], dict[str, Any]]:
    """Calls of one forward pass and, per call, its (picked) tensor's shape or the pick error."""
    calls: list[LayerCall] = []
    shapes: dict[str, Any] = {}

    def record(layer: str, module: nn.Module, inputs: Any, output: Any) -> None:
        base, k = split_layer_call(layer)
        calls.append(LayerCall(layer, base, k, type(module).__name__))
        try:
            t = pick_tensor(
                layer, output if io == "output" else inputs, io=io, tensor_index=tensor_index
            )
            shapes[layer] = tuple(unnest(t)[0].shape)
        except (ValueError, TypeError) as exc:
            shapes[layer] = exc

    with hook_calls(model, hookable_modules(model), record):
        call_model(model, example)
    return tuple(calls), shapes


def _check_options(
    batch_size: int,
    max_points: int | None,
    io: str,
    attention_mask: Any,
    progress: Any,
    on_batch: Any,
) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if max_points is not None and (
        isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 1
    ):
        raise ValueError(f"max_points must be an integer >= 1 or None, got {max_points!r}")
    if io not in ("output", "input"):
        raise ValueError(f"io must be 'output' or 'input', got {io!r}")
    if attention_mask is not None and not isinstance(attention_mask, str):
        raise TypeError(
            f"attention_mask must be the name of an input (a string) or None, got "
            f"{type(attention_mask).__name__}"
        )
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(
            f"progress must be True, False or None, got {type(progress).__name__}; pass a callback "
            "(done, total) as on_batch="
        )
    if on_batch is not None and not callable(on_batch):
        raise TypeError(f"on_batch must be a callable (done, total), got {type(on_batch).__name__}")


def _batch_mask(inputs: Any, key: str | None, *, explicit: bool) -> torch.Tensor | None:
    """The boolean padding mask of a batch (true at real tokens), or ``None``."""
    if key is None:
        return None
    if not isinstance(inputs, Mapping) or key not in inputs:
        if explicit:
            have = list(inputs) if isinstance(inputs, Mapping) else []
            raise ValueError(
                f"attention_mask={key!r} names no input of the batches (inputs: "
                f"{', '.join(map(str, have)) or 'a single tensor'}); name the mask input or pass None"
            )
        return None
    m = inputs[key]
    if not isinstance(m, torch.Tensor) or m.ndim != 2:
        raise ValueError(
            f"the attention mask {key!r} must be a (batch, tokens) tensor, got "
            f"{tuple(m.shape) if isinstance(m, torch.Tensor) else type(m).__name__}"
        )
    if m.dtype != torch.bool:
        if not bool(((m == 0) | (m == 1)).all()):
            raise ValueError(f"the attention mask {key!r} must hold only 0 and 1 (1 = real token)")
        m = m != 0
    return m


def extract(
    model: nn.Module,
    data: Any,
    *,
    layers: LayerSpec = None,
    reduction: str | Reduction = "top_l2",
    layout: LayoutSpec = None,
    attention_mask: str | None = "attention_mask",
    io: IO = "output",
    tensor_index: int | Mapping[str, int] | None = None,
    output: int | str | None = None,
    batch_size: int = 256,
    seed: int = 0,
    max_points: int | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    transform: Callable[..., Any] | None = None,
    record_predictions: bool = True,
    progress: bool | None = None,
    on_batch: Callable[[int, int | None], None] | None = None,
) -> ActivationSet:
    """Run ``model`` over ``data`` and keep each layer's activations as a point cloud.

    Batches are streamed: memory holds one batch of layer tensors plus the reduced
    points.  The model runs in eval mode under ``torch.inference_mode()``; its
    modes are restored and the hooks removed afterwards, also on error.

    Parameters
    ----------
    model
        The model (a Python ``nn.Module``: TorchScript modules cannot take hooks).
    data
        Anything :func:`tda_activations.datasets.sources.as_source` accepts: an
        ImageDataset, token data, a torch Dataset or DataLoader, an iterable of batches.
    layers
        Layer specification (see :func:`select_layers`); ``None`` takes every
        convolution and linear layer in forward order.
    reduction
        How a layer's tensor becomes points: ``"top_l2"`` (default, the core paper's),
        ``"flatten"``, ``"global_avg_pool"``, ``"random_position"``, ``"all_positions"``,
        and for token sequences ``"first_token"`` and ``"last_token"``.  Positions are
        the spatial positions of feature maps or the tokens of sequences.
    layout
        Layout of the layers' tensors: ``None`` (inferred from module type and shape,
        an error where that is ambiguous), one of ``"channels_first"``, ``"tokens"``,
        ``"flat"`` for every layer, or a mapping layer name/glob -> layout
        (``{"blocks.*": "tokens"}``; unnamed layers are inferred).
    attention_mask
        Name of the batch input holding the padding mask (1 = real token): padding
        tokens never become points and never enter a mean or an argmax.  The default
        key is used when present; ``None`` uses no mask.
    io
        Capture module ``"output"`` (default) or ``"input"``.
    tensor_index
        Element to take from tuple outputs (see :func:`capture`).
    output
        The model output used for predictions when the model returns a tuple, dict or
        ``ModelOutput`` (index or key; default: a tensor as is, ``logits`` otherwise).
    batch_size
        Samples per forward pass.
    seed
        Seed of the random reductions and of the subsampling.
    max_points
        Keep at most this many points per layer, a uniform random subset chosen by
        a hash of (seed, layer, sample, position): the same points whatever the
        batch size.  Points stay in sample order.
    device
        Where to run (default: the model's device; the model is never moved).
    dtype
        Autocast precision (``"bfloat16"``, ``"float16"``) or ``None`` (the model's own).
        Points always come back float32 on the CPU.
    transform
        Applied to each input by the data source.
    record_predictions
        Keep the argmax of the model output as predictions when it has one logit per class.
    progress
        Show a progress bar over samples (``None``: the package default).
    on_batch
        Called with ``(samples done, total or None)`` after each batch.

    Returns
    -------
    ActivationSet
        Float32 clouds per layer with the sample each point came from, and the
        layout of each layer (``layouts``).  Unlabelled data get one class
        ``"unlabelled"`` (``params["labelled"]`` is ``False``); labelled data without
        class names get classes ``"0"``, ``"1"``, ...

    Raises
    ------
    ValueError
        Unknown layers, an ambiguous or unfitting layout, a tuple output without
        ``tensor_index``, a bad mask, a TorchScript model, or NaN/Inf activations (the
        layer and the count are named).
    TypeError
        For arguments of the wrong type.
    """
    from ..datasets.sources import as_source

    model = check_hookable(model)
    _check_options(batch_size, max_points, io, attention_mask, progress, on_batch)
    layout_spec = check_layout_spec(layout)
    red = get_reduction(reduction, seed=seed)
    amp = autocast_dtype(dtype)
    source = as_source(data, transform=transform)
    dev = resolve_device(model, device)
    modules = dict(model.named_modules())

    with eval_mode(model), torch.inference_mode():
        example = move_inputs(source.example(), dev)
        with autocast(dev, amp):
            calls, shapes = _trace(model, example, io=io, tensor_index=tensor_index)
        chosen = select_calls(calls, modules, layers)
        hints = layout_hints(model, example, mask_key=attention_mask)
        layouts: dict[str, str] = {}
        for layer in chosen:
            shape = shapes[layer]
            if isinstance(shape, Exception):
                raise shape
            module = modules[split_layer_call(layer)[0]]
            layouts[layer] = resolve_layout(layer, module, shape, layout_spec, hints)
            if red.name in TOKEN_REDUCTIONS and layouts[layer] != "tokens":
                raise ValueError(
                    f"reduction {red.name!r} needs token sequences but layer {layer!r} has layout "
                    f"{layouts[layer]!r} (shape {shape}); choose token layers or another reduction"
                )
        acts = _run(
            model,
            source,
            chosen,
            layouts,
            red,
            dev=dev,
            amp=amp,
            io=io,
            tensor_index=tensor_index,
            attention_mask=attention_mask,
            output=output,
            batch_size=batch_size,
            seed=seed,
            max_points=max_points,
            record_predictions=record_predictions,
            progress=progress,
            on_batch=on_batch,
        )
    return acts


def _run(
    model: nn.Module,
    source: Any,
    chosen: tuple[str, ...],
    layouts: dict[str, str],
    red: Reduction,
    *,
    dev: torch.device,
    amp: torch.dtype | None,
    io: str,
    tensor_index: int | Mapping[str, int] | None,
    attention_mask: str | None,
    output: int | str | None,
    batch_size: int,
    seed: int,
    max_points: int | None,
    record_predictions: bool,
    progress: bool | None,
    on_batch: Callable[[int, int | None], None] | None,
) -> ActivationSet:
    modules = dict(model.named_modules())
    targets = {split_layer_call(layer)[0]: modules[split_layer_call(layer)[0]] for layer in chosen}
    wanted = set(chosen)
    points: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    rows: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    within: dict[str, list[np.ndarray]] = {name: [] for name in chosen}
    reservoirs: dict[str, _BottomK] = {}
    predictions: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    ids_all: list[np.ndarray] = []
    state: dict[str, Any] = {"start": 0, "ids": np.empty(0, dtype=np.int64), "mask": None}
    n_classes = len(source.hierarchy.class_names) if source.hierarchy is not None else None

    def fn(layer: str, module: nn.Module, inputs: Any, out: Any) -> None:
        if layer not in wanted:
            return
        value = pick_tensor(
            layer, out if io == "output" else inputs, io=io, tensor_index=tensor_index
        )
        tensor, nested_mask = unnest(value.detach())
        n = len(state["ids"])
        if tensor.ndim < 1 or tensor.shape[0] != n:
            raise ValueError(
                f"layer {layer!r} has shape {tuple(tensor.shape)}, whose first axis is not the "
                f"batch of {n} samples (a module shared by the batch, such as a position "
                "embedding); choose another layer"
            )
        lay = layouts[layer]
        check_layout(layer, lay, tuple(tensor.shape))
        mask = (
            nested_mask if nested_mask is not None else (state["mask"] if lay == "tokens" else None)
        )
        p, r = red(tensor, sample_ids=state["ids"], layer=layer, layout=lay, mask=mask)
        _keep(layer, p, r)

    def _keep(layer: str, p: torch.Tensor, r: np.ndarray) -> None:
        p_np = to_host(p).numpy()
        bad = int(np.count_nonzero(~np.isfinite(p_np)))
        if bad:
            raise ValueError(
                f"layer {layer!r} produced {bad} non-finite (NaN/Inf) activation values in samples "
                f"{state['start']}..{state['start'] + len(state['ids']) - 1}; check the model's "
                "weights and the input scaling"
            )
        rows_global = r + state["start"]
        if max_points is not None:  # running bottom-k of the points' keys: memory bounded
            pos = np.arange(r.size) - np.searchsorted(r, r)  # index of the point within its sample
            kept = reservoirs.setdefault(layer, _BottomK(max_points))
            kept.add(p_np, rows_global, hash_uniform(seed, layer, state["ids"][r], pos), pos)
            return
        points[layer].append(p_np)
        rows[layer].append(rows_global)

    done = 0
    total = source.n
    with (
        hook_calls(model, targets, fn),
        progress_bar(total=total, desc="extracting", unit="sample", enabled=progress) as bar,
    ):
        for batch in source.batches(batch_size):
            ids = np.asarray(batch.sample_ids, dtype=np.int64)
            state["start"], state["ids"] = done, ids
            state["mask"] = _batch_mask(
                batch.inputs,
                attention_mask,
                explicit=attention_mask not in (None, "attention_mask"),
            )
            if state["mask"] is not None:
                if state["mask"].shape[0] != len(ids):
                    raise ValueError(
                        f"the attention mask {attention_mask!r} has {state['mask'].shape[0]} rows "
                        f"for a batch of {len(ids)} samples"
                    )
                state["mask"] = state["mask"].to(dev)
            with autocast(dev, amp):
                out = call_model(model, move_inputs(batch.inputs, dev))
            ids_all.append(ids)
            if batch.labels is not None:
                labels.append(np.asarray(batch.labels, dtype=np.int64))
            if record_predictions and n_classes is not None:
                try:
                    logits = select_output(out, output)
                except (ValueError, TypeError):
                    if output is not None:
                        raise
                    logits = None
                if logits is not None and logits.ndim == 2 and logits.shape[1] == n_classes:
                    predictions.append(logits.argmax(dim=1).cpu().numpy())
            done += len(ids)
            bar.update(len(ids))
            if on_batch is not None:
                on_batch(done, total)

    for layer, kept in reservoirs.items():
        p_kept, r_kept, w_kept = kept.arrays()
        points[layer], rows[layer], within[layer] = [p_kept], [r_kept], [w_kept]
    return _assemble(
        model,
        source,
        chosen,
        layouts,
        red,
        points,
        rows,
        within,
        labels,
        predictions,
        done,
        params={
            "reduction": red.name,
            "seed": int(seed),
            "io": io,
            "max_points": max_points,
            "tensor_index": (
                dict(tensor_index) if isinstance(tensor_index, Mapping) else tensor_index
            ),
            "dataset": source.name,
            "n_samples": done,
            "layouts": dict(layouts),
            "device": str(dev),
            "dtype": None if amp is None else str(amp).split(".")[-1],
            "attention_mask": attention_mask,
            "output": output,
        },
        max_points=max_points,
    )


def _assemble(
    model: nn.Module,
    source: Any,
    chosen: tuple[str, ...],
    layouts: dict[str, str],
    red: Reduction,
    points: dict[str, list[np.ndarray]],
    rows: dict[str, list[np.ndarray]],
    within: dict[str, list[np.ndarray]],
    labels: list[np.ndarray],
    predictions: list[np.ndarray],
    n: int,
    *,
    params: dict[str, Any],
    max_points: int | None,
) -> ActivationSet:
    if n == 0:
        raise ValueError(f"the data {source.name!r} gave no samples; give at least one")
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
    hierarchy = source.hierarchy
    if labels and sum(map(len, labels)) == n:
        y = np.concatenate(labels)
        if hierarchy is None:  # labelled data without class names: classes "0", "1", ...
            from ..datasets import flat_hierarchy

            hierarchy = flat_hierarchy([str(i) for i in range(int(y.max()) + 1)])
    else:
        from ..datasets import flat_hierarchy

        y, hierarchy = np.zeros(n, dtype=np.int64), flat_hierarchy(["unlabelled"])
        params["labelled"] = False
    preds = np.concatenate(predictions) if predictions and sum(map(len, predictions)) == n else None
    log.info("extracted %d layers from %d samples (%s)", len(chosen), n, red.name)
    return ActivationSet(
        clouds=clouds,
        sample_index=index,
        labels=y,
        hierarchy=hierarchy,
        reduction=red.name,
        params=params,
        model_fingerprint=fingerprint_model(model),
        data_fingerprint=source.fingerprint,
        predictions=preds,
        layouts=layouts,
    )
