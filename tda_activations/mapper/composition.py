"""Class composition of Mapper nodes at every level of a class hierarchy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..types import ClassHierarchy, MapperGraph, compact_repr, frozen_array

__all__ = ["NodeComposition", "check_labels", "class_composition", "hierarchy_compositions"]


@dataclass(frozen=True)
class NodeComposition:
    """How many points of each group (class, superclass, ...) every node holds.

    Attributes
    ----------
    node_ids
        The graph's node ids, in the graph's order.
    level
        Hierarchy level of the groups (``"fine"``, ``"coarse"``, ...).
    group_names
        Name of each group (column of ``counts``).
    counts
        Int64 ``(n_nodes, n_groups)``: member points of each group in each node.
    lens_mean
        Float64 ``(n_nodes,)``: mean lens value of each node's members.
    misclassification_rate
        Float64 ``(n_nodes,)``: fraction of a node's members whose predicted group (the
        predicted fine class mapped to this level) differs from their true group; NaN
        everywhere when no predictions were given.
    """

    node_ids: tuple[str, ...]
    level: str
    group_names: tuple[str, ...]
    counts: np.ndarray
    lens_mean: np.ndarray
    misclassification_rate: np.ndarray

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.int64)
        shape = (len(self.node_ids), len(self.group_names))
        if counts.size != shape[0] * shape[1]:
            raise ValueError(
                f"counts have shape {counts.shape}; expected one row per node and one column "
                f"per group, {shape}"
            )
        counts = counts.reshape(shape)
        object.__setattr__(self, "node_ids", tuple(self.node_ids))
        object.__setattr__(self, "group_names", tuple(self.group_names))
        object.__setattr__(self, "counts", frozen_array(counts))
        object.__setattr__(self, "lens_mean", frozen_array(self.lens_mean, dtype=np.float64))
        object.__setattr__(
            self,
            "misclassification_rate",
            frozen_array(self.misclassification_rate, dtype=np.float64),
        )

    @property
    def sizes(self) -> np.ndarray:
        """Number of members of each node."""
        return self.counts.sum(axis=1)

    @property
    def fractions(self) -> np.ndarray:
        """Row-normalised counts ``(n_nodes, n_groups)`` (rows of empty nodes are 0)."""
        sizes = self.sizes[:, None].astype(np.float64)
        return np.divide(self.counts, sizes, out=np.zeros(self.counts.shape), where=sizes > 0)

    @property
    def purity(self) -> np.ndarray:
        """Fraction of each node's members in its majority group."""
        return self.fractions.max(axis=1) if self.counts.size else np.zeros(len(self.node_ids))

    @property
    def majority(self) -> np.ndarray:
        """Index of each node's majority group (first on ties)."""
        if not self.counts.size:
            return np.zeros(len(self.node_ids), dtype=np.int64)
        return self.counts.argmax(axis=1)

    def weighted_purity(self) -> float:
        """``sum_v |v| purity(v) / sum_v |v|``: purity averaged over nodes weighted by size.

        NaN for a graph without nodes.
        """
        sizes = self.sizes
        total = sizes.sum()
        if total == 0:
            return float("nan")
        return float(self.counts.max(axis=1).sum() / total)

    def node(self, node_id: str) -> dict[str, int]:
        """``{group name: count}`` of one node (groups with zero members left out)."""
        if node_id not in self.node_ids:
            from ..types import unknown_name_error

            raise unknown_name_error("mapper node", node_id, self.node_ids)
        row = self.counts[self.node_ids.index(node_id)]
        return {g: int(c) for g, c in zip(self.group_names, row) if c}

    def to_pandas(self) -> Any:
        """One row per node: counts per group, size, purity, majority, lens mean, error rate."""
        import pandas as pd

        df = pd.DataFrame(
            np.array(self.counts), index=list(self.node_ids), columns=list(self.group_names)
        )
        df.index.name = "node"
        df["size"] = self.sizes
        df["purity"] = self.purity
        df["majority"] = [self.group_names[i] for i in self.majority] if self.group_names else []
        df["lens_mean"] = np.array(self.lens_mean)
        df["misclassification_rate"] = np.array(self.misclassification_rate)
        return df


