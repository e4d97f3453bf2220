"""Mapper graphs out of Python: networkx, JSON, and the data of the pie-chart figure."""

from __future__ import annotations

import colorsys
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from ..types import MapperGraph, MapperNode, frozen_array
from .composition import NodeComposition

__all__ = [
    "PieChartData",
    "compositions_from_json",
    "from_json",
    "graph_layout",
    "group_colors",
    "load_graph",
    "pie_chart_data",
    "save_graph",
    "to_json",
    "to_networkx",
]

_FORMAT = "tda_activations.MapperGraph"
_VERSION = 1

# matplotlib's tab10 and tab20, so figures and pages agree without importing matplotlib.
_TAB10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
_TAB20 = (
    "#1f77b4",
    "#aec7e8",
    "#ff7f0e",
    "#ffbb78",
    "#2ca02c",
    "#98df8a",
    "#d62728",
    "#ff9896",
    "#9467bd",
    "#c5b0d5",
    "#8c564b",
    "#c49c94",
    "#e377c2",
    "#f7b6d2",
    "#7f7f7f",
    "#c7c7c7",
    "#bcbd22",
    "#dbdb8d",
    "#17becf",
    "#9edae5",
)


def group_colors(n: int) -> tuple[str, ...]:
    """Return ``n`` distinct hex colours: tab10 up to 10, tab20 up to 20, then spaced hues.

    Parameters
    ----------
    n
        Number of colours.

    Returns
    -------
    tuple of str
        ``"#rrggbb"`` colours.

    Examples
    --------
    >>> group_colors(2)
    ('#1f77b4', '#ff7f0e')
    """
    if n <= 10:
        return _TAB10[:n]
    if n <= 20:
        return _TAB20[:n]
    out = []
    for i in range(n):
        h = (i * 0.618033988749895) % 1.0
        light = 0.45 + 0.15 * (i % 3) / 2
        r, g, b = colorsys.hls_to_rgb(h, light, 0.65)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return tuple(out)


# ------------------------------------------------------------------- networkx


def to_networkx(
    graph: MapperGraph, *, compositions: Mapping[str, NodeComposition] | None = None
) -> Any:
    """Convert the graph to a :class:`networkx.Graph`.

    Node attributes: ``members`` (list of point indices), ``size``, ``interval``,
    ``lens_mean``; with ``compositions`` also, per level, ``composition_<level>``
    (``{group: count}``), ``majority_<level>``, ``purity_<level>`` and
    ``misclassification_rate``.  Graph attributes: ``label`` and ``params``.

    Parameters
    ----------
    graph
        The Mapper graph.
    compositions
        ``{level: NodeComposition}`` of the graph (:func:`class_composition`), or ``None``.

    Returns
    -------
    networkx.Graph
        One node per Mapper node (its id), one edge per Mapper edge.
    """
    import networkx as nx

    g = nx.Graph(label=graph.label, params=dict(graph.params))
    for node in graph.nodes:
        g.add_node(
            node.id,
            members=node.members.tolist(),
            size=node.size,
            interval=node.interval,
            lens_mean=node.lens_mean,
        )
    for level, comp in (compositions or {}).items():
        _check_composition(graph, comp)
        purity, majority = comp.purity, comp.majority
        for i, node_id in enumerate(comp.node_ids):
            attrs = g.nodes[node_id]
            attrs[f"composition_{level}"] = comp.node(node_id)
            attrs[f"majority_{level}"] = comp.group_names[majority[i]] if comp.group_names else None
            attrs[f"purity_{level}"] = float(purity[i])
            if level == "fine":
                attrs["misclassification_rate"] = float(comp.misclassification_rate[i])
    g.add_edges_from(graph.edges)
    return g


def _check_composition(graph: MapperGraph, comp: NodeComposition) -> None:
    if comp.node_ids != tuple(n.id for n in graph.nodes):
        raise ValueError(
            "the composition does not belong to this graph (its node ids differ); compute it "
            "with class_composition(graph, labels) for this graph"
        )


# ----------------------------------------------------------------------- JSON


