"""Data sources: one way to stream batches of model inputs, labels and stable sample ids.

Whatever holds the data (an in-memory :class:`~tda_activations.types.ImageDataset`, a
:class:`~tda_activations.datasets.TokenDataset`, a torch ``Dataset`` or ``DataLoader``, a plain
iterable of batches), :func:`as_source` wraps it in a :class:`DataSource` whose
:meth:`DataSource.batches` yields :class:`Batch` objects.  Memory holds one batch at a time.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import itertools
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .._hashing import fingerprint_array, fingerprint_model, fingerprint_params, stable_json
from ..types import ClassHierarchy, ImageDataset
from .tokens import TokenDataset

__all__ = ["Batch", "DataSource", "as_source"]

log = logging.getLogger(__name__)

Inputs = torch.Tensor | Mapping[str, torch.Tensor]
Transform = Callable[[Any], Any]

#: Samples of a map-style dataset hashed (evenly spaced, first and last included) when its
#: whole content is not affordable to hash.
PROBE_SAMPLES = 16

_LABEL_KEYS = ("labels", "label")


@dataclass(frozen=True)
class Batch:
    """One batch of a :class:`DataSource`.

    Attributes
    ----------
    inputs
        A CPU tensor (``model(x)``) or a mapping of CPU tensors (``model(**x)``), batch first.
    labels
        Int64 ``(B,)`` class of each sample, or ``None`` for unlabelled data.
    sample_ids
        Int64 ``(B,)`` stable identifier of each sample (row index of a map-style dataset
        unless the data provide ids; position in the stream for iterables).
    start
        Position of the batch's first sample in the stream (0, B, 2B, ...).
    """

    inputs: Inputs
    labels: np.ndarray | None
    sample_ids: np.ndarray
    start: int

    def __len__(self) -> int:
        return int(self.sample_ids.shape[0])


class DataSource:
    """A stream of batches with what is known about it; build one with :func:`as_source`.

    Attributes
    ----------
    name
        Human-readable name.
    kind
        ``"images"``, ``"tokens"``, ``"tensors"``, ``"dataset"``, ``"iterable-dataset"``,
        ``"loader"`` or ``"iterable"``.
    n
        Number of samples, or ``None`` when the data do not say (streams).
    hierarchy
        Class hierarchy of the labels, or ``None``.
    fingerprint_complete
        Whether :attr:`fingerprint` covers the content of every sample (see there).
    own_batches
        Whether the data bring their own batches (a ``DataLoader``, an iterable of batches),
        so that :meth:`batches` does not use its ``batch_size``.

    Parameters
    ----------
    name, kind, n, hierarchy, fingerprint_complete
        As the attributes of the same names.
    batches
        Function of the batch size that streams the data (backs :meth:`batches`).
    fingerprint
        Function that computes the content hash (backs :attr:`fingerprint`).
    fixed_batches
        Whether the data bring their own batches (kept as :attr:`own_batches`).
    """

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        n: int | None,
        hierarchy: ClassHierarchy | None,
        batches: Callable[[int], Iterator[Batch]],
        fingerprint: Callable[[], str],
        fingerprint_complete: bool,
        fixed_batches: bool,
    ) -> None:
        self.name = name
        self.kind = kind
        self.n = n
        self.hierarchy = hierarchy
        self.fingerprint_complete = fingerprint_complete
        self._batches = batches
        self._fingerprint = fingerprint
        self.own_batches = fixed_batches

    def __repr__(self) -> str:
        n = "unknown" if self.n is None else self.n
        return f"DataSource(name={self.name!r}, kind={self.kind!r}, n={n})"

    @functools.cached_property
    def fingerprint(self) -> str:
        """Content hash of the source, computed once.

        In-memory data (``ImageDataset``, ``TokenDataset``, ``TensorDataset``, lists of
        batches) are hashed entirely: images or tensors, labels, sample ids, class names.
        Streamed data are not read twice for a hash: a map-style ``Dataset`` (and a
        ``DataLoader`` over one) is hashed by its type, length and the content of
        :data:`PROBE_SAMPLES` evenly spaced samples (first and last included); an iterable
        dataset, a generator or another iterable by its type and its first batch.  For those,
        :attr:`fingerprint_complete` is ``False``: data that change only between the probed
        samples keep the same fingerprint, so give caches a new ``name=`` when you change them.
        A ``transform`` is part of the hash (its code and captured values, and its output on
        the first samples).
        """
        return self._fingerprint()

    def batches(self, batch_size: int = 256) -> Iterator[Batch]:
        """Stream the data as :class:`Batch` objects, one batch in memory at a time.

        Parameters
        ----------
        batch_size
            Samples per batch.  A ``DataLoader`` and an iterable of batches keep their own
            batches (this value is not used for them).

        Returns
        -------
        Iterator[Batch]
            The batches in order.

        Raises
        ------
        ValueError
            ``batch_size < 1``; a one-shot iterator read a second time; a batch whose
            inputs, labels or ids do not fit together (the message names the batch).
        TypeError
            Inputs that are neither a tensor nor a mapping of tensors, or non-integer labels.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return self._batches(int(batch_size))

    def example(self) -> Inputs:
        """The inputs of the first sample, as a batch of one (for layer discovery, shape checks).

        For a one-shot iterator the first batch is kept, so this does not consume it.
        """
        first = next(iter(self.batches(1)), None)
        if first is None:
            raise ValueError(f"{self.name}: the data source is empty")
        return _slice_inputs(first.inputs, 0, 1)