def check_labels(
    labels: npt.ArrayLike,
    *,
    n_groups: int,
    n_points: int,
    what: str = "labels",
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Validate integer labels in ``[0, n_groups)``, one per point; return them as int64.

    Raises
    ------
    ValueError
        With the unknown label values and what to do about them.
    """
    arr = np.asarray(labels)
    if arr.shape != (n_points,):
        raise ValueError(
            f"{what} have shape {arr.shape} but the graph was built on {n_points} points; give "
            "one label per point of the cloud (acts.point_labels(layer, level))"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if (
            np.issubdtype(arr.dtype, np.floating)
            and np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
        ):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{what} must be integer class indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr >= n_groups)
    if bad.any():
        unknown = np.unique(arr[bad])
        known = f" ({', '.join(map(str, names))})" if names is not None and len(names) <= 20 else ""
        raise ValueError(
            f"{what} contain {unknown.size} class(es) the hierarchy does not know: "
            f"{unknown[:10].tolist()} ({int(bad.sum())} points); it knows {n_groups} "
            f"classes{known}. Give a hierarchy that places every class (see "
            "tda_activations.datasets.load_hierarchy) or drop those points"
        )
    return arr


def class_composition(
    graph: MapperGraph,
    labels: npt.ArrayLike,
    *,
    group_names: Sequence[str] | None = None,
    level: str = "fine",
    predictions: npt.ArrayLike | None = None,
) -> NodeComposition:
    """Count the members of each group in each node of ``graph``.

    Parameters
    ----------
    graph
        A Mapper graph built on ``n`` points.
    labels
        Group index of each of the ``n`` points, at the level described by ``level``.
    group_names
        Names of the groups; default ``"0", "1", ...`` up to the largest label.
    level
        Name of the level, recorded in the result.
    predictions
        Predicted group of each point (same level as ``labels``); gives the
        misclassification rate per node.

    Returns
    -------
    NodeComposition

    Raises
    ------
    ValueError
        If labels are not one per point or name a group outside ``group_names``.
    """
    n = graph.n_points
    if group_names is None:
        arr = np.asarray(labels)
        n_groups = int(arr.max()) + 1 if arr.size else 0
        group_names = tuple(str(i) for i in range(n_groups))
    names = tuple(str(g) for g in group_names)
    lab = check_labels(labels, n_groups=len(names), n_points=n, names=names)
    pred = None
    if predictions is not None:
        pred = check_labels(
            predictions, n_groups=len(names), n_points=n, what="predictions", names=names
        )
    k = len(graph.nodes)
    counts = np.zeros((k, len(names)), dtype=np.int64)
    err = np.full(k, np.nan)
    lens_mean = np.empty(k)
    for i, node in enumerate(graph.nodes):
        m = node.members
        counts[i] = np.bincount(lab[m], minlength=len(names))
        lens_mean[i] = node.lens_mean
        if pred is not None and m.size:
            err[i] = float(np.mean(pred[m] != lab[m]))
    return NodeComposition(
        node_ids=tuple(n.id for n in graph.nodes),
        level=level,
        group_names=names,
        counts=counts,
        lens_mean=lens_mean,
        misclassification_rate=err,
    )


def hierarchy_compositions(
    graph: MapperGraph,
    labels: npt.ArrayLike,
    hierarchy: ClassHierarchy,
    *,
    predictions: npt.ArrayLike | None = None,
) -> dict[str, NodeComposition]:
    """Class composition of every node at every level of ``hierarchy``.

    Parameters
    ----------
    graph
        A Mapper graph built on ``n`` points.
    labels
        Fine class of each point (``acts.point_labels(layer)``).
    hierarchy
        The class hierarchy (levels ``"fine"`` and coarser ones).
    predictions
        Predicted fine class of each point (``acts.point_predictions(layer)``); at a
        coarser level a point counts as misclassified when its predicted class is in
        another group than its true class.

    Returns
    -------
    dict
        Level -> :class:`NodeComposition`, finest level first.

    Raises
    ------
    ValueError
        If a label is a class the hierarchy does not know.
    """
    fine = check_labels(
        labels,
        n_groups=len(hierarchy.class_names),
        n_points=graph.n_points,
        names=hierarchy.class_names,
    )
    pred = None
    if predictions is not None:
        pred = check_labels(
            predictions,
            n_groups=len(hierarchy.class_names),
            n_points=graph.n_points,
            what="predictions",
            names=hierarchy.class_names,
        )
    out = {}
    for level in hierarchy.levels:
        out[level] = class_composition(
            graph,
            hierarchy.map_labels(fine, level),
            group_names=hierarchy.names(level),
            level=level,
            predictions=None if pred is None else hierarchy.map_labels(pred, level),
        )
    return out