def _clean(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None, arrays lists, tuples lists."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return repr(obj)


def to_json(
    graph: MapperGraph,
    *,
    compositions: Mapping[str, NodeComposition] | None = None,
    indent: int | None = None,
) -> str:
    """Write the graph (and optionally its compositions) as a JSON string.

    Non-finite numbers (a NaN lens value, an undefined ``eps``) are written as ``null``.
    :func:`from_json` reads the graph back; :func:`compositions_from_json` the
    compositions.

    Parameters
    ----------
    graph
        The Mapper graph.
    compositions
        ``{level: NodeComposition}`` of the graph (:func:`class_composition`), or ``None``.
    indent
        Indentation of the JSON text (``None``: compact).

    Returns
    -------
    str
        The JSON document.
    """
    doc: dict[str, Any] = {
        "format": _FORMAT,
        "version": _VERSION,
        "label": graph.label,
        "params": _clean(graph.params),
        "lens": _clean(graph.lens),
        "nodes": [
            {
                "id": n.id,
                "members": n.members.tolist(),
                "interval": n.interval,
                "lens_mean": _clean(n.lens_mean),
            }
            for n in graph.nodes
        ],
        "edges": [list(e) for e in graph.edges],
    }
    if compositions:
        doc["compositions"] = {}
        for level, comp in compositions.items():
            _check_composition(graph, comp)
            doc["compositions"][level] = {
                "group_names": list(comp.group_names),
                "counts": comp.counts.tolist(),
                "lens_mean": _clean(comp.lens_mean),
                "misclassification_rate": _clean(comp.misclassification_rate),
            }
    return json.dumps(doc, indent=indent, allow_nan=False)


def _parse(text: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a Mapper graph JSON document: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise ValueError(f"not a Mapper graph JSON document (expected format {_FORMAT!r})")
    if doc.get("version") != _VERSION:
        raise ValueError(f"unsupported Mapper graph JSON version {doc.get('version')!r}")
    return doc


def _nan(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan(v) for v in values]
    return np.nan if values is None else values


def _floats(values: Any) -> np.ndarray:
    return np.array(_nan(values), dtype=np.float64)


def from_json(text: str) -> MapperGraph:
    """Read a graph written by :func:`to_json` (``null`` numbers come back as NaN).

    Parameters
    ----------
    text
        The JSON document.

    Returns
    -------
    MapperGraph
        The graph.
    """
    doc = _parse(text)
    nodes = tuple(
        MapperNode(
            id=n["id"],
            members=np.asarray(n["members"], dtype=np.int64),
            interval=int(n["interval"]),
            lens_mean=float("nan") if n["lens_mean"] is None else float(n["lens_mean"]),
        )
        for n in doc["nodes"]
    )
    lens = np.array(_nan(doc["lens"]), dtype=np.float64)
    params = {
        k: (float("nan") if v is None and k == "eps" else v) for k, v in doc["params"].items()
    }
    return MapperGraph(
        nodes=nodes,
        edges=tuple(tuple(e) for e in doc["edges"]),
        lens=lens,
        params=params,
        label=doc.get("label", ""),
    )


def compositions_from_json(text: str) -> dict[str, NodeComposition]:
    """Read the compositions stored by :func:`to_json` (empty if none were stored).

    Parameters
    ----------
    text
        The JSON document.

    Returns
    -------
    dict of str to NodeComposition
        ``{level: composition}``.
    """
    doc = _parse(text)
    ids = tuple(n["id"] for n in doc["nodes"])
    out = {}
    for level, c in doc.get("compositions", {}).items():
        out[level] = NodeComposition(
            node_ids=ids,
            level=level,
            group_names=tuple(c["group_names"]),
            counts=np.asarray(c["counts"], dtype=np.int64).reshape(len(ids), -1),
            lens_mean=_floats(c["lens_mean"]),
            misclassification_rate=_floats(c["misclassification_rate"]),
        )
    return out


def save_graph(
    graph: MapperGraph,
    path: str | os.PathLike[str],
    *,
    compositions: Mapping[str, NodeComposition] | None = None,
) -> Path:
    """Write :func:`to_json` to ``path`` atomically.

    Parameters
    ----------
    graph
        The Mapper graph.
    path
        The ``.json`` file to write.
    compositions
        ``{level: NodeComposition}`` of the graph (:func:`class_composition`), or ``None``.

    Returns
    -------
    Path
        The path written.
    """
    return atomic_write_text(path, to_json(graph, compositions=compositions))


def load_graph(path: str | os.PathLike[str]) -> MapperGraph:
    """Read a graph saved by :func:`save_graph`.

    Parameters
    ----------
    path
        The ``.json`` file.

    Returns
    -------
    MapperGraph
        The graph.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no Mapper graph file at {path}")
    return from_json(path.read_text())


# ---------------------------------------------------------------- figure data


@dataclass(frozen=True)
class PieChartData:
    """What the plotting stage needs to draw nodes as pie charts of class composition.

    Attributes
    ----------
    node_ids
        Node ids in the graph's order.
    positions
        Float64 ``(n_nodes, 2)`` positions in ``[-1, 1]`` (:func:`graph_layout`).
    sizes
        Int64 ``(n_nodes,)`` member counts (radius proportional to ``sqrt(size)`` reads well).
    fractions
        Float64 ``(n_nodes, n_groups)``: composition of each node (rows sum to 1).
    group_names
        The groups (pie slices), in column order.
    colors
        A hex colour per group (tab10/tab20, as matplotlib's).
    edges
        Int64 ``(n_edges, 2)``: pairs of row indices into ``node_ids``.
    level
        The hierarchy level of the groups.
    label
        The graph's label.
    """

    node_ids: tuple[str, ...]
    positions: np.ndarray
    sizes: np.ndarray
    fractions: np.ndarray
    group_names: tuple[str, ...]
    colors: tuple[str, ...]
    edges: np.ndarray
    level: str
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "positions", frozen_array(np.reshape(self.positions, (-1, 2)), dtype=np.float64)
        )
        object.__setattr__(self, "sizes", frozen_array(self.sizes, dtype=np.int64))
        object.__setattr__(
            self,
            "fractions",
            frozen_array(
                np.reshape(self.fractions, (len(self.node_ids), len(self.group_names))),
                dtype=np.float64,
            ),
        )
        object.__setattr__(
            self, "edges", frozen_array(np.reshape(self.edges, (-1, 2)), dtype=np.int64)
        )


def graph_layout(graph: MapperGraph, *, seed: int = 0, iterations: int = 100) -> np.ndarray:
    """Node positions ``(n_nodes, 2)`` in ``[-1, 1]``: a seeded spring layout per component.

    Each connected component is laid out on its own with networkx's
    ``spring_layout(seed=seed)`` and placed in a cell of a square grid, largest
    component first (row by row from the top left); a component of one node sits at its
    cell's centre.  Deterministic for a given graph and seed, in every process: each
    component is laid out as a graph built with its nodes in the graph's node order and its
    edges sorted (a networkx subgraph view iterates a set, whose order depends on
    ``PYTHONHASHSEED``, and the spring layout's start depends on the node order).

    Parameters
    ----------
    graph
        The Mapper graph.
    seed
        Seed of the spring layout.
    iterations
        Iterations of the spring layout.

    Returns
    -------
    numpy.ndarray
        Positions ``(n_nodes, 2)``, rows in the order of ``graph.nodes``.
    """
    import networkx as nx

    n = len(graph.nodes)
    if n == 0:
        return np.zeros((0, 2))
    g = nx.Graph()
    g.add_nodes_from(node.id for node in graph.nodes)
    g.add_edges_from(graph.edges)
    order = {node.id: i for i, node in enumerate(graph.nodes)}
    comps = [sorted(c, key=order.__getitem__) for c in nx.connected_components(g)]
    comps.sort(key=lambda c: (-len(c), order[c[0]]))
    cols = math.ceil(math.sqrt(len(comps)))
    rows = math.ceil(len(comps) / cols)
    cell = 2.0 / max(cols, rows)
    out = np.zeros((n, 2))
    for k, comp in enumerate(comps):
        r, c = divmod(k, cols)
        centre = np.array([-1 + cell * (c + 0.5), -1 + cell * (r + 0.5)])
        if len(comp) == 1:
            out[order[comp[0]]] = centre
            continue
        sub = nx.Graph()
        sub.add_nodes_from(comp)
        sub.add_edges_from(
            sorted(
                (tuple(sorted((a, b), key=order.__getitem__)) for a, b in g.subgraph(comp).edges()),
                key=lambda e: (order[e[0]], order[e[1]]),
            )
        )
        pos = nx.spring_layout(sub, seed=seed, iterations=iterations)
        xy = np.array([pos[v] for v in comp], dtype=np.float64)
        xy -= xy.mean(axis=0)
        extent = np.abs(xy).max()
        if extent > 0:
            xy *= 0.42 * cell / extent
        for v, p in zip(comp, xy):
            out[order[v]] = centre + p
    return out


def pie_chart_data(
    graph: MapperGraph, composition: NodeComposition, *, seed: int = 0, iterations: int = 100
) -> PieChartData:
    """Positions, sizes and compositions of the nodes, for a pie-chart figure.

    Parameters
    ----------
    graph
        The Mapper graph.
    composition
        Its composition at one level (:func:`class_composition`).
    seed, iterations
        Of the networkx spring layout (the HTML page uses the same layout).

    Returns
    -------
    PieChartData
        What a pie-chart figure of the graph draws.
    """
    _check_composition(graph, composition)
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    edges = np.array([[order[a], order[b]] for a, b in graph.edges], dtype=np.int64)
    return PieChartData(
        node_ids=composition.node_ids,
        positions=graph_layout(graph, seed=seed, iterations=iterations),
        sizes=composition.sizes,
        fractions=composition.fractions,
        group_names=composition.group_names,
        colors=group_colors(len(composition.group_names)),
        edges=edges.reshape(-1, 2),
        level=composition.level,
        label=graph.label,
    )
