"""The task functions of a run: each reads its inputs' folders and writes into its own.

Every function has the signature ``f(out, inputs, **params) -> dict``: ``out`` is
the (temporary) folder to write into, ``inputs`` maps a role to the folder of a
finished dependency, and the returned dictionary is small metadata (it travels
back to the scheduler).  They are plain module-level functions, so a task is
picklable for local processes and Dask workers alike, and each only calls the
public functions of the stage it orchestrates.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._atomic import atomic_write_text
from .._imports import import_object
from .._json import jsonable
from ..types import LayerMatrix
from .results import load_matrix, save_matrix

__all__ = [
    "combine_blocks",
    "distance_block",
    "experiment_function",
    "extract_model",
    "figure_depth_embedding",
    "figure_embedding",
    "figure_matrix",
    "figure_sensitivity",
    "figure_trend",
    "load_run_dataset",
    "load_run_model",
    "mapper_layer",
    "mapper_trend",
    "monotonicity_blocks",
    "persistence_layer",
    "probe_model",
    "seed_views",
    "sensitivity_layer",
    "similarity_block",
    "similarity_groups",
    "specificity_models",
]

log = logging.getLogger(__name__)

MatrixKind = Literal["distance", "similarity"]

STORE = "store"  # folder of the extraction store inside an extract task's folder


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, default=jsonable))


# ------------------------------------------------------------------- loading


def _data_from_source(data: Mapping[str, Any]) -> Any:
    """Token data (``token_npz``) or the result of a dataset factory (``factory``)."""
    if data.get("token_npz"):
        from ..datasets.tokens import load_token_npz

        dataset = load_token_npz(data["token_npz"], hierarchy=data.get("hierarchy"))
    else:
        dataset = import_object(str(data["factory"]))(**dict(data.get("kwargs") or {}))
        if data.get("hierarchy"):
            from ..datasets import load_hierarchy

            if not (dataclasses.is_dataclass(dataset) and hasattr(dataset, "hierarchy")):
                raise ValueError(
                    f"data.hierarchy: the data of {data['factory']!r} "
                    f"({type(dataset).__name__}) has no class hierarchy to set; "
                    "remove 'hierarchy' or return an ImageDataset/TokenDataset"
                )
            dataset = dataclasses.replace(
                dataset,  # type: ignore[type-var]
                hierarchy=load_hierarchy(data["hierarchy"]),
            )
    if data.get("limit") is not None:
        try:
            dataset = dataset.subset(range(min(int(data["limit"]), len(dataset))))
        except AttributeError:
            raise ValueError(
                f"data.limit: {type(dataset).__name__} cannot be limited; remove "
                "'limit' or limit the data in the factory"
            ) from None
    return dataset


def load_run_dataset(data: Mapping[str, Any]) -> Any:
    """The dataset of a run from its resolved ``[data]`` parameters."""
    from ..datasets import load_dataset, load_hierarchy

    if data.get("token_npz") or data.get("factory"):
        return _data_from_source(data)
    dataset = load_dataset(
        data["dataset"],
        split=data.get("split", "test"),
        limit=data.get("limit"),
        size=data.get("size"),
    )
    if data.get("hierarchy"):
        hierarchy = load_hierarchy(data["hierarchy"])
        if len(hierarchy.class_names) != dataset.n_classes:
            raise ValueError(
                f"data.hierarchy {data['hierarchy']!r} names {len(hierarchy.class_names)} classes "
                f"but the dataset {dataset.name!r} has {dataset.n_classes}; give a hierarchy of its classes"
            )
        dataset = dataclasses.replace(dataset, hierarchy=hierarchy)
    return dataset


def load_run_model(model: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Load (or train, for zoo models) one model of a run; returns ``(module, info)``."""
    if model.get("zoo"):
        from ..models import pretrained

        tm = pretrained(
            model["zoo"],
            seed=int(model["seed"]),
            width=model.get("width"),
            epochs=model.get("epochs"),
        )
        info = {
            "source": f"zoo:{model['zoo']}",
            "seed": tm.seed,
            "digits_test_accuracy": tm.test_accuracy,
            "train_accuracy": tm.train_accuracy,
            "training_seconds": tm.seconds,
            "params": tm.params,
        }
        return tm.model, info
    import torch

    from ..models import load_model

    try:
        # a model built by a class or factory (no weights file) is initialised from the run's
        # seed: the same weights in every task and every run (extraction, probes, a resume)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(model.get("seed") or 0))
            net = load_model(
                model["source"],
                architecture=model.get("architecture"),
                **dict(model.get("kwargs") or {}),
            )
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"model {model['label']!r}: {exc}") from None
    except Exception as exc:
        raise ValueError(
            f"model {model['label']!r} failed to load from {model['source']!r}: {exc}"
        ) from exc
    return net, {"source": model["source"], "seed": model.get("seed")}


