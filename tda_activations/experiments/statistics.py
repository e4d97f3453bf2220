"""Statistics for layer measures: bootstrap confidence intervals and permutation tests.

* :func:`bootstrap_ci` resamples the *samples* (the same rows in both clouds),
  recomputes every measure and reports percentile intervals.
* :func:`permutation_test` asks whether two layers are closer than chance
  under the null "rows are not in correspondence" (the rows of one cloud are
  permuted).  That null is only defined for measures that use the
  correspondence of rows (the similarity measures); a persistence diagram does
  not depend on the order of the points, so topological measures are refused.

Every result records its seed; the same seed gives the same numbers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._measure import PairwiseMeasure
from ..types import compact_repr
from ._tables import Table, table_from_records
from .measures import as_measures

__all__ = [
    "BootstrapResult",
    "PermutationResult",
    "bootstrap_ci",
    "percentile_interval",
    "permutation_p_value",
    "permutation_test",
    "spearman",
]

log = logging.getLogger(__name__)


def spearman(x: Any, y: Any) -> tuple[float, float]:
    """Spearman rank correlation and its two-sided p-value (NaN when a side is constant).

    Thin wrapper over :func:`scipy.stats.spearmanr` that never warns and
    returns plain floats.

    Parameters
    ----------
    x, y
        Paired values.

    Returns
    -------
    tuple of float
        ``(rho, p_value)``.

    Examples
    --------
    >>> rho, p = spearman([1, 2, 3, 4], [1, 3, 2, 5])
    >>> round(rho, 12)
    0.8
    """
    from scipy.stats import spearmanr

    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"spearman: {x.size} and {y.size} values; give paired values")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    res = spearmanr(x, y)
    return float(res.statistic), float(res.pvalue)


def percentile_interval(replicates: Any, *, confidence: float = 0.95) -> tuple[float, float]:
    """Compute the percentile interval of bootstrap replicates (NaNs ignored).

    Parameters
    ----------
    replicates
        The bootstrap values.
    confidence
        Coverage of the interval, in ``(0, 1)``.

    Returns
    -------
    tuple of float
        ``(low, high)``; NaNs when no replicate is finite.

    Examples
    --------
    >>> percentile_interval(range(101), confidence=0.5)
    (25.0, 75.0)
    """
    _check_confidence(confidence)
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(r, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def permutation_p_value(observed: float, null: Any, *, alternative: str = "greater") -> float:
    """Compute ``(1 + #{null >= observed}) / (1 + n)`` (``<=`` for ``alternative="less"``).

    The ``+1`` counts the observed arrangement as one of the permutations, so
    the p-value is never 0 (Phipson & Smyth 2010).

    Parameters
    ----------
    observed
        The statistic of the observed arrangement.
    null
        The ``n`` statistics of the permuted arrangements.
    alternative
        ``"greater"`` or ``"less"``.

    Returns
    -------
    float
        The p-value, in ``(0, 1]``.

    Examples
    --------
    >>> permutation_p_value(3.0, [1.0, 2.0, 3.0, 4.0])
    0.6
    """
    null = np.asarray(null, dtype=np.float64)
    if alternative not in ("greater", "less"):
        raise ValueError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    if not np.isfinite(observed):
        return float("nan")
    tol = 1e-12 * max(1.0, abs(observed))
    hits = (
        np.sum(null >= observed - tol)
        if alternative == "greater"
        else np.sum(null <= observed + tol)
    )
    return float((1 + hits) / (1 + null.size))


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")


def _check_pair(cloud_a: Any, cloud_b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(cloud_a), np.asarray(cloud_b)
    for name, c in (("cloud_a", a), ("cloud_b", b)):
        if c.ndim != 2:
            raise ValueError(f"{name} must be 2-D (points, width), got shape {c.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"the clouds have {a.shape[0]} and {b.shape[0]} points; resampling samples needs the "
            "same samples in the same order in both clouds (extract both layers on the same data "
            "with a one-point-per-sample reduction)"
        )
    if a.shape[0] < 4:
        raise ValueError(f"only {a.shape[0]} points; give at least 4 samples")
    return a, b


# ------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap percentile intervals of one or more measures between two clouds.

    Attributes
    ----------
    table
        One row per measure: ``measure, kind, family, estimate, ci_low, ci_high,
        replicate_mean, replicate_std, n_valid``.
    replicates
        Tidy: ``measure, replicate, value``.
    params
        ``n_resamples, confidence, seed, n_points, replace, n_samples``.
    """

    table: Table
    replicates: Table
    params: dict[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def to_pandas(self) -> Any:
        """The summary table."""
        return self.table.to_pandas()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the summary table as CSV (atomically)."""
        return self.table.to_csv(path)

    def interval(self, measure: str) -> tuple[float, float]:
        """``(ci_low, ci_high)`` of one measure (its id, or a spec or registry name)."""
        from .measures import measure_id

        names = list(self.table.column("measure"))
        i = names.index(measure_id(measure, names))
        return float(self.table.column("ci_low")[i]), float(self.table.column("ci_high")[i])


def bootstrap_ci(
    cloud_a: Any,
    cloud_b: Any,
    *,
    measures: Any = None,
    n_resamples: int = 200,
    confidence: float = 0.95,
    n_points: int | None = None,
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap confidence intervals of layer measures over samples.

    Each replicate draws row indices and applies the *same* indices to both
    clouds (the rows are the same samples), prepares both resampled clouds
    and recomputes every measure.

    Parameters
    ----------
    cloud_a, cloud_b
        Point clouds with the same samples in the same rows.
    measures
        ``None`` (every measure of :func:`all_measures`), one spec / measure, or a list.
    n_resamples
        Number of bootstrap replicates.
    confidence
        Coverage of the percentile interval.
    n_points
        ``None``: the classical bootstrap, ``n`` rows drawn with replacement.
        A number ``m < n``: m-out-of-n subsampling without replacement (better
        for topological measures: a resample with replacement has repeated
        points, which persistence merges, so its diagrams describe ~63% of the
        samples).
    seed
        Seed of the resampling (recorded).

    Returns
    -------
    BootstrapResult
        ``estimate`` is the value on the full clouds.
    """
    a, b = _check_pair(cloud_a, cloud_b)
    ms = as_measures(measures)
    _check_confidence(confidence)
    if n_resamples < 2:
        raise ValueError(
            f"n_resamples must be >= 2 (200 or more for a 95% interval), got {n_resamples}"
        )
    n = a.shape[0]
    if n_points is not None and not 4 <= n_points <= n:
        raise ValueError(
            f"n_points must be between 4 and the number of samples ({n}), got {n_points}"
        )
    rng = np.random.default_rng(seed)
    draws = [
        rng.integers(0, n, size=n)
        if n_points is None
        else np.sort(rng.choice(n, size=n_points, replace=False))
        for _ in range(n_resamples)
    ]
    rows: list[dict[str, Any]] = []
    reps: list[dict[str, Any]] = []
    for m in ms:
        estimate = _value(m, a, b)
        vals = np.full(n_resamples, np.nan)
        for r, idx in enumerate(draws):
            try:
                vals[r] = _value(m, a[idx], b[idx])
            except ValueError as exc:  # e.g. a resample with zero variance
                log.warning("%s: replicate %d failed (%s)", m.id, r, exc)
        lo, hi = percentile_interval(vals, confidence=confidence)
        ok = np.isfinite(vals)
        rows.append(
            {
                "measure": m.id,
                "kind": m.kind,
                "family": m.family,
                "estimate": estimate,
                "ci_low": lo,
                "ci_high": hi,
                "replicate_mean": float(vals[ok].mean()) if ok.any() else float("nan"),
                "replicate_std": float(vals[ok].std(ddof=1)) if ok.sum() > 1 else float("nan"),
                "n_valid": int(ok.sum()),
            }
        )
        reps.extend(
            {"measure": m.id, "replicate": r, "value": float(v)} for r, v in enumerate(vals)
        )
    cols = [
        "measure",
        "kind",
        "family",
        "estimate",
        "ci_low",
        "ci_high",
        "replicate_mean",
        "replicate_std",
        "n_valid",
    ]
    return BootstrapResult(
        table=table_from_records(rows, cols),
        replicates=table_from_records(reps, ["measure", "replicate", "value"]),
        params={
            "n_resamples": n_resamples,
            "confidence": confidence,
            "seed": seed,
            "n_points": n_points,
            "replace": n_points is None,
            "n_samples": n,
            "measures": [m.describe() for m in ms],
        },
    )


def _value(m: PairwiseMeasure, a: np.ndarray, b: np.ndarray) -> float:
    sa, sb = m.prepare_many([a, b], names=["cloud_a", "cloud_b"])
    return m.score(sa, sb)


# ----------------------------------------------------------------- permutation


@dataclass(frozen=True)
class PermutationResult:
    """Permutation tests of "closer than chance" for one or more measures.

    Attributes
    ----------
    table
        One row per measure: ``measure, kind, observed, null_mean, null_std,
        p_value, n_permutations``.  The p-value is one-sided in the direction
        "closer" (smaller distance or larger similarity than under the null).
    null
        Tidy: ``measure, permutation, value``.
    params
        ``n_permutations, seed, null``.
    """

    table: Table
    null: Table
    params: dict[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def to_pandas(self) -> Any:
        """The summary table."""
        return self.table.to_pandas()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the summary table as CSV (atomically)."""
        return self.table.to_csv(path)


def permutation_test(
    cloud_a: Any,
    cloud_b: Any,
    *,
    measures: Any = None,
    n_permutations: int = 199,
    seed: int = 0,
) -> PermutationResult:
    """Test whether two clouds are closer than when their rows are not in correspondence.

    Null hypothesis: the pairing of rows carries no information; it is
    simulated by permuting the rows of ``cloud_b``.  Defined only for measures
    that use the row correspondence (the similarity measures).

    Parameters
    ----------
    cloud_a, cloud_b
        Clouds with the same samples in the same rows.
    measures
        ``None``: every similarity measure; otherwise specs or measures (a
        topological measure is refused).
    n_permutations
        Number of permutations.
    seed
        Seed of the permutations (recorded).

    Returns
    -------
    PermutationResult
        Observed values, null distributions and p-values per measure.

    Raises
    ------
    ValueError
        For a measure that does not depend on the order of the rows.
    """
    from .measures import all_measures

    a, b = _check_pair(cloud_a, cloud_b)
    ms = all_measures(homology_dims=()) if measures is None else as_measures(measures)
    for m in ms:
        if not m.needs_correspondence:
            raise ValueError(
                f"{m.id} does not depend on which row of one cloud goes with which row of the "
                "other (a persistence diagram ignores the order of the points), so the null of "
                "permuted samples is not defined for it; use bootstrap_ci for an interval instead"
            )
    if n_permutations < 1:
        raise ValueError(
            f"n_permutations must be >= 1 (199 or more for p < 0.01), got {n_permutations}"
        )
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(a.shape[0]) for _ in range(n_permutations)]
    rows: list[dict[str, Any]] = []
    nulls: list[dict[str, Any]] = []
    for m in ms:
        sa, sb = m.prepare_many([a, b], names=["cloud_a", "cloud_b"])
        observed = m.score(sa, sb)
        null = np.array([m.score(sa, m.prepare(b[p], name="cloud_b permuted")) for p in perms])
        alt = "less" if m.kind == "distance" else "greater"
        rows.append(
            {
                "measure": m.id,
                "kind": m.kind,
                "observed": observed,
                "null_mean": float(null.mean()),
                "null_std": float(null.std(ddof=1)) if null.size > 1 else float("nan"),
                "p_value": permutation_p_value(observed, null, alternative=alt),
                "n_permutations": n_permutations,
            }
        )
        nulls.extend(
            {"measure": m.id, "permutation": i, "value": float(v)} for i, v in enumerate(null)
        )
    return PermutationResult(
        table=table_from_records(
            rows,
            ["measure", "kind", "observed", "null_mean", "null_std", "p_value", "n_permutations"],
        ),
        null=table_from_records(nulls, ["measure", "permutation", "value"]),
        params={
            "n_permutations": n_permutations,
            "seed": seed,
            "null": "rows of cloud_b permuted (no sample correspondence)",
            "measures": [m.describe() for m in ms],
        },
    )
