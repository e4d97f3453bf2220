"""Token data (ids and attention masks) for language and sequence models, and its file format."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..types import ClassHierarchy, frozen_array
from .formats._common import (
    HierarchyLike,
    _check_labels,
    _hierarchy_from_arrays,
    _resolve_hierarchy,
)
from .formats._npz import read_npz

__all__ = ["TokenDataset", "load_token_npz"]


@dataclass(frozen=True)
class TokenDataset:
    """Token sequences of equal (padded) length, with masks and optional labels.

    Batches of it are the keyword inputs of a Hugging Face style model:
    ``{"input_ids": (B, T) int64, "attention_mask": (B, T) int64}``.

    Attributes
    ----------
    input_ids
        Int64 array ``(n, T)`` of token ids (padding positions hold any id).
    attention_mask
        Int64 array ``(n, T)`` of 0 (padding) and 1 (token); every row has at least one 1.
        Default: all ones.
    labels
        Int64 ``(n,)`` class of each sequence, or ``None`` for unlabelled data.
    hierarchy
        Class names and coarser levels of the labels (default: classes ``"0"``, ``"1"``...
        when labels are given), ``None`` without labels.
    name
        Human-readable name.
    sample_ids
        Int64 ``(n,)`` identifiers of the sequences in their source (default ``0..n-1``).

    Raises
    ------
    ValueError, TypeError
        On construction, for arrays of the wrong shape, type or values (each message says
        which and what to give).
    """

    input_ids: np.ndarray
    attention_mask: np.ndarray | None = None
    labels: np.ndarray | None = None
    hierarchy: ClassHierarchy | None = None
    name: str = "tokens"
    sample_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        ids = np.asarray(self.input_ids)
        if ids.ndim != 2 or ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError(
                f"{self.name}: input_ids must be a non-empty (n, T) array of token ids; got shape "
                f"{ids.shape} (pad sequences to one length and give an attention_mask)"
            )
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"{self.name}: input_ids must be integers, got dtype {ids.dtype}")
        if ids.min() < 0:
            raise ValueError(f"{self.name}: input_ids has negative token ids")
        n = ids.shape[0]
        mask = np.ones_like(ids) if self.attention_mask is None else np.asarray(self.attention_mask)
        if mask.shape != ids.shape:
            raise ValueError(
                f"{self.name}: attention_mask has shape {mask.shape} but input_ids has "
                f"{ids.shape}; give one 0/1 entry per token"
            )
        if mask.dtype == bool:
            mask = mask.astype(np.int64)
        if not np.issubdtype(mask.dtype, np.integer) or not np.isin(mask, (0, 1)).all():
            raise ValueError(
                f"{self.name}: attention_mask must hold only 0 (padding) and 1 (token)"
            )
        empty = np.flatnonzero(mask.sum(axis=1) == 0)
        if empty.size:
            raise ValueError(
                f"{self.name}: {empty.size} sequences are all padding (first at row "
                f"{int(empty[0])}); drop them"
            )
        hierarchy = self.hierarchy
        labels = None
        if self.labels is not None:
            labels = _check_labels(self.labels, n, source=self.name, key="labels")
            if hierarchy is None:
                hierarchy = _hierarchy_from_arrays({}, labels, source=self.name)
            elif labels.max() >= len(hierarchy.class_names):
                raise ValueError(
                    f"{self.name}: labels go up to {labels.max()} but the hierarchy names only "
                    f"{len(hierarchy.class_names)} classes"
                )
            labels = frozen_array(labels, dtype=np.int64)
        elif hierarchy is not None:
            raise ValueError(f"{self.name}: a hierarchy was given without labels; give labels=")
        sample_ids = np.arange(n) if self.sample_ids is None else np.asarray(self.sample_ids)
        if sample_ids.shape != (n,) or not np.issubdtype(sample_ids.dtype, np.integer):
            raise ValueError(f"{self.name}: sample_ids must be {n} integers, one per sequence")
        object.__setattr__(self, "input_ids", frozen_array(ids, dtype=np.int64))
        object.__setattr__(self, "attention_mask", frozen_array(mask, dtype=np.int64))
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "hierarchy", hierarchy)
        object.__setattr__(self, "sample_ids", frozen_array(sample_ids, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def seq_len(self) -> int:
        """Padded sequence length ``T``."""
        return int(self.input_ids.shape[1])

    @functools.cached_property
    def fingerprint(self) -> str:
        """Content hash of ids, masks, labels, sample ids and class names (computed once)."""
        from .._hashing import fingerprint_array, fingerprint_params

        return fingerprint_params(
            {
                "kind": "tokens",
                "input_ids": fingerprint_array(self.input_ids),
                "attention_mask": fingerprint_array(self.attention_mask),
                "labels": None if self.labels is None else fingerprint_array(self.labels),
                "sample_ids": fingerprint_array(self.sample_ids),
                "classes": None if self.hierarchy is None else list(self.hierarchy.class_names),
            }
        )

    def subset(
        self, indices: np.ndarray | list[int] | range, *, name: str | None = None
    ) -> TokenDataset:
        """A new dataset with the sequences at ``indices`` (sample ids are kept)."""
        idx = np.asarray(indices, dtype=np.int64)
        return TokenDataset(
            input_ids=self.input_ids[idx],
            attention_mask=np.asarray(self.attention_mask)[idx],
            labels=None if self.labels is None else self.labels[idx],
            hierarchy=self.hierarchy,
            name=name or self.name,
            sample_ids=np.asarray(self.sample_ids)[idx],
        )


def load_token_npz(
    path: str | os.PathLike[str],
    *,
    hierarchy: HierarchyLike = None,
    name: str | None = None,
) -> TokenDataset:
    """Load token data from an ``.npz`` file (as written by :func:`numpy.savez`).

    Arrays in the file:

    * ``input_ids`` (required): ``(n, T)`` integers, sequences padded to one length ``T``.
    * ``attention_mask`` (optional): ``(n, T)`` of 0 (padding) and 1 (token), or booleans;
      default all ones.
    * ``labels`` (optional): ``(n,)`` integers from 0, one class per sequence.
    * ``class_names`` (optional): one name per class (default ``"0"``, ``"1"``, ...).
    * ``coarse_labels`` / ``coarse_names`` (optional): a coarser level, as in
      :func:`~tda_activations.datasets.load_npz`.
    * ``sample_ids`` (optional): ``(n,)`` integer identifiers (default ``0..n-1``).

    Parameters
    ----------
    path
        The file.
    hierarchy
        Optional :class:`ClassHierarchy`, shipped name or JSON path (needs ``labels``);
        overrides the names stored in the file.
    name
        Name of the dataset (default: the file's stem).

    Returns
    -------
    TokenDataset
        The sequences.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError, TypeError
        The file is not an npz archive, lacks ``input_ids``, or holds arrays of the wrong
        shape or type (the message names the array).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist or is not a file")
    arrays = read_npz(
        path,
        how="numpy.savez(path, input_ids=..., attention_mask=..., labels=...)",
        what="token data",
    )
    if "input_ids" not in arrays:
        raise ValueError(
            f"{path} has no 'input_ids' array (it has {sorted(arrays)}); write the file with "
            "numpy.savez(path, input_ids=..., attention_mask=..., labels=...)"
        )
    label = name or path.stem
    labels = arrays.get("labels")
    resolved = _resolve_hierarchy(hierarchy)
    if labels is not None:
        n = int(np.shape(arrays["input_ids"])[0]) if np.ndim(arrays["input_ids"]) else 0
        labels = _check_labels(labels, n, source=str(path), key="labels")
        if resolved is None:
            resolved = _hierarchy_from_arrays(arrays, labels, source=str(path))
    elif resolved is not None:
        raise ValueError(f"{path}: a hierarchy was given but the file has no 'labels' array")
    return TokenDataset(
        input_ids=arrays["input_ids"],
        attention_mask=arrays.get("attention_mask"),
        labels=labels,
        hierarchy=resolved,
        name=label,
        sample_ids=arrays.get("sample_ids"),
    )
