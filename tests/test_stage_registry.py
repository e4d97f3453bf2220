"""The one registry of batch stages: config defaults, planning, scheduling and display read it.

A config default restated in ``batch/config.py`` that drifts from the library function it
feeds, a task the planner makes for an unregistered stage or with inputs from a stage it
does not depend on, or a display order that is not a topological order, fails here.
"""

from __future__ import annotations

import inspect

import pytest

from tda_activations.batch import Planner, config_from_dict, stages
from tda_activations.batch._stage_registry import (
    _LibraryDefault,
    _resolve,
    display_rank,
    library_default,
    priority,
    section_options,
    stage,
    stage_kinds,
    stage_of_path,
)
from tda_activations.batch._stage_registry import stages as registered
from tda_activations.batch.config import HomologyConfig, MapperConfig, RunConfig
from tda_activations.batch.plan import _task

FULL = {
    "run": {"name": "t"},
    "data": {"dataset": "digits:x2", "limit": 40},
    "mapper": {"html": True},
    "probes": {"run": ["architecture", "separability"]},
    "experiments": {"run": ["sensitivity", "specificity", "monotonicity"]},
}
LAYERS = ["fc1", "fc2", "fc3"]


def _section_model(name: str):
    return RunConfig.model_fields[name].annotation


def _keyword_defaults(path: str) -> dict[str, object]:
    """The signature defaults of a library function, read here independently."""
    return {
        n: p.default
        for n, p in inspect.signature(_resolve(path)).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
    }


def _derived_sections():
    return [s for s in registered() if s.library]


@pytest.mark.parametrize("spec", _derived_sections(), ids=lambda s: s.kind)
def test_every_section_default_is_the_library_default(spec):
    model = _section_model(spec.section)
    defaults = model()  # the section as a config that leaves every key out gets it
    library: dict[str, object] = {}
    for path in reversed(spec.library):  # the first function taking a key wins
        library.update(_keyword_defaults(path))
    derived = [k for k in model.model_fields if k in library]
    assert derived, f"[{spec.section}] has no key taken by {spec.library}"
    for key in derived:
        field = model.model_fields[key]
        # derived from the signature, not restated as a literal (which could drift)
        assert isinstance(field.default_factory, _LibraryDefault), (spec.section, key)
        expected = spec.batch_defaults[key][0] if key in spec.batch_defaults else library[key]
        assert getattr(defaults, key) == expected, (spec.section, key)
    # the keys that are not library options are the batch's own switches
    assert [k for k in model.model_fields if k not in library] in ([], ["enabled"])


def test_batch_defaults_differ_from_the_library_and_say_why():
    declared = [(s, k, v, why) for s in registered() for k, (v, why) in s.batch_defaults.items()]
    assert {(s.kind, k) for s, k, *_ in declared} == {
        ("persistence", "on_too_large"),
        ("mapper", "lens_params"),
    }
    for spec, key, value, why in declared:
        lib = next(p for p in spec.library if key in _keyword_defaults(p))
        assert value != library_default(lib, key), (spec.kind, key)
        assert len(why) > 30, (spec.kind, key)


def test_on_too_large_subsamples_in_a_run_but_raises_in_the_library():
    from tda_activations.homology import persistence

    assert library_default(persistence, "on_too_large") == "raise"
    assert HomologyConfig().on_too_large == "subsample"
    assert HomologyConfig(on_too_large="raise").on_too_large == "raise"
    cfg = config_from_dict({**FULL, "models": [{"name": "mlp", "zoo": "mlp"}]})
    assert Planner(cfg)._homology_options()["on_too_large"] == "subsample"
    # an empty table where the library's default is None: the same graph
    assert MapperConfig().lens_params == {}
    assert library_default("tda_activations.mapper:mapper_graph", "lens_params") is None


def test_section_defaults_are_not_shared_between_configs():
    a, b = MapperConfig(), MapperConfig()
    assert a.lens_params == b.lens_params == {} and a.lens_params is not b.lens_params


def test_section_options_are_what_the_library_function_takes():
    m = MapperConfig(n_intervals=7)
    opts = section_options(m, "mapper", "mapper_graph")
    assert list(opts) == [
        "lens",
        "lens_params",
        "n_intervals",
        "overlap",
        "min_samples",
        "eps",
        "min_intersection",
    ]
    assert opts["n_intervals"] == 7
    assert section_options(m, "mapper", "layer_mapper") == {"separation_purity": 0.9}
    assert list(section_options(HomologyConfig(), "persistence", "persistence")) == [
        "maxdim",
        "backend",
        "coeff",
        "threshold",
        "max_points",
        "on_too_large",
        "precision",
    ]
    with pytest.raises(ValueError, match="not a library function"):
        section_options(m, "mapper", "persistence")


def test_every_registered_stage_is_complete():
    for spec in registered():
        assert spec.tasks, spec.kind
        for name in spec.tasks:
            assert callable(getattr(stages, name)), (spec.kind, name)
            assert name in stages.__all__, (spec.kind, name)
            assert spec.task_func(name) == f"tda_activations.batch.stages:{name}"
        assert spec.section is None or spec.section in RunConfig.model_fields, spec.kind
        for path in spec.library:
            assert callable(_resolve(path)), path
        assert spec.description, spec.kind
    # every task function of the stages module belongs to a stage
    task_functions = {n for s in registered() for n in s.tasks}
    helpers = {"experiment_function", "load_run_dataset", "load_run_model", "seed_views"}
    assert set(stages.__all__) - helpers == task_functions


