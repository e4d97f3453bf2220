"""Run configs: validation up front with messages naming the key, shipped configs, task keys."""

from __future__ import annotations

import textwrap

import pytest

from tda_activations.batch import (
    ConfigError,
    Planner,
    config_from_dict,
    load_config,
    shipped_configs,
)
from tda_activations.batch.config import embedded_config_path

BASE = {
    "run": {"name": "t"},
    "data": {"dataset": "digits:x2", "limit": 60},
    "models": [{"name": "mlp", "zoo": "mlp"}, {"name": "lenet", "zoo": "lenet"}],
}


def _cfg(**sections):
    data = {**BASE, **sections}
    return config_from_dict(data)


def _error(**sections) -> str:
    with pytest.raises(ConfigError) as info:
        _cfg(**sections)
    return str(info.value)


def test_shipped_configs_are_valid():
    names = {p.stem for p in shipped_configs()}
    assert {"embedded", "paper_cifar10"} <= names
    cfg = load_config(embedded_config_path())
    assert [m.label for m in cfg.instances()] == ["mlp", "lenet", "resnet18", "densenet"]
    assert cfg.data.limit == 500 and cfg.extract.reduction == "top_l2"
    # the paper config needs CIFAR-10 on disk: without it the dataset is named as the culprit
    paper = next(p for p in shipped_configs() if p.stem == "paper_cifar10")
    cfg = load_config(paper, check_files=False)
    assert len(cfg.instances()) >= 3 and cfg.data.limit == 1000
    assert cfg.homology.maxdim == 1 and cfg.distances.metrics[0].name == "sliced_wasserstein"
    assert cfg.distances.metrics[0].params == {"n_directions": 50}
    assert [m.source.rsplit("/", 1)[-1] for m in cfg.instances()][:2] == [
        "cifar_resnet18_seed0.pt",
        "cifar_resnet18_seed1.pt",
    ]
    with pytest.raises(ConfigError, match=r"data\.dataset"):
        load_config(paper)


def test_unknown_keys_are_named_with_close_matches():
    msg = _error(homology={"maxdims": 1})
    assert "homology.maxdims: unknown key" in msg and "'maxdim'" in msg
    msg = _error(extra_section={"a": 1})
    assert "extra_section: unknown key" in msg
    bad_model = {"name": "mlp", "zoo": "mlp", "seed": 3}
    msg = _error(models=[bad_model])
    assert "models[0].seed: unknown key" in msg and "'seeds'" in msg


def test_wrong_values_are_named():
    assert "homology.maxdim" in _error(homology={"maxdim": "one"})
    assert "data.limit" in _error(data={"dataset": "digits:x2", "limit": 0})
    msg = _error(models=[{"name": "x", "zoo": "lenett"}])
    assert "models[0].zoo" in msg and "'lenet'" in msg
    msg = _error(models=[{"name": "x", "zoo": "mlp", "source": "a.pt"}])
    assert "exactly one of 'zoo'" in msg
    msg = _error(models=[{"name": "bad/name", "zoo": "mlp"}])
    assert "models[0].name" in msg
    msg = _error(models=[{"name": "a", "zoo": "mlp"}, {"name": "a", "zoo": "lenet"}])
    assert "unique" in msg and "repeated: a" in msg
    msg = _error(extract={"reduction": "top_l3"})
    assert "extract.reduction" in msg and "'top_l2'" in msg
    msg = _error(distances={"metrics": ["sliced_wasserstien"]})
    assert "distances.metrics" in msg and "sliced_wasserstein" in msg
    msg = _error(distances={"metrics": [{"name": "sliced_wasserstein", "n_direction": 5}]})
    assert "distances.metrics" in msg and "n_direction" in msg
    msg = _error(similarity={"measures": ["linear_ckaa"]})
    assert "similarity.measures" in msg and "linear_cka" in msg
    msg = _error(probes={"run": ["separability"], "params": {"separability": {"levle": "fine"}}})
    assert "probes" in msg and "'level'" in msg
    msg = _error(
        experiments={"run": ["sensitivity"], "params": {"sensitivity": {"fractoins": [0.5]}}}
    )
    assert "experiments" in msg and "'fractions'" in msg
    msg = _error(homology={"maxdim": 0}, distances={"dim": 1})
    assert "distances.dim" in msg
    msg = _error(mapper={"overlap": 1.5})
    assert "mapper.overlap" in msg


