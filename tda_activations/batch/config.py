"""The run config (TOML): models, data, layers, reductions and analyses, validated up front.

A config is read with :func:`load_config` (a TOML file) or :func:`config_from_dict`;
both return a frozen :class:`RunConfig` or raise :class:`ConfigError` whose message
names every offending key (``models[1].zoo: unknown zoo model 'lenett': did you mean
'lenet'?``).  Nothing runs before the config is valid.

What is checked up front: unknown keys (with close matches), types and ranges,
names of zoo models, reductions, diagram distances, similarity measures, probes
and experiments, the parameters of each analysis against the function that will
receive them, that the dataset and the hierarchy exist.  What is *not* checked up
front, because it concerns one model only and the others should still run: that
a model file exists or loads, and that its layers exist; those fail the model's
extraction task with a clear message and the rest of the run completes.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._stage_registry import library_option, stage

__all__ = [
    "ConfigError",
    "DataConfig",
    "DistancesConfig",
    "ExperimentsConfig",
    "ExtractConfig",
    "HomologyConfig",
    "MapperConfig",
    "ModelInstance",
    "ModelSpec",
    "ProbesConfig",
    "RunConfig",
    "RunSection",
    "SimilarityConfig",
    "config_from_dict",
    "embedded_config_path",
    "load_config",
    "shipped_configs",
]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ConfigError(ValueError):
    """A run config is invalid; the message names each offending key and what is wrong."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _kwargs_check(
    fn: Callable[..., Any], params: Mapping[str, Any], *, what: str, reserved: tuple[str, ...] = ()
) -> None:
    """Raise ValueError if ``params`` has a key that ``fn`` does not take as a keyword."""
    sig = inspect.signature(fn)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    names = [
        n
        for n, p in sig.parameters.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    names = [n for n in names if n not in reserved]
    for key in params:
        if key in reserved:
            raise ValueError(f"{what}: {key!r} is set by the run itself; remove it")
        if key not in names and not accepts_any:
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
            hint = (
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else f"known: {', '.join(names)}"
            )
            raise ValueError(f"{what}: unknown parameter {key!r}; {hint}")


# --------------------------------------------------------------------------- sections


class RunSection(_Section):
    """``[run]``: name, description, default output directory, seed."""

    name: str = "run"
    description: str = ""
    out: str | None = None
    seed: int = 0

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v) or v in (".", ".."):
            raise ValueError(
                f"{v!r} is not a usable run name: it names the folder runs/<name>, so use only "
                "letters, digits, '_', '-', '.' (no '..', no '/', not an absolute path); "
                "to write elsewhere give [run] out or --out"
            )
        return v


#: ``modular:<p>``: every sequence ``a, b, =`` of modular addition mod a prime ``p``.
_MODULAR_DATA = re.compile(r"^modular(?::(.*))?$")

#: The documented factory a ``modular:<p>`` dataset name stands for (no trust needed).
MODULAR_FACTORY = "tda_activations.datasets.modular:modular_pairs"


def _modular_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """``dataset = "modular:59"`` -> the factory :data:`MODULAR_FACTORY` with ``p = 59``."""
    name = str(data["dataset"])
    text = _MODULAR_DATA.match(name).group(1)  # type: ignore[union-attr]
    p = 59 if text is None else int(text) if text.isdigit() else None
    if p is None or p < 3 or any(p % d == 0 for d in range(2, int(p**0.5) + 1)):
        raise ValueError(f"{name!r}: write 'modular:<p>' with a prime p >= 3 (e.g. 'modular:59')")
    for key, why in (
        ("size", "resizes images"),
        ("split", "does not apply: it is every pair"),
        ("kwargs", "goes with 'factory'"),
    ):
        if key in data:
            raise ValueError(f"{name!r} is every (a, b) pair of modular addition; '{key}' {why}")
    return {**data, "dataset": None, "factory": MODULAR_FACTORY, "kwargs": {"p": p}}


