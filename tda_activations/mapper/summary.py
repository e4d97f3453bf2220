"""Class-hierarchy summaries of Mapper graphs, per layer, so the trend with depth is a table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from .._progress import progress_bar
from .._select import resolve_layer_names
from ..types import (
    ActivationSet,
    ClassHierarchy,
    MapperGraph,
    brief_names,
    compact_repr,
    frozen_array,
)
from .composition import NodeComposition, check_labels, hierarchy_compositions
from .graph import mapper_graph

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas

__all__ = [
    "ClassGraph",
    "HierarchySummary",
    "LayerMapper",
    "class_graph",
    "connected_components",
    "hierarchy_summary",
    "layer_mapper",
]

log = logging.getLogger(__name__)

LinkageMethod = Literal["average", "complete", "single", "weighted"]


# ------------------------------------------------------------------- components


def connected_components(graph: MapperGraph) -> list[tuple[str, ...]]:
    """Connected components of a Mapper graph as tuples of node ids.

    Components are ordered by their first node in the graph's node order; isolated
    nodes are components of their own.

    Parameters
    ----------
    graph
        The Mapper graph.

    Returns
    -------
    list of tuple of str
        Node ids of each component, in the graph's node order.
    """
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(n.id for n in graph.nodes)
    g.add_edges_from(graph.edges)
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    comps = [tuple(sorted(c, key=order.__getitem__)) for c in nx.connected_components(g)]
    return sorted(comps, key=lambda c: order[c[0]])


def _component_counts(
    graph: MapperGraph, labels: np.ndarray, n_groups: int, comps: Sequence[tuple[str, ...]]
) -> np.ndarray:
    """``(n_components, n_groups)`` counts of the distinct points of each component."""
    index = {n.id: n for n in graph.nodes}
    out = np.zeros((len(comps), n_groups), dtype=np.int64)
    for i, comp in enumerate(comps):
        members = np.unique(np.concatenate([index[v].members for v in comp]))
        out[i] = np.bincount(labels[members], minlength=n_groups)
    return out


def _separated_groups(counts: np.ndarray, *, purity: float) -> np.ndarray:
    """Boolean per group: whether the group lives in components of its own.

    At least ``purity`` of its component-points lie in components that are at least
    ``purity`` made of it (groups absent from the graph: False).
    """
    sizes = counts.sum(axis=1, keepdims=True).astype(np.float64)
    frac = np.divide(counts, sizes, out=np.zeros(counts.shape), where=sizes > 0)
    own = np.where(frac >= purity, counts, 0).sum(axis=0)
    total = counts.sum(axis=0)
    return (total > 0) & (own >= purity * total)


# ------------------------------------------------------------------ class graph


@dataclass(frozen=True)
class ClassGraph:
    """Classes linked by the Mapper nodes they share.

    Each class is described by how its points spread over the nodes,
    ``p_c(v) = count_c(v) / sum_w count_c(w)``; the similarity of two classes is the
    histogram intersection ``sum_v min(p_c(v), p_d(v))`` in ``[0, 1]`` (1: the same
    spread over nodes, 0: no node in common).

    Attributes
    ----------
    class_names
        The fine classes (rows/columns).
    similarity
        Float64 ``(n_classes, n_classes)``; 1 on the diagonal of present classes.
    shared_nodes
        Int64 ``(n_classes, n_classes)``: number of nodes holding both classes.
    present
        Bool ``(n_classes,)``: the class has at least one point in a node.
    """

    class_names: tuple[str, ...]
    similarity: np.ndarray
    shared_nodes: np.ndarray
    present: np.ndarray

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "similarity", frozen_array(self.similarity, dtype=np.float64))
        object.__setattr__(self, "shared_nodes", frozen_array(self.shared_nodes, dtype=np.int64))
        object.__setattr__(self, "present", frozen_array(self.present, dtype=bool))

    @property
    def distance(self) -> np.ndarray:
        """``1 - similarity`` (0 on the diagonal)."""
        d = 1.0 - np.array(self.similarity)
        np.fill_diagonal(d, 0.0)
        return d

    def linkage(self, *, method: LinkageMethod = "average") -> np.ndarray:
        """SciPy linkage matrix of the present classes from :attr:`distance`."""
        from scipy.cluster.hierarchy import linkage
        from scipy.spatial.distance import squareform

        idx = np.flatnonzero(self.present)
        if idx.size < 2:
            raise ValueError("fewer than two classes are in the graph; nothing to cluster")
        d = self.distance[np.ix_(idx, idx)]
        return linkage(squareform(d, checks=False), method=method)

    def to_networkx(self) -> Any:
        """A :class:`networkx.Graph`: one node per class, an edge where classes share a node.

        Edge attributes: ``similarity`` and ``shared_nodes``.
        """
        import networkx as nx

        g = nx.Graph()
        for i, c in enumerate(self.class_names):
            g.add_node(c, present=bool(self.present[i]))
        n = len(self.class_names)
        for i in range(n):
            for j in range(i + 1, n):
                if self.shared_nodes[i, j] > 0:
                    g.add_edge(
                        self.class_names[i],
                        self.class_names[j],
                        similarity=float(self.similarity[i, j]),
                        shared_nodes=int(self.shared_nodes[i, j]),
                    )
        return g


def class_graph(composition: NodeComposition) -> ClassGraph:
    """Build the class graph of a graph's fine-level composition (see :class:`ClassGraph`).

    Parameters
    ----------
    composition
        The composition of a Mapper graph at one level (:func:`class_composition`).

    Returns
    -------
    ClassGraph
        Similarities between the classes from the nodes they share.
    """
    counts = np.asarray(composition.counts, dtype=np.float64).T  # (groups, nodes)
    totals = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    k = p.shape[0]
    sim = np.zeros((k, k))
    for i in range(k):
        sim[i] = np.minimum(p[i][None, :], p).sum(axis=1)
    present = totals[:, 0] > 0
    occupied = (counts > 0).astype(np.int64)
    shared = occupied @ occupied.T
    return ClassGraph(
        class_names=composition.group_names, similarity=sim, shared_nodes=shared, present=present
    )


def _hierarchy_distance(hierarchy: ClassHierarchy) -> np.ndarray:
    """Tree distance between fine classes.

    0 for a class with itself, otherwise 1 + the number of coarser levels at which the two
    classes are in different groups.
    """
    n = len(hierarchy.class_names)
    d = np.ones((n, n)) - np.eye(n)
    for level in hierarchy.parents:
        g = np.asarray(hierarchy.parents[level])
        d += (g[:, None] != g[None, :]).astype(np.float64)
    return d


# -------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class HierarchySummary:
    """How one Mapper graph organises a class hierarchy.

    Attributes
    ----------
    label
        The graph's label (the layer).
    n_points, n_nodes, n_edges, n_components
        Size of the cloud and of the graph; connected components include isolated nodes.
    coverage
        Fraction of the points that are in at least one node (the rest is noise).
    eps
        DBSCAN ``eps`` used (NaN for another clusterer).
    weighted_purity
        Level -> node purity (fraction of a node's members in its majority group)
        averaged over nodes weighted by node size; NaN for an empty graph.
    n_groups
        Level -> number of groups with at least one point in the graph.
    separated
        Level -> names of the groups that live in components of their own: at least
        ``separation_purity`` of the group's points in the graph lie in components made
        at least ``separation_purity`` of that group.
    misclassification_rate
        Fraction of the points in the graph (counted once per node) whose prediction is
        wrong at the fine level; NaN without predictions.
    cophenetic_correlation
        Pearson correlation between the cophenetic distances of the class graph's
        hierarchical clustering and the given hierarchy's tree distances (classes in the
        graph only; NaN with fewer than 3 or when either side is constant).
    adjusted_rand
        Coarse level -> adjusted Rand index between the clustering cut into as many
        clusters as that level has groups and the given grouping; NaN where the cut is
        arbitrary (tied merge heights, e.g. classes that share no node at all).
    params
        ``separation_purity`` and the ``linkage`` method.
    """

    label: str
    n_points: int
    n_nodes: int
    n_edges: int
    n_components: int
    coverage: float
    eps: float
    weighted_purity: Mapping[str, float]
    n_groups: Mapping[str, int]
    separated: Mapping[str, tuple[str, ...]]
    misclassification_rate: float
    cophenetic_correlation: float
    adjusted_rand: Mapping[str, float]
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("weighted_purity", "n_groups", "adjusted_rand", "params"):
            object.__setattr__(self, name, dict(getattr(self, name)))
        object.__setattr__(self, "separated", {k: tuple(v) for k, v in self.separated.items()})

    def __repr__(self) -> str:
        purity = ", ".join(f"{k}={v:.3f}" for k, v in self.weighted_purity.items())
        return (
            f"HierarchySummary({self.label!r}, {self.n_nodes} nodes, {self.n_edges} edges, "
            f"{self.n_components} components, coverage={self.coverage:.3f}; purity {purity})"
        )

    @property
    def n_separated(self) -> dict[str, int]:
        """Level -> number of groups in components of their own."""
        return {k: len(v) for k, v in self.separated.items()}

    def as_row(self) -> dict[str, Any]:
        """A flat dict (one row of the trend table)."""
        row: dict[str, Any] = {
            "layer": self.label,
            "n_points": self.n_points,
            "n_nodes": self.n_nodes,
            "n_edges": self.n_edges,
            "n_components": self.n_components,
            "coverage": self.coverage,
            "eps": self.eps,
        }
        for level, value in self.weighted_purity.items():
            row[f"purity_{level}"] = value
        for level, names in self.separated.items():
            row[f"separated_{level}"] = len(names)
            row[f"n_groups_{level}"] = self.n_groups.get(level, 0)
        row["misclassification_rate"] = self.misclassification_rate
        row["cophenetic_correlation"] = self.cophenetic_correlation
        for level, value in self.adjusted_rand.items():
            row[f"adjusted_rand_{level}"] = value
        return row


def _safe_corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def hierarchy_summary(
    graph: MapperGraph,
    labels: npt.ArrayLike,
    hierarchy: ClassHierarchy,
    *,
    predictions: npt.ArrayLike | None = None,
    compositions: Mapping[str, NodeComposition] | None = None,
    separation_purity: float = 0.9,
    linkage: LinkageMethod = "average",
) -> HierarchySummary:
    """Summarise how a Mapper graph organises a class hierarchy.

    Parameters
    ----------
    graph
        The Mapper graph of one layer.
    labels
        Fine class of each point of the graph's cloud.
    hierarchy
        The class hierarchy; every label must be one of its classes.
    predictions
        Predicted fine class of each point (optional).
    compositions
        Precomputed :func:`hierarchy_compositions` (computed when omitted).
    separation_purity
        Threshold in ``(0.5, 1]`` for "a group lives in components of its own".
    linkage
        SciPy linkage method for the class graph's hierarchical clustering.

    Returns
    -------
    HierarchySummary

    Raises
    ------
    ValueError
        If a label is a class the hierarchy does not know, or a parameter is out of range.
    """
    from scipy.cluster.hierarchy import cophenet, fcluster
    from scipy.spatial.distance import squareform
    from sklearn.metrics import adjusted_rand_score

    if not 0.5 < float(separation_purity) <= 1.0:
        raise ValueError(f"separation_purity must be in (0.5, 1], got {separation_purity!r}")
    if linkage not in ("average", "complete", "single", "weighted"):
        from ..types import unknown_name_error

        raise unknown_name_error(
            "linkage method", str(linkage), ["average", "complete", "single", "weighted"]
        )
    fine = check_labels(
        labels,
        n_groups=len(hierarchy.class_names),
        n_points=graph.n_points,
        names=hierarchy.class_names,
    )
    if compositions is None:
        compositions = hierarchy_compositions(graph, fine, hierarchy, predictions=predictions)

    comps = connected_components(graph)
    covered = np.zeros(graph.n_points, dtype=bool)
    for node in graph.nodes:
        covered[node.members] = True

    purity: dict[str, float] = {}
    n_groups: dict[str, int] = {}
    separated: dict[str, tuple[str, ...]] = {}
    for level in hierarchy.levels:
        comp = compositions[level]
        purity[level] = comp.weighted_purity()
        lab = hierarchy.map_labels(fine, level)
        names = hierarchy.names(level)
        counts = _component_counts(graph, lab, len(names), comps)
        n_groups[level] = int(np.sum(counts.sum(axis=0) > 0))
        sep = (
            _separated_groups(counts, purity=float(separation_purity))
            if comps
            else np.zeros(len(names), dtype=bool)
        )
        separated[level] = tuple(names[i] for i in np.flatnonzero(sep))

    fine_comp = compositions["fine"]
    rates = np.asarray(fine_comp.misclassification_rate)
    sizes = fine_comp.sizes
    if rates.size and not np.all(np.isnan(rates)) and sizes.sum() > 0:
        miscls = float(np.nansum(rates * sizes) / sizes.sum())
    else:
        miscls = float("nan")

    coph = float("nan")
    ari = {level: float("nan") for level in hierarchy.parents}
    cg = class_graph(fine_comp)
    present = np.flatnonzero(cg.present)
    if present.size >= 2:
        z = cg.linkage(method=linkage)
        if present.size >= 3:
            tree = _hierarchy_distance(hierarchy)[np.ix_(present, present)]
            coph_d = cophenet(z)
            coph = _safe_corr(coph_d, squareform(tree, checks=False))
        heights = z[:, 2]
        m = present.size
        for level in hierarchy.parents:
            truth = np.asarray(hierarchy.parents[level])[present]
            k = len(hierarchy.level_names[level])
            # Cutting into k clusters undoes the last k-1 merges; when the merge kept last
            # and the first one undone are at the same height, the cut is arbitrary.
            if 1 < k < m and np.isclose(heights[m - k - 1], heights[m - k], rtol=0, atol=1e-12):
                continue
            cut = fcluster(z, t=k, criterion="maxclust")
            ari[level] = float(adjusted_rand_score(truth, cut))

    eps = graph.params.get("eps", float("nan"))
    return HierarchySummary(
        label=graph.label,
        n_points=graph.n_points,
        n_nodes=len(graph.nodes),
        n_edges=len(graph.edges),
        n_components=len(comps),
        coverage=float(covered.mean()) if graph.n_points else float("nan"),
        eps=float(eps) if eps is not None else float("nan"),
        weighted_purity=purity,
        n_groups=n_groups,
        separated=separated,
        misclassification_rate=miscls,
        cophenetic_correlation=coph,
        adjusted_rand=ari,
        params={"separation_purity": float(separation_purity), "linkage": linkage},
    )


# ----------------------------------------------------------------- every layer


@dataclass(frozen=True)
class LayerMapper:
    """Mapper graphs, node compositions and hierarchy summaries for the layers of a model.

    Attributes
    ----------
    layers
        Layer names in forward order.
    graphs
        Layer -> :class:`~tda_activations.types.MapperGraph`.
    compositions
        Layer -> level -> :class:`NodeComposition`.
    summaries
        Layer -> :class:`HierarchySummary`.
    hierarchy
        The class hierarchy used.
    """

    layers: tuple[str, ...]
    graphs: Mapping[str, MapperGraph]
    compositions: Mapping[str, Mapping[str, NodeComposition]]
    summaries: Mapping[str, HierarchySummary]
    hierarchy: ClassHierarchy

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        for name in ("graphs", "compositions", "summaries"):
            object.__setattr__(self, name, dict(getattr(self, name)))

    def __repr__(self) -> str:
        nodes = [len(self.graphs[k].nodes) for k in self.layers]
        size = f"{min(nodes)}-{max(nodes)} nodes per graph" if nodes else "no graphs"
        return (
            f"LayerMapper({len(self.layers)} layers: {brief_names(self.layers)}; {size}; "
            f"levels: {', '.join(self.hierarchy.levels)}; .to_pandas(), .trend())"
        )

    def summary(self) -> str:
        """One line: layers, graph sizes and the weighted purity of the first and last layer."""
        if not self.layers:
            return "LayerMapper: no layers"
        first, last = self.summaries[self.layers[0]], self.summaries[self.layers[-1]]
        nodes = [len(self.graphs[k].nodes) for k in self.layers]

        def purity(s: HierarchySummary) -> str:
            return ", ".join(f"{k} {v:.3f}" for k, v in s.weighted_purity.items())

        return (
            f"{len(self.layers)} layers ({self.layers[0]} .. {self.layers[-1]}), "
            f"{min(nodes)}-{max(nodes)} nodes per graph; weighted purity {purity(first)} "
            f"-> {purity(last)}"
        )

    def to_pandas(self) -> pandas.DataFrame:
        """The trend table: one row per layer.

        Columns: ``depth`` (position in forward order), purity at every level, components,
        separated groups, class-graph scores.

        Returns
        -------
        pandas.DataFrame
            A new frame indexed by layer.
        """
        import pandas as pd

        rows = []
        for depth, layer in enumerate(self.layers):
            row = self.summaries[layer].as_row()
            row["depth"] = depth
            rows.append(row)
        df = pd.DataFrame(rows).set_index("layer")
        cols = ["depth"] + [c for c in df.columns if c != "depth"]
        return df[cols]

    def trend(self) -> Any:
        """Spearman rank correlation of every numeric column of :attr:`table` with depth.

        Returns
        -------
        pandas.DataFrame
            Index: the metrics; columns ``spearman_rho`` and ``p_value`` (NaN where a
            column is constant or there are fewer than 3 layers).
        """
        import pandas as pd
        from scipy.stats import spearmanr

        df = self.to_pandas()
        out = {}
        for col in df.columns:
            if col == "depth" or not np.issubdtype(df[col].dtype, np.number):
                continue
            values = df[col].to_numpy(dtype=np.float64)
            ok = np.isfinite(values)
            if ok.sum() < 3 or np.ptp(values[ok]) == 0:
                out[col] = (float("nan"), float("nan"))
                continue
            res = spearmanr(df["depth"].to_numpy()[ok], values[ok])
            out[col] = (float(res.statistic), float(res.pvalue))
        return pd.DataFrame.from_dict(out, orient="index", columns=["spearman_rho", "p_value"])


def layer_mapper(
    acts: ActivationSet,
    *,
    layers: Sequence[str] | None = None,
    hierarchy: ClassHierarchy | None = None,
    separation_purity: float = 0.9,
    linkage: LinkageMethod = "average",
    progress: bool | None = None,
    **mapper_options: Any,
) -> LayerMapper:
    """Mapper graph, compositions and hierarchy summary for every layer in one call.

    Parameters
    ----------
    acts
        Extracted activations (``acts.cloud(layer)``, labels, hierarchy, predictions).
    layers
        Layers to use, in order (default: all, in forward order).
    hierarchy
        Class hierarchy (default ``acts.hierarchy``); every label must be one of its classes.
    separation_purity, linkage
        See :func:`hierarchy_summary`.
    progress
        Show a progress bar over the layers (``None``: in a terminal or notebook).
    **mapper_options
        Passed to :func:`~tda_activations.mapper.mapper_graph` (``lens``,
        ``n_intervals``, ``overlap``, ``clusterer``, ``min_samples``, ``eps``...); the
        defaults are the paper's.

    Returns
    -------
    LayerMapper
        ``.to_pandas()`` is the trend table (one row per layer); ``.trend()`` its rank
        correlation with depth.

    Raises
    ------
    ValueError
        For unknown layers or labels the hierarchy does not know (checked before any graph
        is built).

    Examples
    --------
    >>> res = layer_mapper(acts)                          # doctest: +SKIP
    >>> res.to_pandas()[["purity_fine", "purity_coarse", "n_components"]]   # doctest: +SKIP
    """
    if "label" in mapper_options:
        raise ValueError("label is set to the layer name by layer_mapper; do not pass it")
    hierarchy = acts.hierarchy if hierarchy is None else hierarchy
    names = resolve_layer_names(acts.layers, layers)
    # Fail fast: unknown layers and unknown classes before any (slow) graph is built.
    labels = {}
    preds = {}
    for layer in names:
        fine = acts.point_labels(layer, "fine")
        labels[layer] = check_labels(
            fine,
            n_groups=len(hierarchy.class_names),
            n_points=acts.cloud(layer).shape[0],
            what=f"labels of layer {layer!r}",
            names=hierarchy.class_names,
        )
        preds[layer] = acts.point_predictions(layer)

    graphs: dict[str, MapperGraph] = {}
    compositions: dict[str, dict[str, NodeComposition]] = {}
    summaries: dict[str, HierarchySummary] = {}
    with progress_bar(total=len(names), desc="layer_mapper", unit="layer", enabled=progress) as bar:
        for layer in names:
            bar.set_postfix(layer)
            graphs[layer] = mapper_graph(acts.cloud(layer), label=layer, **mapper_options)
            compositions[layer] = hierarchy_compositions(
                graphs[layer], labels[layer], hierarchy, predictions=preds[layer]
            )
            summaries[layer] = hierarchy_summary(
                graphs[layer],
                labels[layer],
                hierarchy,
                compositions=compositions[layer],
                separation_purity=separation_purity,
                linkage=linkage,
            )
            log.info(
                "mapper %s: %d nodes, purity %s",
                layer,
                len(graphs[layer].nodes),
                summaries[layer].weighted_purity,
            )
            bar.update(1)
    return LayerMapper(
        layers=tuple(names),
        graphs=graphs,
        compositions=compositions,
        summaries=summaries,
        hierarchy=hierarchy,
    )