# ---------------------------------------------------------------- helpers on batches


def _slice_inputs(inputs: Inputs, start: int, stop: int) -> Inputs:
    if isinstance(inputs, torch.Tensor):
        return inputs[start:stop]
    return {k: v[start:stop] for k, v in inputs.items()}


def _to_tensor(value: Any, *, where: str, key: str | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    what = "inputs" if key is None else f"input {key!r}"
    raise TypeError(
        f"{where}: {what} is a {type(value).__name__}; inputs must be a tensor or a mapping of "
        "tensors (e.g. {'input_ids': ..., 'attention_mask': ...})"
    )


def _check_inputs(inputs: Any, *, where: str) -> tuple[Inputs, int]:
    """CPU tensors in the same structure, and the batch size they agree on."""
    if isinstance(inputs, Mapping):
        if not inputs:
            raise ValueError(f"{where}: the inputs mapping is empty")
        out = {str(k): _to_tensor(v, where=where, key=str(k)) for k, v in inputs.items()}
        sizes = {k: (int(v.shape[0]) if v.ndim else -1) for k, v in out.items()}
        if len(set(sizes.values())) != 1 or -1 in sizes.values():
            raise ValueError(
                f"{where}: the input tensors disagree on the batch size (first dimension): "
                f"{sizes}; every input needs one row per sample"
            )
        return out, next(iter(sizes.values()))
    tensor = _to_tensor(inputs, where=where)
    if tensor.ndim == 0:
        raise ValueError(f"{where}: inputs are a scalar; give a batch, first dimension = samples")
    return tensor, int(tensor.shape[0])


def _check_labels(labels: Any, size: int, *, where: str) -> np.ndarray | None:
    if labels is None:
        return None
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{where}: labels must be integer class indices, got dtype {arr.dtype}; map class "
            "names to indices (or give no labels)"
        )
    if arr.shape != (size,):
        raise ValueError(
            f"{where}: labels have shape {arr.shape} for {size} samples; give one class per sample"
        )
    return arr.astype(np.int64)


def _split_item(item: Any, *, where: str) -> tuple[Any, Any, Any]:
    """``(inputs, labels, ids)`` from a ``(x, y)``, ``(x, y, ids)``, ``x`` or mapping item."""
    if isinstance(item, Mapping):
        rest = dict(item)
        labels = None
        for key in _LABEL_KEYS:
            if key in rest:
                labels = rest.pop(key)
                break
        ids = rest.pop("sample_ids", rest.pop("sample_id", None))
        return rest, labels, ids
    if isinstance(item, (tuple, list)):
        if len(item) == 2:
            return item[0], item[1], None
        if len(item) == 3:
            return item[0], item[1], item[2]
        raise ValueError(
            f"{where}: expected (inputs, label) or (inputs, label, sample_id), got a "
            f"{type(item).__name__} of {len(item)} elements"
        )
    return item, None, None


