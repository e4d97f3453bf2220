"""Small, immutable, typed containers shared by every stage.

Containers that hold arrays compare by identity (``eq=False``): element-wise
array comparison has no single truth value, so compare their fields explicitly.

This module has no heavy imports (no torch, no gudhi): every stage may import
it cheaply.  The containers are deeply immutable: arrays are read-only and
never shared with a writable owner (copied unless they own their data and are
read-only already), every mapping field is a :class:`~tda_activations._frozen.FrozenMap`
and nested parameters are frozen (lists to tuples, dicts to FrozenMaps), so a
result cannot be modified in place by accident; functions return new objects
instead.  Everything pickles and :func:`dataclasses.replace` works.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._frozen import FrozenMap, freeze, frozen_array, readonly_array

FloatArray = npt.NDArray[np.floating[Any]]
IntArray = npt.NDArray[np.integer[Any]]

MatrixKind = Literal["distance", "similarity"]
Level = str  # a level of a class hierarchy: "fine", "coarse", ...

__all__ = [
    "ActivationSet",
    "ClassHierarchy",
    "Diagrams",
    "FloatArray",
    "FrozenMap",
    "ImageDataset",
    "IntArray",
    "LayerMatrix",
    "MapperGraph",
    "MapperNode",
    "Split",
    "frozen_array",
    "unknown_name_error",
]


def unknown_name_error(kind: str, name: str, known: Iterable[str]) -> ValueError:
    """Build a ``ValueError`` for an unknown name, suggesting close matches.

    Parameters
    ----------
    kind
        What the name refers to ("layer", "model", "measure", ...).
    name
        The name the user gave.
    known
        The names that exist.

    Returns
    -------
    ValueError
        An error whose message lists close matches (or all names when few).
    """
    known = list(known)
    close = _close_names(name, known)
    if close:
        hint = f"did you mean {', '.join(repr(c) for c in close)}?"
    elif len(known) <= 20:
        hint = f"known {kind}s: {', '.join(repr(k) for k in known)}"
    else:
        hint = f"{len(known)} {kind}s are known; list them to choose one"
    return ValueError(f"unknown {kind} {name!r}: {hint}")


def _close_names(name: str, known: Sequence[str], *, n: int = 5) -> list[str]:
    """Known names close to ``name``, as a whole or in one of their parts.

    ``difflib``'s ratio against the whole name misses a typo of one part of a longer
    name (``"ckaa"`` for ``"linear_cka"``), so each ``_``/``.``/``:``-separated part
    counts too (ratio at least 0.75).  Best first; ties keep the whole-name ratio order.
    """
    low = str(name).lower()
    scored = []
    for i, k in enumerate(known):
        whole = difflib.SequenceMatcher(None, low, k.lower()).ratio()
        part = max(
            (
                difflib.SequenceMatcher(None, low, p).ratio()
                for p in re.split(r"[_.:/\[\],=-]+", k.lower())
                if len(p) >= 2
            ),
            default=0.0,
        )
        score = max(whole, part if part >= 0.75 else 0.0)
        if score >= 0.5:
            scored.append((-score, -whole, i, k))
    return [k for *_, k in sorted(scored)[:n]]


def brief_names(names: Iterable[Any], *, limit: int = 8) -> str:
    """``a, b, c, ..., z (26)``: a short list for a ``repr`` (never every name of a big model).

    Parameters
    ----------
    names
        The names (layers, classes, ...).
    limit
        Show all names up to this many; beyond, the first ``limit - 2`` and the last.

    Returns
    -------
    str
        The names joined by commas, elided in the middle, with the count when elided.
    """
    items = [str(n) for n in names]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[: limit - 2]) + f", ..., {items[-1]} ({len(items)})"


def compact_repr(obj: Any) -> str:
    """A one-line ``repr`` of a result dataclass that never prints arrays.

    Arrays show as ``<float64 (1000, 64)>``, long sequences and mappings by their size
    and first names, floats to 4 significant digits.  Result classes use it as
    ``__repr__ = compact_repr``.

    Parameters
    ----------
    obj
        A dataclass instance.

    Returns
    -------
    str
        ``TypeName(field=value, ...)``, each value shortened to at most 160 characters.
    """
    parts = []
    for f in dataclasses.fields(obj):
        if f.repr:
            text = _brief(getattr(obj, f.name), 0)
            parts.append(f"{f.name}={text if len(text) <= 160 else text[:157] + '...'}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _brief(value: Any, depth: int) -> str:
    if isinstance(value, np.ndarray):
        return f"<{value.dtype} {tuple(value.shape)}>"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    if value is None or isinstance(value, (bool, int, np.integer, np.bool_)):
        return repr(value)
    if isinstance(value, Mapping):
        if depth > 0 or len(value) > 6:
            return f"<{len(value)} keys: {brief_names(value, limit=4)}>"
        return "{" + ", ".join(f"{k!r}: {_brief(v, depth + 1)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)):
        if len(value) > 8 or any(dataclasses.is_dataclass(v) for v in value):
            kinds = sorted({type(v).__name__ for v in value})
            return f"<{len(value)} x {'/'.join(kinds) or 'item'}>"
        inner = ", ".join(_brief(v, depth + 1) for v in value)
        return (
            f"({inner}{',' if len(value) == 1 else ''})"
            if isinstance(value, tuple)
            else f"[{inner}]"
        )
    if dataclasses.is_dataclass(value):
        text = repr(value)
        return text if len(text) <= 120 else f"<{type(value).__name__}>"
    return f"<{type(value).__name__}>"


def _short_fp(fp: str) -> str:
    return fp[:12] if fp else "-"


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ClassHierarchy:
    """A two-or-more-level class hierarchy over integer fine labels (hashable).

    Attributes
    ----------
    class_names
        Name of each fine class, indexed by fine label.
    parents
        For each coarser level (e.g. ``"coarse"``), a tuple giving, for each fine
        class, the index of its group at that level.
    level_names
        For each coarser level, the names of its groups.
    """

    class_names: tuple[str, ...]
    parents: Mapping[str, tuple[int, ...]] = field(default_factory=FrozenMap)
    level_names: Mapping[str, tuple[str, ...]] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(
            self,
            "parents",
            FrozenMap(
                (str(level), tuple(int(i) for i in mapping))
                for level, mapping in self.parents.items()
            ),
        )
        object.__setattr__(
            self,
            "level_names",
            FrozenMap(
                (str(level), tuple(str(g) for g in names))
                for level, names in self.level_names.items()
            ),
        )
        n = len(self.class_names)
        for level, mapping in self.parents.items():
            if level == "fine":
                raise ValueError("the level name 'fine' is reserved for the class labels")
            if len(mapping) != n:
                raise ValueError(
                    f"hierarchy level {level!r} maps {len(mapping)} classes but there are "
                    f"{n} classes; give one parent per class"
                )
            names = self.level_names.get(level)
            if names is None:
                raise ValueError(f"hierarchy level {level!r} has no group names")
            if mapping and max(mapping) >= len(names):
                raise ValueError(
                    f"hierarchy level {level!r} refers to group {max(mapping)} but names only "
                    f"{len(names)} groups"
                )

    def __repr__(self) -> str:
        levels = ", ".join(f"{lv}: {len(self.names(lv))}" for lv in self.levels)
        return f"ClassHierarchy({levels} groups; classes: {brief_names(self.class_names)})"

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels, finest first: ``("fine", *coarser)``."""
        return ("fine", *self.parents.keys())

    def names(self, level: str = "fine") -> tuple[str, ...]:
        """Names of the groups at ``level``."""
        if level == "fine":
            return self.class_names
        self._check_level(level)
        return tuple(self.level_names[level])

    def map_labels(self, labels: npt.ArrayLike, level: str = "fine") -> np.ndarray:
        """Map fine labels to the group indices at ``level``."""
        labels = np.asarray(labels, dtype=np.int64)
        if level == "fine":
            return labels.copy()
        self._check_level(level)
        table = np.asarray(self.parents[level], dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= table.size):
            raise ValueError(
                f"labels range over [{labels.min()}, {labels.max()}] but the hierarchy has "
                f"{table.size} classes"
            )
        return table[labels]

    def _check_level(self, level: str) -> None:
        if level not in self.parents:
            raise unknown_name_error("hierarchy level", level, self.levels)


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images with integer labels, as float32 ``(n, channels, height, width)``.

    Attributes
    ----------
    images
        Float32 array of shape ``(n, c, h, w)``.
    labels
        Int64 array of shape ``(n,)``: fine class of each image.
    hierarchy
        Class names and coarser levels.
    name
        Human-readable name ("digits/test", "cifar10/test", ...).
    sample_ids
        Int64 identifiers of the samples in their source (stable under subsetting).
    """

    images: np.ndarray
    labels: np.ndarray
    hierarchy: ClassHierarchy
    name: str = "dataset"
    sample_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.ndim != 4:
            raise ValueError(
                f"{self.name}: images must have shape (n, channels, height, width); got "
                f"shape {images.shape}"
            )
        if images.shape[0] == 0:
            raise ValueError(f"{self.name}: the dataset is empty; give at least one image")
        labels = np.asarray(self.labels)
        if labels.shape != (images.shape[0],):
            raise ValueError(
                f"{self.name}: {labels.shape[0] if labels.ndim else 0} labels for "
                f"{images.shape[0]} images; give exactly one label per image"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"{self.name}: labels must be integers, got dtype {labels.dtype}")
        n_classes = len(self.hierarchy.class_names)
        if labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(
                f"{self.name}: labels range over [{labels.min()}, {labels.max()}] but "
                f"{n_classes} classes are named"
            )
        ids = np.arange(images.shape[0]) if self.sample_ids is None else self.sample_ids
        if np.shape(ids) != (images.shape[0],):
            raise ValueError(f"{self.name}: sample_ids must have one entry per image")
        object.__setattr__(self, "images", readonly_array(images, dtype=np.float32))
        object.__setattr__(self, "labels", readonly_array(labels, dtype=np.int64))
        object.__setattr__(self, "sample_ids", readonly_array(ids, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (
            f"ImageDataset({self.name!r}, {len(self)} images of shape {self.image_shape}, "
            f"{self.n_classes} classes, levels: {', '.join(self.hierarchy.levels)})"
        )

    @functools.cached_property
    def fingerprint(self) -> str:
        """Content hash of images, labels, sample ids and class names.

        Computed once: the container and its arrays are read-only.
        """
        from ._hashing import fingerprint_dataset

        return fingerprint_dataset(self)

    @property
    def n_classes(self) -> int:
        """Number of fine classes."""
        return len(self.hierarchy.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)``."""
        return tuple(int(s) for s in self.images.shape[1:])  # type: ignore[return-value]

    def labels_at(self, level: str = "fine") -> np.ndarray:
        """Labels of every image at a hierarchy level."""
        return self.hierarchy.map_labels(self.labels, level)

    def subset(self, indices: npt.ArrayLike, *, name: str | None = None) -> ImageDataset:
        """A new dataset with the images at ``indices`` (sample ids are kept)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageDataset(
            images=self.images[idx],
            labels=self.labels[idx],
            hierarchy=self.hierarchy,
            name=name or self.name,
            sample_ids=np.asarray(self.sample_ids)[idx],
        )


@dataclass(frozen=True)
class Split:
    """A train/test pair of datasets.

    Attributes
    ----------
    train
        The training split.
    test
        The test split.
    """

    train: ImageDataset
    test: ImageDataset

    def __repr__(self) -> str:
        return f"Split(train={self.train!r}, test={self.test!r})"


# ---------------------------------------------------------------------- activations


@dataclass(frozen=True, eq=False)
class ActivationSet:
    """Per-layer point clouds extracted from one model on one dataset.

    Attributes
    ----------
    clouds
        Layer name -> float array ``(n_points, dim)``.
    sample_index
        Layer name -> int64 array ``(n_points,)``: the row of ``labels`` (the
        sample) each point came from.
    labels
        Fine label of each sample, int64 ``(n_samples,)``.
    hierarchy
        The class hierarchy of the labels.
    reduction
        Name of the reduction that made points from feature maps.
    params
        Parameters of the extraction (reduction options, seed, ...).
    model_fingerprint, data_fingerprint
        Content hashes of the model (architecture and weights) and the data.
    predictions
        The model's predicted fine label for each sample, if recorded.
    layouts
        Layer name -> layout of the tensor its points came from (``"channels_first"``,
        ``"tokens"`` or ``"flat"``), read-only; empty when not recorded.
    """

    clouds: Mapping[str, np.ndarray]
    sample_index: Mapping[str, np.ndarray]
    labels: np.ndarray
    hierarchy: ClassHierarchy
    reduction: str
    params: Mapping[str, Any] = field(default_factory=FrozenMap)
    model_fingerprint: str = ""
    data_fingerprint: str = ""
    predictions: np.ndarray | None = None
    layouts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if set(self.clouds) != set(self.sample_index):
            raise ValueError("clouds and sample_index must name the same layers")
        if not set(self.layouts) <= set(self.clouds):
            raise ValueError("layouts must name layers of the set")
        object.__setattr__(self, "layouts", freeze(dict(self.layouts)))
        labels = readonly_array(self.labels, dtype=np.int64)
        clouds = {}
        index = {}
        for layer, cloud in self.clouds.items():
            cloud = np.asarray(cloud)
            if cloud.ndim != 2:
                raise ValueError(
                    f"layer {layer!r}: a cloud must be 2-D (points, dim), got {cloud.shape}"
                )
            idx = np.asarray(self.sample_index[layer], dtype=np.int64)
            if idx.shape != (cloud.shape[0],):
                raise ValueError(f"layer {layer!r}: sample_index must have one entry per point")
            if idx.size and (idx.min() < 0 or idx.max() >= labels.shape[0]):
                raise ValueError(f"layer {layer!r}: sample_index points outside the labels")
            clouds[layer] = readonly_array(cloud)
            index[layer] = readonly_array(idx)
        object.__setattr__(self, "clouds", FrozenMap(clouds))
        object.__setattr__(self, "sample_index", FrozenMap(index))
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "params", freeze(self.params))
        if self.predictions is not None:
            preds = readonly_array(self.predictions, dtype=np.int64)
            if preds.shape != labels.shape:
                raise ValueError("predictions must have one entry per sample")
            object.__setattr__(self, "predictions", preds)

    def __repr__(self) -> str:
        shapes = [f"{k} {tuple(v.shape)}" for k, v in self.clouds.items()]
        preds = "" if self.predictions is None else ", with predictions"
        return (
            f"ActivationSet({len(self.clouds)} layers, {self.labels.shape[0]} samples, "
            f"reduction={self.reduction!r}, model={_short_fp(self.model_fingerprint)}, "
            f"data={_short_fp(self.data_fingerprint)}{preds}; {brief_names(shapes)})"
        )

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer names in extraction (forward) order."""
        return tuple(self.clouds.keys())

    def cloud(self, layer: str) -> np.ndarray:
        """The point cloud of ``layer`` (read-only)."""
        self._check(layer)
        return self.clouds[layer]

    def point_labels(self, layer: str, level: str = "fine") -> np.ndarray:
        """Label of each point of ``layer``'s cloud at a hierarchy level."""
        self._check(layer)
        return self.hierarchy.map_labels(self.labels[self.sample_index[layer]], level)

    def point_predictions(self, layer: str) -> np.ndarray | None:
        """Predicted label of each point's sample, or ``None`` if not recorded."""
        self._check(layer)
        if self.predictions is None:
            return None
        return self.predictions[self.sample_index[layer]]

    def select(self, layers: Sequence[str]) -> ActivationSet:
        """A new set with only ``layers`` (in the order given)."""
        for layer in layers:
            self._check(layer)
        return dataclasses.replace(
            self,
            clouds={k: self.clouds[k] for k in layers},
            sample_index={k: self.sample_index[k] for k in layers},
            layouts={k: self.layouts[k] for k in layers if k in self.layouts},
        )

    def _check(self, layer: str) -> None:
        if layer not in self.clouds:
            raise unknown_name_error("layer", layer, self.clouds)


