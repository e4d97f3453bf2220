"""Specificity / layer correspondence across models trained from different seeds.

For every ordered pair of models (A, B) and every layer of A, the closest
layer of B is found (smallest distance or largest similarity, by the
measure's kind); the test asks how often it is the layer at the same depth
(Kornblith et al. 2019, Ding et al. 2021).  Ties are shared: a row whose best
value is tied between ``t`` columns, the right one among them, counts ``1/t``.

Statistics: a percentile bootstrap interval of the accuracy, resampling
ordered model pairs (the rows of one pair are not independent), and a
permutation test whose null shuffles the layer order of model B (each
permutation applies one shuffle per model pair).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .._measure import PairwiseMeasure
from .._progress import CostEstimate, announce_cost, progress_bar, progress_enabled
from ..types import ActivationSet, LayerMatrix, brief_names
from ._common import ResultMixin, as_models, layer_list, matrix
from ._tables import Table, table_from_records
from .measures import as_measures, measure_id, measures_cost, prepare_measures
from .statistics import percentile_interval, permutation_p_value

__all__ = [
    "CorrespondenceResult",
    "depth_targets",
    "layer_correspondence",
    "layer_correspondence_cost",
    "specificity",
]

log = logging.getLogger(__name__)

Align = Literal["names", "relative_depth"]
Pairs = Literal["all", "reference"]


@dataclass(frozen=True)
class CorrespondenceResult(ResultMixin):
    """Result of :func:`layer_correspondence`.

    Attributes
    ----------
    table
        One row per measure: ``measure, kind, family, accuracy, ci_low,
        ci_high, p_value, chance, mean_abs_depth_error, mean_target_rank,
        n_matches, n_model_pairs`` (sorted as the measures were given).
    matches
        One row per (measure, ordered model pair, layer of A): ``measure,
        model_a, model_b, layer_a, depth_a, target_layer, target_depth,
        best_layer, best_depth, depth_error, credit, target_rank, margin``
        (``best_layer``: the closest layer; among tied ones, the one nearest the target);
        ``margin`` is how much closer the target is than the closest other
        layer (dissimilarity units; positive = found with room to spare).
    matrices
        ``(measure, model_a, model_b) -> LayerMatrix`` for every ordered pair compared.
    params
        Models (names, fingerprints), layers, alignment, pairs, seeds, numbers
        of permutations and bootstrap replicates, measures.
    """

    table: Table
    matches: Table
    matrices: dict[tuple[str, str, str], LayerMatrix] = field(repr=False)
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"CorrespondenceResult({len(self.table)} measures: "
            f"{brief_names(self.table.column('measure'), limit=6)}; "
            f"{len(self.params.get('models', {}))} models, "
            f"{len(self.params.get('ordered_pairs', []))} ordered pairs, "
            f"align={self.params.get('align')!r}; tables: table, matches, matrices)"
        )

    def matrix(self, measure: str, model_a: str, model_b: str) -> LayerMatrix:
        """The cross-model matrix of one measure (rows: layers of A, columns: layers of B).

        ``measure`` is its id, or a spec / registry name / measure object naming it.
        """
        measure = measure_id(measure, sorted({k[0] for k in self.matrices}))
        key = (measure, model_a, model_b)
        if key not in self.matrices:
            pairs = sorted(f"{a}/{b}" for m, a, b in self.matrices if m == measure)
            raise ValueError(
                f"no matrix for models {model_a!r} x {model_b!r}; compared pairs: {pairs}"
            )
        return self.matrices[key]

    def matrices_table(self) -> Table:
        """Every matrix entry, tidy: ``measure, model_a, model_b, layer_a, layer_b, depth_a, depth_b, value``."""
        rows = []
        for (m, a, b), mat in self.matrices.items():
            for i, la in enumerate(mat.row_labels):
                for j, lb in enumerate(mat.col_labels):
                    rows.append(
                        {
                            "measure": m,
                            "model_a": a,
                            "model_b": b,
                            "layer_a": la,
                            "layer_b": lb,
                            "depth_a": i,
                            "depth_b": j,
                            "value": float(mat.values[i, j]),
                        }
                    )
        return table_from_records(
            rows,
            ["measure", "model_a", "model_b", "layer_a", "layer_b", "depth_a", "depth_b", "value"],
        )

    def _tables(self) -> dict[str, Table]:
        return {"summary": self.table, "matches": self.matches, "matrices": self.matrices_table()}


def depth_targets(n_a: int, n_b: int, *, align: Align = "names") -> np.ndarray:
    """Find the layer of B that corresponds to each layer of A.

    Parameters
    ----------
    n_a, n_b
        Numbers of layers of A and B.
    align
        ``"names"``: the same index (the layer lists must be the same length);
        ``"relative_depth"``: ``i * (n_b - 1) / (n_a - 1)`` rounded half up, the
        layer at the same relative depth (first to first, last to last).

    Returns
    -------
    numpy.ndarray
        Int64 ``(n_a,)``: the index of the layer of B for each layer of A.

    Examples
    --------
    >>> depth_targets(3, 5, align="relative_depth")
    array([0, 2, 4])
    """
    if align == "names":
        if n_a != n_b:
            raise ValueError(f"{n_a} and {n_b} layers cannot be matched by name")
        return np.arange(n_a)
    if align == "relative_depth":
        if n_a == 1:
            return np.zeros(1, dtype=np.int64)
        return np.floor(np.arange(n_a) * (n_b - 1) / (n_a - 1) + 0.5).astype(np.int64)
    raise ValueError(f"align must be 'names' or 'relative_depth', got {align!r}")


def _check_models(
    models: dict[str, ActivationSet],
    layers: dict[str, tuple[str, ...]],
    ms: Sequence[PairwiseMeasure],
    align: str,
) -> None:
    names = list(models)
    if len(names) < 2:
        raise ValueError(
            f"a correspondence test needs at least 2 models of one architecture trained from different "
            f"seeds; got {len(names)} (5 or more give a stable accuracy)"
        )
    fps: dict[str, str] = {}
    for n, acts in models.items():
        fp = acts.model_fingerprint
        if fp and fp in fps:
            raise ValueError(
                f"models {fps[fp]!r} and {n!r} have the same weights (fingerprint {fp}); the test "
                "needs models trained from different seeds"
            )
        if fp:
            fps[fp] = n
    ref = names[0]
    for n in names[1:]:
        if align == "names" and layers[n] != layers[ref]:
            only_a = [l for l in layers[ref] if l not in layers[n]][:3]
            only_b = [l for l in layers[n] if l not in layers[ref]][:3]
            raise ValueError(
                f"models {ref!r} and {n!r} have different layers ({len(layers[ref])} vs {len(layers[n])}; "
                f"e.g. only in {ref!r}: {only_a}, only in {n!r}: {only_b}): the correspondence test compares "
                "one architecture trained from different seeds. Give the same layers= for every model, or "
                "align='relative_depth' to match layers at the same relative depth"
            )
    if any(m.needs_correspondence for m in ms):
        needy = [m.id for m in ms if m.needs_correspondence][:3]
        fp0 = models[ref].data_fingerprint
        idx0 = models[ref].sample_index[layers[ref][0]]
        for n in names:
            acts = models[n]
            if fp0 and acts.data_fingerprint and acts.data_fingerprint != fp0:
                raise ValueError(
                    f"models {ref!r} and {n!r} were extracted on different data; measures like {needy} "
                    "compare the same samples: extract every model on the same images"
                )
            for layer in layers[n]:
                idx = acts.sample_index[layer]
                if idx.shape != idx0.shape or not np.array_equal(idx, idx0):
                    raise ValueError(
                        f"clouds of different sizes or samples: {ref!r}/{layers[ref][0]!r} has "
                        f"{idx0.shape[0]} points, {n!r}/{layer!r} has {idx.shape[0]} (or other samples); "
                        f"measures like {needy} need the same samples in the same order in every cloud: "
                        "extract with a one-point-per-sample reduction (top_l2) on the same images, "
                        "or use only topological measures"
                    )
            if not np.array_equal(acts.labels, models[ref].labels):
                raise ValueError(
                    f"models {ref!r} and {n!r} have different sample labels; extract both on the same images"
                )


def layer_correspondence(
    models: Any,
    *,
    measures: Any = None,
    layers: Sequence[str] | None = None,
    align: Align = "names",
    pairs: Pairs = "all",
    n_permutations: int = 999,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    progress: bool | None = None,
) -> CorrespondenceResult:
    """How often each measure finds the same-depth layer of another seed's model.

    Parameters
    ----------
    models
        ``{name: ActivationSet}`` (or a list) of one architecture trained from
        different seeds, extracted on the same images; at least 2.
    measures
        ``None`` (the few fast measures of :data:`DEFAULT_MEASURES`), ``"all"``
        (every measure of :func:`all_measures`), a spec, a PairwiseMeasure, or a list.
    layers
        Layers used in every model (default: each model's own list; with
        ``align="names"`` these must agree).
    align
        ``"names"`` (default): the same layer names in every model, layer ``i``
        of A corresponds to layer ``i`` of B.  ``"relative_depth"``: models may
        differ in depth; layer ``i`` of A corresponds to layer
        ``i (n_B - 1) / (n_A - 1)`` (rounded half up) of B (see :func:`depth_targets`).
    pairs
        ``"all"``: every ordered pair (A, B), A != B; ``"reference"``: the first
        model against each other one (cheaper: k - 1 pairs).
    n_permutations
        Permutations of the layer order of B for the p-value (0: none).
    n_bootstrap
        Bootstrap replicates over model pairs for the interval (0: none).
    confidence
        Coverage of the interval.
    seed
        Seed of the permutations and the bootstrap (recorded).
    progress
        Show a progress bar over the measures (``None``: in a terminal or notebook, see
        :func:`tda_activations._progress.progress_enabled`).  The cost estimate of
        :func:`layer_correspondence_cost` is logged first (INFO) whenever a bar or INFO
        logging is on.

    Returns
    -------
    CorrespondenceResult

    Raises
    ------
    ValueError
        Fewer than 2 models, identical weights, different architectures with
        ``align="names"``, or clouds of different samples for a measure that
        needs the same samples.
    """
    mods, ms, lays, ordered = _plan(models, measures, layers, align, pairs)
    names = list(mods)
    clouds = {f"{n}/{l}": mods[n].cloud(l) for n in names for l in lays[n]}
    if progress_enabled(progress) or log.isEnabledFor(logging.INFO):
        announce_cost(_cost(mods, ms, lays, ordered, calibrate=True))
    rng = np.random.default_rng(seed)
    summary: list[dict[str, Any]] = []
    matches: list[dict[str, Any]] = []
    mats: dict[tuple[str, str, str], LayerMatrix] = {}
    with progress_bar(
        total=len(ms), desc="layer_correspondence", unit="measure", enabled=progress
    ) as bar:
        _run_measures(
            ms,
            clouds,
            names,
            lays,
            ordered,
            align,
            rng,
            n_bootstrap,
            n_permutations,
            confidence,
            mats,
            summary,
            matches,
            bar,
        )
    return _result(
        mods,
        ms,
        lays,
        ordered,
        align,
        pairs,
        n_permutations,
        n_bootstrap,
        confidence,
        seed,
        mats,
        summary,
        matches,
    )


def _plan(
    models: Any, measures: Any, layers: Sequence[str] | None, align: Align, pairs: Pairs
) -> tuple[
    dict[str, ActivationSet],
    tuple[PairwiseMeasure, ...],
    dict[str, tuple[str, ...]],
    list[tuple[str, str]],
]:
    """Checked inputs: models, measures, layers per model, ordered model pairs."""
    mods = as_models(models, what="layer_correspondence")
    ms = as_measures(measures)
    if pairs not in ("all", "reference"):
        raise ValueError(f"pairs must be 'all' or 'reference', got {pairs!r}")
    if align not in ("names", "relative_depth"):
        raise ValueError(f"align must be 'names' or 'relative_depth', got {align!r}")
    lays = {n: layer_list(a, layers, model=n) for n, a in mods.items()}
    _check_models(mods, lays, ms, align)
    names = list(mods)
    if pairs == "all":
        ordered = [(a, b) for a in names for b in names if a != b]
    else:
        ordered = [(names[0], b) for b in names[1:]]
    return mods, ms, lays, ordered


def _comparisons(
    m: PairwiseMeasure, lays: dict[str, tuple[str, ...]], ordered: Sequence[tuple[str, str]]
) -> int:
    """Layer pairs a measure compares (a symmetric measure reuses (B, A) for (A, B))."""
    done: set[tuple[str, str]] = set()
    total = 0
    for a, b in ordered:
        if not (m.symmetric and (b, a) in done):
            total += len(lays[a]) * len(lays[b])
        done.add((a, b))
    return total


def _cost(
    mods: dict[str, ActivationSet],
    ms: Sequence[PairwiseMeasure],
    lays: dict[str, tuple[str, ...]],
    ordered: Sequence[tuple[str, str]],
    *,
    calibrate: bool,
) -> CostEstimate:
    first = next(iter(mods))
    sample = None
    if calibrate:
        ls = lays[first]
        sample = [mods[first].cloud(ls[0]), mods[first].cloud(ls[len(ls) // 2])]
    return measures_cost(
        ms,
        what="layer_correspondence",
        n_clouds=sum(len(l) for l in lays.values()),
        comparisons={m.id: _comparisons(m, lays, ordered) for m in ms},
        sample=sample,
    )


def layer_correspondence_cost(
    models: Any,
    *,
    measures: Any = None,
    layers: Sequence[str] | None = None,
    align: Align = "names",
    pairs: Pairs = "all",
    calibrate: bool = True,
) -> CostEstimate:
    """What :func:`layer_correspondence` with these arguments will cost, before running it.

    Parameters
    ----------
    models, measures, layers, align, pairs
        As for :func:`layer_correspondence` (checked the same way).
    calibrate
        Time every measure on two clouds of the first model (a few percent of the
        whole run) to estimate seconds; ``False``: count the work only.

    Returns
    -------
    CostEstimate
        ``units``: layer-pair comparisons summed over measures (a symmetric measure
        compares each unordered model pair once); ``seconds``: the estimate.

    Raises
    ------
    ValueError, TypeError
        As :func:`layer_correspondence` would.
    """
    mods, ms, lays, ordered = _plan(models, measures, layers, align, pairs)
    return _cost(mods, ms, lays, ordered, calibrate=calibrate)


def _run_measures(
    ms: Sequence[PairwiseMeasure],
    clouds: dict[str, Any],
    names: list[str],
    lays: dict[str, tuple[str, ...]],
    ordered: Sequence[tuple[str, str]],
    align: Align,
    rng: np.random.Generator,
    n_bootstrap: int,
    n_permutations: int,
    confidence: float,
    mats: dict[tuple[str, str, str], LayerMatrix],
    summary: list[dict[str, Any]],
    matches: list[dict[str, Any]],
    bar: Any,
) -> None:
    bar.set_postfix(ms[0].id if ms else "")
    for m, states in prepare_measures(ms, clouds):
        log.info("correspondence: %s over %d model pairs", m.id, len(ordered))
        st = {n: [states[f"{n}/{l}"] for l in lays[n]] for n in names}
        computed: dict[tuple[str, str], np.ndarray] = {}
        weights = []  # per pair: (rows x cols) credit of choosing each column
        targets_all = []
        pair_credit = []
        for a, b in ordered:
            if m.symmetric and (b, a) in computed:
                vals = computed[(b, a)].T
            else:
                vals = m.score_matrix(st[a], st[b])
            computed[(a, b)] = vals
            mats[(m.id, a, b)] = matrix(vals, lays[a], lays[b], m, {"model_a": a, "model_b": b})
            targets = depth_targets(len(lays[a]), len(lays[b]), align=align)
            dis = np.asarray(m.dissimilarity(vals), dtype=np.float64)
            best = np.nanmin(dis, axis=1, keepdims=True)
            tol = 1e-12 * np.maximum(1.0, np.abs(best))
            tied = np.abs(dis - best) <= tol
            w = tied / np.maximum(tied.sum(axis=1, keepdims=True), 1)
            weights.append(w)
            targets_all.append(targets)
            credits = w[np.arange(len(targets)), targets]
            pair_credit.append(credits)
            for i, la in enumerate(lays[a]):
                t = int(targets[i])
                row = dis[i]
                cand = np.flatnonzero(
                    tied[i]
                )  # among tied closest layers, report the one nearest the target
                best_j = int(cand[np.argmin(np.abs(cand - t))]) if cand.size else -1
                others = np.delete(row, t)
                rank = 1 + int(np.sum(row < row[t] - tol[i, 0]))
                matches.append(
                    {
                        "measure": m.id,
                        "model_a": a,
                        "model_b": b,
                        "layer_a": la,
                        "depth_a": i,
                        "target_layer": lays[b][t],
                        "target_depth": t,
                        "best_layer": lays[b][best_j] if best_j >= 0 else "",
                        "best_depth": best_j,
                        "depth_error": best_j - t,
                        "credit": float(credits[i]),
                        "target_rank": rank,
                        "margin": float(np.nanmin(others) - row[t])
                        if others.size
                        else float("nan"),
                    }
                )
        allc = np.concatenate(pair_credit)
        accuracy = float(allc.mean())
        # bootstrap over ordered model pairs (rows of one pair are not independent)
        lo = hi = float("nan")
        if n_bootstrap > 0:
            means = np.array([c.mean() for c in pair_credit])
            sizes = np.array([c.size for c in pair_credit], dtype=np.float64)
            if len(pair_credit) >= 2:
                idx = rng.integers(0, len(pair_credit), size=(n_bootstrap, len(pair_credit)))
                reps = (means[idx] * sizes[idx]).sum(axis=1) / sizes[idx].sum(axis=1)
            else:  # one pair: resample its rows
                idx = rng.integers(0, allc.size, size=(n_bootstrap, allc.size))
                reps = allc[idx].mean(axis=1)
            lo, hi = percentile_interval(reps, confidence=confidence)
        p = float("nan")
        if n_permutations > 0:
            null = np.zeros(n_permutations)
            total = sum(len(t) for t in targets_all)
            for w, tg in zip(weights, targets_all):
                ncols = w.shape[1]
                perms = np.argsort(rng.random((n_permutations, ncols)), axis=1)  # column shuffles
                null += w[np.arange(len(tg))[None, :], perms[:, tg]].sum(axis=1)
            null /= total
            p = permutation_p_value(accuracy, null, alternative="greater")
        depth_err = np.array(
            [r["depth_error"] for r in matches if r["measure"] == m.id], dtype=np.float64
        )
        ranks = np.array(
            [r["target_rank"] for r in matches if r["measure"] == m.id], dtype=np.float64
        )
        summary.append(
            {
                "measure": m.id,
                "kind": m.kind,
                "family": m.family,
                "accuracy": accuracy,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": p,
                "chance": float(np.mean([1.0 / len(lays[b]) for a, b in ordered])),
                "mean_abs_depth_error": float(np.abs(depth_err).mean()),
                "mean_target_rank": float(ranks.mean()),
                "n_matches": int(allc.size),
                "n_model_pairs": len(ordered),
            }
        )
        bar.update(1)
        nxt = [x.id for x in ms[len(summary) : len(summary) + 1]]
        bar.set_postfix(nxt[0] if nxt else "")


def _result(
    mods: dict[str, ActivationSet],
    ms: Sequence[PairwiseMeasure],
    lays: dict[str, tuple[str, ...]],
    ordered: Sequence[tuple[str, str]],
    align: str,
    pairs: str,
    n_permutations: int,
    n_bootstrap: int,
    confidence: float,
    seed: int,
    mats: dict[tuple[str, str, str], LayerMatrix],
    summary: list[dict[str, Any]],
    matches: list[dict[str, Any]],
) -> CorrespondenceResult:
    sum_cols = [
        "measure",
        "kind",
        "family",
        "accuracy",
        "ci_low",
        "ci_high",
        "p_value",
        "chance",
        "mean_abs_depth_error",
        "mean_target_rank",
        "n_matches",
        "n_model_pairs",
    ]
    match_cols = [
        "measure",
        "model_a",
        "model_b",
        "layer_a",
        "depth_a",
        "target_layer",
        "target_depth",
        "best_layer",
        "best_depth",
        "depth_error",
        "credit",
        "target_rank",
        "margin",
    ]
    return CorrespondenceResult(
        table=table_from_records(summary, sum_cols),
        matches=table_from_records(matches, match_cols),
        matrices=mats,
        params={
            "models": {
                n: {
                    "model_fingerprint": a.model_fingerprint,
                    "data_fingerprint": a.data_fingerprint,
                    "reduction": a.reduction,
                    "n_points": int(a.cloud(lays[n][0]).shape[0]),
                    "extraction_params": dict(a.params),
                }
                for n, a in mods.items()
            },
            "layers": {n: list(l) for n, l in lays.items()},
            "align": align,
            "pairs": pairs,
            "ordered_pairs": [list(p) for p in ordered],
            "n_permutations": n_permutations,
            "n_bootstrap": n_bootstrap,
            "confidence": confidence,
            "seed": seed,
            "bootstrap": "percentile, resampling ordered model pairs",
            "permutation_null": "layer order of model B shuffled (one shuffle per model pair)",
            "ties": "a row tied between t closest layers, the target among them, counts 1/t",
            "measures": [m.describe() for m in ms],
        },
    )


#: The specificity test of Ding et al. (2021) is this layer-correspondence test.
specificity = layer_correspondence