def _transformed(inputs: Inputs, transform: Transform | None, size: int, *, where: str) -> Inputs:
    if transform is None:
        return inputs
    out = transform(inputs)
    try:
        checked, n = _check_inputs(out, where=f"{where} (after transform)")
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"transform= returned something unusable: {exc}") from None
    if n != size:
        raise ValueError(
            f"{where}: transform= changed the batch size from {size} to {n}; it must map a "
            "batch to a batch of the same samples"
        )
    return checked


def _make_batch(
    inputs: Any,
    labels: Any,
    ids: Any,
    *,
    start: int,
    where: str,
    transform: Transform | None,
    default_ids: Callable[[int, int], np.ndarray],
) -> Batch:
    x, size = _check_inputs(inputs, where=where)
    y = _check_labels(labels, size, where=where)
    if ids is None:
        sid = default_ids(start, size)
    else:
        if isinstance(ids, torch.Tensor):
            ids = ids.cpu().numpy()
        sid = np.asarray(ids).reshape(-1)
        if sid.shape != (size,) or not np.issubdtype(sid.dtype, np.integer):
            raise ValueError(f"{where}: sample ids must be {size} integers, one per sample")
    return Batch(
        inputs=_transformed(x, transform, size, where=where),
        labels=y,
        sample_ids=np.asarray(sid, dtype=np.int64),
        start=start,
    )


def _hash_tensor(h: Any, t: torch.Tensor) -> None:
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype}{tuple(t.shape)}".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def _hash_batch(h: Any, batch: Batch) -> None:
    if isinstance(batch.inputs, torch.Tensor):
        _hash_tensor(h, batch.inputs)
    else:
        for key in sorted(batch.inputs):
            h.update(key.encode())
            _hash_tensor(h, batch.inputs[key])
    h.update(b"-" if batch.labels is None else fingerprint_array(batch.labels).encode())
    h.update(fingerprint_array(batch.sample_ids).encode())


def _hash_batches(batches: Iterable[Batch]) -> str:
    h = hashlib.blake2b(digest_size=32)
    for b in batches:
        _hash_batch(h, b)
    return h.hexdigest()[:16]


def _callable_identity(fn: Any) -> Any:
    """What a transform is, for hashing.

    A module's architecture and weights; a function's qualified name, bytecode, constants,
    defaults and captured values.
    """
    if fn is None:
        return None
    if isinstance(fn, torch.nn.Module):
        return {"module": fingerprint_model(fn)}
    code = getattr(fn, "__code__", None)
    ident: dict[str, Any] = {
        "module": getattr(fn, "__module__", "?"),
        "name": getattr(fn, "__qualname__", type(fn).__name__),
        "repr": repr(fn) if code is None else None,
    }
    if code is not None:
        ident["code"] = hashlib.blake2b(code.co_code, digest_size=16).hexdigest()
        ident["consts"] = repr(code.co_consts)
        ident["defaults"] = stable_json(getattr(fn, "__defaults__", None))
        cells = getattr(fn, "__closure__", None) or ()
        ident["closure"] = [
            _cell_value(c.cell_contents) if c.cell_contents is not fn else "self" for c in cells
        ]
    return ident


def _cell_value(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        h = hashlib.blake2b(digest_size=16)
        _hash_tensor(h, value)
        return h.hexdigest()
    if callable(value):
        return _callable_identity(value)
    return stable_json(value)


# ---------------------------------------------------------------- one builder per kind


def _arange_ids(start: int, size: int) -> np.ndarray:
    return np.arange(start, start + size, dtype=np.int64)


def _ids_from(attr: Any, n: int | None, *, where: str) -> Callable[[int, int], np.ndarray]:
    """Sample ids from a dataset's ``sample_ids`` attribute when it has one entry per row."""
    if attr is None:
        return _arange_ids
    ids = np.asarray(attr)
    if n is None or ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"{where}: its 'sample_ids' attribute must hold {n} integers, one per sample"
        )
    ids = ids.astype(np.int64)
    return lambda start, size: ids[start : start + size]


def _with_transform_hash(base: str, transform: Transform | None, probe: Callable[[], str]) -> str:
    if transform is None:
        return base
    return fingerprint_params(
        {"data": base, "transform": _callable_identity(transform), "output": probe()}
    )