# ------------------------------------------------------------------------ homology


@dataclass(frozen=True, eq=False)
class Diagrams:
    """Persistence diagrams of one filtration, one array per homology dimension.

    Attributes
    ----------
    dgms
        ``dgms[d]`` is a float64 array of shape ``(k, 2)`` of (birth, death)
        pairs in dimension ``d``; essential bars have death ``inf``.
    maxdim
        Highest homology dimension computed.
    coeff
        Prime field coefficient.
    threshold
        Largest filtration value included (``inf`` for the full filtration).
    metric
        Metric of the point cloud ("euclidean", "precomputed", ...).
    backend
        Engine that computed the diagrams ("ripser", "giotto-ph", "gudhi").
    n_points
        Number of points in the cloud.
    label
        Where the diagrams came from (usually the layer name).
    params
        Anything else worth recording (subsampling, covering radius, ...).
    """

    dgms: tuple[np.ndarray, ...]
    maxdim: int
    coeff: int = 2
    threshold: float = math.inf
    metric: str = "euclidean"
    backend: str = ""
    n_points: int = 0
    label: str = ""
    params: Mapping[str, Any] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        if len(self.dgms) != self.maxdim + 1:
            raise ValueError(
                f"expected {self.maxdim + 1} diagrams (dimensions 0..{self.maxdim}), got "
                f"{len(self.dgms)}"
            )
        dgms = []
        for d, dgm in enumerate(self.dgms):
            arr = np.asarray(dgm, dtype=np.float64).reshape(-1, 2)
            if np.isnan(arr).any():
                raise ValueError(f"diagram of dimension {d} contains NaN")
            dgms.append(readonly_array(arr))
        object.__setattr__(self, "dgms", tuple(dgms))
        object.__setattr__(self, "params", freeze(self.params))

    def __repr__(self) -> str:
        bars = []
        for d, dgm in enumerate(self.dgms):
            n_inf = int(np.sum(~np.isfinite(dgm[:, 1])))
            bars.append(f"H{d}: {dgm.shape[0]} bars" + (f" ({n_inf} essential)" if n_inf else ""))
        label = f"{self.label!r}, " if self.label else ""
        return (
            f"Diagrams({label}{'; '.join(bars)}; n_points={self.n_points}, coeff={self.coeff}, "
            f"threshold={self.threshold:g}, metric={self.metric!r}, backend={self.backend!r})"
        )

    def to_pandas(self) -> Any:
        """Every bar as a row: ``layer, dim, birth, death, persistence``.

        Returns
        -------
        pandas.DataFrame
            One row per bar, dimension by dimension in the stored order; ``layer`` is
            :attr:`label`; essential bars have death and persistence ``inf``.
        """
        import pandas as pd

        dims = np.concatenate(
            [np.full(d.shape[0], i, dtype=np.int64) for i, d in enumerate(self.dgms)]
        )
        bars = np.concatenate([np.asarray(d) for d in self.dgms]).reshape(-1, 2)
        return pd.DataFrame(
            {
                "layer": np.full(bars.shape[0], self.label, dtype=object),
                "dim": dims,
                "birth": bars[:, 0].copy(),
                "death": bars[:, 1].copy(),
                "persistence": bars[:, 1] - bars[:, 0],
            }
        )

    def __getitem__(self, dim: int) -> np.ndarray:
        if not 0 <= dim <= self.maxdim:
            raise IndexError(f"dimension {dim} was not computed (maxdim={self.maxdim})")
        return self.dgms[dim]

    def __len__(self) -> int:
        return len(self.dgms)

    def finite(self, dim: int) -> np.ndarray:
        """Bars of dimension ``dim`` with a finite death."""
        dgm = self[dim]
        return dgm[np.isfinite(dgm[:, 1])]

    def essential(self, dim: int) -> np.ndarray:
        """Births of the essential (infinite) bars of dimension ``dim``."""
        dgm = self[dim]
        return dgm[~np.isfinite(dgm[:, 1]), 0]


