"""Sensitivity test: whether a measure moves when principal directions of a layer are deleted.

Following Ding, Denain & Steinhardt (2021) and the core paper, a layer's cloud
is projected onto fewer and fewer of its top principal directions (the
lowest-variance directions are deleted first), and every measure's value
between the original and the altered cloud is recorded, together with a
functional difference: the drop in accuracy of a linear probe (logistic
regression) trained and tested on the altered cloud.  A useful measure grows
with the fraction deleted and with the accuracy drop; the rank correlations
say how well.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._measure import PairwiseMeasure
from .._progress import CostEstimate, announce_cost, progress_bar, progress_enabled
from .._select import resolve_layer_names
from ..types import ActivationSet, brief_names
from ._common import ResultMixin, layer_list
from ._tables import Table, table_from_records
from .measures import as_measures, measures_cost, prepare_measures
from .statistics import spearman

__all__ = [
    "DEFAULT_FRACTIONS",
    "SensitivityResult",
    "delete_principal_directions",
    "linear_probe_accuracy",
    "sensitivity",
    "sensitivity_cost",
]

log = logging.getLogger(__name__)

#: Fractions of principal directions deleted, from none to nearly all.
DEFAULT_FRACTIONS: tuple[float, ...] = (
    0.0,
    0.1,
    0.2,
    0.3,
    0.4,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    0.95,
    0.99,
)

Order = Literal["lowest_variance_first", "highest_variance_first"]


def _principal(cloud: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(cloud, dtype=np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    return mean, s, vt


def delete_principal_directions(
    cloud: Any, *, n_removed: int, order: Order = "lowest_variance_first"
) -> np.ndarray:
    """The cloud with ``n_removed`` principal directions deleted (same shape, float64).

    Parameters
    ----------
    cloud
        ``(n_points, width)``.
    n_removed
        Number of principal directions to delete, ``0 <= n_removed < min(n_points, width)``.
    order
        ``"lowest_variance_first"`` (default; the paper's: the cloud is projected
        onto its remaining top directions) or ``"highest_variance_first"``
        (the top directions are deleted first).

    Returns
    -------
    numpy.ndarray
        ``mean + (X - mean) V_k V_k^T`` for the kept directions ``V_k``.
    """
    x = np.asarray(cloud, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"the cloud must be 2-D (points, width), got shape {x.shape}")
    m = min(x.shape)
    if not 0 <= n_removed < m:
        raise ValueError(
            f"n_removed must be in [0, {m - 1}] for a cloud of shape {x.shape}, got {n_removed}"
        )
    if order not in ("lowest_variance_first", "highest_variance_first"):
        raise ValueError(
            f"order must be 'lowest_variance_first' or 'highest_variance_first', got {order!r}"
        )
    if n_removed == 0:
        return x.copy()
    mean, _, vt = _principal(x)
    keep = vt[: m - n_removed] if order == "lowest_variance_first" else vt[n_removed:]
    return mean + ((x - mean) @ keep.T) @ keep


def linear_probe_accuracy(
    cloud: Any,
    labels: Any,
    *,
    test_fraction: float = 0.3,
    C: float = 1.0,
    seed: int = 0,
    scale: float | None = None,
) -> float:
    """Test accuracy of a logistic-regression probe trained on a seeded stratified split.

    Parameters
    ----------
    cloud
        ``(n_points, width)``.
    labels
        Class of each point.
    test_fraction
        Fraction of the points held out.
    C
        Inverse regularisation strength of :class:`sklearn.linear_model.LogisticRegression`.
    seed
        Seed of the split.
    scale
        Divide the cloud by this number before fitting (default: its overall
        standard deviation).  Per-unit standardisation is deliberately not
        used: it would blow deleted (zero-variance) directions' rounding noise
        up to unit variance.

    Returns
    -------
    float
        Accuracy on the held-out points.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x = np.asarray(cloud, dtype=np.float64)
    y = np.asarray(labels)
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"{y.shape[0] if y.ndim else 0} labels for {x.shape[0]} points; give one label per point"
        )
    if np.unique(y).size < 2:
        raise ValueError("the probe needs at least two classes among the labels")
    s = float(x.std()) if scale is None else float(scale)
    x = (x - x.mean(axis=0)) / (s if s > 0 else 1.0)
    _, counts = np.unique(y, return_counts=True)
    strat = y if counts.min() >= 2 else None
    xtr, xte, ytr, yte = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=strat
    )
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(xtr, ytr)
    return float(np.mean(clf.predict(xte) == yte))