def _in_memory(
    ds: Any,
    kind: str,
    inputs: Callable[[int, int], Any],
    transform: Transform | None,
    name: str | None,
) -> DataSource:
    """A source over a dataset held in memory: ``inputs(start, stop)`` makes a batch's inputs.

    Labels, sample ids, hierarchy and fingerprint come from ``ds``; the inputs are copied
    per batch, so a model that writes into its input cannot alter the dataset.
    """
    n = len(ds)
    sample_ids = np.asarray(ds.sample_ids)

    def batches(size: int) -> Iterator[Batch]:
        for start in range(0, n, size):
            stop = min(start + size, n)
            yield Batch(
                inputs=_transformed(inputs(start, stop), transform, stop - start, where=ds.name),
                labels=None if ds.labels is None else np.asarray(ds.labels[start:stop]),
                sample_ids=sample_ids[start:stop],
                start=start,
            )

    def fingerprint() -> str:
        return _with_transform_hash(
            ds.fingerprint, transform, lambda: _hash_batches(itertools.islice(batches(8), 1))
        )

    return DataSource(
        name=name or ds.name,
        kind=kind,
        n=n,
        hierarchy=ds.hierarchy,
        batches=batches,
        fingerprint=fingerprint,
        fingerprint_complete=True,
        fixed_batches=False,
    )


def _from_images(ds: ImageDataset, transform: Transform | None, name: str | None) -> DataSource:
    return _in_memory(
        ds,
        "images",
        lambda start, stop: torch.from_numpy(np.array(ds.images[start:stop])),
        transform,
        name,
    )


def _from_tokens(ds: TokenDataset, transform: Transform | None, name: str | None) -> DataSource:
    ids_all, mask_all = np.asarray(ds.input_ids), np.asarray(ds.attention_mask)
    return _in_memory(
        ds,
        "tokens",
        lambda start, stop: {
            "input_ids": torch.from_numpy(np.array(ids_all[start:stop])),
            "attention_mask": torch.from_numpy(np.array(mask_all[start:stop])),
        },
        transform,
        name,
    )


def _dataset_name(obj: Any) -> str:
    return str(getattr(obj, "name", None) or type(obj).__name__)


def _from_map_dataset(
    ds: Any,
    transform: Transform | None,
    name: str | None,
    hierarchy: ClassHierarchy | None,
) -> DataSource:
    from torch.utils.data import TensorDataset, default_collate

    n = len(ds)
    if n == 0:
        raise ValueError(f"{_dataset_name(ds)}: the dataset is empty")
    label = name or _dataset_name(ds)
    default_ids = _ids_from(getattr(ds, "sample_ids", None), n, where=label)
    tensors = isinstance(ds, TensorDataset) and 1 <= len(ds.tensors) <= 3

    def collate(items: list[Any], start: int) -> Batch:
        where = f"{label}, samples {start}..{start + len(items) - 1}"
        parts = [_split_item(item, where=where) for item in items]
        has_labels = {p[1] is not None for p in parts}
        has_ids = {p[2] is not None for p in parts}
        if len(has_labels) > 1 or len(has_ids) > 1:
            raise ValueError(f"{where}: some samples have labels (or ids) and others do not")
        try:
            inputs = default_collate([p[0] for p in parts])
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"{where}: samples cannot be stacked into a batch ({str(exc).splitlines()[0]}); "
                "pad sequences to one length (see TokenDataset) or pass a DataLoader with a "
                "collate_fn"
            ) from None
        labels = _stack_labels([p[1] for p in parts], where=where) if True in has_labels else None
        ids = np.asarray([int(p[2]) for p in parts]) if True in has_ids else None
        return _make_batch(
            inputs,
            labels,
            ids,
            start=start,
            where=where,
            transform=transform,
            default_ids=default_ids,
        )

    def batches(size: int) -> Iterator[Batch]:
        for start in range(0, n, size):
            stop = min(start + size, n)
            if tensors:
                cols = [t[start:stop] for t in ds.tensors]
                where = f"{label}, samples {start}..{stop - 1}"
                yield _make_batch(
                    cols[0],
                    cols[1] if len(cols) > 1 else None,
                    cols[2] if len(cols) > 2 else None,
                    start=start,
                    where=where,
                    transform=transform,
                    default_ids=default_ids,
                )
            else:
                yield collate([ds[i] for i in range(start, stop)], start)

    def fingerprint() -> str:
        if tensors:
            h = hashlib.blake2b(digest_size=32)
            for t in ds.tensors:
                _hash_tensor(h, t)
            base = h.hexdigest()[:16]
        else:
            h = hashlib.blake2b(digest_size=32)
            for i in _probe_indices(n):
                _hash_batch(h, collate([ds[i]], i))
            base = h.hexdigest()[:16]
        return fingerprint_params(
            {
                "kind": "tensors" if tensors else "dataset",
                "type": f"{type(ds).__module__}.{type(ds).__qualname__}",
                "n": n,
                "content": base,
                "classes": None if hierarchy is None else list(hierarchy.class_names),
                "transform": _callable_identity(transform),
            }
        )

    return DataSource(
        name=label,
        kind="tensors" if tensors else "dataset",
        n=n,
        hierarchy=hierarchy,
        batches=batches,
        fingerprint=fingerprint,
        fingerprint_complete=tensors,
        fixed_batches=False,
    )


