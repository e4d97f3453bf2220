"""At the desk: progress bars and cost estimates of the long calls, provenance sidecars of
every CLI output, and small frictions (flags in --help, one composition keyword, close
matches for a mistyped measure)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from tda_activations import experiments as ex
from tda_activations import probes
from tda_activations._progress import CostEstimate
from tda_activations.types import ActivationSet, ClassHierarchy

HIER = ClassHierarchy(
    class_names=("a", "b", "c", "d"),
    parents={"coarse": (0, 0, 1, 1)},
    level_names={"coarse": ("A", "B")},
)
runner = CliRunner()


def _models(n_models: int = 3, n_layers: int = 4, n: int = 30) -> dict[str, ActivationSet]:
    rng = np.random.default_rng(0)
    base = [rng.normal(size=(n, 5)) for _ in range(n_layers)]
    out = {}
    for m in range(n_models):
        out[f"s{m}"] = ActivationSet(
            clouds={f"l{i}": c + 0.05 * rng.normal(size=c.shape) for i, c in enumerate(base)},
            sample_index={f"l{i}": np.arange(n) for i in range(n_layers)},
            labels=np.arange(n) % 4,
            hierarchy=HIER,
            reduction="t",
            model_fingerprint=f"fp{m}",
            data_fingerprint="d",
        )
    return out


def _sane(est: CostEstimate, *, what: str, unit: str) -> None:
    assert est.what == what and est.unit == unit
    assert est.seconds is not None and est.seconds > 0 and math.isfinite(est.seconds)
    assert str(est).startswith(f"{what}: ")


# ------------------------------------------------------------------ cost estimates

MEASURES = ["H1:sliced_wasserstein", "linear_cka", "procrustes"]


def test_correspondence_cost_counts_every_comparison_exactly():
    models = _models()
    ms = ex.as_measures(MEASURES)
    est = ex.layer_correspondence_cost(models, measures=MEASURES)
    # 3 models: 6 ordered pairs, a symmetric measure computes 3 of them; 4 x 4 layers each
    expected = sum(16 * (3 if m.symmetric else 6) for m in ms)
    assert est.units == expected
    _sane(est, what="layer_correspondence", unit="layer-pair comparison")
    ref = ex.layer_correspondence_cost(
        models, measures=MEASURES, pairs="reference", calibrate=False
    )
    assert ref.units == 2 * 16 * len(ms) and ref.seconds is None


def test_sensitivity_and_monotonicity_costs_count_exactly():
    acts = _models(1)["s0"]
    est = ex.sensitivity_cost(acts, measures=MEASURES, layers=["l0", "l2"], fractions=(0.2, 0.5))
    assert est.units == 2 * 3 * len(MEASURES)  # layers x fractions (0 added) x measures
    _sane(est, what="sensitivity", unit="layer-pair comparison")
    ms = ex.as_measures(MEASURES)
    mono = ex.layer_monotonicity_cost(_models(2), measures=MEASURES)
    assert mono.units == 2 * sum(10 if m.symmetric else 16 for m in ms)
    _sane(mono, what="layer_monotonicity", unit="layer-pair comparison")


def test_cost_functions_check_arguments_like_the_calls():
    with pytest.raises(ValueError, match="at least 2 models"):
        ex.layer_correspondence_cost(_models(1))
    with pytest.raises(ValueError, match="did you mean"):
        ex.sensitivity_cost(_models(1)["s0"], measures=["ckaa"])


def test_long_calls_log_their_cost_first(caplog):
    with caplog.at_level(logging.INFO, logger="tda_activations"):
        ex.layer_correspondence(
            _models(), measures=["linear_cka"], n_permutations=9, n_bootstrap=9, progress=False
        )
    first = [r.getMessage() for r in caplog.records if "layer_correspondence:" in r.getMessage()]
    assert first and "layer-pair comparisons" in first[0] and "about" in first[0]


def test_default_measures_are_the_fast_few_and_all_is_every_measure():
    names = [m.name for m in ex.as_measures(None)]
    assert len(names) == len(ex.DEFAULT_MEASURES) == 4
    assert len(ex.as_measures("all")) == len(ex.all_measures()) > 20


# --------------------------------------------------------------------- progress bars


def test_bars_are_silent_when_disabled_and_off_a_terminal(capsys):
    models = _models()
    kw = {"measures": ["linear_cka"], "n_permutations": 9, "n_bootstrap": 9}
    ex.layer_correspondence(models, progress=False, **kw)
    ex.layer_correspondence(models, **kw)  # None: stderr is captured, not a terminal
    ex.sensitivity(models["s0"], measures=["linear_cka"], progress=False)
    ex.layer_monotonicity(models["s0"], measures=["linear_cka"], n_permutations=9, progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    ex.layer_correspondence(models, progress=True, **kw)
    err = capsys.readouterr().err
    assert "layer_correspondence" in err and "measure" in err


def test_layer_mapper_bar(capsys):
    from tda_activations.mapper import layer_mapper

    acts = _models(1, n=60)["s0"]
    layer_mapper(acts, progress=False, eps=2.0, min_samples=2)
    assert capsys.readouterr().err == ""
    layer_mapper(acts, progress=True, eps=2.0, min_samples=2)
    assert "layer_mapper" in capsys.readouterr().err


# -------------------------------------------------------------------------- probes


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 6 * 6, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def _images(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(n, 1, 6, 6)).astype(np.float32), np.arange(n) % 4


def test_probe_costs_and_silent_bars(capsys):
    torch.manual_seed(0)
    net = _Net()
    x, y = _images()
    est = probes.correlation_order_cost(net, (x, y), batch_size=16)
    assert est.units == 3  # input, conv, fc
    _sane(est, what="correlation_order", unit="layer")
    inv = probes.invariance_scores_cost(net, x, group="flips", batch_size=16)
    assert inv.units == 3  # 40 images in batches of 16
    _sane(inv, what="invariance_scores", unit="batch")
    md = probes.mean_dimension_profile_cost(net, x, n_rows=20, n_components=4, batch_size=64)
    assert md.units == 3  # the input sweep, then one per layer
    _sane(md, what="mean_dimension_profile", unit="sweep")
    probes.correlation_order(net, (x, y), batch_size=16, progress=False)
    probes.invariance_scores(net, x, group="flips", batch_size=16, progress=False)
    probes.mean_dimension_profile(net, x, n_rows=20, n_components=4, progress=False)
    assert capsys.readouterr().err == ""
    probes.invariance_scores(net, x, group="flips", batch_size=16, progress=True)
    assert "invariance_scores" in capsys.readouterr().err


# ------------------------------------------------------------------------ the CLI


def _store(tmp_path):
    from tda_activations.extract import save_store

    return save_store(_models(1, n=40)["s0"], tmp_path / "store")


def test_every_plain_flag_shows_as_a_flag_in_help():
    from tda_activations.cli import app

    cases = [
        ([], "--verbose"),
        (["mapper", "run"], "--html"),
        (["probes", "architecture"], "--all-nodes"),
        (["extract"], "--quiet"),
    ]
    for args, flag in cases:
        res = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        line = next(l for l in res.output.splitlines() if flag in l)
        assert "<bool>" not in line, line


def test_mistyped_measure_suggests_the_close_one(tmp_path):
    from tda_activations.cli.similarity import app

    res = runner.invoke(app, ["matrix", str(_store(tmp_path)), "--measure", "ckaa"])
    assert res.exit_code == 2
    assert "linear_cka" in res.output and "Traceback" not in res.output


def test_homology_distances_out_gets_a_provenance_sidecar(tmp_path):
    from tda_activations.cli.homology import app
    from tda_activations.io import provenance_path

    out = tmp_path / "sw.csv"
    res = runner.invoke(
        app, ["distances", str(_store(tmp_path)), "--out", str(out), "--n-jobs", "1"]
    )
    assert res.exit_code == 0, res.output
    side = json.loads(provenance_path(out).read_text())
    assert side["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert side["produced_by"].endswith("distances")
    assert side["parameters"]["metric"] == "sliced_wasserstein"
    assert side["result"]["type"].endswith(":LayerMatrix") and "sliced" in side["result"]["measure"]


def test_experiment_and_similarity_outputs_get_sidecars(tmp_path):
    from tda_activations.cli.experiment import app as exp_app
    from tda_activations.cli.similarity import app as sim_app
    from tda_activations.io import provenance_path

    store = _store(tmp_path)
    out = tmp_path / "cka.csv"
    assert runner.invoke(sim_app, ["matrix", str(store), "--out", str(out)]).exit_code == 0
    assert provenance_path(out).is_file()
    res = runner.invoke(
        exp_app,
        [
            "monotonicity",
            str(store),
            "-m",
            "linear_cka",
            "--n-permutations",
            "9",
            "--out",
            str(tmp_path / "mono"),
        ],
    )
    assert res.exit_code == 0, res.output
    side = json.loads(provenance_path(tmp_path / "mono").read_text())
    assert "summary.csv" in side["files"] and side["result"]["type"].endswith("MonotonicityResult")


# ------------------------------------------------------------ composition keyword


def test_one_keyword_for_compositions_with_a_deprecated_alias():
    import matplotlib.pyplot as plt

    from tda_activations import plot
    from tda_activations.mapper import hierarchy_compositions, mapper_graph

    acts = _models(1, n=60)["s0"]
    graph = mapper_graph(acts.cloud("l0"), eps=2.0, min_samples=2)
    comps = hierarchy_compositions(graph, acts.point_labels("l0"), HIER)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plot.mapper_pie_graph(graph, compositions=comps, level="coarse")
    with pytest.warns(FutureWarning, match="compositions="):
        ax2 = plot.mapper_pie_graph(graph, composition=comps, level="coarse")
    assert len(ax.patches) == len(ax2.patches) > 0
    with pytest.raises(TypeError, match="compositions= only"):
        plot.mapper_pie_graph(graph, compositions=comps, composition=comps)
    plt.close("all")