class DataConfig(_Section):
    """``[data]``: the data every model sees, and its class hierarchy.

    Exactly one of:

    * ``dataset``: anything :func:`~tda_activations.datasets.load_dataset` accepts
      (``"digits:x2"``, the default; a CIFAR directory, an image folder, an ``.npz``), or
      ``"modular:<p>"``: the ``p**2`` token sequences ``a, b, =`` of modular addition
      (:func:`~tda_activations.datasets.modular.modular_pairs`, which it stands for: the
      validated config holds that ``factory`` with ``kwargs = {p = ...}``);
    * ``token_npz``: token data (``input_ids``, ``attention_mask``, labels) in the
      ``.npz`` layout of :func:`tda_activations.datasets.tokens.load_token_npz`;
    * ``factory``: a ``module:callable`` returning a dataset, called with ``kwargs``
      (a documented factory of ``tda_activations``, or, with trust, any callable:
      see :mod:`tda_activations.batch.trust`).
    """

    dataset: str | None = "digits:x2"
    token_npz: str | None = None
    factory: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    split: Literal["test", "train"] = "test"
    limit: int | None = Field(default=None, ge=1)
    size: int | None = Field(default=None, ge=1)
    hierarchy: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_dataset(cls, data: Any) -> Any:
        if (
            isinstance(data, Mapping)
            and isinstance(data.get("dataset"), str)
            and (_MODULAR_DATA.match(data["dataset"]))
            and not {"factory", "token_npz"} & set(data)
        ):
            return _modular_data(data)
        if (
            isinstance(data, Mapping)
            and "dataset" not in data
            and (data.get("token_npz") is not None or data.get("factory") is not None)
        ):
            return {**data, "dataset": None}
        return data

    @field_validator("factory")
    @classmethod
    def _factory(cls, v: str | None) -> str | None:
        if v is not None:
            module, _, attr = v.partition(":")
            if (
                not module
                or not attr
                or not all(p.isidentifier() for p in [*module.split("."), *attr.split(".")])
            ):
                raise ValueError(f"{v!r} is not 'package.module:callable'")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        given = [k for k in ("dataset", "token_npz", "factory") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'dataset' (a name or path), 'token_npz' (token data) and "
                f"'factory' ('module:callable'); got {', '.join(given) or 'none'}"
            )
        if self.kwargs and self.factory is None:
            raise ValueError("'kwargs' goes with 'factory' (the arguments of the callable)")
        if self.token_npz is not None and self.size is not None:
            raise ValueError("'size' resizes images; it does not apply to 'token_npz'")
        return self