def _probe_indices(n: int) -> list[int]:
    """:data:`PROBE_SAMPLES` evenly spaced rows of ``n``, first and last included."""
    return sorted({round(float(i)) for i in np.linspace(0, n - 1, min(n, PROBE_SAMPLES))})


def _is_int_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return (
        isinstance(value, (torch.Tensor, np.ndarray))
        and value.ndim == 0
        and (
            not torch.is_floating_point(torch.as_tensor(value))
            and torch.as_tensor(value).dtype != torch.bool
        )
    )


def _stack_labels(labels: list[Any], *, where: str) -> np.ndarray:
    bad = next((v for v in labels if not _is_int_like(v)), None)
    if bad is not None or any(isinstance(v, bool) for v in labels):
        shown = bad if bad is not None else True
        raise TypeError(
            f"{where}: labels must be integer class indices, got {type(shown).__name__} "
            f"{shown!r}; map class names to indices (or give no labels)"
        )
    return np.asarray([int(v) for v in labels], dtype=np.int64)


def _from_iterable_dataset(
    ds: Any,
    transform: Transform | None,
    name: str | None,
    hierarchy: ClassHierarchy | None,
) -> DataSource:
    from torch.utils.data import default_collate

    label = name or _dataset_name(ds)
    try:
        n: int | None = len(ds)
    except TypeError:
        n = None

    def batches(size: int) -> Iterator[Batch]:
        it = iter(ds)
        start = 0
        while True:
            items = list(itertools.islice(it, size))
            if not items:
                return
            where = f"{label}, samples {start}..{start + len(items) - 1}"
            parts = [_split_item(item, where=where) for item in items]
            if len({p[1] is None for p in parts}) > 1 or len({p[2] is None for p in parts}) > 1:
                raise ValueError(f"{where}: some samples have labels (or ids) and others do not")
            try:
                inputs = default_collate([p[0] for p in parts])
            except (RuntimeError, TypeError) as exc:
                raise ValueError(
                    f"{where}: samples cannot be stacked into a batch "
                    f"({str(exc).splitlines()[0]}); pad them to one shape"
                ) from None
            labels = (
                None if parts[0][1] is None else _stack_labels([p[1] for p in parts], where=where)
            )
            ids = None if parts[0][2] is None else np.asarray([int(p[2]) for p in parts])
            yield _make_batch(
                inputs,
                labels,
                ids,
                start=start,
                where=where,
                transform=transform,
                default_ids=_arange_ids,
            )
            start += len(items)

    def fingerprint() -> str:
        return fingerprint_params(
            {
                "kind": "iterable-dataset",
                "type": f"{type(ds).__module__}.{type(ds).__qualname__}",
                "n": n,
                "first": _hash_batches(itertools.islice(batches(PROBE_SAMPLES), 1)),
                "transform": _callable_identity(transform),
            }
        )

    return DataSource(
        name=label,
        kind="iterable-dataset",
        n=n,
        hierarchy=hierarchy,
        batches=batches,
        fingerprint=fingerprint,
        fingerprint_complete=False,
        fixed_batches=False,
    )


