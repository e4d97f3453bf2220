"""The batch at many models: the cross-model stage through the all-pairs engines in blocks of
model groups, the summary views of the report above the threshold, cached reruns, the
per-model Mapper pages and human figure labels."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tda_activations.batch import load_matrix, run_batch
from tda_activations.batch import plan as plan_module
from tda_activations.batch.plan import SUMMARY_ABOVE_MODELS, model_groups
from tda_activations.batch.stages import seed_views
from tda_activations.types import LayerMatrix

# one worker runs the module: its run is built once
pytestmark = pytest.mark.xdist_group("batch_scale")

N_MODELS = SUMMARY_ABOVE_MODELS + 1

# N_MODELS randomly initialised MLPs (one checkpoint per seed: the same layers), tiny clouds
MANY = f"""
[run]
name = "many"
[data]
dataset = "digits:x2"
limit = 36
hierarchy = "digits"
[[models]]
name = "m"
source = "ckpt/m{{seed}}.pt"
architecture = "tda_activations.models:MLP"
kwargs = {{ in_features = 256, num_classes = 10, hidden = [12, 8] }}
seeds = {list(range(N_MODELS))}
[homology]
maxdim = 1
[distances]
metrics = [{{ name = "sliced_wasserstein", n_directions = 10 }}]
[similarity]
measures = ["linear_cka"]
[mapper]
n_intervals = 3
[probes]
run = []
"""


def write_checkpoints(folder: Path, n: int) -> None:
    import torch

    from tda_activations.models import MLP

    (folder / "ckpt").mkdir(parents=True, exist_ok=True)
    for seed in range(n):
        torch.manual_seed(seed)
        net = MLP(256, 10, hidden=(12, 8))
        torch.save(net.state_dict(), folder / "ckpt" / f"m{seed}.pt")


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    write_checkpoints(root, N_MODELS)
    cfg = root / "many.toml"
    cfg.write_text(textwrap.dedent(MANY))
    mp = pytest.MonkeyPatch()
    mp.setattr(plan_module, "MAX_MODEL_GROUPS", 3)  # groups of 3 models: every kind of block
    try:
        result = run_batch(cfg, out=root / "run", workers=2, quiet=True)
    finally:
        mp.undo()
    assert result.ok, result.summary()
    return cfg, result


def _recs(result, kind):
    return [r for r in result.records if r.kind == kind]


def test_model_groups_cover_the_models_in_order():
    names = [f"m{i}" for i in range(23)]
    groups = model_groups(names, max_groups=8)
    assert len(groups) == 8 and [m for g in groups for m in g] == names
    assert {len(g) for g in groups} <= {2, 3}
    assert model_groups(names[:5], max_groups=8) == [[m] for m in names[:5]]
    assert model_groups([], max_groups=8) == []
    with pytest.raises(ValueError, match="max_groups"):
        model_groups(names, max_groups=0)


def test_cross_model_stage_runs_in_group_blocks_and_equals_the_per_pair_values(many):
    from tda_activations.extract import load_store
    from tda_activations.homology import cross_distance_matrix, load_diagrams
    from tda_activations.similarity import cross_similarity_matrix

    _, result = many
    run_dir = result.run_dir
    blocks = [r for r in result.records if r.info.get("block")]
    # 3 groups of 3 models: 3 diagonal blocks and 3 cross blocks per measure, not 36 pairs
    assert len([b for b in blocks if b.kind == "distances"]) == 6
    assert len([b for b in blocks if b.kind == "similarity"]) == 6
    labels = [r.info["model"] for r in _recs(result, "extract")]
    assert len(labels) == N_MODELS
    dgms, acts = {}, {}
    for r in _recs(result, "persistence"):
        dgms.setdefault(r.info["model"], {})[r.info["layer"]] = load_diagrams(
            run_dir / r.path / "diagrams.npz"
        )
    for r in _recs(result, "extract"):
        acts[r.info["model"]] = load_store(run_dir / r.path / "store")
    (sw,) = _recs(result, "distances-all")
    (cka,) = _recs(result, "similarity-all")
    full_sw = load_matrix(run_dir / sw.path)
    full_cka = load_matrix(run_dir / cka.path)
    layers = list(acts[labels[0]].layers)
    dgms = {m: {l: dgms[m][l] for l in layers} for m in labels}  # forward order
    assert full_sw.row_labels == tuple(f"{m}/{l}" for m in labels for l in layers)
    n = len(layers)
    # every model pair, as the per-pair tasks computed it before
    for i, a in enumerate(labels):
        for j, b in enumerate(labels):
            if j < i:
                continue
            ref = cross_distance_matrix(
                dgms[a], dgms[b], metric="sliced_wasserstein", n_directions=10
            )
            np.testing.assert_allclose(
                full_sw.values[i * n : (i + 1) * n, j * n : (j + 1) * n],
                ref.values,
                rtol=1e-12,
                atol=1e-15,
            )
            ref = cross_similarity_matrix(acts[a], acts[b], measure="linear_cka")
            np.testing.assert_allclose(
                full_cka.values[i * n : (i + 1) * n, j * n : (j + 1) * n],
                ref.values,
                rtol=1e-12,
                atol=1e-15,
            )
    np.testing.assert_array_equal(full_sw.values, full_sw.values.T)
    assert np.all(np.diag(full_sw.values) == 0)


def test_a_cached_rerun_executes_nothing(many):
    cfg, result = many
    mp = pytest.MonkeyPatch()
    mp.setattr(plan_module, "MAX_MODEL_GROUPS", 3)
    try:
        again = run_batch(cfg, out=result.run_dir, workers=2, quiet=True)
    finally:
        mp.undo()
    assert again.ok
    assert again.counts()["done"] == 0
    assert again.counts()["cached"] == len(result.records) == len(again.records)


def test_above_the_threshold_the_report_summarises(many):
    _, result = many
    run_dir = result.run_dir
    figures = _recs(result, "figures")
    # no figure per model: every figure is one view of all models (plus the Mapper trend)
    assert not [
        f
        for f in figures
        if "figure_of" in f.info
        and any(
            f.name.startswith(f"{k}/{m}/")
            for k in ("distances", "similarity")
            for m in (r.info["model"] for r in _recs(result, "extract"))
        )
    ]
    views = {f.info.get("view") for f in figures}
    assert {"layers", "models", "embedding", "within_mean", "within_spread", "cross_mean"} <= views
    assert len(figures) == 2 * 6 + 1
    report = (run_dir / "index.html").read_text()
    for view in (
        "mean over models",
        "standard deviation over models",
        "pairs A != B",
        "by depth",
        "Same-depth correspondence",
    ):
        assert view in report.replace("&#x27;", "'").replace("!=", "!="), view
    (sw,) = _recs(result, "distances-all")
    corr = (run_dir / sw.path / "correspondence.csv").read_text().splitlines()
    assert corr[0].startswith("depth,layer,same_depth_match_rate")
    assert len(corr) == 1 + 3  # one row per layer
    # the Mapper section is a compact table linking each model's page of every layer
    links = re.findall(r'href="([^"]*layers\.html)"', report)
    assert len(links) == N_MODELS
    assert all((run_dir / link).is_file() for link in links)


def test_figure_titles_and_headings_use_human_labels(many):
    _, result = many
    report = (result.run_dir / "index.html").read_text()
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", report)
    headings = re.findall(r"<h3>(.*?)</h3>", report)
    assert captions and headings
    for text in captions + headings:
        assert not re.search(r"\w\[[^\]]*=", text), text  # no raw ids like linear_cka[form=auto]
    assert any("linear CKA" in h for h in headings)
    assert any("sliced Wasserstein" in h for h in headings)
    for f in _recs(result, "figures"):
        params = json.loads((result.run_dir / f.path / "_task.json").read_text())["params"]
        for key in ("title", "colorbar_label"):
            assert "[" not in str(params.get(key, "")), (f.name, params)


@pytest.mark.slow
def test_below_the_threshold_each_model_keeps_its_figures_and_mapper_page(tmp_path):
    write_checkpoints(tmp_path, 2)
    cfg = tmp_path / "few.toml"
    text = MANY.replace(f"seeds = {list(range(N_MODELS))}", "seeds = [0, 1]")
    cfg.write_text(textwrap.dedent(text))
    result = run_batch(cfg, out=tmp_path / "run", workers=2, quiet=True)
    assert result.ok, result.summary()
    views = [f.info.get("view") for f in _recs(result, "figures")]
    assert "within_mean" not in views
    per_model = [f for f in _recs(result, "figures") if f.name.startswith("distances/m-s")]
    assert len(per_model) == 2
    report = (result.run_dir / "index.html").read_text()
    links = re.findall(r'href="([^"]*layers\.html)"', report)
    assert len(links) == 2 and all((result.run_dir / link).is_file() for link in links)
    page = (result.run_dir / links[0]).read_text()
    assert "<script" in page and "Content-Security-Policy" in page
    assert not re.search(r"<figcaption>[^<]*\w\[[^\]]*=", report)


def test_seed_views_against_loops():
    rng = np.random.default_rng(3)
    models, layers = ["a", "b", "c"], ["l0", "l1", "l2", "l3"]
    labels = tuple(f"{m}/{l}" for m in models for l in layers)
    x = rng.random((12, 12))
    x = x + x.T
    np.fill_diagonal(x, 0.0)
    full = LayerMatrix(values=x, row_labels=labels, col_labels=labels, measure="d", kind="distance")
    views = seed_views(full, models=models, layers={m: layers for m in models})

    def block(a, b):
        i, j = models.index(a), models.index(b)
        return x[4 * i : 4 * i + 4, 4 * j : 4 * j + 4]

    within = np.stack([block(m, m) for m in models])
    np.testing.assert_allclose(views["within_mean"].values, within.mean(axis=0))
    np.testing.assert_allclose(views["within_spread"].values, within.std(axis=0))
    pairs = [(a, b) for a in models for b in models if a != b]
    np.testing.assert_allclose(
        views["cross_mean"].values, np.mean([block(a, b) for a, b in pairs], axis=0)
    )
    corr = views["correspondence"]
    for d in range(4):
        hits = [int(np.argmin(block(a, b)[d]) == d) for a, b in pairs]
        assert corr["same_depth_match_rate"][d] == pytest.approx(np.mean(hits))
        assert corr["mean_same_depth"][d] == pytest.approx(
            np.mean([block(a, b)[d, d] for a, b in pairs])
        )
        others = [np.mean(np.delete(block(a, b)[d], d)) for a, b in pairs]
        assert corr["mean_other_depths"][d] == pytest.approx(np.mean(others))
    # a similarity picks the most similar layer
    sim = LayerMatrix(
        values=-x, row_labels=labels, col_labels=labels, measure="s", kind="similarity"
    )
    np.testing.assert_allclose(
        seed_views(sim, models=models, layers={m: layers for m in models})["correspondence"][
            "same_depth_match_rate"
        ],
        corr["same_depth_match_rate"],
    )
    # models with other layers are left out; fewer than two alike: no views
    assert (
        seed_views(
            full,
            models=models,
            layers={"a": layers, "b": layers[:3] + ["x"], "c": layers[:3] + ["y"]},
        )
        == {}
    )