class ModelSpec(_Section):
    """``[[models]]``: one architecture, expanded to one model per seed or checkpoint.

    Exactly one of ``zoo`` (a zoo name, trained on the embedded digits and cached, or
    ``"modular_addition"``, the transformer trained on modular addition: see
    :func:`~tda_activations.models.pretrained_modular_addition`) and ``source`` (anything :func:`~tda_activations.models.load_model` accepts: an
    ``package.module:callable`` path, a TorchScript file, a ``state_dict`` checkpoint
    with ``architecture``, ``torchvision:NAME`` or ``timm:NAME``).  ``source`` may be a
    list (training checkpoints: one model each) and may contain ``{seed}``, expanded
    for every entry of ``seeds``.
    """

    name: str
    zoo: str | None = None
    source: str | list[str] | None = None
    architecture: str | None = None
    kwargs: dict[str, Any] = Field(default_factory=dict)
    seeds: list[int] | None = None
    width: float | None = Field(default=None, gt=0)
    epochs: int | None = Field(default=None, ge=1)
    layers: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _SAFE_NAME.match(v):
            raise ValueError(
                f"{v!r} is not a usable model name: use letters, digits, '_', '-', '.' "
                "(it names folders and figure labels)"
            )
        return v

    @field_validator("zoo")
    @classmethod
    def _zoo(cls, v: str | None) -> str | None:
        if v is not None:
            from ..models import ZOO
            from ..models.training import MODULAR
            from ..types import unknown_name_error

            if v not in ZOO and v != MODULAR:
                raise unknown_name_error("zoo model", v, [*ZOO, MODULAR])
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if (self.zoo is None) == (self.source is None):
            raise ValueError(
                f"model {self.name!r}: give exactly one of 'zoo' (a zoo name) and 'source' "
                "(import path, TorchScript or checkpoint file, torchvision:/timm: name)"
            )
        if self.zoo is not None and (self.kwargs or self.architecture):
            raise ValueError(
                f"model {self.name!r}: 'kwargs' and 'architecture' go with 'source', not with 'zoo'"
            )
        if self.zoo == "modular_addition" and (self.width is not None or self.epochs is not None):
            raise ValueError(
                f"model {self.name!r}: 'width' and 'epochs' do not apply to the "
                "modular addition model (it is trained at its fixed defaults)"
            )
        if self.source is not None and (self.width is not None or self.epochs is not None):
            raise ValueError(f"model {self.name!r}: 'width' and 'epochs' only apply to zoo models")
        if isinstance(self.source, list):
            if not self.source:
                raise ValueError(f"model {self.name!r}: 'source' is an empty list")
            if self.seeds is not None:
                raise ValueError(
                    f"model {self.name!r}: give either a list of checkpoints in 'source' or "
                    "'seeds', not both"
                )
        if self.seeds is not None:
            if not self.seeds:
                raise ValueError(f"model {self.name!r}: 'seeds' is empty")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"model {self.name!r}: 'seeds' has repeated values")
            if isinstance(self.source, str) and len(self.seeds) > 1 and "{seed}" not in self.source:
                raise ValueError(
                    f"model {self.name!r}: several seeds but 'source' has no '{{seed}}' "
                    "placeholder, so every seed would load the same model"
                )
        if self.layers is not None and not self.layers:
            raise ValueError(f"model {self.name!r}: 'layers' is empty (omit it for the default)")
        return self


_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?|mps|xpu(:\d+)?)$")


def _checked_device(v: str | None) -> str | None:
    """A device name's form (whether it exists is checked where the task runs)."""
    if v is not None and not _DEVICE.match(v):
        raise ValueError(f"{v!r} is not a device: give 'cpu', 'cuda', 'cuda:<index>' or 'mps'")
    return v


