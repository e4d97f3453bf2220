"""``[distances] device`` and ``[similarity] device`` in a batch run.

Validated as the extraction's device is; planned only for measures with a device engine
(so a run without a device keeps its tasks and keys); a run on the CPU device gives the
matrices of the default run to rounding.  CUDA where a GPU exists.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from tda_activations.batch import ConfigError, Planner, config_from_dict, load_matrix, run_batch

MODELS = [{"name": "mlp", "zoo": "mlp", "seeds": [0, 1]}]


def _cfg(distances=None, similarity=None):
    return config_from_dict(
        {
            "models": MODELS,
            "data": {"dataset": "digits:x2", "limit": 60},
            "distances": {"metrics": ["sliced_wasserstein", "bottleneck"], **(distances or {})},
            "similarity": {"measures": ["linear_cka", "procrustes"], **(similarity or {})},
            "mapper": {"enabled": False},
        }
    )


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("distances", "gpu0", r"distances\.device: 'gpu0' is not a device"),
        ("similarity", "cuda:x", r"similarity\.device"),
    ],
)
def test_bad_devices_name_the_key(section, value, message):
    with pytest.raises(ConfigError, match=message):
        _cfg(**{section: {"device": value}})


def _params(planner: Planner) -> dict[str, dict]:
    tasks = planner.initial()
    labels = [t.info["model"] for t in tasks]
    layers = ["features.0", "features.2", "classifier.0"]
    tasks += planner.expand({m: {"layers": layers} for m in labels}, set(labels))
    return {t.name: dict(t.params) for t in tasks}


def test_the_device_reaches_only_the_measures_with_a_device_engine():
    plain = _params(Planner(_cfg()))
    on = _params(Planner(_cfg({"device": "cuda:1"}, {"device": "cuda:1"})))
    assert set(plain) == set(on)
    assert not any("device" in p for p in plain.values())
    with_device = {n for n, p in on.items() if p.get("device") == "cuda:1"}
    # within each model and across the models, for both measures with a device engine
    assert {n.split("/")[-1] for n in with_device} == {"sliced_wasserstein", "linear_cka"}
    assert len(with_device) >= 4
    for name, params in on.items():  # bottleneck and procrustes stay on the CPU
        if name.endswith(("bottleneck", "procrustes")):
            assert "device" not in params


DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here"),
    ),
]

CONFIG = """
[run]
name = "device"
[data]
dataset = "digits:x2"
limit = 60
[[models]]
name = "mlp"
zoo = "mlp"
seeds = [0, 1]
[homology]
maxdim = 1
[distances]
metrics = ["sliced_wasserstein"]
{distances}
[similarity]
measures = ["linear_cka"]
{similarity}
[mapper]
enabled = false
"""


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
def test_a_run_on_a_device_gives_the_matrices_of_the_default_run(device, tmp_path):
    results = {}
    for name, line in (("cpu-engine", ""), ("device", f'device = "{device}"')):
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(textwrap.dedent(CONFIG).format(distances=line, similarity=line))
        res = run_batch(cfg, out=tmp_path / name, workers=1, report=False)
        assert res.ok, res.summary()
        results[name] = {
            kind: load_matrix(next((tmp_path / name / "tasks" / kind).glob("*/")))
            for kind in ("distances-all", "similarity-all")
        }
    # every block of the device run was computed there (its matrix records where)
    for kind in ("distances", "similarity"):
        blocks = sorted((tmp_path / "device" / "tasks" / kind).glob("*/"))
        assert blocks
        for block in blocks:
            assert load_matrix(block).params["device"] == device, block.name
        for block in (tmp_path / "cpu-engine" / "tasks" / kind).glob("*/"):
            assert "device" not in load_matrix(block).params
    for kind in ("distances-all", "similarity-all"):
        ref, got = results["cpu-engine"][kind], results["device"][kind]
        assert ref.row_labels == got.row_labels
        np.testing.assert_allclose(got.values, ref.values, rtol=1e-12, atol=1e-14)