def test_several_problems_are_listed_together():
    msg = _error(homology={"maxdims": 1}, mapper={"n_interval": 3})
    assert "2 problems" in msg and "homology.maxdims" in msg and "mapper.n_interval" in msg


def test_files_are_checked_and_toml_errors_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.dataset.*no/such/cifar"):
        _cfg(data={"dataset": "no/such/cifar"})
    with pytest.raises(ConfigError, match=r"data\.hierarchy"):
        _cfg(data={"dataset": "digits:x2", "hierarchy": "digitz"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nname = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(FileNotFoundError, match="embedded"):
        load_config(tmp_path / "missing.toml")


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    (tmp_path / "ckpt").mkdir()
    for s in (1, 2):
        (tmp_path / "ckpt" / f"m{s}.pt").write_bytes(b"x")
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(
        textwrap.dedent("""
        [data]
        dataset = "digits:x2"
        [[models]]
        name = "m"
        source = "ckpt/m{seed}.pt"
        architecture = "lenet"
        seeds = [1, 2]
        [[models]]
        name = "steps"
        source = ["ckpt/m1.pt", "ckpt/m2.pt"]
        architecture = "lenet"
    """)
    )
    cfg = load_config(cfg_file)
    inst = cfg.instances()
    assert [m.label for m in inst] == ["m-s1", "m-s2", "steps-m1", "steps-m2"]
    assert inst[0].source == str((tmp_path / "ckpt" / "m1.pt").resolve())
    with pytest.raises(ConfigError, match="placeholder"):
        config_from_dict(
            {"models": [{"name": "m", "source": "a.pt", "architecture": "lenet", "seeds": [1, 2]}]},
            base_dir=tmp_path,
        )


def _keys(cfg) -> dict[str, str]:
    planner = Planner(cfg)
    tasks = planner.initial()
    extracted = {label: {"layers": ["l1", "l2", "l3"]} for label in planner.labels}
    tasks += planner.expand(extracted, set(planner.labels))
    return {t.name + "|" + t.kind: t.key for t in tasks}


def test_keys_are_stable_and_change_only_downstream_of_a_parameter():
    cfg = _cfg(experiments={"run": ["monotonicity"]})
    a, b = _keys(cfg), _keys(_cfg(experiments={"run": ["monotonicity"]}))
    assert a == b and len(set(a.values())) == len(a)
    # a different number of directions: only distances (and what reads them) change
    c = _keys(
        _cfg(
            experiments={"run": ["monotonicity"]},
            distances={"metrics": [{"name": "sliced_wasserstein", "n_directions": 20}]},
        )
    )
    changed = {k.split("|")[1] for k in a if a[k] != c.get(k)}
    same = {k.split("|")[1] for k in a if a[k] == c.get(k)}
    assert changed <= {"distances", "distances-all", "figures", "experiments"}
    assert {"extract", "persistence", "similarity", "mapper", "mapper-trend", "probes"} <= same
    assert "persistence" not in changed and "distances" in changed
    # H0 instead of H1 persistence: persistence and distances change, extraction does not
    d = _keys(_cfg(homology={"maxdim": 0}, distances={"dim": 0}))
    e = _keys(_cfg())
    changed = {k.split("|")[1] for k in e if e[k] != d.get(k)}
    assert {"persistence", "distances"} <= changed
    assert not changed & {"extract", "similarity", "mapper", "probes"}
    # the data limit changes everything
    f = _keys(_cfg(data={"dataset": "digits:x2", "limit": 61}))
    assert all(e[k] != f[k] for k in e)


def test_keys_do_not_depend_on_the_order_models_finish():
    cfg = _cfg(
        experiments={"run": ["monotonicity", "specificity", "sensitivity"]},
        models=[{"name": n, "zoo": "mlp", "seeds": [0]} for n in ("a", "b", "c")],
    )

    def plan(order):
        planner = Planner(cfg)
        keys = {t.key for t in planner.initial()}
        extracted, resolved = {}, set()
        for label in order:
            extracted[label] = {"layers": ["l1", "l2", "l3"]}
            resolved.add(label)
            keys |= {t.key for t in planner.expand(dict(extracted), set(resolved))}
        return keys

    assert plan(["a", "b", "c"]) == plan(["c", "a", "b"]) == plan(["b", "c", "a"])