def _from_loader(
    loader: Any,
    transform: Transform | None,
    name: str | None,
    hierarchy: ClassHierarchy | None,
) -> DataSource:
    from torch.utils.data import BatchSampler, IterableDataset, SequentialSampler

    ds = loader.dataset
    label = name or _dataset_name(ds)
    iterable = isinstance(ds, IterableDataset)
    n: int | None
    if iterable:
        try:
            n = len(ds)
        except TypeError:
            n = None
        default_ids: Callable[[int, int], np.ndarray] = _arange_ids
        sequential = True
    else:
        n = len(ds)
        sequential = type(loader.batch_sampler) is BatchSampler and isinstance(
            loader.batch_sampler.sampler, SequentialSampler
        )
        default_ids = _ids_from(getattr(ds, "sample_ids", None), n, where=label)
        if loader.batch_sampler is None:
            raise ValueError(
                f"{label}: the DataLoader has batch_size=None (no batching); give it a batch_size"
            )

    def batches(size: int) -> Iterator[Batch]:
        start = 0
        for i, raw in enumerate(loader):
            where = f"{label}, batch {i}"
            inputs, labels, ids = _split_item(raw, where=where)
            if ids is None and not sequential:
                sampler = type(getattr(loader, "sampler", None)).__name__
                raise ValueError(
                    f"{label}: the DataLoader draws samples out of order ({sampler}), so sample "
                    "ids would change from run to run; use shuffle=False, or yield "
                    "(inputs, label, sample_id) batches"
                )
            batch = _make_batch(
                inputs,
                labels,
                ids,
                start=start,
                where=where,
                transform=transform,
                default_ids=default_ids,
            )
            start += len(batch)
            yield batch

    def fingerprint() -> str:
        if iterable:
            content = _hash_batches(itertools.islice(batches(1), 1))
        elif isinstance(ds, torch.utils.data.TensorDataset):
            content = _from_map_dataset(ds, None, label, hierarchy).fingerprint
        else:  # probed samples, collated as the loader does (it may pad ragged items)
            h = hashlib.blake2b(digest_size=32)
            for i in _probe_indices(int(n or 0)):
                raw = loader.collate_fn([ds[i]])
                inputs, labels, ids = _split_item(raw, where=f"{label}, sample {i}")
                _hash_batch(
                    h,
                    _make_batch(
                        inputs,
                        labels,
                        ids,
                        start=i,
                        where=label,
                        transform=None,
                        default_ids=default_ids,
                    ),
                )
            content = h.hexdigest()[:16]
        return fingerprint_params(
            {
                "kind": "loader",
                "content": content,
                "n": n,
                "collate": _callable_identity(getattr(loader, "collate_fn", None)),
                "transform": _callable_identity(transform),
            }
        )

    complete = (not iterable) and isinstance(ds, torch.utils.data.TensorDataset)
    return DataSource(
        name=label,
        kind="loader",
        n=n,
        hierarchy=hierarchy,
        batches=batches,
        fingerprint=fingerprint,
        fingerprint_complete=complete,
        fixed_batches=True,
    )


