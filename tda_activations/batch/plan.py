"""From a validated config to the tasks of a run: a small DAG, grown as extractions finish.

The layers of a model are known only once it has been loaded, so the plan grows:
:meth:`Planner.initial` gives the extraction tasks (and nothing else); every time
an extraction finishes, :meth:`Planner.expand` returns the tasks that have become
known (per-layer persistence and Mapper, within-model blocks, probes, the cross
blocks with every other finished model) and, once every extraction is resolved,
the tasks over all models (combined matrices, experiments, figures).  Keys are
content hashes, so the same config always yields the same tasks.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._stage_registry import section_options, stage, stage_of_path
from .config import ModelInstance, NamedSpec, RunConfig
from .tasks import Task, make_task

__all__ = [
    "MAX_MODEL_GROUPS",
    "SUMMARY_ABOVE_MODELS",
    "Planner",
    "model_groups",
    "path_fingerprint",
]

log = logging.getLogger(__name__)


#: Runs with more models than this summarise: no figure per model, the within-model matrix
#: as mean and spread across the models, the same-depth correspondence, the all-layers matrix
#: and an MDS embedding coloured by depth, each drawn once.
SUMMARY_ABOVE_MODELS = 8

#: The cross-model stage splits the models into at most this many groups and computes each
#: pair of groups in one call of the all-pairs engine (one task): at most
#: ``G * (G + 1) / 2`` tasks per measure, whatever the number of models.
MAX_MODEL_GROUPS = 8


def model_groups(models: Sequence[str], *, max_groups: int | None = None) -> list[list[str]]:
    """Consecutive groups of models, at most ``max_groups`` of them, sizes differing by at most one.

    Parameters
    ----------
    models
        The models, in config order.
    max_groups
        The largest number of groups (default :data:`MAX_MODEL_GROUPS`).

    Returns
    -------
    list of list of str
        The groups, in order; one model per group when there are at most ``max_groups``.
    """
    n = len(models)
    k = min(n, MAX_MODEL_GROUPS if max_groups is None else max_groups)
    if k < 1 and n:
        raise ValueError(f"max_groups must be at least 1, got {max_groups}")
    bounds = [round(i * n / k) for i in range(k + 1)] if k else [0]
    return [list(models[bounds[i] : bounds[i + 1]]) for i in range(k)]


def _task(
    kind: str,
    name: str,
    func: str,
    params: Mapping[str, Any] | None = None,
    deps: Mapping[str, str] | None = None,
    **kw: Any,
) -> Task:
    """:func:`~.tasks.make_task` for a registered stage.

    ``func`` must be one of the stage's task functions and every input must come from a
    stage it depends on (see :mod:`._stage_registry`): a planner change that breaks the
    registered order fails here, at planning time.
    """
    spec = stage(kind)
    for role, path in (deps or {}).items():
        if stage_of_path(path) not in spec.after:
            raise ValueError(
                f"a {kind!r} task reads {role!r} from stage {stage_of_path(path)!r}, which is "
                f"not among the stages it depends on ({', '.join(spec.after) or 'none'})"
            )
    return make_task(kind, name, spec.task_func(func), params, deps, **kw)


def _measure_label(analysis: str, name: str, params: Mapping[str, Any], dim: int) -> str:
    """The human label of a configured measure (``figure_label``), for titles."""
    from ..plot import figure_label

    try:
        if analysis == "distances":
            from ..homology import get_diagram_distance

            return figure_label(get_diagram_distance(name, **dict(params)), dim=dim)
        from ..similarity import get_measure

        return figure_label(get_measure(name, **dict(params)))
    except (TypeError, ValueError):  # a bad option is reported by the task itself
        return figure_label(name)


def path_fingerprint(path: str | os.PathLike[str]) -> str:
    """Content hash of a file (its bytes) or a folder (names, sizes, modification times).

    Parameters
    ----------
    path
        File or folder.

    Returns
    -------
    str
        Hex digest.
    """
    p = Path(path)
    h = hashlib.blake2b(digest_size=16)
    if p.is_file():
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    elif p.is_dir():
        for f in sorted(p.rglob("*")):
            if f.is_file():
                st = f.stat()
                h.update(f"{f.relative_to(p)}|{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        return "missing"
    return h.hexdigest()


def _model_salt(inst: ModelInstance) -> dict[str, Any]:
    """What a model's weights depend on beyond its parameters."""
    import torch

    if inst.zoo:
        from ..models import DEFAULT_TRAINING

        return {
            "training": DEFAULT_TRAINING.get(inst.zoo),
            "torch": torch.__version__.split("+")[0],
        }
    src = str(inst.source)
    if Path(src).exists() or Path(src).suffix in {".pt", ".pth", ".ts", ".ckpt"}:
        return {"file": path_fingerprint(src)}
    if src.startswith(("torchvision:", "timm:")):
        pkg = src.split(":", 1)[0]
        try:
            return {"package": pkg, "version": importlib.metadata.version(pkg)}
        except importlib.metadata.PackageNotFoundError:
            return {"package": pkg, "version": None}
    return {"module_file": _module_fingerprint(src.partition(":")[0])}


