"""Layer monotonicity within one model: does dissimilarity grow with the distance in depth?

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

from ..types import LayerMatrix, unknown_name_error
from ._common import ResultMixin, as_models, layer_list, matrix
from ._tables import Table, table_from_records
from .measures import as_measures, prepare_measures
from .statistics import permutation_p_value, spearman

__all__ = ["MonotonicityResult", "layer_monotonicity", "monotonicity_statistics"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonotonicityResult(ResultMixin):
    """Result of :func:`layer_monotonicity`.

    Attributes
    ----------
    summary
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

    summary: Table
    pairs: Table
    matrices: dict[tuple[str, str], LayerMatrix] = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)

    def matrix(self, measure: str, model: str | None = None) -> LayerMatrix:
        """The layer x layer matrix of one measure (of the only model when ``model`` is None)."""
        models = sorted({k[0] for k in self.matrices})
        if model is None:
            if len(models) != 1:
                raise ValueError(f"several models were tested ({models}); say which with model=")
            model = models[0]
        if (model, measure) not in self.matrices:
            if model not in models:
                raise unknown_name_error("model", model, models)
            raise unknown_name_error("measure", measure, sorted({k[1] for k in self.matrices}))
        return self.matrices[(model, measure)]

    def by_measure(self) -> Table:
        """Means over models of the summary's statistics, one row per measure."""
        s = self.summary
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
        return table_from_records(rows, ["measure", "kind", "family", "spearman_depth_gap_mean",
                                         "adjacent_closest_fraction_mean", "row_spearman_mean_mean",
                                         "max_p_value", "n_models"])

    def _tables(self) -> dict[str, Table]:
        return {"summary": self.summary, "by_measure": self.by_measure(), "pairs": self.pairs}


def monotonicity_statistics(
    dissimilarity: Any, *, n_permutations: int = 999, seed: int = 0
) -> dict[str, float]:
    """The monotonicity statistics of one square dissimilarity matrix (layers in depth order).

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
        "spearman_depth_gap": rho, "p_value": p,
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
) -> MonotonicityResult:
    """Whether each measure's dissimilarity between layers grows with their distance in depth.

    Parameters
    ----------
    models
        One :class:`~tda_activations.types.ActivationSet` (named ``"model"``),
        or several as ``{name: set}`` / a list (tested one by one).
    measures
        ``None`` (every measure), a spec, a LayerMeasure, or a list.
    layers
        Layers in depth order (default: all, in forward order); at least 3.
    n_permutations
        Shuffles of the layer order for the p-value (0: none).
    seed
        Seed of the permutations (recorded).

    Returns
    -------
    MonotonicityResult
    """
    mods = as_models(models, what="layer_monotonicity")
    ms = as_measures(measures)
    summary, pairs = [], []
    mats: dict[tuple[str, str], LayerMatrix] = {}
    for model, acts in mods.items():
        lays = layer_list(acts, layers, model=model)
        if len(lays) < 3:
            raise ValueError(f"model {model!r}: monotonicity needs at least 3 layers, got {len(lays)}")
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
        clouds = {l: acts.cloud(l) for l in lays}
        for m, states in prepare_measures(ms, clouds):
            vals = m.compare_matrix([states[l] for l in lays])
            mats[(model, m.name)] = matrix(vals, lays, lays, m, {"model": model})
            dis = np.asarray(m.dissimilarity(vals), dtype=np.float64)
            stats = monotonicity_statistics(dis, n_permutations=n_permutations, seed=seed)
            summary.append({"model": model, "measure": m.name, "kind": m.kind, "family": m.family,
                            **stats, "n_layers": len(lays)})
            sym = (dis + dis.T) / 2.0
            for i in range(len(lays)):
                for j in range(i + 1, len(lays)):
                    pairs.append({"model": model, "measure": m.name, "layer_a": lays[i], "layer_b": lays[j],
                                  "depth_a": i, "depth_b": j, "depth_gap": j - i,
                                  "value": float(vals[i, j]), "dissimilarity": float(sym[i, j])})
    sum_cols = ["model", "measure", "kind", "family", "spearman_depth_gap", "p_value",
                "adjacent_closest_fraction", "row_spearman_mean", "mean_dissimilarity_adjacent",
                "mean_dissimilarity_farther", "n_layers"]
    pair_cols = ["model", "measure", "layer_a", "layer_b", "depth_a", "depth_b", "depth_gap", "value",
                 "dissimilarity"]
    return MonotonicityResult(
        summary=table_from_records(summary, sum_cols),
        pairs=table_from_records(pairs, pair_cols),
        matrices=mats,
        params={
            "models": {n: {"model_fingerprint": a.model_fingerprint, "data_fingerprint": a.data_fingerprint,
                           "reduction": a.reduction} for n, a in mods.items()},
            "layers": None if layers is None else list(layers), "n_permutations": n_permutations,
            "seed": seed, "permutation_null": "layer order shuffled (rows and columns together)",
            "measures": [m.describe() for m in ms],
        },
    )
