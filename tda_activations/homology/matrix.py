"""All-pairs distance matrices between diagrams: layer x layer, model A x model B, model x model.

Each diagram is prepared once (sorted projections for sliced Wasserstein,
split finite/essential parts for bottleneck and Wasserstein, vectors for the
vectorisations); only the cheap pair step runs per pair, through the one pair
engine of every measure (:func:`tda_activations._measure.score_pairs`).  With ``n_jobs > 1``
the pairs are split into chunks computed in worker processes, each of which
prepares the diagrams itself; the values are identical to a sequential run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .._measure import score_pairs
from .._select import resolve_layer_names
from ..types import Diagrams, LayerMatrix
from ._checks import as_diagram
from ._parallel import check_n_jobs, run_tasks
from .distances import DiagramDistance, get_diagram_distance

__all__ = [
    "cross_distance_matrix",
    "distance_matrix",
    "model_distance_matrix",
    "stack_models",
]

DiagramCollection = Mapping[str, Any] | Sequence[Any]
_PARALLEL_MIN_PAIRS = 2000


def _collect(
    diagrams: DiagramCollection, dim: int, what: str
) -> tuple[list[str], list[np.ndarray], list[Any]]:
    if isinstance(diagrams, Mapping):
        labels = [str(k) for k in diagrams]
        items = list(diagrams.values())
    elif isinstance(diagrams, (list, tuple)):
        items = list(diagrams)
        labels = [
            (d.label if isinstance(d, Diagrams) and d.label else str(i))
            for i, d in enumerate(items)
        ]
        if len(set(labels)) != len(labels):
            labels = [str(i) for i in range(len(items))]
    else:
        raise TypeError(f"{what}: give a mapping label -> Diagrams or a sequence of Diagrams")
    if not items:
        raise ValueError(f"{what}: no diagrams given")
    arrays = []
    for label, item in zip(labels, items):
        if isinstance(item, Diagrams) and dim > item.maxdim:
            raise ValueError(
                f"{what}: diagrams {label!r} were computed up to H{item.maxdim}; dim={dim} needs "
                f"maxdim >= {dim}"
            )
        arrays.append(as_diagram(item, dim=dim, name=f"{what}[{label!r}]"))
    return labels, arrays, items


def _chunk_values(
    name: str, params: dict[str, Any], arrays: list[np.ndarray], i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """One worker task: prepare the collection, then the pairs (i[k], j[k])."""
    dist = get_diagram_distance(name, **params)
    prep = dist.prepare_many(arrays)
    return score_pairs(dist.score, prep, prep, i, j)


def _pairs_values(
    dist: DiagramDistance, arrays: list[np.ndarray], i: np.ndarray, j: np.ndarray, n_jobs: int
) -> np.ndarray:
    if n_jobs == 1 or i.size < _PARALLEL_MIN_PAIRS:
        prep = dist.prepare_many(arrays)
        return score_pairs(dist.score, prep, prep, i, j)
    # One chunk of pairs per worker and a few more for balance; each worker rebuilds the
    # distance by name and prepares the collection itself (vectorisations share its grid).
    chunks = np.array_split(np.arange(i.size), 4 * n_jobs)
    tasks = [(dist.name, dist.params, arrays, i[c], j[c]) for c in chunks]
    return np.concatenate(run_tasks(_chunk_values, tasks, n_jobs))


def _params(
    dist: DiagramDistance, dim: int, items: Sequence[Any], device: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"metric": dist.name, "dim": dim, **dist.params}
    if device is not None:
        out["device"] = str(device)
    first = next((d for d in items if isinstance(d, Diagrams)), None)
    if first is not None:
        out["diagrams"] = {
            "coeff": first.coeff,
            "backend": first.backend,
            "metric": first.metric,
            "threshold_rule": first.params.get("threshold_rule"),
        }
    return out


def distance_matrix(
    diagrams: DiagramCollection,
    *,
    metric: str | DiagramDistance = "sliced_wasserstein",
    dim: int = 1,
    n_jobs: int | None = 1,
    device: Any = None,
    **params: Any,
) -> LayerMatrix:
    """All-pairs distances within one collection of diagrams (e.g. the layers of a model).

    Parameters
    ----------
    diagrams
        Mapping label -> :class:`~tda_activations.types.Diagrams` (or ``(k, 2)``
        arrays), or a sequence (labels from ``Diagrams.label``).
    metric
        A name of :func:`~tda_activations.homology.diagram_distance_names`
        (``"sliced_wasserstein"``, ``"bottleneck"``, ``"wasserstein"``,
        ``"betti_curve"``, ``"landscape"``, ``"persistence_image"``,
        ``"entropy"``, ``"total_persistence"``) or a DiagramDistance.
    dim
        Homology dimension compared.
    n_jobs
        Worker processes for large matrices (``-1``: all CPUs).
    device
        ``None`` (the CPU engine, with ``n_jobs`` processes) or a torch device such as
        ``"cuda"``: the whole matrix is computed there, for a distance with a device
        engine (the sliced Wasserstein distance); recorded in ``params["device"]``.
    **params
        Options of the distance (``n_directions=50``, ``order``, ``internal_p``, ``essential``...).

    Returns
    -------
    LayerMatrix
        Symmetric, zero diagonal, ``kind="distance"``, ``measure`` naming the
        distance and its parameters.

    Examples
    --------
    >>> m = distance_matrix({"a": [[0.0, 1.0]], "b": [[0.0, 2.0]]}, metric="bottleneck")
    >>> m.value("a", "b")
    1.0
    """
    dist = get_diagram_distance(metric, **params)
    labels, arrays, items = _collect(diagrams, dim, "diagrams")
    n = len(arrays)
    if device is not None:
        out = dist.score_matrix(dist.prepare_many(arrays), device=device)
    else:
        iu, ju = np.triu_indices(n, 1)
        vals = _pairs_values(dist, arrays, iu, ju, check_n_jobs(n_jobs))
        out = np.zeros((n, n))
        out[iu, ju] = vals
        out[ju, iu] = vals
    return LayerMatrix(
        values=out,
        row_labels=tuple(labels),
        col_labels=tuple(labels),
        measure=dist.measure_name(dim),
        kind="distance",
        params=_params(dist, dim, items, device),
    )


def cross_distance_matrix(
    rows: DiagramCollection,
    cols: DiagramCollection,
    *,
    metric: str | DiagramDistance = "sliced_wasserstein",
    dim: int = 1,
    n_jobs: int | None = 1,
    device: Any = None,
    **params: Any,
) -> LayerMatrix:
    """Distances between every diagram of ``rows`` and every diagram of ``cols``.

    Typically the layers of model A (rows) against the layers of model B
    (columns).  Both collections are prepared together (vectorisations share
    one grid).

    Parameters
    ----------
    rows, cols
        Diagram collections, as the ``diagrams`` of :func:`distance_matrix`.
    metric, dim, n_jobs, device, **params
        As in :func:`distance_matrix`.

    Returns
    -------
    LayerMatrix
        ``len(rows) x len(cols)``, ``kind="distance"``, labelled by both collections.

    Examples
    --------
    >>> m = cross_distance_matrix({"a": [[0.0, 1.0]]}, {"b": [[0.0, 2.0]], "c": [[0.0, 4.0]]},
    ...                           metric="bottleneck")
    >>> m.values
    array([[1., 2.]])
    """
    dist = get_diagram_distance(metric, **params)
    rl, ra, ri = _collect(rows, dim, "rows")
    cl, ca, ci = _collect(cols, dim, "cols")
    nr, nc = len(ra), len(ca)
    if device is not None:
        values = dist.score_matrix(dist.prepare_many(ra), dist.prepare_many(ca), device=device)
    else:
        ii, jj = np.meshgrid(np.arange(nr), nr + np.arange(nc), indexing="ij")
        vals = _pairs_values(dist, ra + ca, ii.ravel(), jj.ravel(), check_n_jobs(n_jobs))
        values = vals.reshape(nr, nc)
    return LayerMatrix(
        values=values,
        row_labels=tuple(rl),
        col_labels=tuple(cl),
        measure=dist.measure_name(dim),
        kind="distance",
        params=_params(dist, dim, [*ri, *ci], device),
    )


def stack_models(models: Mapping[str, Mapping[str, Any]], *, sep: str = "/") -> dict[str, Any]:
    """Flatten ``{model: {layer: diagrams}}`` into ``{"model/layer": diagrams}`` (order kept).

    Parameters
    ----------
    models
        ``{model name: {layer name: diagrams}}``.
    sep
        Put between the model and the layer name.

    Returns
    -------
    dict
        ``{"model<sep>layer": diagrams}``, ready for :func:`distance_matrix`.

    Examples
    --------
    >>> list(stack_models({"A": {"fc1": 1, "fc2": 2}, "B": {"fc1": 3}}))
    ['A/fc1', 'A/fc2', 'B/fc1']
    """
    out: dict[str, Any] = {}
    for model, layers in models.items():
        for layer, dg in layers.items():
            out[f"{model}{sep}{layer}"] = dg
    return out


def model_distance_matrix(
    models: Mapping[str, Mapping[str, Any]],
    *,
    metric: str | DiagramDistance = "sliced_wasserstein",
    dim: int = 1,
    layers: Sequence[str] | str | None = None,
    align: Literal["name", "position"] = "name",
    n_jobs: int | None = 1,
    **params: Any,
) -> LayerMatrix:
    """Model x model matrix: the mean over aligned layers of the layer-to-layer distance.

    Parameters
    ----------
    models
        ``{model name: {layer name: Diagrams}}``.
    metric, dim
        As in :func:`distance_matrix`.
    layers
        Layers to compare (``align="name"``): names or glob patterns resolved
        over the first model's layers by the one ``layers=`` rule, each checked
        to exist in every model; default: those every model has, in the first
        model's order.
    align
        ``"name"``: layer ``l`` of A with layer ``l`` of B; ``"position"``: the
        k-th layer of A with the k-th layer of B (models of equal depth).
    n_jobs, **params
        As in :func:`distance_matrix`.

    Returns
    -------
    LayerMatrix
        Symmetric, zero diagonal; ``params["layers"]`` lists the aligned layers.
    """
    names = list(models)
    if len(names) < 1:
        raise ValueError("models: give at least one model")
    if align == "name":
        common = [l for l in next(iter(models.values())) if all(l in m for m in models.values())]
        if layers is None and not common:
            raise ValueError("the models have no layer name in common; use align='position'")
        first = names[0]
        chosen = list(
            resolve_layer_names(
                common if layers is None else models[first],
                layers,
                what=f"layer of model {first!r}",
            )
        )
        for m, ls in models.items():  # every model has them (close matches suggested otherwise)
            resolve_layer_names(ls, chosen, what=f"layer of model {m!r}")
        per_model = [[models[m][l] for l in chosen] for m in names]
        layer_desc: list[Any] = chosen
    elif align == "position":
        depths = {len(v) for v in models.values()}
        if len(depths) != 1:
            raise ValueError(
                f"align='position' needs models of equal depth, got depths {sorted(depths)}"
            )
        per_model = [list(models[m].values()) for m in names]
        layer_desc = [list(models[m]) for m in names]
    else:
        raise ValueError(f"align must be 'name' or 'position', got {align!r}")
    dist = get_diagram_distance(metric, **params)
    n_layers = len(per_model[0])
    flat = [dg for ms in per_model for dg in ms]
    labels = [f"{m}/{k}" for m in names for k in range(n_layers)]
    _, arrays, items = _collect(dict(zip(labels, flat)), dim, "models")
    nm = len(names)
    im, jm = np.triu_indices(nm, 1)
    pi = (im[:, None] * n_layers + np.arange(n_layers)).ravel()
    pj = (jm[:, None] * n_layers + np.arange(n_layers)).ravel()
    vals = (
        _pairs_values(dist, arrays, pi, pj, check_n_jobs(n_jobs)).reshape(-1, n_layers).mean(axis=1)
    )
    out = np.zeros((nm, nm))
    out[im, jm] = vals
    out[jm, im] = vals
    params_out = _params(dist, dim, items)
    params_out.update({"layers": layer_desc, "align": align, "reduce": "mean"})
    return LayerMatrix(
        values=out,
        row_labels=tuple(names),
        col_labels=tuple(names),
        measure=f"mean_over_layers({dist.measure_name(dim)})",
        kind="distance",
        params=params_out,
    )