@dataclass(frozen=True)
class SensitivityResult(ResultMixin):
    """Result of :func:`sensitivity`.

    Attributes
    ----------
    curves
        Tidy, one row per (layer, measure, fraction): ``layer, depth, measure,
        kind, family, fraction_removed, n_removed, n_kept, n_directions,
        variance_removed, value, dissimilarity, probe_accuracy, accuracy_drop``.
        ``dissimilarity`` is the value signed so that larger means farther
        (``1 - s`` for a similarity), the y-axis of a sensitivity curve.
    per_layer
        One row per (layer, measure): ``spearman_fraction`` (and
        ``p_fraction``) between dissimilarity and fraction removed,
        ``spearman_functional`` (``p_functional``) between dissimilarity and
        accuracy drop, ``monotone`` (never decreases by more than 1e-9 relative),
        ``final_dissimilarity``.
    table
        One row per measure: means over layers of the two rank correlations,
        ``fraction_monotone`` (layers whose curve is monotone) and ``n_layers``.
    params
        Fractions, order, probe settings, seed, measures.
    """

    curves: Table
    per_layer: Table
    table: Table
    params: dict[str, Any] = field(default_factory=dict)

    def _tables(self) -> dict[str, Table]:
        return {"summary": self.table, "per_layer": self.per_layer, "curves": self.curves}

    def __repr__(self) -> str:
        return (
            f"SensitivityResult({len(self.table)} measures: "
            f"{brief_names(self.table.column('measure'), limit=6)}; layers: "
            f"{brief_names(self.params.get('layers', []))}; "
            f"{len(self.params.get('fractions', []))} fractions; "
            "tables: table, per_layer, curves)"
        )