def _from_iterable(
    data: Any,
    transform: Transform | None,
    name: str | None,
    hierarchy: ClassHierarchy | None,
) -> DataSource:
    label = name or type(data).__name__
    one_shot = iter(data) is data
    state: dict[str, Any] = {"first": None, "used": False}
    if one_shot:
        state["first"] = next(data, None)
        if state["first"] is None:
            raise ValueError(f"{label}: the iterator is empty")

    def raw_batches() -> Iterator[Any]:
        if not one_shot:
            yield from data
            return
        if state["used"]:
            raise ValueError(
                f"{label}: a one-shot iterator (a generator) can be read only once; pass a list "
                "of batches, a Dataset or a DataLoader to read the data more than once"
            )
        yield state["first"]
        state["used"] = True
        yield from data

    def batches(size: int) -> Iterator[Batch]:
        start = 0
        for i, raw in enumerate(raw_batches()):
            where = f"{label}, batch {i}"
            inputs, labels, ids = _split_item(raw, where=where)
            batch = _make_batch(
                inputs,
                labels,
                ids,
                start=start,
                where=where,
                transform=transform,
                default_ids=_arange_ids,
            )
            start += len(batch)
            yield batch

    def first_batch() -> Iterator[Batch]:
        raw = state["first"] if one_shot else next(iter(data), None)
        if raw is None:
            return
        inputs, labels, ids = _split_item(raw, where=f"{label}, batch 0")
        yield _make_batch(
            inputs,
            labels,
            ids,
            start=0,
            where=f"{label}, batch 0",
            transform=transform,
            default_ids=_arange_ids,
        )

    sized = isinstance(data, Sequence)
    n: int | None = None
    if sized:  # sizes only: no transform, nothing kept
        n = sum(
            _check_inputs(
                _split_item(raw, where=f"{label}, batch {i}")[0], where=f"{label}, batch {i}"
            )[1]
            for i, raw in enumerate(data)
        )

    def fingerprint() -> str:
        content = _hash_batches(batches(1)) if sized else _hash_batches(first_batch())
        return fingerprint_params(
            {
                "kind": "iterable",
                "type": f"{type(data).__module__}.{type(data).__qualname__}",
                "n": n,
                "content": content,
                "transform": _callable_identity(transform),
            }
        )

    source = DataSource(
        name=label,
        kind="iterable",
        n=n,
        hierarchy=hierarchy,
        batches=batches,
        fingerprint=fingerprint,
        fingerprint_complete=sized,
        fixed_batches=True,
    )
    if one_shot:  # example() must not consume the stream
        source.example = lambda: _slice_inputs(next(first_batch()).inputs, 0, 1)  # type: ignore[method-assign]
    return source


#: Sources already made from one-shot iterators, so that ``as_source(gen)`` called again (by
#: a cache key and then by the extraction) returns the same source instead of peeking at,
#: and losing, another batch.  Weak keys where the iterator allows it; else the last few.
_ONE_SHOT: weakref.WeakKeyDictionary[Any, tuple[Any, DataSource]] = weakref.WeakKeyDictionary()
_ONE_SHOT_STRONG: collections.OrderedDict[int, tuple[Any, Any, DataSource]] = (
    collections.OrderedDict()
)


def _one_shot_source(
    data: Any,
    transform: Transform | None,
    name: str | None,
    hierarchy: ClassHierarchy | None,
) -> DataSource:
    options = (id(transform), name, id(hierarchy))
    try:
        known = _ONE_SHOT.get(data)
        weak = True
    except TypeError:  # not weak-referenceable
        entry = _ONE_SHOT_STRONG.get(id(data))
        known = entry[1:] if entry is not None and entry[0] is data else None
        weak = False
    if known is not None:
        if known[0] != options:
            raise ValueError(
                f"this {type(data).__name__} was already wrapped by as_source with other "
                "options, and its first batch is held there; wrap it once and pass the DataSource"
            )
        return known[1]
    source = _from_iterable(data, transform, name, hierarchy)
    if weak:
        _ONE_SHOT[data] = (options, source)
    else:
        _ONE_SHOT_STRONG[id(data)] = (data, options, source)
        while len(_ONE_SHOT_STRONG) > 8:
            _ONE_SHOT_STRONG.popitem(last=False)
    return source


# ---------------------------------------------------------------- the one entry point


