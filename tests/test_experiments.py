"""Experiments: planted answers, peer-library cross-checks, statistics and bad input (synthetic, fast)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from tda_activations import experiments as ex
from tda_activations._measure import MeasureProperties
from tda_activations.types import ActivationSet, ClassHierarchy

#: The id of linear CKA with its defaults (the key of every experiment table).
CKA = "linear_cka[debiased=False,form=auto]"

H = ClassHierarchy(class_names=("a", "b", "c"))


def _acts(
    clouds: list[np.ndarray], *, fp: str, labels: np.ndarray | None = None, names=None
) -> ActivationSet:
    n = clouds[0].shape[0]
    names = names or [f"l{i}" for i in range(len(clouds))]
    labels = np.arange(n) % 3 if labels is None else labels
    return ActivationSet(
        clouds=dict(zip(names, clouds)),
        sample_index={k: np.arange(c.shape[0]) for k, c in zip(names, clouds)},
        labels=labels,
        hierarchy=H,
        reduction="test",
        model_fingerprint=fp,
        data_fingerprint="data",
    )


def _chain(
    rng: np.random.Generator, *, n: int = 60, width: int = 6, layers: int = 6, step: float = 0.6
) -> list[np.ndarray]:
    """Layers of a random walk: each layer is the previous one plus an independent perturbation."""
    x = rng.normal(size=(n, width))
    out = []
    for _ in range(layers):
        x = x + step * rng.normal(size=(n, width))
        out.append(x.copy())
    return out


def _rotate(
    clouds: list[np.ndarray], rng: np.random.Generator, noise: float = 0.01
) -> list[np.ndarray]:
    out = []
    for c in clouds:
        q, _ = np.linalg.qr(rng.normal(size=(c.shape[1], c.shape[1])))
        out.append(c @ q + noise * rng.normal(size=c.shape))
    return out


@dataclasses.dataclass
class Planted(ex.PairwiseMeasure):
    """A measure whose value is read from a planted matrix: ``prepare`` returns the cloud's id."""

    table: np.ndarray
    planted_kind: str = "distance"
    family = "similarity"

    @property
    def id(self) -> str:
        return f"planted_{self.planted_kind}"

    @property
    def properties(self) -> MeasureProperties:
        dist = self.planted_kind == "distance"
        return MeasureProperties(
            kind=self.planted_kind,
            symmetric=False,
            metric=False,
            invariances=frozenset(),
            identity_value=0.0 if dist else 1.0,
            bounds=(-np.inf, np.inf),
            needs_correspondence=False,
        )

    def prepare(self, cloud, *, name="cloud"):  # noqa: ANN001, ANN201
        return int(cloud[0, 0])

    def score(self, a: Any, b: Any) -> float:
        return float(self.table[a, b])


def _id_models(n_models: int, n_layers: int) -> dict[str, ActivationSet]:
    """Models whose clouds carry their global id in entry [0, 0]."""
    out = {}
    for m in range(n_models):
        clouds = [np.full((5, 2), float(m * n_layers + i)) for i in range(n_layers)]
        out[f"m{m}"] = _acts(clouds, fp=f"fp{m}", labels=np.zeros(5, dtype=int))
    return out


# ------------------------------------------------------------------ measures


def test_all_measures_covers_both_registries() -> None:
    from tda_activations.homology import diagram_distance_names
    from tda_activations.similarity import available_measures

    ms = ex.all_measures(n_jobs=1)
    names = [m.id for m in ms]
    assert len(names) == len(set(names))
    assert len(ms) == 2 * len(diagram_distance_names()) + len(available_measures())
    for m in ms:
        assert m.kind in ("distance", "similarity")
        assert isinstance(m, ex.PairwiseMeasure)
    topo = [m for m in ms if m.family == "topology"]
    assert {m.dim for m in topo} == {0, 1}
    assert {m.distance.name for m in topo} == set(diagram_distance_names())
    less = ex.all_measures(exclude=("rtd", "wasserstein", "bottleneck[H0]"), n_jobs=1)
    lnames = {m.id for m in less}
    assert (
        not any(n.startswith("rtd[") for n in lnames)
        and "bottleneck[H0]" not in lnames
        and "bottleneck[H1]" in lnames
    )
    assert not any(n.startswith("wasserstein[") for n in lnames)