class ExtractConfig(_Section):
    """``[extract]``: layers, reduction to point clouds, points per layer, device.

    ``layout`` is one layout for every layer or a table of layer glob -> layout
    (``{ "blocks.*" = "tokens" }``); omitted, each layer's layout is inferred.
    ``attention_mask`` names the input that marks padding tokens (``false``: none).
    ``output`` picks the model output used for predictions (a key such as
    ``"logits"`` or a tuple index).  ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``,
    ``"mps"``; default the model's) and ``dtype`` (autocast ``"bfloat16"`` /
    ``"float16"``) choose where and how the models run.  Every key is a parameter of
    :func:`~tda_activations.extract.extract`, with its default (read from its signature).
    """

    layers: list[str] | None = library_option("extract", "layers")
    reduction: str = library_option("extract", "reduction")
    max_points: int | None = library_option("extract", "max_points", ge=1)
    batch_size: int = library_option("extract", "batch_size", ge=1)
    io: Literal["output", "input"] = library_option("extract", "io")
    device: str | None = library_option("extract", "device")
    dtype: Literal["bfloat16", "float16"] | None = library_option("extract", "dtype")
    layout: str | dict[str, str] | None = library_option("extract", "layout")
    attention_mask: str | Literal[False] = library_option("extract", "attention_mask")
    output: str | int | None = library_option("extract", "output")

    @field_validator("device")
    @classmethod
    def _device(cls, v: str | None) -> str | None:
        return _checked_device(v)

    @field_validator("layout")
    @classmethod
    def _layout(cls, v: str | dict[str, str] | None) -> str | dict[str, str] | None:
        from .._hooks import LAYOUTS
        from ..types import unknown_name_error

        if v is None:
            return v
        if isinstance(v, str):
            if v not in LAYOUTS:
                raise unknown_name_error("layout", v, LAYOUTS)
            return v
        if not v:
            raise ValueError("the layout table is empty: omit it to infer every layer's layout")
        for pattern, layout in v.items():
            if layout not in LAYOUTS:
                raise ValueError(f"[{pattern!r}]: {unknown_name_error('layout', layout, LAYOUTS)}")
        return v

    @field_validator("attention_mask")
    @classmethod
    def _mask(cls, v: str | bool) -> str | bool:
        if v is True or (isinstance(v, str) and not v.isidentifier()):
            raise ValueError(
                "give the name of the input holding the padding mask "
                "(default 'attention_mask'), or false for none"
            )
        return v

    @field_validator("output")
    @classmethod
    def _output(cls, v: str | int | None) -> str | int | None:
        if isinstance(v, str) and not v:
            raise ValueError("'output' is empty: give a key such as 'logits' or an index")
        if isinstance(v, int) and v < 0:
            raise ValueError(f"'output' index must be >= 0, got {v}")
        return v

    @field_validator("reduction")
    @classmethod
    def _reduction(cls, v: str) -> str:
        from ..extract import REDUCTIONS
        from ..types import unknown_name_error

        if v not in REDUCTIONS:
            raise unknown_name_error("reduction", v, REDUCTIONS)
        return v

    @field_validator("layers")
    @classmethod
    def _layers(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and not v:
            raise ValueError("'layers' is empty: omit it to take every conv and linear layer")
        return v


class HomologyConfig(_Section):
    """``[homology]``: Vietoris-Rips persistence of every layer's cloud.

    Every key but ``enabled`` is a parameter of :func:`~tda_activations.homology.persistence`,
    with its default (read from its signature), except ``on_too_large = "subsample"``: a run
    over many models subsamples a layer too large for memory instead of failing it.
    """

    enabled: bool = True
    maxdim: int = library_option("persistence", "maxdim", ge=0, le=3)
    backend: Literal["auto", "ripser", "gudhi", "giotto-ph"] = library_option(
        "persistence", "backend"
    )
    coeff: int = library_option("persistence", "coeff", ge=2)
    threshold: float | Literal["enclosing"] = library_option("persistence", "threshold")
    max_points: int | None = library_option("persistence", "max_points", ge=2)
    #: ``"subsample"`` where the library raises: see the ``persistence`` stage's batch_defaults
    on_too_large: Literal["raise", "subsample"] = library_option("persistence", "on_too_large")
    precision: Literal["float32", "float64"] = library_option("persistence", "precision")


def _named_items(value: Any, *, what: str) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append({"name": item, "params": {}})
        elif isinstance(item, Mapping):
            if "name" not in item:
                raise ValueError(
                    f"{what}[{i}]: a table needs a 'name' key, e.g. {{name = \"...\"}}"
                )
            params = {k: v for k, v in item.items() if k != "name"}
            out.append({"name": str(item["name"]), "params": params})
        else:
            raise ValueError(f"{what}[{i}]: give a name or a table with 'name' and parameters")
    return out


class NamedSpec(_Section):
    """A registry name with parameters (``"linear_cka"`` or ``{name = "cka", debiased = true}``)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """A file-name-safe label: the name, then the parameters."""
        if not self.params:
            return self.name
        extra = "-".join(f"{k}{v}" for k, v in sorted(self.params.items()))
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.name}-{extra}")


def _checked_specs(value: Any, *, what: str, build: Any) -> list[dict[str, Any]]:
    """Named specs whose registry entry ``build(name, **params)`` accepts them, listed once each."""
    items = _named_items(value, what=what)
    for i, item in enumerate(items):
        try:
            build(item["name"], **item["params"])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{what}[{i}]: {exc}") from None
    if len({NamedSpec(**it).label for it in items}) != len(items):
        raise ValueError(f"the same entry is listed twice in {what}")
    return items


class DistancesConfig(_Section):
    """``[distances]``: distances between the diagrams of layers, within and across models.

    ``device`` (``"cuda"``, ``"cuda:1"``, ...; default none: the CPU engine) computes the
    sliced-Wasserstein matrices on a torch device (see
    :func:`~tda_activations.homology.distance_matrix`); it is part of the tasks' keys,
    since a device sums in its own order.
    """

    enabled: bool = True
    dim: int = Field(default=1, ge=0)
    metrics: list[NamedSpec] = Field(default_factory=lambda: [NamedSpec(name="sliced_wasserstein")])
    cross_models: bool = True
    device: str | None = None

    @field_validator("device")
    @classmethod
    def _device(cls, v: str | None) -> str | None:
        return _checked_device(v)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, v: Any) -> Any:
        from ..homology import get_diagram_distance

        return _checked_specs(v, what="metrics", build=get_diagram_distance)


class SimilarityConfig(_Section):
    """``[similarity]``: representational similarity between layers, within and across models.

    ``device`` computes the linear-CKA matrices on a torch device (see
    :func:`~tda_activations.similarity.similarity_matrix`), as in ``[distances]``.
    """

    enabled: bool = True
    measures: list[NamedSpec] = Field(default_factory=lambda: [NamedSpec(name="linear_cka")])
    cross_models: bool = True
    device: str | None = None

    @field_validator("device")
    @classmethod
    def _device(cls, v: str | None) -> str | None:
        return _checked_device(v)

    @field_validator("measures", mode="before")
    @classmethod
    def _measures(cls, v: Any) -> Any:
        from ..similarity import get_measure

        return _checked_specs(v, what="measures", build=get_measure)


class MapperConfig(_Section):
    """``[mapper]``: a Mapper graph per layer (the paper's defaults) and the trend over depth.

    Every key but ``enabled`` is a parameter of :func:`~tda_activations.mapper.mapper_graph`,
    :func:`~tda_activations.mapper.layer_mapper` (``separation_purity``) or
    :func:`~tda_activations.mapper.save_layer_mapper` (``html``), with its default (read from
    its signature); ``lens_params`` is an empty table where the library's default is None.
    """

    enabled: bool = True
    lens: str = library_option("mapper", "lens")
    lens_params: dict[str, Any] = library_option("mapper", "lens_params")
    n_intervals: int = library_option("mapper", "n_intervals", ge=1)
    overlap: float = library_option("mapper", "overlap", ge=0.0, lt=1.0)
    min_samples: int = library_option("mapper", "min_samples", ge=1)
    eps: float | Literal["knee"] = library_option("mapper", "eps")
    min_intersection: int = library_option("mapper", "min_intersection", ge=1)
    separation_purity: float = library_option("mapper", "separation_purity", gt=0.0, le=1.0)
    html: bool = library_option("mapper", "html")

    @field_validator("lens")
    @classmethod
    def _lens(cls, v: str) -> str:
        from ..mapper import LENSES
        from ..types import unknown_name_error

        if v not in LENSES:
            raise unknown_name_error("lens", v, LENSES)
        return v

    @field_validator("eps")
    @classmethod
    def _eps(cls, v: Any) -> Any:
        if not isinstance(v, str) and not v > 0:
            raise ValueError("eps must be 'knee' or a positive number")
        return v


class ProbesConfig(_Section):
    """``[probes]``: which probes run on every model, and their parameters.

    ``run`` lists probe names (``architecture``, ``separability``, ``mean_dimension``,
    ``correlation_order``, ``invariance``); ``[probes.params.<name>]`` gives keyword
    arguments of the probe function.
    """

    run: list[str] = Field(default_factory=lambda: ["architecture", "separability"])
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ProbesConfig:
        _check_variants("probes", self.run, self.params)
        return self


def _check_variants(kind: str, run: list[str], params: Mapping[str, Mapping[str, Any]]) -> None:
    """Names in ``run`` and ``params`` are variants of stage ``kind``; parameters fit them."""
    spec = stage(kind)
    for name in [*run, *params]:
        spec.variant(name)
    for name, kwargs in params.items():
        _kwargs_check(
            spec.variant_function(name),
            kwargs,
            what=f"params.{name}",
            reserved=spec.variant(name).reserved,
        )


class ExperimentsConfig(_Section):
    """``[experiments]``: sensitivity, specificity / layer correspondence, monotonicity.

    ``run`` lists experiment names; ``[experiments.params.<name>]`` gives keyword
    arguments of the experiment function (:func:`~tda_activations.experiments.sensitivity`,
    :func:`~tda_activations.experiments.layer_correspondence`,
    :func:`~tda_activations.experiments.monotonicity_statistics`).  ``measures``
    lists the measures tested (default: the diagram distances of ``[distances]`` at
    its homology dimension and the measures of ``[similarity]``).  ``sensitivity_layers``
    chooses the layers of each model the sensitivity test runs on: ``"ends"``
    (first, middle and last), ``"all"``, or a list of names/globs.
    Monotonicity reuses the within-model matrices of ``[distances]`` and ``[similarity]``.
    """

    run: list[str] = Field(default_factory=list)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    measures: list[NamedSpec] | None = None
    sensitivity_layers: Literal["ends", "all"] | list[str] = "ends"

    @field_validator("measures", mode="before")
    @classmethod
    def _measures(cls, v: Any) -> Any:
        if v is None:
            return v
        items = _named_items(v, what="measures")
        from ..experiments import layer_measure

        for i, item in enumerate(items):
            try:
                layer_measure(item["name"], n_jobs=1, **item["params"])
            except (ValueError, TypeError) as exc:
                raise ValueError(f"measures[{i}]: {exc}") from None
        return items

    @model_validator(mode="after")
    def _check(self) -> ExperimentsConfig:
        _check_variants("experiments", self.run, self.params)
        return self


class ModelInstance(BaseModel):
    """One concrete model of a run: a spec expanded for one seed or one checkpoint."""

    model_config = ConfigDict(frozen=True)

    label: str
    spec_name: str
    zoo: str | None
    source: str | None
    architecture: str | None
    kwargs: dict[str, Any]
    seed: int
    width: float | None
    epochs: int | None
    layers: list[str] | None


class RunConfig(_Section):
    """A whole run: ``[run]``, ``[data]``, ``[[models]]`` and the analysis sections.

    Parameters
    ----------
    **data
        The sections by name (``run``, ``data``, ``models``, ``extract``, ...), as in the
        TOML file; build one with :func:`load_config` or :func:`config_from_dict`.

    Attributes
    ----------
    base_dir
        Folder relative paths in the config are resolved against (the config file's).
    """

    run: RunSection = Field(default_factory=RunSection)
    data: DataConfig = Field(default_factory=DataConfig)
    models: list[ModelSpec]
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    homology: HomologyConfig = Field(default_factory=HomologyConfig)
    distances: DistancesConfig = Field(default_factory=DistancesConfig)
    similarity: SimilarityConfig = Field(default_factory=SimilarityConfig)
    mapper: MapperConfig = Field(default_factory=MapperConfig)
    probes: ProbesConfig = Field(default_factory=ProbesConfig)
    experiments: ExperimentsConfig = Field(default_factory=ExperimentsConfig)
    base_dir: str = Field(default=".", exclude=True)

    @field_validator("models")
    @classmethod
    def _models(cls, v: list[ModelSpec]) -> list[ModelSpec]:
        if not v:
            raise ValueError("no models: add at least one [[models]] table")
        names = [m.name for m in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dup)}")
        return v

    @model_validator(mode="after")
    def _cross(self) -> RunConfig:
        if self.distances.enabled and not self.homology.enabled:
            raise ValueError(
                "distances.enabled needs homology.enabled (distances compare diagrams)"
            )
        if self.distances.enabled and self.distances.dim > self.homology.maxdim:
            raise ValueError(
                f"distances.dim = {self.distances.dim} but homology.maxdim = "
                f"{self.homology.maxdim}: compute that dimension (raise maxdim) or lower dim"
            )
        if "monotonicity" in self.experiments.run and not (
            (self.homology.enabled and self.distances.enabled) or self.similarity.enabled
        ):
            raise ValueError(
                "experiments.run has 'monotonicity', which reads the layer matrices of "
                "[distances] or [similarity]: enable one of them"
            )
        labels = [m.label for m in self.instances()]
        dup = sorted({n for n in labels if labels.count(n) > 1})
        if dup:
            raise ValueError(f"two models expand to the same label(s) {dup}; rename one")
        return self

    def resolve_path(self, text: str) -> str:
        """``text`` as an absolute path if it is a relative path that exists from ``base_dir``."""
        if text.startswith("~"):
            text = os.path.expanduser(text)
        if os.path.isabs(text):
            return text
        candidate = Path(self.base_dir) / text
        return str(candidate.resolve()) if candidate.exists() else text

    def instances(self) -> list[ModelInstance]:
        """Every concrete model of the run, in config order (seeds and checkpoints expanded)."""
        out: list[ModelInstance] = []
        for spec in self.models:
            common: dict[str, Any] = {
                "spec_name": spec.name,
                "zoo": spec.zoo,
                "architecture": spec.architecture,
                "kwargs": dict(spec.kwargs),
                "width": spec.width,
                "epochs": spec.epochs,
                "layers": spec.layers,
            }
            if isinstance(spec.source, list):
                stems = [Path(s).stem or str(i) for i, s in enumerate(spec.source)]
                if len(set(stems)) != len(stems):
                    stems = [str(i) for i in range(len(stems))]
                for stem, src_path in zip(stems, spec.source):
                    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{spec.name}-{stem}")
                    out.append(
                        ModelInstance(
                            label=label,
                            source=self.resolve_path(src_path),
                            seed=self.run.seed,
                            **common,
                        )
                    )
                continue
            seeds = spec.seeds if spec.seeds is not None else [self.run.seed]
            for seed in seeds:
                label = (
                    spec.name if spec.seeds is None or len(seeds) == 1 else f"{spec.name}-s{seed}"
                )
                src = (
                    None
                    if spec.source is None
                    else self.resolve_path(spec.source.replace("{seed}", str(seed)))
                )
                out.append(ModelInstance(label=label, source=src, seed=seed, **common))
        return out

    def dataset_spec(self) -> str:
        """The data specification with relative paths resolved against ``base_dir``.

        ``token_npz:<path>`` for token data, ``factory:<module:callable>`` for a factory.
        """
        if self.data.token_npz is not None:
            return "token_npz:" + self.resolve_path(self.data.token_npz)
        if self.data.factory is not None:
            return "factory:" + self.data.factory
        return self.resolve_path(str(self.data.dataset))


# ---------------------------------------------------------------------------- loading


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_KNOWN_KEYS: dict[str, type[BaseModel]] = {}


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: Any = RunConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ()) or ()
        candidates = [ann, *args]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        where = _loc(loc)
        if err["type"] == "extra_forbidden":
            known = [k for k in _known_keys(loc) if k != "base_dir"]
            close = difflib.get_close_matches(str(loc[-1]), known, n=3, cutoff=0.5)
            hint = (
                f"did you mean {', '.join(map(repr, close))}?"
                if close
                else f"known keys here: {', '.join(known)}"
                if known
                else ""
            )
            lines.append(f"{where}: unknown key; {hint}".rstrip("; "))
        elif err["type"] == "missing":
            lines.append(f"{where}: required key is missing")
        else:
            msg = str(err["msg"])
            for prefix in ("Value error, ", "Assertion failed, "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix) :]
            lines.append(
                f"{where}: {msg} (got {err.get('input')!r})"
                if err["type"].endswith(
                    (
                        "_type",
                        "_parsing",
                        "literal_error",
                        "greater_than",
                        "greater_than_equal",
                        "less_than",
                        "less_than_equal",
                    )
                )
                else f"{where}: {msg}"
            )
    plural = "s" if len(lines) > 1 else ""
    return f"invalid run config {source} ({len(lines)} problem{plural}):\n  " + "\n  ".join(lines)


def _check_files(cfg: RunConfig, source: str) -> None:
    problems = []
    spec = cfg.dataset_spec()
    if cfg.data.token_npz is not None:
        path = cfg.resolve_path(cfg.data.token_npz)
        if not Path(path).is_file():
            problems.append(
                f"data.token_npz: {cfg.data.token_npz!r} is not a file (looked next to "
                f"the config, in {Path(cfg.base_dir).resolve()}, and in {Path.cwd()})"
            )
    elif cfg.data.factory is not None:
        pass  # checked (without calling it) by batch.trust before a run
    elif not re.match(r"^digits(:x\d+)?$", spec) and not Path(spec).exists():
        problems.append(
            f"data.dataset: {cfg.data.dataset!r} is neither 'digits'/'digits:x<k>' nor an existing "
            f"path (looked next to the config, in {Path(cfg.base_dir).resolve()}, and in the current "
            f"folder {Path.cwd()}); fix the path or put the data there"
        )
    if cfg.data.hierarchy is not None:
        from ..datasets import load_hierarchy

        try:
            load_hierarchy(cfg.resolve_path(cfg.data.hierarchy))
        except (ValueError, FileNotFoundError) as exc:
            problems.append(f"data.hierarchy: {exc}")
    if problems:
        raise ConfigError(f"invalid run config {source}:\n  " + "\n  ".join(problems))


def config_from_dict(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] = ".",
    source: str = "<dict>",
    check_files: bool = True,
) -> RunConfig:
    """Validate a config given as a mapping (the parsed TOML).

    Parameters
    ----------
    data
        The config.
    base_dir
        Folder that relative paths are resolved against.
    source
        Named in error messages.
    check_files
        Also check that the dataset and hierarchy exist.

    Returns
    -------
    RunConfig
        The validated config.

    Raises
    ------
    ConfigError
        Listing every problem with its key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"invalid run config {source}: expected a table, got {type(data).__name__}"
        )
    if "base_dir" in data:
        raise ConfigError(f"invalid run config {source}: base_dir: unknown key")
    try:
        cfg = RunConfig(**{**dict(data), "base_dir": str(Path(base_dir).resolve())})
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, source)) from None
    except (ValueError, TypeError) as exc:  # raised outside pydantic's wrapping
        raise ConfigError(f"invalid run config {source}: {exc}") from None
    if check_files:
        _check_files(cfg, source)
    return cfg