def _module_fingerprint(module: str) -> str:
    """Content hash of the file of a (user) module, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    return path_fingerprint(origin) if origin else "missing"


def _data_salt(cfg: RunConfig) -> dict[str, Any]:
    spec = cfg.dataset_spec()
    out: dict[str, Any] = {}
    if cfg.data.token_npz is not None:
        out["dataset"] = path_fingerprint(cfg.resolve_path(cfg.data.token_npz))
    elif cfg.data.factory is not None:
        out["factory_module"] = _module_fingerprint(cfg.data.factory.partition(":")[0])
    elif not re.match(r"^digits(:x\d+)?$", spec):
        out["dataset"] = path_fingerprint(spec)
    if cfg.data.hierarchy and Path(cfg.resolve_path(cfg.data.hierarchy)).exists():
        out["hierarchy"] = path_fingerprint(cfg.resolve_path(cfg.data.hierarchy))
    return out


class Planner:
    """The tasks of one run config (see the module documentation).

    Parameters
    ----------
    config
        The validated config.
    """

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.instances = config.instances()
        self.labels = [m.label for m in self.instances]
        self.data_params: dict[str, Any] = {
            "dataset": config.dataset_spec(),
            "split": config.data.split,
            "limit": config.data.limit,
            "size": config.data.size,
            "hierarchy": config.resolve_path(config.data.hierarchy)
            if config.data.hierarchy
            else None,
        }
        if config.data.token_npz is not None:
            self.data_params["token_npz"] = config.resolve_path(config.data.token_npz)
        if config.data.factory is not None:
            self.data_params["factory"] = config.data.factory
            self.data_params["kwargs"] = dict(config.data.kwargs)
        self.extract_params = {**config.extract.model_dump(), "seed": config.run.seed}
        data_salt = _data_salt(config)
        self.extract_tasks: dict[str, Task] = {}
        for inst in self.instances:
            self.extract_tasks[inst.label] = _task(
                "extract",
                inst.label,
                "extract_model",
                {
                    "model": inst.model_dump(),
                    "data": self.data_params,
                    "extract": self.extract_params,
                },
                salt={"model": _model_salt(inst), "data": data_salt},
                info={"model": inst.label},
            )
        self._persistence: dict[str, dict[str, Task]] = {}
        self._mapper_trend: dict[str, Task] = {}
        self._within: dict[tuple[str, str, str], Task] = {}  # (analysis, spec label, model)
        self._cross: dict[tuple[str, str, str, str], Task] = {}  # (analysis, spec, a, b)
        self._layers: dict[str, list[str]] = {}
        self._final_done = False
        self.summarise = len(self.instances) > SUMMARY_ABOVE_MODELS

    # ------------------------------------------------------------------ helpers

    def initial(self) -> list[Task]:
        """The extraction tasks (one per model)."""
        return list(self.extract_tasks.values())

    def _homology_options(self) -> dict[str, Any]:
        opts = section_options(self.config.homology, "persistence", "persistence")
        return {**opts, "seed": self.config.run.seed}

    def _mapper_options(self) -> dict[str, Any]:
        return section_options(self.config.mapper, "mapper", "mapper_graph")

    def _experiment_measures(self) -> list[dict[str, Any]]:
        cfg = self.config
        if cfg.experiments.measures is not None:
            return [{"name": m.name, "params": dict(m.params)} for m in cfg.experiments.measures]
        out = []
        if cfg.homology.enabled and cfg.distances.enabled:
            out += [
                {"name": f"H{cfg.distances.dim}:{m.name}", "params": dict(m.params)}
                for m in cfg.distances.metrics
            ]
        if cfg.similarity.enabled:
            out += [{"name": m.name, "params": dict(m.params)} for m in cfg.similarity.measures]
        return out

    def _sensitivity_layers(self, layers: list[str]) -> list[str]:
        import fnmatch

        spec = self.config.experiments.sensitivity_layers
        if spec == "all":
            return list(layers)
        if spec == "ends":
            picks = [layers[0], layers[len(layers) // 2], layers[-1]]
            return list(dict.fromkeys(picks))
        return [l for l in layers if any(fnmatch.fnmatchcase(l, p) for p in spec)]

    def _figure(
        self,
        name: str,
        source: Task,
        *,
        title: str,
        view: str = "",
        caption: str = "",
        **params: Any,
    ) -> Task:
        """A figure task; ``caption`` (default: ``title``) is the report's caption."""
        return _task(
            "figures",
            name,
            params.pop("func", "figure_matrix"),
            {"title": title, **params},
            {"matrix": source.path},
            info={"figure_of": source.key, "title": caption or title, "view": view},
        )

    # ------------------------------------------------------------- per model

    def _device_option(self, analysis: str, spec: NamedSpec) -> dict[str, Any]:
        """The device option of a measure's tasks: ``{"device": ...}`` or nothing.

        Nothing unless the section names a device and the measure has a device engine,
        so a run without one plans the same tasks, with the same keys, as before.
        """
        device = getattr(self.config, analysis).device
        if device is None:
            return {}
        if analysis == "distances":
            from ..homology import get_diagram_distance

            capable = get_diagram_distance(spec.name, **spec.params).has_device_engine
        else:
            from ..similarity import get_measure

            capable = get_measure(spec.name, **spec.params).has_device_engine
        return {"device": device} if capable else {}

    def _model_tasks(self, label: str, layers: list[str]) -> list[Task]:
        cfg = self.config
        store = self.extract_tasks[label].path
        out: list[Task] = []
        if cfg.homology.enabled:
            opts = self._homology_options()
            per = {}
            for layer in layers:
                per[layer] = _task(
                    "persistence",
                    f"{label}/{layer}",
                    "persistence_layer",
                    {"layer": layer, "options": opts},
                    {"store": store},
                    info={"model": label, "layer": layer},
                )
            self._persistence[label] = per
            out += per.values()
            if cfg.distances.enabled:
                for spec in cfg.distances.metrics:
                    t = _task(
                        "distances",
                        f"{label}/{spec.label}",
                        "distance_block",
                        {
                            "metric": spec.name,
                            "params": spec.params,
                            "dim": cfg.distances.dim,
                            "rows": layers,
                            "row_roles": [f"r{i}" for i in range(len(layers))],
                            **self._device_option("distances", spec),
                        },
                        {f"r{i}": per[l].path for i, l in enumerate(layers)},
                        info={"model": label, "spec": spec.label, "analysis": "distances"},
                    )
                    self._within[("distances", spec.label, label)] = t
                    out.append(t)
                    if not self.summarise:
                        what = _measure_label(
                            "distances", spec.name, spec.params, cfg.distances.dim
                        )
                        out.append(
                            self._figure(
                                f"distances/{label}/{spec.label}",
                                t,
                                title=f"{label}: {what} between layers",
                            )
                        )
        if cfg.similarity.enabled:
            for spec in cfg.similarity.measures:
                t = _task(
                    "similarity",
                    f"{label}/{spec.label}",
                    "similarity_block",
                    {
                        "measure": spec.name,
                        "params": spec.params,
                        **self._device_option("similarity", spec),
                    },
                    {"a": store},
                    info={"model": label, "spec": spec.label, "analysis": "similarity"},
                )
                self._within[("similarity", spec.label, label)] = t
                out.append(t)
                if not self.summarise:
                    what = _measure_label("similarity", spec.name, spec.params, 0)
                    out.append(
                        self._figure(
                            f"similarity/{label}/{spec.label}",
                            t,
                            title=f"{label}: {what} between layers",
                        )
                    )
        if cfg.mapper.enabled:
            per_layer = []
            for layer in layers:
                per_layer.append(
                    _task(
                        "mapper",
                        f"{label}/{layer}",
                        "mapper_layer",
                        {
                            "layer": layer,
                            "options": self._mapper_options(),
                            "separation_purity": cfg.mapper.separation_purity,
                            "html": cfg.mapper.html,
                            "seed": cfg.run.seed,
                        },
                        {"store": store},
                        info={"model": label, "layer": layer},
                    )
                )
            out += per_layer
            trend_params: dict[str, Any] = {
                "layers": layers,
                "roles": [f"m{i}" for i in range(len(layers))],
            }
            trend_deps = {f"m{i}": t.path for i, t in enumerate(per_layer)}
            if cfg.mapper.html:  # the model's explorable page of every layer
                trend_params.update({"html": True, "model": label, "data": self.data_params})
                trend_deps["store"] = store
            trend = _task(
                "mapper-trend",
                label,
                "mapper_trend",
                trend_params,
                trend_deps,
                info={"model": label},
            )
            self._mapper_trend[label] = trend
            out.append(trend)
        if "sensitivity" in cfg.experiments.run and self._experiment_measures():
            chosen = self._sensitivity_layers(layers)
            sens = []
            for layer in chosen:
                sens.append(
                    _task(
                        "experiments",
                        f"sensitivity/{label}/{layer}",
                        "sensitivity_layer",
                        {
                            "layer": layer,
                            "measures": self._experiment_measures(),
                            "persistence_options": self._homology_options(),
                            "params": cfg.experiments.params.get("sensitivity", {}),
                        },
                        {"store": store},
                        info={"model": label, "layer": layer, "experiment": "sensitivity"},
                    )
                )
            out += sens
            if sens:
                out.append(
                    _task(
                        "figures",
                        f"sensitivity/{label}",
                        "figure_sensitivity",
                        {
                            "roles": [f"e{i}" for i in range(len(sens))],
                            "title": f"{label}: sensitivity to deleting principal directions",
                        },
                        {f"e{i}": t.path for i, t in enumerate(sens)},
                        info={
                            "model": label,
                            "experiment": "sensitivity",
                            "title": f"{label}: dissimilarity to the original layer as its lowest-variance "
                            "principal directions are deleted",
                        },
                    )
                )
        inst = next(i for i in self.instances if i.label == label)
        for probe in cfg.probes.run:
            out.append(
                _task(
                    "probes",
                    f"{label}/{probe}",
                    "probe_model",
                    {
                        "probe": probe,
                        "params": cfg.probes.params.get(probe, {}),
                        "model": inst.model_dump(),
                        "data": self.data_params,
                    },
                    {"store": store},
                    info={"model": label, "probe": probe},
                )
            )
        return out

    # ------------------------------------------------------------ all models

    def _block_task(
        self, analysis: str, spec: NamedSpec, rows: list[str], cols: list[str] | None
    ) -> Task:
        """One call of the all-pairs engine over two groups of models.

        Every layer of the models ``rows`` against every layer of the models ``cols``
        (``None``: against themselves); labels ``model/layer``.
        """
        cfg = self.config
        name = "+".join(rows) if len(rows) <= 2 else f"{rows[0]}..{rows[-1]}"
        if cols is not None:
            name += "~" + ("+".join(cols) if len(cols) <= 2 else f"{cols[0]}..{cols[-1]}")
        info = {
            "models": [*rows, *(cols or [])],
            "spec": spec.label,
            "analysis": analysis,
            "block": True,
        }
        if analysis == "distances":
            row_labels = [f"{m}/{l}" for m in rows for l in self._layers[m]]
            deps = {
                f"r{i}": self._persistence[m][l].path
                for i, (m, l) in enumerate((m, l) for m in rows for l in self._layers[m])
            }
            params: dict[str, Any] = {
                "metric": spec.name,
                "params": spec.params,
                "dim": cfg.distances.dim,
                "rows": row_labels,
                "row_roles": [f"r{i}" for i in range(len(row_labels))],
                **self._device_option("distances", spec),
            }
            if cols is not None:
                col_labels = [f"{m}/{l}" for m in cols for l in self._layers[m]]
                deps.update(
                    {
                        f"c{j}": self._persistence[m][l].path
                        for j, (m, l) in enumerate((m, l) for m in cols for l in self._layers[m])
                    }
                )
                params.update(
                    {"cols": col_labels, "col_roles": [f"c{j}" for j in range(len(col_labels))]}
                )
            return _task(
                "distances", f"{name}/{spec.label}", "distance_block", params, deps, info=info
            )
        deps = {f"a{i}": self.extract_tasks[m].path for i, m in enumerate(rows)}
        params = {
            "measure": spec.name,
            "params": spec.params,
            "rows": rows,
            **self._device_option("similarity", spec),
        }
        if cols is not None:
            deps.update({f"b{j}": self.extract_tasks[m].path for j, m in enumerate(cols)})
            params["cols"] = cols
        return _task(
            "similarity", f"{name}/{spec.label}", "similarity_groups", params, deps, info=info
        )

    def _cross_model_tasks(self, analysis: str, spec: NamedSpec, done: list[str]) -> list[Task]:
        """The cross-model stage of one measure.

        Blocks of model groups through the all-pairs engine, their assembly into the matrix
        over every layer of every model, and its figures.
        """
        groups = model_groups(done)
        deps: dict[str, str] = {}
        blocks: list[list[Any]] = []
        out: list[Task] = []
        for gi, ga in enumerate(groups):
            if len(ga) == 1:  # the model's own within-model task is the diagonal block
                role = f"w{gi}"
                deps[role] = self._within[(analysis, spec.label, ga[0])].path
                blocks.append([role, ga[0]])
            else:
                t = self._block_task(analysis, spec, ga, None)
                out.append(t)
                deps[f"g{gi}"] = t.path
                blocks.append([f"g{gi}", None])
            for gj in range(gi + 1, len(groups)):
                t = self._block_task(analysis, spec, ga, groups[gj])
                out.append(t)
                deps[f"x{gi}_{gj}"] = t.path
                blocks.append([f"x{gi}_{gj}", None])
        dim = self.config.distances.dim
        what = _measure_label(analysis, spec.name, spec.params, dim)
        t = _task(
            f"{analysis}-all",
            spec.label,
            "combine_blocks",
            {"models": done, "layers": {m: self._layers[m] for m in done}, "blocks": blocks},
            deps,
            info={"analysis": analysis, "spec": spec.label, "measure_label": what},
        )
        out.append(t)
        fig = f"{analysis}-all/{spec.label}"
        out.append(
            self._figure(
                f"{fig}/layers",
                t,
                title=f"{what}: every layer of every model",
                cross_models=True,
                view="layers",
            )
        )
        out.append(
            self._figure(
                f"{fig}/models",
                t,
                stem="models",
                view="models",
                title=f"{what}: model x model (best-match mean)",
                colorbar_label=f"best-match mean of {what}",
            )
        )
        if not self.summarise:
            out.append(
                self._figure(
                    f"{fig}/embedding",
                    t,
                    func="figure_embedding",
                    view="embedding",
                    title=f"{what}: MDS embedding of the layers",
                )
            )
            return out
        out.append(
            self._figure(
                f"{fig}/embedding",
                t,
                func="figure_depth_embedding",
                view="embedding",
                title=f"{what}: MDS embedding of every layer, by depth",
            )
        )
        ref = self._layers[done[0]]
        if sum(self._layers[m] == ref for m in done) >= 2 and len(ref) >= 2:
            out.append(
                self._figure(
                    f"{fig}/within_mean",
                    t,
                    stem="within_mean",
                    view="within_mean",
                    title="within a model: mean over models",
                    caption=f"{what} between layers: mean over models",
                )
            )
            out.append(
                self._figure(
                    f"{fig}/within_spread",
                    t,
                    stem="within_spread",
                    view="within_spread",
                    colorbar_label=f"std of {what}",
                    title="within a model: spread over models",
                    caption=f"{what} between layers: standard deviation over models",
                )
            )
            out.append(
                self._figure(
                    f"{fig}/cross_mean",
                    t,
                    stem="cross_mean",
                    view="cross_mean",
                    title="model A x model B: mean over pairs",
                    caption=f"{what}, layer of model A x layer of model B: mean "
                    "over pairs A != B (same depth on the diagonal)",
                )
            )
        return out

    def _final_tasks(self, done: list[str]) -> list[Task]:
        cfg = self.config
        out: list[Task] = []
        analyses: list[tuple[str, Sequence[NamedSpec], bool]] = []
        if cfg.homology.enabled and cfg.distances.enabled:
            analyses.append(("distances", cfg.distances.metrics, cfg.distances.cross_models))
        if cfg.similarity.enabled:
            analyses.append(("similarity", cfg.similarity.measures, cfg.similarity.cross_models))
        if len(done) >= 2:
            for analysis, specs, cross in analyses:
                if not cross:
                    continue
                for spec in specs:
                    out += self._cross_model_tasks(analysis, spec, done)
        exps = cfg.experiments
        if "specificity" in exps.run and len(done) >= 2 and self._experiment_measures():
            out.append(
                _task(
                    "experiments",
                    "specificity",
                    "specificity_models",
                    {
                        "models": done,
                        "measures": self._experiment_measures(),
                        "persistence_options": self._homology_options(),
                        "params": exps.params.get("specificity", {}),
                    },
                    {f"s{i}": self.extract_tasks[m].path for i, m in enumerate(done)},
                    info={"experiment": "specificity"},
                )
            )
        if "monotonicity" in exps.run and done:
            entries: list[list[str]] = []
            mono_deps: dict[str, str] = {}
            # in config order (never in the order the models happened to finish: keys must not vary)
            for model in done:
                for analysis, specs in (
                    ("distances", cfg.distances.metrics),
                    ("similarity", cfg.similarity.measures),
                ):
                    for spec in specs:
                        block = self._within.get((analysis, spec.label, model))
                        if block is not None:
                            role = f"b{len(entries)}"
                            entries.append([role, model, spec.label])
                            mono_deps[role] = block.path
            if entries:
                out.append(
                    _task(
                        "experiments",
                        "monotonicity",
                        "monotonicity_blocks",
                        {"entries": entries, "params": exps.params.get("monotonicity", {})},
                        mono_deps,
                        info={"experiment": "monotonicity"},
                    )
                )
        trends = [m for m in done if m in self._mapper_trend]
        if trends:
            out.append(
                _task(
                    "figures",
                    "mapper/trend",
                    "figure_trend",
                    {"roles": [f"t{i}" for i in range(len(trends))], "models": trends},
                    {f"t{i}": self._mapper_trend[m].path for i, m in enumerate(trends)},
                    info={"title": "Mapper trend: node purity over relative depth"},
                )
            )
        return out

    def expand(self, extracted: Mapping[str, Mapping[str, Any]], resolved: set[str]) -> list[Task]:
        """Tasks that became known.

        Parameters
        ----------
        extracted
            Model label -> metadata of its finished extraction (``"layers"``, ...).
        resolved
            Labels whose extraction is finished or failed.

        Returns
        -------
        list of Task
            New tasks (the caller ignores keys it already has).
        """
        out: list[Task] = []
        for label in self.labels:
            if label in extracted and label not in self._layers:
                self._layers[label] = list(extracted[label]["layers"])
                out += self._model_tasks(label, self._layers[label])
        if not self._final_done and set(self.labels) <= set(resolved):
            self._final_done = True
            done = [l for l in self.labels if l in self._layers]
            out += self._final_tasks(done)
        return out
