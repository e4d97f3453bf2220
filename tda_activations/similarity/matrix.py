"""All-pairs matrices of a similarity measure between layers, within and across models.

Each layer's cloud is prepared once (centring, bases, Gram or distance matrices,
whatever the measure needs) and every pair is then scored from the prepared
statistics.  Points must be in correspondence across layers (and models): the same
samples in the same order, checked through ``ActivationSet.sample_index`` and the
data fingerprints.  Convolutional feature maps are turned into points by the
extraction stage's reduction; the result records which one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._select import resolve_layer_names
from ..types import ActivationSet, LayerMatrix
from ._base import Measure, get_measure

__all__ = ["cloud_matrix", "cross_similarity_matrix", "similarity_matrix"]

log = logging.getLogger(__name__)


def _layers(acts: ActivationSet, layers: Sequence[str] | str | None) -> tuple[str, ...]:
    return resolve_layer_names(acts.layers, layers)


def _check_same_points(acts: ActivationSet, layers: Sequence[str], what: str) -> np.ndarray:
    ref_layer = layers[0]
    ref = acts.sample_index[ref_layer]
    for layer in layers[1:]:
        idx = acts.sample_index[layer]
        if idx.shape != ref.shape or not np.array_equal(idx, ref):
            raise ValueError(
                f"{what}: layers {ref_layer!r} and {layer!r} have different point sets "
                f"({ref.shape[0]} and {idx.shape[0]} points, or another order); these "
                "measures need the same samples in the same order in every cloud: extract "
                "with a one-point-per-sample reduction (e.g. 'top_l2', 'random_position', "
                "'mean') rather than 'all_positions'"
            )
    return ref


def _provenance(acts: ActivationSet) -> dict[str, Any]:
    return {
        "reduction": acts.reduction,
        "extraction_params": dict(acts.params),
        "model_fingerprint": acts.model_fingerprint,
        "data_fingerprint": acts.data_fingerprint,
        "conv_maps": (
            f"feature maps were reduced to one point per sample by the extraction stage's "
            f"{acts.reduction!r} reduction before comparison"
        ),
    }


def _prepare_all(m: Measure, acts: ActivationSet, layers: Sequence[str], tag: str) -> list:
    out = []
    for layer in layers:
        t0 = time.perf_counter()
        out.append(m.prepare(acts.cloud(layer), name=f"{tag}layer {layer!r}"))
        log.debug("prepared %s for %s in %.3fs", m.id, layer, time.perf_counter() - t0)
    return out


def _score_matrix(m: Measure, rows: list, cols: list | None, device: Any) -> np.ndarray:
    """``m.score_matrix``, on ``device`` when one is given (and ``m`` has a device engine)."""
    if device is None:
        return m.score_matrix(rows, cols)
    if not m.has_device_engine:
        raise ValueError(
            f"measure {m.id} has no device engine; leave device=None (the CPU) or use "
            "measure='linear_cka'"
        )
    return m.score_matrix(rows, cols, device=device)  # type: ignore[call-arg]


def similarity_matrix(
    acts: ActivationSet,
    *,
    measure: Measure | str = "linear_cka",
    layers: Sequence[str] | None = None,
    device: Any = None,
    **measure_params: Any,
) -> LayerMatrix:
    """The measure between every pair of layers of one model.

    Parameters
    ----------
    acts
        Activations of one model (one point per sample in every layer).
    measure
        A registry name (see :func:`available_measures`) or a measure object.
    layers
        Layers to compare, in order (default: all, in forward order).
    device
        ``None`` (the CPU) or a torch device such as ``"cuda"`` for a measure with a
        device engine (linear CKA); recorded in ``params["device"]``.
    **measure_params
        Parameters of the measure when given by name (e.g. ``debiased=True``).

    Returns
    -------
    LayerMatrix
        Square matrix; ``kind`` is the measure's; ``params`` hold the measure's
        parameters and the extraction's reduction and fingerprints.

    Raises
    ------
    ValueError
        If the layers do not share the same point set, or for an unknown measure.

    Examples
    --------
    >>> m = similarity_matrix(acts, measure="linear_cka")          # doctest: +SKIP
    >>> m.value("layer1.0.conv1", "layer4.1.conv2")                 # doctest: +SKIP
    """
    m = get_measure(measure, **measure_params)
    names = _layers(acts, layers)
    index = _check_same_points(acts, names, "similarity_matrix")
    t0 = time.perf_counter()
    prepared = _prepare_all(m, acts, names, "")
    values = _score_matrix(m, prepared, None, device)
    log.info("%s over %d layers in %.2fs", m.id, len(names), time.perf_counter() - t0)
    params = {
        "measure": m.name,
        "measure_params": m.params,
        "properties": _props(m),
        "n_points": int(index.shape[0]),
        **_provenance(acts),
        **({} if device is None else {"device": str(device)}),
    }
    return LayerMatrix(
        values=values,
        row_labels=names,
        col_labels=names,
        measure=m.id,
        kind=m.kind,
        params=params,
    )


def cross_similarity_matrix(
    acts_a: ActivationSet,
    acts_b: ActivationSet,
    *,
    measure: Measure | str = "linear_cka",
    layers_a: Sequence[str] | None = None,
    layers_b: Sequence[str] | None = None,
    device: Any = None,
    **measure_params: Any,
) -> LayerMatrix:
    """The measure between every layer of one model (rows) and every layer of another (columns).

    Parameters
    ----------
    acts_a, acts_b
        Activations of two models on the same samples (same data, same order).
    measure
        A registry name or a measure object.
    layers_a, layers_b
        Layers of each model (default: all).
    device
        As in :func:`similarity_matrix`.
    **measure_params
        Parameters of the measure when given by name.

    Returns
    -------
    LayerMatrix
        Rows: layers of ``acts_a``; columns: layers of ``acts_b``.  Not symmetric in
        general, even for a symmetric measure.

    Raises
    ------
    ValueError
        If the two sets were extracted from different data or point sets.
    """
    m = get_measure(measure, **measure_params)
    rows, cols = _layers(acts_a, layers_a), _layers(acts_b, layers_b)
    idx_a = _check_same_points(acts_a, rows, "cross_similarity_matrix (first set)")
    idx_b = _check_same_points(acts_b, cols, "cross_similarity_matrix (second set)")
    fa, fb = acts_a.data_fingerprint, acts_b.data_fingerprint
    if fa and fb and fa != fb:
        raise ValueError(
            f"the two activation sets come from different data (fingerprints {fa} and {fb}); "
            "extract both models on the same dataset"
        )
    if not np.array_equal(idx_a, idx_b) or not np.array_equal(
        acts_a.labels[idx_a], acts_b.labels[idx_b]
    ):
        raise ValueError(
            "the two activation sets do not have the same samples in the same order (sample "
            "indices or labels differ); extract both models on the same data with the same "
            "reduction"
        )
    t0 = time.perf_counter()
    pa = _prepare_all(m, acts_a, rows, "first set, ")
    pb = _prepare_all(m, acts_b, cols, "second set, ")
    values = _score_matrix(m, pa, pb, device)
    log.info("%s, %dx%d layers in %.2fs", m.id, len(rows), len(cols), time.perf_counter() - t0)
    prov_a, prov_b = _provenance(acts_a), _provenance(acts_b)
    params = {
        "measure": m.name,
        "measure_params": m.params,
        "properties": _props(m),
        "n_points": int(idx_a.shape[0]),
        "rows": prov_a,
        "cols": prov_b,
        "reduction": prov_a["reduction"]
        if prov_a["reduction"] == prov_b["reduction"]
        else f"{prov_a['reduction']} | {prov_b['reduction']}",
        "conv_maps": prov_a["conv_maps"]
        if prov_a["reduction"] == prov_b["reduction"]
        else f"rows: {prov_a['conv_maps']}; columns: {prov_b['conv_maps']}",
        **({} if device is None else {"device": str(device)}),
    }
    return LayerMatrix(
        values=values,
        row_labels=rows,
        col_labels=cols,
        measure=m.id,
        kind=m.kind,
        params=params,
    )


def cloud_matrix(
    clouds: Mapping[str, npt.ArrayLike],
    *,
    measure: Measure | str = "linear_cka",
    **measure_params: Any,
) -> LayerMatrix:
    """The measure between every pair of plain clouds (rows in correspondence).

    Parameters
    ----------
    clouds
        Label -> cloud ``(n, width)``; every cloud has the same ``n`` samples in the
        same order.
    measure
        A registry name or a measure object.
    **measure_params
        Parameters of the measure when ``measure`` is a registry name.

    Returns
    -------
    LayerMatrix
        Square matrix labelled by the keys of ``clouds``.
    """
    m = get_measure(measure, **measure_params)
    if not clouds:
        raise ValueError("no clouds given")
    names = tuple(clouds)
    prepared = [m.prepare(clouds[k], name=f"cloud {k!r}") for k in names]
    sizes = {p.n_points for p in prepared}
    if len(sizes) > 1:
        raise ValueError(
            f"the clouds have different numbers of points {sorted(sizes)}; rows must be the "
            "same samples in the same order"
        )
    values = m.score_matrix(prepared)
    params = {
        "measure": m.name,
        "measure_params": m.params,
        "properties": _props(m),
        "n_points": prepared[0].n_points,
    }
    return LayerMatrix(
        values=values,
        row_labels=names,
        col_labels=names,
        measure=m.id,
        kind=m.kind,
        params=params,
    )


def _props(m: Measure) -> dict[str, Any]:
    p = m.properties
    return {
        "kind": p.kind,
        "symmetric": p.symmetric,
        "metric": p.metric,
        "invariances": sorted(p.invariances),
        "identity_value": p.identity_value,
    }
