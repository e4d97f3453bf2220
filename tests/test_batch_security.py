"""Configs are data: code a config names is checked before anything is imported or called,
and needs --trust-config unless it is an nn.Module class or a documented factory; run names
cannot leave runs/."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tda_activations.batch import (
    ConfigError,
    check_trust,
    code_references,
    config_from_dict,
    load_config,
    run_batch,
)
from tda_activations.cli.run import app

SMALL = {
    "data": {"dataset": "digits:x2", "limit": 30},
    "homology": {"maxdim": 0},
    "distances": {"enabled": False},
    "similarity": {"measures": ["linear_cka"], "cross_models": False},
    "mapper": {"enabled": False},
    "probes": {"run": []},
}
MLP = {
    "name": "net",
    "source": "tda_activations.models:MLP",
    "kwargs": {"in_features": 256, "num_classes": 10, "hidden": [8]},
}


def config(models, **sections):
    return config_from_dict({**SMALL, **sections, "models": models})


def write_toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(textwrap.dedent(body))
    return path


def os_system_config(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    cfg = write_toml(
        tmp_path,
        f"""
        [data]
        dataset = "digits:x2"
        limit = 30
        [[models]]
        name = "evil"
        source = "os:system"
        kwargs = {{ command = "touch {marker}" }}
    """,
    )
    return cfg, marker


def test_os_system_is_refused_before_anything_runs(tmp_path):
    cfg, marker = os_system_config(tmp_path)
    parsed = load_config(cfg)  # the structure is valid...
    with pytest.raises(ConfigError, match=r"models\[0\]\.source = 'os:system'.*--trust-config"):
        check_trust(parsed)
    with pytest.raises(ConfigError, match="--trust-config"):
        run_batch(cfg, out=tmp_path / "run", workers=1, report=False)
    assert not marker.exists()
    assert not (tmp_path / "run").exists()  # refused before the run directory was made


def test_cli_check_and_run_refuse_os_system(tmp_path):
    cfg, marker = os_system_config(tmp_path)
    for args in (["--check"], ["--out", str(tmp_path / "run"), "--quiet", "--workers", "1"]):
        res = CliRunner().invoke(app, [str(cfg), *args])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert "'os:system'" in lines[0] and "--trust-config" in lines[0]
    assert not marker.exists()


def test_user_module_is_not_imported_without_trust(tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    pkg = tmp_path / "mods"
    pkg.mkdir()
    (pkg / "usernet.py").write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        Path({str(marker)!r}).write_text("imported")
        import torch.nn as nn
        def make(hidden=8):
            return nn.Sequential(nn.Flatten(), nn.Linear(256, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 10))
    """)
    )
    monkeypatch.syspath_prepend(str(pkg))
    monkeypatch.delitem(sys.modules, "usernet", raising=False)
    cfg = config([{"name": "mine", "source": "usernet:make", "kwargs": {"hidden": 8}}])
    with pytest.raises(ConfigError, match=r"imports 'usernet'.*runs its code"):
        check_trust(cfg)
    refs = check_trust(cfg, trust=True)  # listed, still not imported
    assert [(r.key, r.spec, r.safe) for r in refs] == [("models[0].source", "usernet:make", False)]
    assert not marker.exists() and "usernet" not in sys.modules

    path = write_toml(
        tmp_path,
        """
        [data]
        dataset = "digits:x2"
        [[models]]
        name = "mine"
        source = "usernet:make"
    """,
    )
    res = CliRunner().invoke(app, [str(path), "--check", "--trust-config"])
    assert res.exit_code == 0, res.output
    assert "code it imports:" in res.output and "models[0].source = 'usernet:make'" in res.output
    assert not marker.exists()

    result = run_batch(cfg, out=tmp_path / "run", workers=1, report=False, trust=True)
    assert result.ok, result.summary()
    assert marker.exists()  # with trust, the user's module ran


@pytest.mark.parametrize(
    "spec",
    [
        "torch:load",  # trusted package, not a module/factory
        "tda_activations.models:load_model",  # would load code from a string
        "tda_activations.batch.runner:run_batch",
        "torch.nn:Module.__init__",
    ],
)
def test_trusted_packages_still_need_a_module_class_or_factory(spec):
    cfg = config([{"name": "m", "source": spec}])
    with pytest.raises(ConfigError, match="neither a torch.nn.Module subclass nor a documented"):
        check_trust(cfg)


def test_allowed_forms_pass_without_trust():
    cfg = config(
        [
            MLP,
            {
                "name": "built",
                "source": "tda_activations.models:build_model",
                "kwargs": {"name": "mlp"},
            },
            {"name": "tv", "source": "torchvision:resnet18"},
            {
                "name": "lin",
                "source": "torch.nn:Linear",
                "kwargs": {"in_features": 3, "out_features": 2},
            },
            {"name": "zoo", "zoo": "lenet"},
        ],
        data={"factory": "tda_activations.datasets:load_dataset", "kwargs": {"spec": "digits"}},
    )
    refs = check_trust(cfg)
    assert [(r.key, r.safe) for r in refs] == [
        ("models[0].source", True),
        ("models[1].source", True),
        ("models[2].source", True),
        ("models[3].source", True),
        ("data.factory", True),
    ]
    assert refs[1].why == "a documented factory" and refs[3].why == "a torch.nn.Module subclass"


def test_architecture_and_data_factory_are_checked():
    cfg = config([{"name": "ck", "source": "weights.pt", "architecture": "os:getcwd"}])
    with pytest.raises(ConfigError, match=r"models\[0\]\.architecture = 'os:getcwd'"):
        check_trust(cfg)
    assert (
        code_references(config([{"name": "ck", "source": "weights.pt", "architecture": "lenet"}]))
        == ()
    )
    cfg = config([MLP], data={"factory": "os:listdir", "kwargs": {"path": "/"}})
    with pytest.raises(ConfigError, match=r"data\.factory = 'os:listdir'"):
        check_trust(cfg)
    cfg = config([MLP], data={"factory": "tda_activations.models:fit"})
    with pytest.raises(ConfigError, match="data.factory"):
        check_trust(cfg)


def test_missing_attribute_of_a_trusted_module_is_a_config_error():
    with pytest.raises(ConfigError, match=r"models\[0\]\.source: 'tda_activations.models' has no"):
        check_trust(config([{"name": "m", "source": "tda_activations.models:Nope"}]))


@pytest.mark.parametrize("name", ["../../x", "/abs/run", "a/b", "..", "a\\b", ".hidden", ""])
def test_run_name_cannot_leave_runs(name):
    with pytest.raises(ConfigError, match=r"run\.name: .*not a usable run name"):
        config([MLP], run={"name": name})


def test_run_name_ok():
    assert config([MLP], run={"name": "my-run_1.2"}).run.name == "my-run_1.2"