def test_layer_measure_specs_and_errors() -> None:
    m = ex.layer_measure("H1:sliced_wasserstein", n_directions=20, n_jobs=1)
    assert isinstance(m, ex.TopologicalMeasure) and m.id == "sliced_wasserstein[H1,M=20]"
    assert ex.layer_measure("h0/bottleneck").dim == 0
    s = ex.layer_measure("rsa", compare="pearson")
    assert s.kind == "similarity" and s.id == "rsa[rdm=euclidean,compare=pearson]"
    assert s.label == "RSA (euclidean RDM, Pearson)" and m.label == "sliced Wasserstein (H1, M=20)"
    with pytest.raises(ValueError, match="homology dimension.*H1:bottleneck"):
        ex.layer_measure("bottleneck")
    with pytest.raises(ValueError, match="linear_cka"):
        ex.layer_measure("linear_cak")
    with pytest.raises(ValueError, match="twice"):
        ex.as_measures(["linear_cka", "linear_cka"])


def test_topological_adapter_matches_homology_stage_and_persim() -> None:
    """The adapter's values are the homology stage's, and its sliced Wasserstein is persim's."""
    import persim

    from tda_activations.homology import bottleneck_distance, persistence

    rng = np.random.default_rng(1)
    t = rng.uniform(0, 2 * np.pi, 80)
    x = np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.normal(size=(80, 2))
    y = 1.5 * np.c_[np.cos(t), np.sin(t)] + 0.05 * rng.normal(size=(80, 2))
    dx, dy = persistence(x, maxdim=1), persistence(y, maxdim=1)
    b = ex.layer_measure("H1:bottleneck", n_jobs=1)
    assert b(x, y) == pytest.approx(bottleneck_distance(dx, dy, dim=1), abs=1e-12)
    sw = ex.layer_measure("H1:sliced_wasserstein", n_jobs=1)
    ref = persim.sliced_wasserstein(dx.finite(1), dy.finite(1), M=50)
    assert sw(x, y) == pytest.approx(ref, rel=1e-6)