# --------------------------------------------------------------------- layer matrix


@dataclass(frozen=True, eq=False)
class LayerMatrix:
    """A labelled matrix of a measure between layers (or models).

    Attributes
    ----------
    values
        Float64 array ``(len(row_labels), len(col_labels))``.
    row_labels, col_labels
        What each row and column is (layer names, ``model/layer``, ...).
    measure
        Name of the measure, including its parameters where they matter
        (e.g. ``"sliced_wasserstein[H1,M=50]"``).
    kind
        ``"distance"`` (smaller = closer) or ``"similarity"`` (larger = closer).
    params
        Parameters of the measure and of the inputs.
    """

    values: np.ndarray
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    measure: str
    kind: MatrixKind
    params: Mapping[str, Any] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        rows, cols = tuple(map(str, self.row_labels)), tuple(map(str, self.col_labels))
        if values.shape != (len(rows), len(cols)):
            raise ValueError(
                f"values have shape {values.shape} but there are {len(rows)} row labels and "
                f"{len(cols)} column labels"
            )
        if self.kind not in ("distance", "similarity"):
            raise ValueError(f"kind must be 'distance' or 'similarity', got {self.kind!r}")
        object.__setattr__(self, "values", readonly_array(values))
        object.__setattr__(self, "row_labels", rows)
        object.__setattr__(self, "col_labels", cols)
        object.__setattr__(self, "params", freeze(self.params))

    def __repr__(self) -> str:
        finite = self.values[np.isfinite(self.values)]
        rng = f", values in [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else ""
        cols = (
            ""
            if self.col_labels == self.row_labels
            else f"; columns: {brief_names(self.col_labels)}"
        )
        return (
            f"LayerMatrix({self.measure!r}, {self.kind}, {self.shape[0]}x{self.shape[1]}"
            f"{rng}; rows: {brief_names(self.row_labels)}{cols})"
        )

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return self.values.shape  # type: ignore[return-value]

    def value(self, row: str, col: str) -> float:
        """The entry for a (row label, column label) pair."""
        if row not in self.row_labels:
            raise unknown_name_error("row label", row, self.row_labels)
        if col not in self.col_labels:
            raise unknown_name_error("column label", col, self.col_labels)
        return float(self.values[self.row_labels.index(row), self.col_labels.index(col)])

    def to_pandas(self) -> Any:
        """The matrix as a :class:`pandas.DataFrame` indexed by the labels."""
        import pandas as pd

        return pd.DataFrame(
            np.array(self.values), index=list(self.row_labels), columns=list(self.col_labels)
        )