# ------------------------------------------------------------------ extract


def extract_model(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    model: Mapping[str, Any],
    data: Mapping[str, Any],
    extract: Mapping[str, Any],
) -> dict[str, Any]:
    """Load a model and the data, extract per-layer clouds into ``out/store`` (zarr)."""
    from .._hashing import fingerprint_model
    from ..extract import extract as run_extract
    from ..extract import save_store
    from ._stage_registry import library_default

    net, info = load_run_model(model)
    dataset = load_run_dataset(data)
    layers = model.get("layers") or extract.get("layers") or None
    try:
        acts = run_extract(
            net,
            dataset,
            layers=layers,
            reduction=extract["reduction"],
            max_points=extract.get("max_points"),
            batch_size=extract.get("batch_size", library_default(run_extract, "batch_size")),
            io=extract.get("io", library_default(run_extract, "io")),
            seed=int(extract.get("seed", library_default(run_extract, "seed"))),
            **_extract_options(run_extract, extract),
        )
    except ValueError as exc:
        raise ValueError(f"model {model['label']!r}: {exc}") from None
    except RuntimeError as exc:  # shape mismatches between the data and the model
        raise ValueError(
            f"model {model['label']!r} cannot run on {getattr(dataset, 'name', 'the data')} "
            f"(inputs {getattr(dataset, 'image_shape', '?')}): {exc}"
        ) from None
    save_store(
        acts,
        out / STORE,
        request={"model": dict(model), "data": dict(data), "extract": dict(extract)},
    )
    accuracy = None
    if acts.predictions is not None:
        accuracy = float(np.mean(np.asarray(acts.predictions) == np.asarray(acts.labels)))
    n_params = int(sum(p.numel() for p in net.parameters()))
    meta = {
        "label": model["label"],
        "layers": list(acts.layers),
        "points": {l: int(acts.cloud(l).shape[0]) for l in acts.layers},
        "dims": {l: int(acts.cloud(l).shape[1]) for l in acts.layers},
        "accuracy": accuracy,
        "n_params": n_params,
        "model_fingerprint": fingerprint_model(net),
        "data_fingerprint": acts.data_fingerprint,
        "dataset": getattr(dataset, "name", "data"),
        "n_samples": len(dataset),
        "image_shape": list(getattr(dataset, "image_shape", ()) or ()),
        "model_class": type(net).__name__,
        **info,
    }
    _write_json(out / "model.json", meta)
    return meta


#: ``[extract]`` keys passed to ``extract`` only when set (older versions lack them).
_EXTRACT_OPTIONS = ("device", "dtype", "layout", "attention_mask", "output")


def _extract_options(fn: Any, extract: Mapping[str, Any]) -> dict[str, Any]:
    """The device/dtype/layout/mask/output options set in the config, as ``extract`` takes them.

    An option at the config's default (the library's, see ``batch._stage_registry``) is
    not set, and is left out.
    """
    import inspect

    from ._stage_registry import stage

    spec = stage("extract")
    out = {}
    for key in _EXTRACT_OPTIONS:
        value = extract.get(key)
        if value is None or value == spec.option_default(key):
            continue
        out[key] = None if value is False else value
    accepted = inspect.signature(fn).parameters
    missing = [k for k in out if k not in accepted]
    if missing:
        raise ValueError(
            f"extract.{missing[0]} is not supported by this version of "
            "tda_activations.extract; upgrade it or remove the key"
        )
    return out


def _load_acts(folder: Path) -> Any:
    from ..extract import load_store

    return load_store(folder / STORE)


# ----------------------------------------------------------------- homology