def test_prepare_measures_shares_one_persistence(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    orig = ex.TopologicalMeasure.diagrams

    def spy(self, clouds, *, names=None):  # noqa: ANN001, ANN202
        calls.append(len(clouds))
        return orig(self, clouds, names=names)

    monkeypatch.setattr(ex.TopologicalMeasure, "diagrams", spy)
    rng = np.random.default_rng(0)
    clouds = {f"c{i}": rng.normal(size=(30, 3)) for i in range(3)}
    ms = ex.all_measures(
        similarity_measures=(), diagram_distances=("bottleneck", "sliced_wasserstein"), n_jobs=1
    )
    got = list(ex.prepare_measures(ms, clouds))
    assert len(got) == 4 and calls == [3]


def test_diagram_cache_is_used(tmp_path) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    m = ex.layer_measure("H1:sliced_wasserstein", cache_dir=tmp_path, n_jobs=1)
    v1 = m(x, y)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert m(x, y) == v1


# --------------------------------------------------------------- correspondence


def test_correspondence_planted_rotations_is_perfect() -> None:
    rng = np.random.default_rng(0)
    base = _chain(rng)
    models = {
        "a": _acts(base, fp="a"),
        "b": _acts(_rotate(base, rng), fp="b"),
        "c": _acts(_rotate(base, rng), fp="c"),
    }
    ms = ["linear_cka", "procrustes", ex.layer_measure("H1:sliced_wasserstein", n_jobs=1)]
    r = ex.layer_correspondence(models, measures=ms, n_permutations=199, n_bootstrap=200, seed=3)
    df = r.to_pandas().set_index("measure")
    assert (df["accuracy"] == 1.0).all()
    assert np.allclose(df["p_value"], 1 / 200)
    assert (df["mean_abs_depth_error"] == 0).all()
    assert df["n_matches"].iloc[0] == 6 * 6 and df["n_model_pairs"].iloc[0] == 6
    assert df["chance"].iloc[0] == pytest.approx(1 / 6)
    mat = r.matrix("linear_cka", "a", "b")
    assert mat.kind == "similarity" and mat.shape == (6, 6)
    assert np.allclose(r.matrix("linear_cka", "b", "a").values, mat.values.T)  # symmetric reuse
    assert r.params["seed"] == 3
    # the same seed gives the same statistics
    r2 = ex.layer_correspondence(
        models, measures=ms[:1], n_permutations=199, n_bootstrap=200, seed=3
    )
    assert r2.to_pandas()["p_value"].iloc[0] == df.loc[CKA, "p_value"]


def test_correspondence_unrelated_models_near_chance() -> None:
    rng = np.random.default_rng(5)
    models = {
        f"m{i}": _acts([rng.normal(size=(50, 4)) for _ in range(8)], fp=f"m{i}") for i in range(4)
    }
    r = ex.layer_correspondence(models, measures="linear_cka", n_permutations=299, seed=0)
    row = r.to_pandas().iloc[0]
    assert row["accuracy"] < 0.4 and row["p_value"] > 0.01


def test_correspondence_accuracy_ties_and_kinds() -> None:
    n_layers = 3
    models = _id_models(2, n_layers)
    big = np.full((6, 6), 5.0)
    # model 0 rows vs model 1 columns (ids 3..5): layer 0 right, layer 1 tied between 2 columns (one right),
    # layer 2 wrong
    big[0, 3:6] = [0.0, 1.0, 2.0]
    big[1, 3:6] = [1.0, 1.0, 2.0]
    big[2, 3:6] = [0.5, 2.0, 3.0]
    big[3:6, 0:3] = [[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]
    r = ex.layer_correspondence(models, measures=[Planted(big)], n_permutations=0, n_bootstrap=0)
    m = r.matches.to_pandas()
    first = m[m["model_a"] == "m0"]
    assert list(first["credit"]) == [1.0, 0.5, 0.0]
    assert list(first["target_rank"]) == [1, 1, 3]
    assert list(first["depth_error"]) == [0, 0, -2]
    assert r.to_pandas()["accuracy"].iloc[0] == pytest.approx((1 + 0.5 + 0 + 3) / 6)
    # as a similarity the best is the max: flip the sign of the planted values
    rs = ex.layer_correspondence(
        models, measures=[Planted(-big, planted_kind="similarity")], n_permutations=0, n_bootstrap=0
    )
    assert rs.to_pandas()["accuracy"].iloc[0] == pytest.approx(r.to_pandas()["accuracy"].iloc[0])


def test_correspondence_permutation_null_matches_brute_force() -> None:
    """The vectorised null equals a direct loop over the same column shuffles."""
    rng = np.random.default_rng(2)
    n_layers = 5
    models = _id_models(2, n_layers)
    big = rng.random((10, 10))
    r = ex.layer_correspondence(
        models, measures=[Planted(big)], n_permutations=400, n_bootstrap=0, seed=7
    )
    # brute force with the same random stream
    g = np.random.default_rng(7)
    null = np.zeros(400)
    for a, b in (("m0", "m1"), ("m1", "m0")):
        ia = 0 if a == "m0" else n_layers
        ib = 0 if b == "m0" else n_layers
        vals = big[ia : ia + n_layers, ib : ib + n_layers]
        best = vals.argmin(axis=1)
        perms = np.argsort(g.random((400, n_layers)), axis=1)
        for k in range(400):
            null[k] += np.sum(best == perms[k, np.arange(n_layers)])
    null /= 2 * n_layers
    acc = r.to_pandas()["accuracy"].iloc[0]
    assert r.to_pandas()["p_value"].iloc[0] == pytest.approx(
        (1 + np.sum(null >= acc - 1e-12)) / 401
    )


def test_correspondence_relative_depth_alignment() -> None:
    assert list(ex.depth_targets(5, 3, align="relative_depth")) == [0, 1, 1, 2, 2]
    assert list(ex.depth_targets(3, 5, align="relative_depth")) == [0, 2, 4]
    rng = np.random.default_rng(0)
    deep = _chain(rng, layers=6)
    shallow = [deep[0], deep[3] @ np.linalg.qr(rng.normal(size=(6, 6)))[0], deep[5]]
    a = _acts(deep, fp="a")
    b = _acts(shallow, fp="b", names=["x", "y", "z"])
    with pytest.raises(ValueError, match="different layers.*relative_depth"):
        ex.layer_correspondence({"a": a, "b": b}, measures="linear_cka")
    r = ex.layer_correspondence(
        {"a": a, "b": b}, measures="linear_cka", align="relative_depth", n_permutations=0
    )
    m = r.matches.to_pandas()
    assert set(m["target_depth"][m["model_a"] == "b"]) == {0, 3, 5}


def test_correspondence_bad_input() -> None:
    rng = np.random.default_rng(0)
    a = _acts(_chain(rng), fp="a")
    with pytest.raises(ValueError, match="at least 2 models"):
        ex.layer_correspondence({"a": a}, measures="linear_cka")
    with pytest.raises(ValueError, match="same weights"):
        ex.layer_correspondence({"a": a, "b": dataclasses.replace(a)}, measures="linear_cka")
    small = _acts([c[:40] for c in _chain(rng)], fp="s")
    with pytest.raises(ValueError, match="different sizes"):
        ex.layer_correspondence({"a": a, "s": small}, measures="linear_cka")
    # topological measures do not need the same samples
    r = ex.layer_correspondence(
        {"a": a, "s": small},
        measures=ex.layer_measure("H0:sliced_wasserstein", n_jobs=1),
        n_permutations=0,
        n_bootstrap=0,
    )
    assert len(r.table) == 1
    with pytest.raises(TypeError, match="ActivationSet"):
        ex.layer_correspondence({"a": a, "b": np.zeros((3, 3))}, measures="linear_cka")
    with pytest.raises(ValueError, match="pairs"):
        ex.layer_correspondence({"a": a, "s": small}, measures="H0:bottleneck", pairs="some")


# ----------------------------------------------------------------- monotonicity


def test_monotonicity_statistics_known_answers() -> None:
    n = 7
    gap = np.abs(np.subtract.outer(np.arange(n), np.arange(n))).astype(float)
    s = ex.monotonicity_statistics(gap, n_permutations=199, seed=0)
    assert s["spearman_depth_gap"] == pytest.approx(1.0)
    assert s["adjacent_closest_fraction"] == 1.0
    assert s["row_spearman_mean"] == pytest.approx(1.0)
    assert s["p_value"] == pytest.approx(1 / 200)
    assert s["mean_dissimilarity_adjacent"] == 1.0
    rev = ex.monotonicity_statistics(gap.max() - gap, n_permutations=0)
    assert rev["spearman_depth_gap"] == pytest.approx(-1.0) and np.isnan(rev["p_value"])


def test_monotonicity_null_matches_scipy_loop() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(4)
    n = 6
    d = rng.random((n, n))
    d = d + d.T
    np.fill_diagonal(d, 0)
    s = ex.monotonicity_statistics(d, n_permutations=300, seed=11)
    iu = np.triu_indices(n, 1)
    gap = iu[1] - iu[0]
    obs = spearmanr(gap, d[iu]).statistic
    assert s["spearman_depth_gap"] == pytest.approx(obs)
    g = np.random.default_rng(11)
    perms = np.argsort(g.random((300, n)), axis=1)
    null = np.array([spearmanr(gap, d[np.ix_(p, p)][iu]).statistic for p in perms])
    assert s["p_value"] == pytest.approx((1 + np.sum(null >= obs - 1e-12)) / 301)


def test_layer_monotonicity_on_a_chain() -> None:
    rng = np.random.default_rng(0)
    acts = _acts(_chain(rng, layers=7, step=0.5), fp="a")
    r = ex.layer_monotonicity(acts, measures=["procrustes", "linear_cka"], n_permutations=99)
    df = r.to_pandas().set_index("measure")
    assert (df["spearman_depth_gap"] > 0.8).all()
    assert (df["adjacent_closest_fraction"] >= 0.85).all()
    assert r.matrix("procrustes").shape == (7, 7)
    pairs = r.pairs.to_pandas()
    assert len(pairs) == 2 * 21 and set(pairs["depth_gap"]) == set(range(1, 7))
    cka = pairs[pairs["measure"] == CKA]
    assert np.allclose(cka["dissimilarity"], 1 - cka["value"])
    by = r.by_measure().to_pandas()
    assert list(by["n_models"]) == [1, 1]
    with pytest.raises(ValueError, match="at least 3 layers"):
        ex.layer_monotonicity(acts, measures="linear_cka", layers=["l0", "l1"])


# ----------------------------------------------------------------- sensitivity


def test_delete_principal_directions_matches_sklearn_pca() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 8)) @ rng.normal(size=(8, 8))
    for k in (1, 3, 7):
        ours = ex.delete_principal_directions(x, n_removed=k)
        pca = PCA(n_components=8 - k, svd_solver="full").fit(x)
        assert np.allclose(ours, pca.inverse_transform(pca.transform(x)), atol=1e-10)
        top = ex.delete_principal_directions(x, n_removed=k, order="highest_variance_first")
        full = PCA(n_components=8, svd_solver="full").fit(x)
        resid = x - full.mean_ - (x - full.mean_) @ full.components_[:k].T @ full.components_[:k]
        assert np.allclose(top, full.mean_ + resid, atol=1e-10)
    with pytest.raises(ValueError, match="n_removed"):
        ex.delete_principal_directions(x, n_removed=8)