def _inputs(
    data: Any, labels: Any, layers: Sequence[str] | None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    if isinstance(data, ActivationSet):
        names = layer_list(data, layers)
        clouds = {l: np.asarray(data.cloud(l)) for l in names}
        if labels is None:
            labs: dict[str, Any] = {l: data.point_labels(l) for l in names}
        elif isinstance(labels, Mapping):
            labs = {l: labels[l] for l in names}
        else:
            labs = {l: labels for l in names}
        return clouds, labs
    if isinstance(data, Mapping):
        names = resolve_layer_names(data, layers)
        clouds = {l: np.asarray(data[l]) for l in names}
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise ValueError(
                f"give an ActivationSet, a mapping layer -> cloud or one 2-D cloud; got shape {arr.shape}"
            )
        clouds = {"cloud": arr}
    if labels is None:
        labs = {l: None for l in clouds}
    elif isinstance(labels, Mapping):
        labs = {l: labels.get(l) for l in clouds}
    else:
        labs = {l: labels for l in clouds}
    return clouds, labs


def sensitivity(
    data: Any,
    *,
    measures: Any = None,
    layers: Sequence[str] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    order: Order = "lowest_variance_first",
    labels: Any = None,
    probe_test_fraction: float = 0.3,
    probe_C: float = 1.0,
    seed: int = 0,
    progress: bool | None = None,
) -> SensitivityResult:
    """Sensitivity curves of every measure under deletion of principal directions.

    Parameters
    ----------
    data
        An :class:`~tda_activations.types.ActivationSet` (its point labels feed
        the probe), a mapping layer -> cloud, or one cloud.
    measures
        ``None`` (the few fast measures of :data:`DEFAULT_MEASURES`), ``"all"`` (every
        measure of :func:`all_measures`), a spec (``"H1:sliced_wasserstein"``,
        ``"linear_cka"``), a PairwiseMeasure, or a list.
    layers
        Layers to test (default: all).
    fractions
        Fractions of the principal directions deleted, in ``[0, 1)``; the number
        deleted is ``round(f * m)`` of the ``m = min(n_points, width)``
        directions, at most ``m - 1`` (one direction always stays).  ``0`` is
        added when missing (the baseline of the probe).
    order
        ``"lowest_variance_first"`` (default, the paper's) or ``"highest_variance_first"``.
    labels
        Labels for the probe when ``data`` is not an ActivationSet (an array, or
        a mapping layer -> array).  Without labels the probe columns are NaN.
    probe_test_fraction, probe_C
        Linear-probe settings (see :func:`linear_probe_accuracy`).
    seed
        Seed of the probe's train/test split (recorded).
    progress
        Show a progress bar over layers x measures (``None``: in a terminal or notebook).
        The estimate of :func:`sensitivity_cost` is logged first (INFO) whenever a bar or
        INFO logging is on.

    Returns
    -------
    SensitivityResult
    """
    ms, clouds, labs, fr = _plan(data, measures, layers, fractions, order, labels)
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(
            _cost(
                ms,
                clouds,
                labs,
                fr,
                order,
                calibrate=True,
                probe=(probe_test_fraction, probe_C, seed),
            )
        )
    curves: list[dict[str, Any]] = []
    per_layer: list[dict[str, Any]] = []
    order_of = list(data.layers) if isinstance(data, ActivationSet) else list(clouds)
    with progress_bar(
        total=len(clouds) * len(ms), desc="sensitivity", unit="measure", enabled=progress
    ) as bar:
        _layers_loop(
            clouds,
            labs,
            fr,
            order,
            ms,
            order_of,
            probe_test_fraction,
            probe_C,
            seed,
            curves,
            per_layer,
            bar,
        )
    return _result(
        data, ms, clouds, fr, order, probe_test_fraction, probe_C, seed, curves, per_layer
    )


def _plan(
    data: Any,
    measures: Any,
    layers: Sequence[str] | None,
    fractions: Sequence[float],
    order: str,
    labels: Any,
) -> tuple[tuple[PairwiseMeasure, ...], dict[str, np.ndarray], dict[str, Any], list[float]]:
    if order not in ("lowest_variance_first", "highest_variance_first"):
        raise ValueError(
            f"order must be 'lowest_variance_first' or 'highest_variance_first', got {order!r}"
        )
    ms = as_measures(measures)
    clouds, labs = _inputs(data, labels, layers)
    fr = sorted({float(f) for f in fractions} | {0.0})
    if any(not 0.0 <= f < 1.0 for f in fr):
        raise ValueError(
            f"fractions must be in [0, 1) (1 would delete every direction); got {list(fractions)}"
        )
    for layer, cloud in clouds.items():
        if cloud.ndim != 2 or min(cloud.shape) < 2:
            raise ValueError(
                f"layer {layer!r}: need a 2-D cloud with at least 2 points and 2 units, got "
                f"{cloud.shape}"
            )
    return ms, clouds, labs, fr


def _altered(
    layer: str, cloud: Any, fr: Sequence[float], order: str
) -> tuple[np.ndarray, int, list[tuple[float, int, str, float]], dict[str, np.ndarray]]:
    """The cloud with each fraction of principal directions deleted."""
    x = np.asarray(cloud, dtype=np.float64)
    m = min(x.shape)
    mean, s, vt = _principal(x)
    var = s**2
    total = float(var.sum()) or 1.0
    steps = []
    altered: dict[str, np.ndarray] = {}
    for f in fr:
        k = min(m - 1, round(f * m))
        if k == 0:
            alt = x
        elif order == "lowest_variance_first":
            keep = vt[: m - k]
            alt = mean + ((x - mean) @ keep.T) @ keep
        else:
            keep = vt[k:]
            alt = mean + ((x - mean) @ keep.T) @ keep
        removed_var = (
            float(var[m - k :].sum() if order == "lowest_variance_first" else var[:k].sum())
            if k
            else 0.0
        )
        key = f"{layer}|removed={k}"
        altered[key] = alt
        steps.append((f, k, key, removed_var / total))
    return x, m, steps, altered


def _cost(
    ms: Sequence[PairwiseMeasure],
    clouds: dict[str, np.ndarray],
    labs: dict[str, Any],
    fr: Sequence[float],
    order: str,
    *,
    calibrate: bool,
    probe: tuple[float, float, int],
) -> CostEstimate:
    # altered clouds prepared per layer: one per distinct number of deleted directions
    n_clouds = sum(
        len({min(min(c.shape) - 1, round(f * min(c.shape))) for f in fr}) for c in clouds.values()
    )
    comparisons = {m.id: len(clouds) * len(fr) for m in ms}
    sample: list[np.ndarray] | None = None
    first = next(iter(clouds))
    if calibrate:
        _, _, steps, altered = _altered(first, clouds[first], fr, order)
        sample = [altered[steps[0][2]], altered[steps[len(steps) // 2][2]]]
    est = measures_cost(
        ms, what="sensitivity", n_clouds=n_clouds, comparisons=comparisons, sample=sample
    )
    if sample is not None and est.seconds is not None and labs.get(first) is not None:
        start = time.perf_counter()
        linear_probe_accuracy(
            sample[0],
            labs[first],
            test_fraction=probe[0],
            C=probe[1],  # type: ignore[index]
            seed=probe[2],
        )
        probe_s = (time.perf_counter() - start) * n_clouds
        est = CostEstimate(
            what=est.what,
            units=est.units,
            unit=est.unit,
            seconds=est.seconds + probe_s,
            detail=est.detail + f"; linear probes about {probe_s:.1f} s",
        )
    return est


def sensitivity_cost(
    data: Any,
    *,
    measures: Any = None,
    layers: Sequence[str] | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    order: Order = "lowest_variance_first",
    labels: Any = None,
    probe_test_fraction: float = 0.3,
    probe_C: float = 1.0,
    seed: int = 0,
    calibrate: bool = True,
) -> CostEstimate:
    """What :func:`sensitivity` with these arguments will cost, before running it.

    Parameters
    ----------
    data, measures, layers, fractions, order, labels, probe_test_fraction, probe_C, seed
        As for :func:`sensitivity` (checked the same way).
    calibrate
        Time every measure on two altered clouds of the first layer and one linear
        probe; ``False``: count the work only.

    Returns
    -------
    CostEstimate
        ``units``: comparisons of an altered cloud with the original, summed over
        measures (``layers x fractions x measures``); ``seconds``: the estimate.
    """
    ms, clouds, labs, fr = _plan(data, measures, layers, fractions, order, labels)
    return _cost(
        ms, clouds, labs, fr, order, calibrate=calibrate, probe=(probe_test_fraction, probe_C, seed)
    )


def _layers_loop(
    clouds: dict[str, np.ndarray],
    labs: dict[str, Any],
    fr: Sequence[float],
    order: str,
    ms: Sequence[PairwiseMeasure],
    order_of: list[str],
    probe_test_fraction: float,
    probe_C: float,
    seed: int,
    curves: list[dict[str, Any]],
    per_layer: list[dict[str, Any]],
    bar: Any,
) -> None:
    for layer, cloud in clouds.items():
        depth = order_of.index(layer)
        bar.set_postfix(layer)
        x, m, steps, altered = _altered(layer, cloud, fr, order)
        lab = labs[layer]
        scale = float(x.std()) or 1.0
        acc = {}
        for _, _k, key, _ in steps:
            if key not in acc:
                acc[key] = (
                    linear_probe_accuracy(
                        altered[key],
                        lab,
                        test_fraction=probe_test_fraction,
                        C=probe_C,
                        seed=seed,
                        scale=scale,
                    )
                    if lab is not None
                    else float("nan")
                )
        base_key = f"{layer}|removed=0"
        log.info("sensitivity of %s: %d altered clouds, %d measures", layer, len(altered), len(ms))
        for measure, states in prepare_measures(ms, altered):
            rows = []
            for f, k, key, vr in steps:
                value = measure.score(states[base_key], states[key])
                rows.append(
                    {
                        "layer": layer,
                        "depth": depth,
                        "measure": measure.id,
                        "kind": measure.kind,
                        "family": measure.family,
                        "fraction_removed": f,
                        "n_removed": k,
                        "n_kept": m - k,
                        "n_directions": m,
                        "variance_removed": vr,
                        "value": value,
                        "dissimilarity": measure.dissimilarity(value),
                        "probe_accuracy": acc[key],
                        "accuracy_drop": acc[base_key] - acc[key],
                    }
                )
            curves.extend(rows)
            dis = np.array([r["dissimilarity"] for r in rows])
            rf, pf = spearman([r["n_removed"] for r in rows], dis)
            rfun, pfun = spearman([r["accuracy_drop"] for r in rows], dis)
            tol = 1e-9 * max(1.0, float(np.nanmax(np.abs(dis))) if dis.size else 1.0)
            per_layer.append(
                {
                    "layer": layer,
                    "depth": depth,
                    "measure": measure.id,
                    "kind": measure.kind,
                    "family": measure.family,
                    "spearman_fraction": rf,
                    "p_fraction": pf,
                    "spearman_functional": rfun,
                    "p_functional": pfun,
                    "monotone": bool(np.all(np.diff(dis) >= -tol)),
                    "final_dissimilarity": float(dis[-1]),
                }
            )
            bar.update(1)


def _result(
    data: Any,
    ms: Sequence[PairwiseMeasure],
    clouds: dict[str, np.ndarray],
    fr: Sequence[float],
    order: str,
    probe_test_fraction: float,
    probe_C: float,
    seed: int,
    curves: list[dict[str, Any]],
    per_layer: list[dict[str, Any]],
) -> SensitivityResult:
    summary = []
    for measure in ms:
        rows = [r for r in per_layer if r["measure"] == measure.id]
        summary.append(
            {
                "measure": measure.id,
                "kind": measure.kind,
                "family": measure.family,
                "spearman_fraction_mean": _nanmean([r["spearman_fraction"] for r in rows]),
                "spearman_functional_mean": _nanmean([r["spearman_functional"] for r in rows]),
                "fraction_monotone": float(np.mean([r["monotone"] for r in rows])),
                "n_layers": len(rows),
            }
        )
    curve_cols = [
        "layer",
        "depth",
        "measure",
        "kind",
        "family",
        "fraction_removed",
        "n_removed",
        "n_kept",
        "n_directions",
        "variance_removed",
        "value",
        "dissimilarity",
        "probe_accuracy",
        "accuracy_drop",
    ]
    layer_cols = [
        "layer",
        "depth",
        "measure",
        "kind",
        "family",
        "spearman_fraction",
        "p_fraction",
        "spearman_functional",
        "p_functional",
        "monotone",
        "final_dissimilarity",
    ]
    sum_cols = [
        "measure",
        "kind",
        "family",
        "spearman_fraction_mean",
        "spearman_functional_mean",
        "fraction_monotone",
        "n_layers",
    ]
    return SensitivityResult(
        curves=table_from_records(curves, curve_cols),
        per_layer=table_from_records(per_layer, layer_cols),
        table=table_from_records(summary, sum_cols),
        params={
            "fractions": fr,
            "order": order,
            "seed": seed,
            "layers": list(clouds),
            "probe": {
                "model": "LogisticRegression",
                "C": probe_C,
                "test_fraction": probe_test_fraction,
                "split": "stratified",
                "scaling": "centred, divided by the original cloud's std",
            },
            "measures": [m.describe() for m in ms],
            **(
                {
                    "reduction": data.reduction,
                    "model_fingerprint": data.model_fingerprint,
                    "data_fingerprint": data.data_fingerprint,
                }
                if isinstance(data, ActivationSet)
                else {}
            ),
        },
    )


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