def persistence_layer(
    out: Path, inputs: Mapping[str, Path], *, layer: str, options: Mapping[str, Any]
) -> dict[str, Any]:
    """Persistence diagrams of one layer's cloud, written to ``diagrams.npz``."""
    from ..homology import persistence, save_diagrams

    acts = _load_acts(inputs["store"])
    opts = dict(options)
    if opts.get("threshold") == "enclosing":
        opts.pop("threshold")
    dg = persistence(acts.cloud(layer), label=layer, **opts)
    save_diagrams(out / "diagrams.npz", dg)
    return {
        "layer": layer,
        "bars": [len(d) for d in dg.dgms],
        "n_points": dg.n_points,
        "backend": dg.backend,
    }


def _diagrams(
    inputs: Mapping[str, Path], roles: Sequence[str], labels: Sequence[str]
) -> dict[str, Any]:
    from ..homology import load_diagrams

    return {
        label: load_diagrams(inputs[role] / "diagrams.npz") for role, label in zip(roles, labels)
    }


def distance_block(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    metric: str,
    params: Mapping[str, Any],
    dim: int,
    rows: Sequence[str],
    row_roles: Sequence[str],
    cols: Sequence[str] | None = None,
    col_roles: Sequence[str] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Diagram distances between layers: within one model (``cols`` omitted) or model A x model B.

    ``device``: the torch device of the distance's device engine (``[distances] device``).
    """
    from ..homology import cross_distance_matrix, distance_matrix

    a = _diagrams(inputs, row_roles, rows)
    if cols is None:
        m = distance_matrix(a, metric=metric, dim=dim, device=device, **dict(params))
    else:
        b = _diagrams(inputs, col_roles or (), cols)
        m = cross_distance_matrix(a, b, metric=metric, dim=dim, device=device, **dict(params))
    save_matrix(m, out)
    return {"measure": m.measure, "shape": list(m.shape)}


# --------------------------------------------------------------- similarity


def similarity_block(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    measure: str,
    params: Mapping[str, Any],
    device: str | None = None,
) -> dict[str, Any]:
    """Similarity between layers: within one model (input ``a``) or model A x model B (``a``, ``b``).

    ``device``: the torch device of the measure's device engine (``[similarity] device``).
    """
    from ..similarity import cross_similarity_matrix, similarity_matrix

    acts_a = _load_acts(inputs["a"])
    if "b" not in inputs:
        m = similarity_matrix(acts_a, measure=measure, device=device, **dict(params))
    else:
        m = cross_similarity_matrix(
            acts_a, _load_acts(inputs["b"]), measure=measure, device=device, **dict(params)
        )
    save_matrix(m, out)
    return {"measure": m.measure, "kind": m.kind, "shape": list(m.shape)}


def _stacked_acts(inputs: Mapping[str, Path], roles: Sequence[str], models: Sequence[str]) -> Any:
    """The activations of several models as one set whose layers are ``model/layer``.

    Every model must have been extracted on the same samples (same data fingerprint and
    labels); the similarity engines then check that every cloud has the same points.
    """
    first = None
    clouds: dict[str, Any] = {}
    index: dict[str, Any] = {}
    layouts: dict[str, str] = {}
    for role, model in zip(roles, models):
        acts = _load_acts(inputs[role])
        if first is None:
            first = acts
        elif acts.data_fingerprint != first.data_fingerprint or not np.array_equal(
            acts.labels, first.labels
        ):
            raise ValueError(
                f"model {model!r} was extracted on other samples than {models[0]!r}; "
                "every model of a run must see the same data"
            )
        for layer in acts.layers:
            clouds[f"{model}/{layer}"] = acts.cloud(layer)
            index[f"{model}/{layer}"] = acts.sample_index[layer]
            if layer in acts.layouts:
                layouts[f"{model}/{layer}"] = acts.layouts[layer]
    if first is None:
        raise ValueError("no models given")
    return dataclasses.replace(
        first,
        clouds=clouds,
        sample_index=index,
        layouts=layouts,
        model_fingerprint="",
        predictions=None,
    )


def similarity_groups(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    measure: str,
    params: Mapping[str, Any],
    rows: Sequence[str],
    cols: Sequence[str] | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Similarity between every layer of two groups of models.

    The models ``rows`` (inputs ``a0, a1, ...``) against the models ``cols`` (inputs
    ``b0, ...``; omitted: ``rows`` against themselves).

    One call of the all-pairs engine (each cloud prepared once), on ``device`` where given;
    labels ``model/layer``.
    """
    from ..similarity import cross_similarity_matrix, similarity_matrix

    stack_a = _stacked_acts(inputs, [f"a{i}" for i in range(len(rows))], rows)
    if cols is None:
        m = similarity_matrix(stack_a, measure=measure, device=device, **dict(params))
    else:
        stack_b = _stacked_acts(inputs, [f"b{j}" for j in range(len(cols))], cols)
        m = cross_similarity_matrix(
            stack_a, stack_b, measure=measure, device=device, **dict(params)
        )
    save_matrix(m, out)
    return {"measure": m.measure, "kind": m.kind, "shape": list(m.shape)}


def _best_match(values: np.ndarray, kind: str) -> float:
    if kind == "distance":
        return float(0.5 * (values.min(axis=1).mean() + values.min(axis=0).mean()))
    return float(0.5 * (values.max(axis=1).mean() + values.max(axis=0).mean()))


def combine_blocks(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    models: Sequence[str],
    layers: Mapping[str, Sequence[str]],
    blocks: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """Assemble blocks into one matrix over every layer of every model, and its summaries.

    ``blocks`` lists ``[role, model]`` for a within-model block (labels: that model's
    layers) and ``[role, None]`` for a block labelled ``model/layer`` (groups of models
    against groups of models, from one call of the all-pairs engine each).  Writes
    ``matrix.*`` (labels ``model/layer``), ``models.*`` (model x model, the symmetrised
    best-match average: for distances, the mean over the layers of one model of the
    distance to the closest layer of the other, averaged both ways; for similarities the
    same with the most similar layer) and, where at least two models have the same
    layers, the views across them (:func:`seed_views`).
    """
    labels = tuple(f"{m}/{l}" for m in models for l in layers[m])
    where = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    values = np.full((n, n), np.nan)
    measure, params = "", {}
    kind: MatrixKind = "distance"
    for role, model in blocks:
        blk = load_matrix(inputs[role])
        prefix = f"{model}/" if model is not None else ""
        try:
            ri = np.array([where[prefix + l] for l in blk.row_labels], dtype=np.int64)
            ci = np.array([where[prefix + l] for l in blk.col_labels], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(
                f"block {role} has the label {exc.args[0]!r}, which is no layer of the run's models"
            ) from None
        measure, kind, params = blk.measure, blk.kind, dict(blk.params)
        v = np.asarray(blk.values, dtype=float)
        values[np.ix_(ri, ci)] = v
        values[np.ix_(ci, ri)] = v.T
    if np.isnan(values).any():
        raise ValueError("some blocks of the combined matrix are missing")
    full = LayerMatrix(
        values=values,
        row_labels=labels,
        col_labels=labels,
        measure=measure,
        kind=kind,
        params={"blocks_params": params, "models": list(models)},
    )
    save_matrix(full, out, stem="matrix")
    offsets = np.cumsum([0] + [len(layers[m]) for m in models])
    summary = np.empty((len(models), len(models)))
    for i in range(len(models)):
        for j in range(i, len(models)):
            v = values[offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]]
            same = 0.0 if kind == "distance" else _best_match(v, kind)
            summary[i, j] = summary[j, i] = same if i == j else _best_match(v, kind)
    reduce = (
        "best-match mean (closest layer)"
        if kind == "distance"
        else "best-match mean (most similar layer)"
    )
    small = LayerMatrix(
        values=summary,
        row_labels=tuple(models),
        col_labels=tuple(models),
        measure=f"{reduce} of {measure}",
        kind=kind,
        params={"reduce": reduce, "layer_measure": measure},
    )
    save_matrix(small, out, stem="models")
    views = seed_views(full, models=models, layers=layers)
    for stem, view in views.items():
        if isinstance(view, LayerMatrix):
            save_matrix(view, out, stem=stem)
        else:
            atomic_write_text(out / f"{stem}.csv", view.to_csv(index=False))
    return {
        "measure": measure,
        "kind": kind,
        "n_layers": n,
        "models": list(models),
        "views": sorted(views),
    }


def seed_views(
    full: LayerMatrix, *, models: Sequence[str], layers: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Summaries over the models that share the first model's layers (seeds of one architecture).

    Parameters
    ----------
    full
        The matrix over every layer of every model (labels ``model/layer``, models in order).
    models, layers
        The models in order and each one's layers.

    Returns
    -------
    dict
        Empty unless at least two models have the first model's layers; otherwise
        ``within_mean`` and ``within_spread`` (layer x layer: the mean and the standard
        deviation across those models of their within-model matrices), ``cross_mean``
        (layer of model A x layer of model B, averaged over the ordered pairs A != B:
        its diagonal is the same-depth value) as LayerMatrix, and ``correspondence``, a
        DataFrame with one row per layer: the fraction of ordered pairs A != B in which
        the layer of B closest to (for a similarity: most similar to) the layer of A is
        the one at the same depth, and the mean value at the same depth and at other
        depths.
    """
    import pandas as pd

    ref = list(layers[models[0]])
    same = [m for m in models if list(layers[m]) == ref]
    if len(same) < 2 or len(ref) < 2:
        return {}
    where = {label: i for i, label in enumerate(full.row_labels)}
    idx = np.array([[where[f"{m}/{l}"] for l in ref] for m in same], dtype=np.int64)
    values = np.asarray(full.values, dtype=float)
    blocks = values[idx[:, :, None, None], idx[None, None, :, :]]  # (A, layer, B, layer)
    k, n_layers = len(same), len(ref)
    within = blocks[np.arange(k), :, np.arange(k), :]  # (A, layer, layer)
    off = ~np.eye(k, dtype=bool)
    cross = blocks.transpose(0, 2, 1, 3)[off]  # (pairs, layer, layer)
    kind = full.kind
    best = cross.argmin(axis=2) if kind == "distance" else cross.argmax(axis=2)
    match = (best == np.arange(n_layers)[None, :]).mean(axis=0)
    diag = np.einsum("pii->pi", cross)
    other = (cross.sum(axis=2) - diag) / max(1, n_layers - 1)
    params = {"models": same, "n_models": k, "layer_measure": full.measure}
    out: dict[str, Any] = {
        "within_mean": LayerMatrix(
            values=within.mean(axis=0),
            row_labels=tuple(ref),
            col_labels=tuple(ref),
            measure=full.measure,
            kind=kind,
            params={**params, "reduce": "mean over models"},
        ),
        "within_spread": LayerMatrix(
            values=within.std(axis=0),
            row_labels=tuple(ref),
            col_labels=tuple(ref),
            measure=f"std of {full.measure}",
            kind="distance",
            params={**params, "reduce": "standard deviation over models"},
        ),
        "cross_mean": LayerMatrix(
            values=cross.mean(axis=0),
            row_labels=tuple(ref),
            col_labels=tuple(ref),
            measure=full.measure,
            kind=kind,
            params={**params, "reduce": "mean over ordered model pairs A != B"},
        ),
        "correspondence": pd.DataFrame(
            {
                "depth": np.arange(n_layers),
                "layer": ref,
                "same_depth_match_rate": match,
                "mean_same_depth": diag.mean(axis=0),
                "mean_other_depths": other.mean(axis=0),
                "model_pairs": k * (k - 1),
            }
        ),
    }
    return out


# ------------------------------------------------------------------- mapper


def mapper_layer(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    layer: str,
    options: Mapping[str, Any],
    separation_purity: float,
    html: bool,
    seed: int = 0,
) -> dict[str, Any]:
    """Mapper graph of one layer with its class-hierarchy summary (``mapper/`` folder)."""
    import warnings

    from ..mapper import layer_mapper, save_layer_mapper

    acts = _load_acts(inputs["store"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an empty graph is reported in the table, not as noise
        res = layer_mapper(
            acts, layers=[layer], separation_purity=separation_purity, **dict(options)
        )
    save_layer_mapper(res, out / "mapper", html=html, seed=seed)
    row = res.to_pandas().reset_index().iloc[0].to_dict()
    return {
        "layer": layer,
        "n_nodes": len(res.graphs[layer].nodes),
        "summary": {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()
            if isinstance(v, (int, float, str, np.generic))
        },
    }


LAYERS_PAGE = (
    "layers.html"  # a model's explorable Mapper page of all its layers (mapper-trend task)
)


def mapper_trend(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    layers: Sequence[str],
    roles: Sequence[str],
    html: bool = False,
    model: str = "",
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The trend table of one model.

    One row per layer (depth in forward order) and the Spearman correlation of every
    column with depth.

    With ``html``, also ``layers.html``: every layer's Mapper graph on one explorable page
    (:func:`~tda_activations.mapper.to_html_layers`, cross-layer selection; thumbnails of
    the images when ``data`` gives an image dataset), read from the layer tasks' graphs and
    the extraction store (input ``store``).
    """
    import pandas as pd
    from scipy.stats import spearmanr

    rows = []
    for depth, role in enumerate(roles):
        df = pd.read_csv(inputs[role] / "mapper" / "trend.csv")
        df["depth"] = depth
        rows.append(df)
    table = pd.concat(rows, ignore_index=True).set_index("layer")
    atomic_write_text(out / "trend.csv", table.to_csv())
    stats = {}
    for col in table.columns:
        if col == "depth" or not np.issubdtype(table[col].dtype, np.number):
            continue
        v = table[col].to_numpy(dtype=float)
        ok = np.isfinite(v)
        if ok.sum() < 3 or np.ptp(v[ok]) == 0:
            stats[col] = (float("nan"), float("nan"))
        else:
            r = spearmanr(table["depth"].to_numpy()[ok], v[ok])
            stats[col] = (float(r.statistic), float(r.pvalue))
    st = pd.DataFrame.from_dict(stats, orient="index", columns=["spearman_rho", "p_value"])
    atomic_write_text(out / "trend_stats.csv", st.to_csv())
    meta: dict[str, Any] = {"layers": list(layers), "columns": [c for c in table.columns]}
    if html and "store" in inputs:
        _write_layers_page(
            out / LAYERS_PAGE, inputs, layers=layers, roles=roles, model=model, data=data
        )
        meta["layers_html"] = LAYERS_PAGE
    return meta


def _write_layers_page(
    path: Path,
    inputs: Mapping[str, Path],
    *,
    layers: Sequence[str],
    roles: Sequence[str],
    model: str,
    data: Mapping[str, Any] | None,
) -> None:
    from ..mapper import LayerMapper, compositions_from_json, from_json, to_html_layers
    from ..types import ImageDataset

    acts = _load_acts(inputs["store"])
    graphs, comps = {}, {}
    for layer, role in zip(layers, roles):
        folder = inputs[role] / "mapper"
        entry = json.loads((folder / "manifest.json").read_text())["layers"][0]
        text = (folder / entry["json"]).read_text()
        graphs[layer], comps[layer] = from_json(text), compositions_from_json(text)
    result = LayerMapper(
        layers=tuple(layers),
        graphs=graphs,
        compositions=comps,
        summaries={},
        hierarchy=acts.hierarchy,
    )
    images = None
    if data is not None:
        dataset = load_run_dataset(data)
        images = dataset if isinstance(dataset, ImageDataset) else None
    to_html_layers(
        result,
        path,
        sample_index={l: acts.sample_index[l] for l in layers},
        images=images,
        title=f"{model}: Mapper graphs of every layer" if model else None,
    )


# ------------------------------------------------------------------- probes


def probe_model(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    probe: str,
    params: Mapping[str, Any],
    model: Mapping[str, Any],
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """One probe of one model, as ``table.csv`` (and ``summary.json`` where it has one)."""
    extracted = json.loads((inputs["store"] / "model.json").read_text())
    params = dict(params)
    if probe == "separability":
        from ..probes.invariance import class_separability

        table = class_separability(_load_acts(inputs["store"]), **params).to_pandas()
    else:
        net, _ = load_run_model(model)
        dataset = load_run_dataset(data)
        if probe == "architecture":
            from ..probes.architecture import architecture_metrics

            report = architecture_metrics(net, input_shape=tuple(dataset.image_shape))
            table = report.to_pandas()
            _write_json(out / "summary.json", report.totals())
        elif probe == "mean_dimension":
            from ..probes.mean_dimension import mean_dimension_profile

            layers = [l for l in extracted["layers"] if ":" not in l]
            table = mean_dimension_profile(net, dataset, layers=layers, **params).to_pandas()
        elif probe == "correlation_order":
            from ..probes.correlation_order import correlation_order

            layers = [l for l in extracted["layers"] if ":" not in l]
            table = correlation_order(net, dataset, layers=layers, **params).to_pandas()
        elif probe == "invariance":
            from ..probes.invariance import invariance_scores

            table = invariance_scores(
                net, dataset, layers=extracted["layers"], **params
            ).to_pandas()
        else:
            from ._stage_registry import stage

            stage("probes").variant(probe)  # an unknown probe: named, with the known ones
            raise NotImplementedError(f"probe {probe!r} is registered but not run by probe_model")
    atomic_write_text(out / "table.csv", table.to_csv(index=False))
    return {"probe": probe, "rows": len(table)}


# -------------------------------------------------------------- experiments


def experiment_function(name: str) -> Any:
    """The public function of :mod:`tda_activations.experiments` behind an experiment name."""
    from ._stage_registry import stage

    return stage("experiments").variant_function(name)


def _layer_measures(
    measures: Sequence[Mapping[str, Any]], persistence_options: Mapping[str, Any]
) -> list[Any]:
    from ..experiments import layer_measure

    opts = {
        k: v for k, v in persistence_options.items() if not (k == "threshold" and v == "enclosing")
    }
    return [
        layer_measure(m["name"], persistence_options=opts, n_jobs=1, **dict(m.get("params") or {}))
        for m in measures
    ]


def sensitivity_layer(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    layer: str,
    measures: Sequence[Mapping[str, Any]],
    persistence_options: Mapping[str, Any],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Sensitivity of every measure to deleting principal directions of one layer's cloud."""
    from ..experiments import sensitivity

    acts = _load_acts(inputs["store"]).select([layer])
    res = sensitivity(acts, measures=_layer_measures(measures, persistence_options), **dict(params))
    res.save(out / "result")
    return {"layer": layer, "rows": len(res.curves.to_pandas())}


def specificity_models(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    models: Sequence[str],
    measures: Sequence[Mapping[str, Any]],
    persistence_options: Mapping[str, Any],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Layer correspondence (specificity) across the models of the run."""
    from ..experiments import layer_correspondence

    acts = {m: _load_acts(inputs[f"s{i}"]) for i, m in enumerate(models)}
    res = layer_correspondence(
        acts, measures=_layer_measures(measures, persistence_options), **dict(params)
    )
    res.save(out / "result")
    return {"models": list(models)}


def monotonicity_blocks(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    entries: Sequence[Sequence[str]],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Monotonicity statistics of the within-model matrices (dissimilarity grows with depth gap?)."""
    import pandas as pd

    from ..experiments import monotonicity_statistics

    rows = []
    for role, model, _spec in entries:
        m = load_matrix(inputs[role])
        values = np.asarray(m.values, dtype=float)
        dissim = values if m.kind == "distance" else 1.0 - values
        if values.shape[0] < 3:
            continue
        rows.append(
            {
                "model": model,
                "measure": m.measure,
                "kind": m.kind,
                "n_layers": values.shape[0],
                **monotonicity_statistics(dissim, **dict(params)),
            }
        )
    table = pd.DataFrame(rows)
    atomic_write_text(out / "table.csv", table.to_csv(index=False))
    return {"rows": len(rows)}


def figure_sensitivity(
    out: Path, inputs: Mapping[str, Path], *, roles: Sequence[str], title: str = ""
) -> dict[str, Any]:
    """Sensitivity curves of one model's tested layers (one panel per measure)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import pandas as pd

    from ..plot import paper_style, sensitivity_curve

    df = pd.concat(
        [pd.read_csv(inputs[r] / "result" / "curves.csv") for r in roles], ignore_index=True
    )
    measures = list(dict.fromkeys(df["measure"]))
    with paper_style(column="double"):
        fig, axes = plt.subplots(1, len(measures), squeeze=False)
        for ax, measure in zip(axes[0], measures):
            sensitivity_curve(
                df[df["measure"] == measure],
                ax=ax,
                x="fraction_removed",
                y="dissimilarity",
                hue="layer",
                spread=None,
                title=measure,
            )
        if title:
            fig.suptitle(title)
        files = _save(fig, out, "figure")
    return {"files": files}


# ------------------------------------------------------------------ figures


def _save(fig: Any, out: Path, stem: str) -> list[str]:
    import matplotlib.pyplot as plt

    from ..plot import save

    try:
        save(fig, out / stem, formats=("png", "pdf"))
    finally:
        plt.close(fig)
    return [f"{stem}.png", f"{stem}.pdf"]


def figure_matrix(
    out: Path,
    inputs: Mapping[str, Path],
    *,
    stem: str = "matrix",
    title: str = "",
    cross_models: bool = False,
    row_model: str | None = None,
    col_model: str | None = None,
    colorbar_label: str | None = None,
) -> dict[str, Any]:
    """Heatmap of a saved matrix as PNG and PDF (colour bar: the measure's figure label)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from ..plot import cross_model_heatmap, layer_heatmap, paper_style

    m = load_matrix(inputs["matrix"], stem=stem)
    big = m.shape[0] > 12 or cross_models
    style: dict[str, Any] = {"title": title or None}
    if colorbar_label is not None:
        style["colorbar_label"] = colorbar_label
    with paper_style(column="double" if big else "single", aspect=1.0 if big else 0.9):
        if cross_models or row_model:
            ax = cross_model_heatmap(m, row_model=row_model, col_model=col_model, **style)
        else:
            ax = layer_heatmap(m, annotate=m.shape[0] <= 6 and m.shape[1] <= 6, **style)
        files = _save(ax.figure, out, "figure")
    return {"files": files}


def figure_embedding(out: Path, inputs: Mapping[str, Path], *, title: str = "") -> dict[str, Any]:
    """MDS embedding of every layer of every model (one trajectory per model)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from ..plot import layer_embedding, paper_style

    m = load_matrix(inputs["matrix"], stem="matrix")
    with paper_style(column="double"):
        ax = layer_embedding(m, title=title or None)
        files = _save(ax.figure, out, "figure")
    return {"files": files}


def figure_depth_embedding(
    out: Path, inputs: Mapping[str, Path], *, title: str = ""
) -> dict[str, Any]:
    """MDS embedding of every layer of every model, one dot per layer coloured by depth.

    Relative depth: first layer 0, last 1. The view of many models, where trajectories
    would not read.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plot import embed_layers, paper_style

    m = load_matrix(inputs["matrix"], stem="matrix")
    df = embed_layers(m)
    depth = df["depth"].to_numpy(dtype=float)
    size = df.groupby("model", sort=False)["layer"].transform("size").to_numpy(dtype=float)
    rel = depth / np.maximum(1.0, size - 1.0)
    with paper_style(column="double"):
        fig, ax = plt.subplots()
        order = np.argsort(rel, kind="stable")
        sc = ax.scatter(
            df["x"].to_numpy()[order],
            df["y"].to_numpy()[order],
            c=rel[order],
            cmap="viridis",
            vmin=0.0,
            vmax=1.0,
            s=6,
            linewidths=0,
        )
        fig.colorbar(sc, ax=ax, label="relative depth (first layer 0, last 1)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("MDS 1")
        ax.set_ylabel("MDS 2")
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title)
        files = _save(fig, out, "figure")
    return {"files": files, "n_layers": len(df)}


_TREND_COLUMNS = ("purity_fine", "purity_coarse", "n_components", "coverage")


def figure_trend(
    out: Path, inputs: Mapping[str, Path], *, roles: Sequence[str], models: Sequence[str]
) -> dict[str, Any]:
    """The mapper trend over depth: node purity at each hierarchy level, every model (relative depth)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import pandas as pd

    from ..plot import categorical_colors, paper_style

    tables = {m: pd.read_csv(inputs[r] / "trend.csv") for r, m in zip(roles, models)}
    purity = [c for c in next(iter(tables.values())).columns if c.startswith("purity_")]
    with paper_style(column="double"):
        fig, axes = plt.subplots(1, max(1, len(purity)), squeeze=False, sharey=True)
        colors = categorical_colors(len(models))
        for ax, col in zip(axes[0], purity):
            for color, (m, df) in zip(colors, tables.items()):
                depth = df["depth"].to_numpy(dtype=float)
                rel = depth / max(1.0, depth.max())
                ax.plot(rel, df[col].to_numpy(dtype=float), marker="o", ms=2, color=color, label=m)
            ax.set_title(col.replace("_", " "))
            ax.set_xlabel("relative depth")
        axes[0][0].set_ylabel("weighted node purity")
        axes[0][-1].legend(fontsize="x-small")
        files = _save(fig, out, "figure")
    return {"files": files}