def test_sensitivity_known_values_and_monotone_curves() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 10)) * np.linspace(3, 0.3, 10)
    acts = _acts([x, x[:, ::-1].copy()], fp="a", labels=(x[:, 0] > 0).astype(int) + (x[:, 1] > 0))
    r = ex.sensitivity(
        acts,
        measures=["linear_cka", "procrustes", ex.layer_measure("H0:total_persistence", n_jobs=1)],
        layers=["l0"],
        fractions=(0.2, 0.5, 0.9),
        seed=0,
    )
    c = r.curves.to_pandas()
    assert set(c["n_removed"]) == {0, 2, 5, 9}  # 0 added: the probe's baseline
    # linear CKA between X and its projection on the top k directions: sqrt(sum_{i<=k} s^4 / sum s^4)
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    cka = c[c["measure"] == CKA].set_index("n_removed")
    for k in (2, 5, 9):
        assert cka.loc[k, "value"] == pytest.approx(
            np.sqrt(np.sum(s[: 10 - k] ** 4) / np.sum(s**4)), rel=1e-9
        )
    # variance removed agrees with scikit-learn's explained variance ratios
    ratio = PCA(svd_solver="full").fit(x).explained_variance_ratio_
    assert cka.loc[5, "variance_removed"] == pytest.approx(ratio[5:].sum(), rel=1e-9)
    per = r.per_layer.to_pandas().set_index("measure")
    pro = "procrustes[euclidean=False]"
    assert per.loc[pro, "monotone"] and per.loc[pro, "spearman_fraction"] == pytest.approx(1.0)
    assert per.loc[CKA, "spearman_fraction"] == pytest.approx(1.0)
    assert c.loc[c["n_removed"] == 0, "dissimilarity"].abs().max() < 1e-9
    assert c.loc[c["n_removed"] == 0, "accuracy_drop"].abs().max() == 0
    assert r.params["seed"] == 0 and r.params["order"] == "lowest_variance_first"
    assert list(r.to_pandas()["n_layers"]) == [1, 1, 1]