def test_display_order_is_a_topological_order_and_priorities_follow_it():
    kinds = stage_kinds()
    assert len(set(kinds)) == len(kinds) and kinds[0] == "extract"
    for i, kind in enumerate(kinds):
        spec = stage(kind)
        assert display_rank(kind) == i
        for dep in spec.after:
            assert display_rank(dep) < i, (kind, dep)
            # a task is never scheduled before the stages it reads from
            assert stage(dep).priority <= spec.priority, (kind, dep)
    # a task of an unregistered kind (tests drive the scheduler with such): listed and run last
    assert display_rank("not-a-stage") == len(kinds)
    assert priority("not-a-stage") == max(stage(k).priority for k in kinds)


def test_unknown_stage_and_duplicate_registration_are_refused():
    from tda_activations.batch import _stage_registry as reg

    with pytest.raises(ValueError, match="did you mean 'persistence'"):
        stage("persistance")
    with pytest.raises(ValueError, match="already registered"):
        reg._register(stage("extract"))
    with pytest.raises(ValueError, match="registered after it"):
        reg._register(reg.StageSpec("early", tasks=("x",), after=("later",)))
    assert "early" not in stage_kinds()


def _planned(n_models: int):
    cfg = config_from_dict(
        {**FULL, "models": [{"name": "mlp", "zoo": "mlp", "seeds": list(range(n_models))}]}
    )
    planner = Planner(cfg)
    tasks = planner.initial()
    labels = [t.info["model"] for t in tasks]
    tasks += planner.expand({m: {"layers": LAYERS} for m in labels}, set(labels))
    return planner, tasks


@pytest.mark.parametrize("n_models", [2, 9], ids=["per-model figures", "summarised"])
def test_every_planned_task_is_of_a_registered_stage(n_models):
    planner, tasks = _planned(n_models)
    assert n_models <= 8 or planner.summarise
    by_path = {t.path: t for t in tasks}
    for t in tasks:
        spec = stage(t.kind)
        module, _, func = t.func.partition(":")
        assert module == "tda_activations.batch.stages" and func in spec.tasks, t.func
        for dep in t.dep_paths:
            assert by_path[dep].kind in spec.after, (t.kind, t.name, by_path[dep].kind)
            assert stage_of_path(dep) == by_path[dep].kind
    # this config enables every analysis: the plan has a task of every stage
    assert {t.kind for t in tasks} == set(stage_kinds())
    # and uses every registered task function
    used = {(t.kind, t.func.partition(":")[2]) for t in tasks}
    expected = {(s.kind, f) for s in registered() for f in s.tasks}
    missing = expected - used
    if n_models <= 8:  # the depth embedding is drawn only for summarised runs
        assert missing == {("figures", "figure_depth_embedding")}
    else:  # and the per-model embedding only for the others
        assert missing == {("figures", "figure_embedding")}


def test_the_planner_refuses_tasks_the_registry_does_not_allow():
    with pytest.raises(ValueError, match="did you mean 'persistence'"):
        _task("persistance", "m/l", "persistence_layer")
    with pytest.raises(ValueError, match="not a task function of stage 'persistence'"):
        _task("persistence", "m/l", "mapper_layer")
    with pytest.raises(ValueError, match="not among the stages it depends on"):
        _task("distances", "m/x", "distance_block", {}, {"r0": "tasks/extract/m-abc"})
    t = _task("persistence", "m/l", "persistence_layer", {}, {"store": "tasks/extract/m-abc"})
    assert t.func == "tda_activations.batch.stages:persistence_layer"


def test_the_runner_and_report_keep_no_list_of_stages():
    import tda_activations.batch.report as report
    import tda_activations.batch.runner as runner

    for module in (runner, report):
        source = inspect.getsource(module)
        assert '"mapper-trend",\n' not in source and "_PRIORITY" not in source
        assert "_KIND_ORDER" not in source and "_STAGE_ORDER" not in source


def test_probes_and_experiments_are_the_variants_of_their_stage():
    from tda_activations.batch import ConfigError
    from tda_activations.experiments import layer_correspondence

    for kind in ("probes", "experiments"):
        spec = stage(kind)
        assert spec.variants, kind
        for name, variant in spec.variants.items():
            params = inspect.signature(spec.variant_function(name)).parameters
            assert set(variant.reserved) <= set(params), (kind, name)
    assert stages.experiment_function("specificity") is layer_correspondence
    source = inspect.getsource(stages.probe_model)
    for name in stage("probes").variants:  # every registered probe is run by the task
        assert f'probe == "{name}"' in source, name
    base = {**FULL, "models": [{"name": "mlp", "zoo": "mlp"}]}
    with pytest.raises(ConfigError, match="unknown probe 'architectur'.*'architecture'"):
        config_from_dict({**base, "probes": {"run": ["architectur"]}})
    with pytest.raises(ConfigError, match="unknown experiment 'monotony'"):
        config_from_dict({**base, "experiments": {"run": ["monotony"]}})
    with pytest.raises(ConfigError, match="params.sensitivity: 'layers' is set by the run"):
        config_from_dict({**base, "experiments": {"params": {"sensitivity": {"layers": ["a"]}}}})
    with pytest.raises(ConfigError, match="params.separability: unknown parameter 'levle'"):
        config_from_dict({**base, "probes": {"params": {"separability": {"levle": 1}}}})
