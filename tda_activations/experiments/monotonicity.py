"""Layer monotonicity within one model: whether dissimilarity grows with the distance in depth.

For every measure the layer x layer matrix is computed once; the test
reports the Spearman correlation between the depth gap ``|i - j|`` and the
dissimilarity over all pairs of layers (a Mantel-type statistic, with a
permutation p-value whose null shuffles the layer order), how often a layer's
closest other layer is an adjacent one, and the mean row-wise correlation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._measure import PairwiseMeasure
from .._progress import CostEstimate, announce_cost, progress_bar, progress_enabled
from ..types import ActivationSet, LayerMatrix, brief_names, unknown_name_error
from ._common import ResultMixin, as_models, layer_list, matrix
from ._tables import Table, table_from_records
from .measures import as_measures, measure_id, measures_cost, prepare_measures
from .statistics import permutation_p_value, spearman

__all__ = [
    "MonotonicityResult",
    "layer_monotonicity",
    "layer_monotonicity_cost",
    "monotonicity_statistics",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonotonicityResult(ResultMixin):
    """Result of :func:`layer_monotonicity`.

    Attributes
    ----------
    table
        One row per (model, measure): ``model, measure, kind, family,
        spearman_depth_gap, p_value, adjacent_closest_fraction,
        row_spearman_mean, mean_dissimilarity_adjacent,
        mean_dissimilarity_farther, n_layers``.
    pairs
        Tidy, one row per (model, measure, i < j): ``model, measure, layer_a,
        layer_b, depth_a, depth_b, depth_gap, value, dissimilarity`` (an
        asymmetric measure's dissimilarity is the mean of both directions).
    matrices
        ``(model, measure) -> LayerMatrix``.
    params
        Seed, permutations, layers, measures.
    """

    table: Table
    pairs: Table
    matrices: dict[tuple[str, str], LayerMatrix] = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)

    def matrix(self, measure: str, model: str | None = None) -> LayerMatrix:
        """The layer x layer matrix of one measure (of the only model when ``model`` is None).

        ``measure`` is its id, or a spec / registry name / measure object naming it.
        """
        models = sorted({k[0] for k in self.matrices})
        if model is None:
            if len(models) != 1:
                raise ValueError(f"several models were tested ({models}); say which with model=")
            model = models[0]
        if model not in models:
            raise unknown_name_error("model", model, models)
        measure = measure_id(measure, sorted({k[1] for k in self.matrices if k[0] == model}))
        return self.matrices[(model, measure)]

    def by_measure(self) -> Table:
        """Means over models of the summary's statistics, one row per measure."""
        s = self.table
        names = list(dict.fromkeys(s.column("measure")))
        rows = []
        for n in names:
            sel = s.column("measure") == n
            i0 = int(np.flatnonzero(sel)[0])
            row = {"measure": n, "kind": s.column("kind")[i0], "family": s.column("family")[i0]}
            for c in ("spearman_depth_gap", "adjacent_closest_fraction", "row_spearman_mean"):
                v = s.column(c)[sel].astype(np.float64)
                row[f"{c}_mean"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
            p = s.column("p_value")[sel].astype(np.float64)
            row["max_p_value"] = float(np.nanmax(p)) if np.isfinite(p).any() else float("nan")
            row["n_models"] = int(sel.sum())
            rows.append(row)
        return table_from_records(
            rows,
            [
                "measure",
                "kind",
                "family",
                "spearman_depth_gap_mean",
                "adjacent_closest_fraction_mean",
                "row_spearman_mean_mean",
                "max_p_value",
                "n_models",
            ],
        )

    def _tables(self) -> dict[str, Table]:
        return {"summary": self.table, "by_measure": self.by_measure(), "pairs": self.pairs}

    def __repr__(self) -> str:
        measures = list(dict.fromkeys(self.table.column("measure")))
        return (
            f"MonotonicityResult({len(measures)} measures: {brief_names(measures, limit=6)}; "
            f"models: {brief_names(self.params.get('models', {}))}; "
            "tables: table, by_measure, pairs)"
        )


def monotonicity_statistics(
    dissimilarity: Any, *, n_permutations: int = 999, seed: int = 0
) -> dict[str, float]:
    """Compute the monotonicity statistics of a square dissimilarity matrix (layers in order).

    Parameters
    ----------
    dissimilarity
        Square matrix between the layers, in depth order (a :class:`LayerMatrix` or array).
    n_permutations
        Shuffled layer orders for the p-value (0: none).
    seed
        Seed of the shuffles.

    Returns
    -------
    dict
        ``spearman_depth_gap``, ``p_value`` (one-sided, larger than under
        shuffled layer order; NaN without permutations),
        ``adjacent_closest_fraction`` (ties shared), ``row_spearman_mean``,
        ``mean_dissimilarity_adjacent``, ``mean_dissimilarity_farther``.
    """
    d = np.asarray(dissimilarity, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {d.shape}")
    n = d.shape[0]
    if n < 3:
        raise ValueError(f"monotonicity needs at least 3 layers, got {n}")
    sym = (d + d.T) / 2.0
    iu = np.triu_indices(n, k=1)
    gap = (iu[1] - iu[0]).astype(np.float64)
    rho, _ = spearman(gap, sym[iu])
    p = float("nan")
    if n_permutations > 0 and np.isfinite(rho):
        from scipy.stats import rankdata

        rng = np.random.default_rng(seed)
        ranks = np.zeros((n, n))
        ranks[iu] = rankdata(sym[iu])
        ranks = ranks + ranks.T  # the rank of each pair, addressable by (i, j)
        g = rankdata(gap)
        g = (g - g.mean()) / np.linalg.norm(g - g.mean())
        perms = np.argsort(rng.random((n_permutations, n)), axis=1)
        r = ranks[perms[:, iu[0]], perms[:, iu[1]]]  # Spearman = Pearson of ranks (ties averaged)
        r = r - r.mean(axis=1, keepdims=True)
        null = (r @ g) / np.linalg.norm(r, axis=1)
        p = permutation_p_value(rho, null, alternative="greater")
    credit = []
    row_rho = []
    for i in range(n):
        others = np.array([j for j in range(n) if j != i])
        vals = d[i, others]
        best = np.nanmin(vals)
        tied = np.abs(vals - best) <= 1e-12 * max(1.0, abs(best))
        adjacent = np.abs(others - i) == 1
        credit.append(float((tied & adjacent).sum() / max(tied.sum(), 1)))
        row_rho.append(spearman(np.abs(others - i), vals)[0])
    rr = np.asarray(row_rho)
    return {
        "spearman_depth_gap": rho,
        "p_value": p,
        "adjacent_closest_fraction": float(np.mean(credit)),
        "row_spearman_mean": float(np.nanmean(rr)) if np.isfinite(rr).any() else float("nan"),
        "mean_dissimilarity_adjacent": float(np.nanmean(sym[iu][gap == 1])),
        "mean_dissimilarity_farther": float(np.nanmean(sym[iu][gap > 1])),
    }


def layer_monotonicity(
    models: Any,
    *,
    measures: Any = None,
    layers: Sequence[str] | None = None,
    n_permutations: int = 999,
    seed: int = 0,
    progress: bool | None = None,
) -> MonotonicityResult:
    """Whether each measure's dissimilarity between layers grows with their distance in depth.

    Parameters
    ----------
    models
        One :class:`~tda_activations.types.ActivationSet` (named ``"model"``),
        or several as ``{name: set}`` / a list (tested one by one).
    measures
        ``None`` (the few fast measures of :data:`DEFAULT_MEASURES`), ``"all"`` (every
        measure), a spec, a PairwiseMeasure, or a list.
    layers
        Layers in depth order (default: all, in forward order); at least 3.
    n_permutations
        Shuffles of the layer order for the p-value (0: none).
    seed
        Seed of the permutations (recorded).
    progress
        Show a progress bar over models x measures (``None``: in a terminal or notebook).
        The estimate of :func:`layer_monotonicity_cost` is logged first (INFO) whenever a
        bar or INFO logging is on.

    Returns
    -------
    MonotonicityResult
    """
    mods, ms, all_lays = _plan(models, measures, layers)
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(_cost(mods, ms, all_lays, calibrate=True))
    summary: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    mats: dict[tuple[str, str], LayerMatrix] = {}
    with progress_bar(
        total=len(mods) * len(ms), desc="layer_monotonicity", unit="measure", enabled=progress
    ) as bar:
        for model, acts in mods.items():
            bar.set_postfix(model)
            _one_model(
                model, acts, all_lays[model], ms, n_permutations, seed, mats, summary, pairs, bar
            )
    return _result(mods, ms, layers, n_permutations, seed, mats, summary, pairs)


def _plan(
    models: Any, measures: Any, layers: Sequence[str] | None
) -> tuple[dict[str, ActivationSet], tuple[PairwiseMeasure, ...], dict[str, tuple[str, ...]]]:
    mods = as_models(models, what="layer_monotonicity")
    ms = as_measures(measures)
    all_lays = {}
    for model, acts in mods.items():
        lays = layer_list(acts, layers, model=model)
        if len(lays) < 3:
            raise ValueError(
                f"model {model!r}: monotonicity needs at least 3 layers, got {len(lays)}"
            )
        if any(m.needs_correspondence for m in ms):
            sizes = {l: acts.cloud(l).shape[0] for l in lays}
            ref = acts.sample_index[lays[0]]
            for l in lays:
                if not np.array_equal(acts.sample_index[l], ref):
                    raise ValueError(
                        f"model {model!r}: layers {lays[0]!r} ({sizes[lays[0]]} points) and {l!r} "
                        f"({sizes[l]} points) have different samples; the similarity measures need the "
                        "same samples in every cloud (use a one-point-per-sample reduction such as top_l2)"
                    )
        all_lays[model] = lays
    return mods, ms, all_lays


def _cost(
    mods: dict[str, ActivationSet],
    ms: Sequence[PairwiseMeasure],
    lays: dict[str, tuple[str, ...]],
    *,
    calibrate: bool,
) -> CostEstimate:
    def pairs_of(m: PairwiseMeasure, n: int) -> int:
        return n * (n + 1) // 2 if m.symmetric else n * n

    first = next(iter(mods))
    sample = None
    if calibrate:
        ls = lays[first]
        sample = [mods[first].cloud(ls[0]), mods[first].cloud(ls[len(ls) // 2])]
    return measures_cost(
        ms,
        what="layer_monotonicity",
        n_clouds=sum(len(l) for l in lays.values()),
        comparisons={m.id: sum(pairs_of(m, len(l)) for l in lays.values()) for m in ms},
        sample=sample,
    )


def layer_monotonicity_cost(
    models: Any,
    *,
    measures: Any = None,
    layers: Sequence[str] | None = None,
    calibrate: bool = True,
) -> CostEstimate:
    """What :func:`layer_monotonicity` with these arguments will cost, before running it.

    Parameters
    ----------
    models, measures, layers
        As for :func:`layer_monotonicity` (checked the same way).
    calibrate
        Time every measure on two clouds of the first model; ``False``: count the work only.

    Returns
    -------
    CostEstimate
        ``units``: layer pairs compared, summed over models and measures (``L (L + 1) / 2``
        per model for a symmetric measure, ``L^2`` otherwise); ``seconds``: the estimate.
    """
    mods, ms, lays = _plan(models, measures, layers)
    return _cost(mods, ms, lays, calibrate=calibrate)


def _one_model(
    model: str,
    acts: ActivationSet,
    lays: tuple[str, ...],
    ms: Sequence[PairwiseMeasure],
    n_permutations: int,
    seed: int,
    mats: dict[tuple[str, str], LayerMatrix],
    summary: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    bar: Any,
) -> None:
    clouds = {l: acts.cloud(l) for l in lays}
    for m, states in prepare_measures(ms, clouds):
        vals = m.score_matrix([states[l] for l in lays])
        mats[(model, m.id)] = matrix(vals, lays, lays, m, {"model": model})
        dis = np.asarray(m.dissimilarity(vals), dtype=np.float64)
        stats = monotonicity_statistics(dis, n_permutations=n_permutations, seed=seed)
        summary.append(
            {
                "model": model,
                "measure": m.id,
                "kind": m.kind,
                "family": m.family,
                **stats,
                "n_layers": len(lays),
            }
        )
        sym = (dis + dis.T) / 2.0
        for i in range(len(lays)):
            for j in range(i + 1, len(lays)):
                pairs.append(
                    {
                        "model": model,
                        "measure": m.id,
                        "layer_a": lays[i],
                        "layer_b": lays[j],
                        "depth_a": i,
                        "depth_b": j,
                        "depth_gap": j - i,
                        "value": float(vals[i, j]),
                        "dissimilarity": float(sym[i, j]),
                    }
                )
        bar.update(1)


def _result(
    mods: dict[str, ActivationSet],
    ms: Sequence[PairwiseMeasure],
    layers: Sequence[str] | None,
    n_permutations: int,
    seed: int,
    mats: dict[tuple[str, str], LayerMatrix],
    summary: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
) -> MonotonicityResult:
    sum_cols = [
        "model",
        "measure",
        "kind",
        "family",
        "spearman_depth_gap",
        "p_value",
        "adjacent_closest_fraction",
        "row_spearman_mean",
        "mean_dissimilarity_adjacent",
        "mean_dissimilarity_farther",
        "n_layers",
    ]
    pair_cols = [
        "model",
        "measure",
        "layer_a",
        "layer_b",
        "depth_a",
        "depth_b",
        "depth_gap",
        "value",
        "dissimilarity",
    ]
    return MonotonicityResult(
        table=table_from_records(summary, sum_cols),
        pairs=table_from_records(pairs, pair_cols),
        matrices=mats,
        params={
            "models": {
                n: {
                    "model_fingerprint": a.model_fingerprint,
                    "data_fingerprint": a.data_fingerprint,
                    "reduction": a.reduction,
                }
                for n, a in mods.items()
            },
            "layers": None if layers is None else list(layers),
            "n_permutations": n_permutations,
            "seed": seed,
            "permutation_null": "layer order shuffled (rows and columns together)",
            "measures": [m.describe() for m in ms],
        },
    )