def test_sensitivity_functional_difference_follows_the_probe() -> None:
    """Deleting the top directions (which carry the labels) drops the probe's accuracy."""
    rng = np.random.default_rng(0)
    n = 240
    y = rng.integers(0, 3, n)
    signal = np.eye(3)[y] * 4.0
    x = np.c_[signal, 0.3 * rng.normal(size=(n, 5))] + 0.2 * rng.normal(size=(n, 8))
    r = ex.sensitivity(
        x, labels=y, measures=["procrustes"], fractions=(0.5, 0.75), order="highest_variance_first"
    )
    c = r.curves.to_pandas().set_index("n_removed")
    assert c.loc[0, "probe_accuracy"] > 0.95
    assert c.loc[6, "accuracy_drop"] > 0.4
    assert r.per_layer.to_pandas()["spearman_functional"].iloc[0] > 0.8
    r2 = ex.sensitivity(x, measures=["procrustes"], fractions=(0.5,))
    assert np.isnan(r2.curves.to_pandas()["probe_accuracy"]).all()


def test_linear_probe_matches_sklearn_pipeline() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(3)
    x = rng.normal(size=(150, 4))
    y = (x[:, 0] + 0.5 * rng.normal(size=150) > 0).astype(int)
    ours = ex.linear_probe_accuracy(x, y, seed=4)
    xs = (x - x.mean(0)) / x.std()
    a, b, ya, yb = train_test_split(xs, y, test_size=0.3, random_state=4, stratify=y)
    ref = LogisticRegression(max_iter=2000).fit(a, ya).score(b, yb)
    assert ours == pytest.approx(ref)