def load_config(path: str | os.PathLike[str], *, check_files: bool = True) -> RunConfig:
    """Read and validate a TOML run config.

    Parameters
    ----------
    path
        The TOML file; relative paths inside it are resolved against its folder.
    check_files
        Also check that the dataset and hierarchy exist.

    Returns
    -------
    RunConfig
        The validated config.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ConfigError
        For TOML syntax errors and invalid contents (every problem named by its key).

    Examples
    --------
    >>> cfg = load_config(embedded_config_path())
    >>> [m.label for m in cfg.instances()]
    ['mlp', 'lenet', 'resnet18', 'densenet']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"run config {path} does not exist; the shipped ones are: "
            + ", ".join(str(p) for p in shipped_configs())
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return config_from_dict(data, base_dir=path.parent, source=str(path), check_files=check_files)


def shipped_configs() -> list[Path]:
    """The TOML configs shipped under ``tda_activations/data/configs``.

    Returns
    -------
    list of pathlib.Path
        Paths of the TOML files.
    """
    from .._paths import data_dir

    return sorted((data_dir() / "configs").glob("*.toml"))


def embedded_config_path() -> Path:
    """The embedded default config: LeNet, ResNet-18, DenseNet and MLP from the zoo on digits.

    Returns
    -------
    pathlib.Path
        Path of the TOML file.
    """
    from .._paths import data_dir

    return data_dir() / "configs" / "embedded.toml"
