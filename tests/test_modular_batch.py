"""The modular-addition model and its data named in a run config (``transformers.toml``)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tda_activations.batch import ConfigError, config_from_dict, load_config, shipped_configs
from tda_activations.batch.config import MODULAR_FACTORY
from tda_activations.batch.trust import check_trust
from tda_activations.cli import app
from tda_activations.datasets.modular import modular_pairs
from tda_activations.extract import extract, load_store
from tda_activations.models import pretrained

runner = CliRunner()


def _shipped(stem: str):
    return next(p for p in shipped_configs() if p.stem == stem)


def test_transformers_config_names_the_model_and_its_data_as_data() -> None:
    cfg = load_config(_shipped("transformers"))
    assert [m.label for m in cfg.instances()] == [f"modular-s{s}" for s in range(5)]
    assert {m.zoo for m in cfg.instances()} == {"modular_addition"}
    assert cfg.data.factory == MODULAR_FACTORY and cfg.data.kwargs == {"p": 59}
    assert cfg.extract.reduction == "last_token" and cfg.extract.layout == "tokens"
    # a built-in name and a documented factory: nothing to trust
    assert all(ref.safe for ref in check_trust(cfg))


def test_modular_data_names_and_their_errors() -> None:
    models = [{"name": "m", "zoo": "modular_addition"}]
    assert config_from_dict({"data": {"dataset": "modular"}, "models": models}).data.kwargs == {
        "p": 59
    }
    assert config_from_dict({"data": {"dataset": "modular:13"}, "models": models}).data.kwargs == {
        "p": 13
    }
    for data, match in [
        ({"dataset": "modular:12"}, "prime"),
        ({"dataset": "modular:"}, "prime"),
        ({"dataset": "modular:59", "size": 8}, "'size' resizes images"),
        ({"dataset": "modular:59", "split": "train"}, "'split' does not apply"),
    ]:
        with pytest.raises(ConfigError, match=match):
            config_from_dict({"data": data, "models": models})
    with pytest.raises(ConfigError, match="did you mean 'modular_addition'"):
        config_from_dict({"models": [{"name": "m", "zoo": "modular_additon"}]})
    with pytest.raises(ConfigError, match="do not apply to the modular addition model"):
        config_from_dict({"models": [{"name": "m", "zoo": "modular_addition", "epochs": 3}]})


def test_the_transformers_config_checks_and_runs_end_to_end(tmp_path) -> None:
    text = _shipped("transformers").read_text()
    check = runner.invoke(app, ["run", str(_shipped("transformers")), "--check"])
    assert check.exit_code == 0, check.output
    small = text
    for old, new in [
        ("seeds = [0, 1, 2, 3, 4]", "seeds = [0]"),
        ("max_points = 500", "max_points = 60"),
        (
            'layers = ["blocks.0.attn", "blocks.0.mlp", "blocks.0"]',
            'layers = ["blocks.0.attn", "blocks.0"]',
        ),
    ]:
        assert old in small
        small = small.replace(old, new)
    (tmp_path / "small.toml").write_text(small)
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "run",
            str(tmp_path / "small.toml"),
            "--out",
            str(out),
            "--workers",
            "1",
            "--quiet",
            "--no-report",
        ],
    )
    assert result.exit_code == 0, result.output
    (store,) = out.glob("tasks/extract/modular-*/store")
    got = load_store(store)
    layers = ["blocks.0.attn", "blocks.0"]
    assert list(got.layers) == layers
    assert got.layouts == dict.fromkeys(layers, "tokens")
    # the run's points are those of the library call on the shipped seed-0 model: the '='
    # state of every pair, in a * 59 + b order
    ref = extract(
        pretrained("modular_addition", seed=0).model,
        modular_pairs(59),
        layers=layers,
        reduction="last_token",
        layout="tokens",
    )
    for layer in layers:
        assert got.cloud(layer).shape == (59 * 59, 64)
        np.testing.assert_array_equal(got.cloud(layer), ref.cloud(layer))
    np.testing.assert_array_equal(got.labels, modular_pairs(59).labels)
    assert np.array_equal(got.predictions, got.labels)  # the shipped model is always right
    assert " 0 failed, 0 skipped" in result.output