def test_sensitivity_bad_input() -> None:
    x = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ex.sensitivity(x, measures="procrustes", fractions=(0.5, 1.0))
    with pytest.raises(ValueError, match="order"):
        ex.sensitivity(x, measures="procrustes", order="random")
    with pytest.raises(ValueError, match="2-D"):
        ex.sensitivity(np.zeros(5), measures="procrustes")


# ------------------------------------------------------------------ statistics


def test_bootstrap_ci_agrees_with_scipy() -> None:
    from scipy.stats import bootstrap

    from tda_activations.similarity import get_measure

    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 3))
    y = x + 0.8 * rng.normal(size=(150, 3))
    r = ex.bootstrap_ci(x, y, measures="linear_cka", n_resamples=1500, seed=1)
    lo, hi = r.interval("linear_cka")
    cka = get_measure("linear_cka")
    ref = bootstrap(
        (np.arange(150),),
        lambda i: cka(x[i], y[i]),
        n_resamples=1500,
        method="percentile",
        vectorized=False,
        random_state=2,
    ).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.02) and hi == pytest.approx(ref.high, abs=0.02)
    est = r.to_pandas()["estimate"].iloc[0]
    assert lo < est < hi and est == pytest.approx(cka(x, y))
    again = ex.bootstrap_ci(x, y, measures="linear_cka", n_resamples=50, seed=1)
    assert (
        again.replicates.column("value")[:50].tolist() == r.replicates.column("value")[:50].tolist()
    )
    assert r.params["seed"] == 1


def test_bootstrap_subsampling_and_topological() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(60, 3))
    r = ex.bootstrap_ci(
        x, y, measures=[ex.layer_measure("H0:bottleneck", n_jobs=1)], n_resamples=10, n_points=40
    )
    row = r.to_pandas().iloc[0]
    assert row["n_valid"] == 10 and row["ci_low"] <= row["ci_high"]
    with pytest.raises(ValueError, match="n_points"):
        ex.bootstrap_ci(x, y, measures="linear_cka", n_points=100)
    with pytest.raises(ValueError, match="same samples"):
        ex.bootstrap_ci(x, y[:50], measures="linear_cka")


def test_permutation_test_detects_correspondence() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 4))
    related = ex.permutation_test(
        x,
        x @ rng.normal(size=(4, 4)) + 0.3 * rng.normal(size=(80, 4)),
        measures=["linear_cka", "procrustes"],
        n_permutations=99,
        seed=0,
    )
    assert np.allclose(related.to_pandas()["p_value"], 0.01)
    unrelated = ex.permutation_test(
        x, rng.normal(size=(80, 4)), measures="linear_cka", n_permutations=99
    )
    assert unrelated.to_pandas()["p_value"].iloc[0] > 0.05
    with pytest.raises(ValueError, match="not defined"):
        ex.permutation_test(x, x, measures="H1:sliced_wasserstein")
    assert ex.permutation_p_value(0.5, [0.1, 0.6, 0.7]) == pytest.approx(3 / 4)
    assert ex.permutation_p_value(0.5, [0.1, 0.6, 0.7], alternative="less") == pytest.approx(2 / 4)


# ---------------------------------------------------------------------- results