# --------------------------------------------------------------------------- mapper


@dataclass(frozen=True, eq=False)
class MapperNode:
    """One node of a Mapper graph: a cluster of points in one cover interval.

    Attributes
    ----------
    id
        Node identifier (stable within one graph).
    members
        Int64 indices of the member points (rows of the cloud).
    interval
        Index of the cover interval (hypercube) the node belongs to.
    lens_mean
        Mean lens value of the members.
    """

    id: str
    members: np.ndarray
    interval: int
    lens_mean: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", readonly_array(self.members, dtype=np.int64))

    def __repr__(self) -> str:
        return (
            f"MapperNode({self.id!r}, {self.size} members, interval={self.interval}, "
            f"lens_mean={self.lens_mean:.4g})"
        )

    @property
    def size(self) -> int:
        """Number of member points."""
        return int(self.members.shape[0])


@dataclass(frozen=True, eq=False)
class MapperGraph:
    """A Mapper graph: nodes with their members, edges, the lens and parameters.

    Attributes
    ----------
    nodes
        The nodes, in a stable order.
    edges
        Pairs of node ids that share at least one member.
    lens
        Lens value of every point of the cloud, shape ``(n_points,)`` or
        ``(n_points, k)``.
    params
        Lens, cover and clustering parameters (eps chosen, ...).
    label
        Where the graph came from (usually the layer name).
    """

    nodes: tuple[MapperNode, ...]
    edges: tuple[tuple[str, str], ...]
    lens: np.ndarray
    params: Mapping[str, Any] = field(default_factory=FrozenMap)
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "edges", tuple((str(a), str(b)) for a, b in self.edges))
        object.__setattr__(self, "lens", readonly_array(self.lens, dtype=np.float64))
        object.__setattr__(self, "params", freeze(self.params))
        ids = [n.id for n in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError("mapper node ids must be unique")
        known = set(ids)
        for a, b in self.edges:
            if a not in known or b not in known:
                raise ValueError(f"edge ({a!r}, {b!r}) refers to a node that does not exist")

    def __repr__(self) -> str:
        keys = ("lens", "n_intervals", "overlap", "clusterer", "eps")
        shown = ", ".join(f"{k}={self.params[k]!r}" for k in keys if k in self.params)
        label = f"{self.label!r}, " if self.label else ""
        return (
            f"MapperGraph({label}{len(self.nodes)} nodes, {len(self.edges)} edges, "
            f"{self.n_points} points" + (f"; {shown}" if shown else "") + ")"
        )

    @property
    def n_points(self) -> int:
        """Number of points in the cloud the graph was built from."""
        return int(self.lens.shape[0])

    def node(self, node_id: str) -> MapperNode:
        """The node with id ``node_id``."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise unknown_name_error("mapper node", node_id, [n.id for n in self.nodes])