def as_source(
    data: Any,
    *,
    transform: Transform | None = None,
    name: str | None = None,
    hierarchy: ClassHierarchy | None = None,
) -> DataSource:
    """Wrap any supported data in a :class:`DataSource` that streams :class:`Batch` objects.

    Parameters
    ----------
    data
        One of

        * an :class:`~tda_activations.types.ImageDataset` (batches of ``(B, C, H, W)``
          float32 images);
        * a :class:`~tda_activations.datasets.TokenDataset` (batches of ``input_ids`` and
          ``attention_mask``);
        * a map-style ``torch.utils.data.Dataset`` whose items are ``(inputs, label)``,
          ``(inputs, label, sample_id)``, ``inputs`` alone, or a mapping of input tensors
          with an optional ``"labels"``/``"label"`` entry (Hugging Face style); samples are
          read one batch at a time and stacked with torch's ``default_collate``; ids are
          row indices unless the dataset has a ``sample_ids`` array or items carry them;
        * an ``IterableDataset`` with the same items (ids: position in the stream);
        * a ``DataLoader`` over either (its own batches; a shuffling loader is refused
          unless its batches carry ids, because ids would not be stable);
        * any other iterable of such batches (a list, a generator: a generator is read once).

        A :class:`DataSource` is returned as is (without options).
    transform
        Called on each batch's inputs (a tensor, or the mapping) before they are served,
        e.g. normalisation of images in [0, 1] for a model trained on standardised inputs;
        it must return inputs of the same batch size.  Part of the fingerprint.
    name
        Name of the source (default: the data's ``name`` or its type).
    hierarchy
        Class hierarchy of the labels (default: the data's own ``hierarchy`` attribute, the
        loader's dataset's, or ``None``).

    Returns
    -------
    DataSource
        The source; nothing is read until :meth:`DataSource.batches` is iterated (except the
        first batch of a generator, and the batch sizes of a list of batches).

    Raises
    ------
    TypeError
        Data of an unsupported kind (the message says what is accepted), a non-callable
        ``transform`` or a hierarchy of the wrong type.
    ValueError
        Empty data, or a ``sample_ids`` attribute that does not fit.
    """
    if transform is not None and not callable(transform):
        raise TypeError(f"transform must be callable or None, got {type(transform).__name__}")
    if hierarchy is not None and not isinstance(hierarchy, ClassHierarchy):
        raise TypeError(
            f"hierarchy must be a ClassHierarchy or None, got {type(hierarchy).__name__}; load "
            "one with tda_activations.datasets.load_hierarchy"
        )
    if isinstance(data, DataSource):
        if transform is not None or name is not None or hierarchy is not None:
            raise ValueError(
                "data is already a DataSource; give transform=, name= and hierarchy= when "
                "building it from the underlying data"
            )
        return data
    if isinstance(data, ImageDataset):
        if hierarchy is not None:
            data = ImageDataset(
                images=data.images,
                labels=data.labels,
                hierarchy=hierarchy,
                name=data.name,
                sample_ids=data.sample_ids,
            )
        return _from_images(data, transform, name)
    if isinstance(data, TokenDataset):
        if hierarchy is not None:
            data = TokenDataset(
                input_ids=data.input_ids,
                attention_mask=data.attention_mask,
                labels=data.labels,
                hierarchy=hierarchy,
                name=data.name,
                sample_ids=data.sample_ids,
            )
        return _from_tokens(data, transform, name)
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        raise TypeError(
            f"got a path or name ({data!r}); load it first with "
            "tda_activations.datasets.load_dataset (images) or load_token_npz (tokens)"
        )
    if isinstance(data, (np.ndarray, torch.Tensor, Mapping)):
        raise TypeError(
            f"got a bare {type(data).__name__}, which carries no batching, labels or ids; wrap "
            "it: ImageDataset(images=..., labels=..., hierarchy=...), TokenDataset(...), or "
            "torch.utils.data.TensorDataset(inputs, labels)"
        )
    from torch.utils.data import DataLoader, Dataset, IterableDataset

    def own_hierarchy(obj: Any) -> ClassHierarchy | None:
        if hierarchy is not None:
            return hierarchy
        found = getattr(obj, "hierarchy", None)
        return found if isinstance(found, ClassHierarchy) else None

    if isinstance(data, DataLoader):
        return _from_loader(data, transform, name, own_hierarchy(data.dataset))
    if isinstance(data, IterableDataset):
        return _from_iterable_dataset(data, transform, name, own_hierarchy(data))
    if isinstance(data, Dataset) or (
        hasattr(data, "__getitem__") and hasattr(data, "__len__") and not isinstance(data, Sequence)
    ):
        return _from_map_dataset(data, transform, name, own_hierarchy(data))
    if isinstance(data, Iterable):
        if iter(data) is data:  # one-shot: wrapping it twice must not lose its first batch
            return _one_shot_source(data, transform, name, own_hierarchy(data))
        return _from_iterable(data, transform, name, own_hierarchy(data))
    raise TypeError(
        f"cannot read data from a {type(data).__name__}; give an ImageDataset, a TokenDataset, a "
        "torch Dataset or DataLoader yielding (inputs, label), or an iterable of such batches"
    )