def test_results_are_frozen_and_saved(tmp_path) -> None:  # noqa: ANN001
    import pandas as pd

    rng = np.random.default_rng(0)
    base = _chain(rng, layers=4)
    models = {"a": _acts(base, fp="a"), "b": _acts(_rotate(base, rng), fp="b")}
    r = ex.layer_correspondence(models, measures="linear_cka", n_permutations=9, n_bootstrap=9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.table = None  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.table.column("accuracy")[0] = 0.0
    path = r.to_csv(tmp_path / "c.csv")
    assert pd.read_csv(path)["accuracy"].iloc[0] == r.to_pandas()["accuracy"].iloc[0]
    out = r.save(tmp_path / "run")
    assert {p.name for p in out.iterdir()} == {
        "summary.csv",
        "matches.csv",
        "matrices.csv",
        "params.json",
    }
    assert len(pd.read_csv(out / "matrices.csv")) == 2 * 16
    assert "| measure |" in r.table.to_markdown()
    assert not list(tmp_path.glob(".*partial"))


# ------------------------------------------------------------ the one protocol


def test_every_measure_speaks_one_protocol_with_one_id_and_one_label() -> None:
    from tda_activations._figure_labels import figure_label
    from tda_activations.similarity import Measure

    for m in ex.all_measures(n_jobs=1):
        assert isinstance(m, ex.PairwiseMeasure)
        assert m.label == figure_label(m.id) == figure_label(m) and "[" not in m.label
        assert "_" not in m.label
        p = m.properties
        assert (
            m.kind == p.kind and m.symmetric == p.symmetric and m.identity_value == p.identity_value
        )
        assert m.needs_correspondence == isinstance(m, Measure) == (m.family == "similarity")
        d = m.describe()
        assert d["measure"] == m.id and d["label"] == m.label and d["family"] == m.family
    assert ex.similarity_measure("linear_cka") == ex.layer_measure("linear_cka")


def test_tables_of_every_stage_join_on_the_id() -> None:
    """similarity_matrix, distance_matrix and the experiments name a measure the same way,
    and the experiments' matrices are the stages' matrices, bit for bit."""
    from tda_activations.homology import distance_matrix, persistence
    from tda_activations.similarity import similarity_matrix

    rng = np.random.default_rng(3)
    clouds = [rng.normal(size=(40, 4)) for _ in range(3)]
    acts = _acts(clouds, fp="fp")
    mono = ex.layer_monotonicity(
        acts,
        measures=["linear_cka", ex.layer_measure("H1:sliced_wasserstein", n_jobs=1)],
        n_permutations=0,
    )
    sim = similarity_matrix(acts, measure="linear_cka")
    assert mono.matrix(sim.measure).measure == sim.measure == CKA
    np.testing.assert_array_equal(mono.matrix("linear_cka").values, sim.values)
    dgms = {layer: persistence(acts.cloud(layer), maxdim=1) for layer in acts.layers}
    dm = distance_matrix(dgms, metric="sliced_wasserstein", dim=1)
    assert set(mono.to_pandas()["measure"]) == {CKA, dm.measure}
    np.testing.assert_array_equal(mono.matrix(dm.measure).values, dm.values)
    with pytest.raises(ValueError, match="unknown measure 'rsa'"):
        mono.matrix("rsa")


def test_score_matrix_is_the_one_engine() -> None:
    """Rows against themselves: identity on the diagonal, each pair scored by ``score``;
    rows against columns: every pair; a diagram distance runs the same engine."""
    from tda_activations.homology import distance_matrix, get_diagram_distance

    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(30, 3)) for _ in range(3)]
    for m in (ex.layer_measure("pwcca"), ex.layer_measure("H0:bottleneck", n_jobs=1)):
        st = m.prepare_many(clouds, names=["a", "b", "c"])
        full = m.score_matrix(st)
        assert np.all(np.diag(full) == m.identity_value)
        for i in range(3):
            for j in range(3):
                if i != j:
                    assert full[i, j] == m.score(st[i], st[j])
        cross = m.score_matrix(st[:1], st)
        assert cross.shape == (1, 3) and cross[0, 1] == full[0, 1]
    dist = get_diagram_distance("sliced_wasserstein", n_directions=10)
    dgms = [np.array([[0.0, 1.0 + k], [0.5, 2.0]]) for k in range(4)]
    ref = distance_matrix(dict(zip("abcd", dgms)), metric=dist, dim=1).values
    np.testing.assert_array_equal(dist.score_matrix(dist.prepare_many(dgms)), ref)
    assert dist.properties.kind == "distance" and not dist.properties.needs_correspondence


def test_topological_measure_declares_true_invariances() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 5))
    q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    m = ex.layer_measure("H1:bottleneck", n_jobs=1)
    assert {"orthogonal", "translation", "permutation"} == set(m.properties.invariances)
    assert m.properties.metric and not m.needs_correspondence
    assert m(x, x @ q + 3.0) < 1e-6 and m(x, x[:, ::-1]) < 1e-6
    assert m(x, 2.0 * x) > 1e-3  # not scale invariant, and not declared so
    cosine = ex.layer_measure("H1:bottleneck", persistence_options={"metric": "cosine"}, n_jobs=1)
    assert cosine.properties.invariances == frozenset()


def test_a_measure_must_prepare_something() -> None:
    class Lazy(ex.PairwiseMeasure):
        id = "lazy"
        properties = None  # type: ignore[assignment]

        def score(self, a: Any, b: Any) -> float:
            return 0.0

    with pytest.raises(TypeError, match="must implement prepare"):
        Lazy().prepare_many([np.zeros((2, 2))])
