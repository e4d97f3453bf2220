"""Deterministic CPU training, accuracy, shipped zoo weights and the verified on-disk cache."""

from __future__ import annotations

import copy
import io
import logging
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write_bytes
from .._hashing import fingerprint_model, fingerprint_params
from .._progress import CostEstimate, announce_cost, progress_bar
from .._torch import check_model, eval_mode
from ..types import ImageDataset, Split, unknown_name_error
from ._weights import (
    DamagedWeightsError,
    load_verified,
    read_sidecar,
    shipped_entry,
    sidecar_path,
    sidecar_text,
)
from .zoo import ZOO, build_model
from .zoo_transformers import MODULAR_DEFAULTS

__all__ = [
    "DEFAULT_TRAINING",
    "SHIPPED_SEEDS",
    "TRAINING_FORMAT",
    "DamagedWeightsError",
    "TrainedModel",
    "accuracy",
    "cache_dir",
    "fit",
    "load_or_train",
    "predict",
    "pretrained",
    "train_from_scratch",
    "training_key",
]

log = logging.getLogger(__name__)

#: Per-architecture defaults on the embedded digits: data upsampling, width, epochs, lr
#: (and, under ``"modular_addition"``, that model's token recipe ``MODULAR_DEFAULTS``).
#: Chosen so that each model reaches >= 95% test accuracy in well under a minute on 2 cores.
#: Changing a value changes the training key: shipped weights then no longer match (rerun
#: ``benchmarks/make_zoo_weights.py``).
DEFAULT_TRAINING: dict[str, dict[str, Any]] = {
    "mlp": {"upsample": 2, "width": 1.0, "epochs": 15, "lr": 2e-3, "batch_size": 64},
    "lenet": {"upsample": 2, "width": 1.0, "epochs": 15, "lr": 3e-3, "batch_size": 64},
    "resnet18": {"upsample": 2, "width": 0.25, "epochs": 8, "lr": 3e-3, "batch_size": 64},
    "densenet": {"upsample": 2, "width": 1.0, "epochs": 6, "lr": 3e-3, "batch_size": 64},
    "vit": {"upsample": 2, "width": 1.0, "epochs": 30, "lr": 3e-3, "batch_size": 64},
    # trained on tokens, not digits: its recipe (the same dict, so a run's cache key follows it)
    "modular_addition": MODULAR_DEFAULTS,
}

#: The zoo models whose weights ship with the package, at their default settings, by seed.
#: ``benchmarks/make_zoo_weights.py`` trains exactly these; a new zoo entry adds a line.
SHIPPED_SEEDS: dict[str, tuple[int, ...]] = {
    "mlp": (0,),
    "lenet": (0, 1, 2, 3, 4),
    "resnet18": (0, 1, 2, 3, 4),
    "densenet": (0,),
    "modular_addition": (0, 1, 2, 3, 4),
}

#: The zoo name of the modular-addition transformer (trained on tokens, not digits).
MODULAR = "modular_addition"


#: Version of the training procedure (:func:`fit`) in the training key: bump it when
#: ``fit`` changes what it computes.
TRAINING_FORMAT = 2

_WEIGHT_DECAY = 5e-4

# what reading a damaged weight file can raise (checks, torch.load, load_state_dict)
_LOAD_ERRORS = (ValueError, TypeError, RuntimeError, OSError, EOFError, pickle.UnpicklingError)


@dataclass(frozen=True)
class TrainedModel:
    """A trained model with the data it was trained on and how well it does.

    Attributes
    ----------
    name
        Zoo name (or a user's label).
    model
        The trained module, in eval mode.
    data
        The train/test split it was trained and evaluated on: a
        :class:`~tda_activations.types.Split` of images for the digits models, a
        :class:`~tda_activations.datasets.modular.ModularSplit` for ``"modular_addition"``.
    seed
        Seed of initialisation and data order.
    test_accuracy, train_accuracy
        Top-1 accuracy on the two splits.
    fingerprint
        Content hash of the architecture and weights.
    params
        Architecture and training parameters.
    seconds
        Training wall time (0 when loaded).
    source
        Where the weights came from: ``"shipped"`` (with the package, identical on every
        machine), ``"cache"`` or ``"trained"`` (now).
    key
        The training key (:func:`training_key`).
    """

    name: str
    model: nn.Module
    data: Any
    seed: int
    test_accuracy: float
    train_accuracy: float
    fingerprint: str
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    source: str = "trained"
    key: str = ""


def _predict_labels(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int,
    device: Any,
    dtype: Any,
    output: Any,
    progress: bool | None,
    desc: str,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predicted classes and (when every batch has them) the labels, streamed batch by batch."""
    from .._progress import progress_bar
    from .._torch import autocast, call_model, move_inputs, resolve_device, select_output
    from ..datasets.sources import as_source

    model = check_model(model)
    source = as_source(data)
    dev = resolve_device(model, device)
    autocast(dev, dtype)  # an unsupported precision fails here, before any batch is read
    preds: list[np.ndarray] = []
    labels: list[np.ndarray | None] = []
    with (
        eval_mode(model),
        torch.inference_mode(),
        progress_bar(total=source.n, desc=desc, unit="sample", enabled=progress) as bar,
    ):
        for batch in source.batches(batch_size):
            with autocast(dev, dtype):
                scores = select_output(call_model(model, move_inputs(batch.inputs, dev)), output)
            if scores.ndim != 2 or scores.shape[0] != len(batch):
                raise ValueError(
                    f"{source.name}: the model's output has shape {tuple(scores.shape)} for a "
                    f"batch of {len(batch)}; predictions need one row of class scores per "
                    "sample, (batch, classes) (choose another output= or reduce it first)"
                )
            preds.append(scores.argmax(dim=1).cpu().numpy().astype(np.int64))
            labels.append(batch.labels)
            bar.update(len(batch))
    if not preds:
        raise ValueError(f"{source.name}: the data source yielded no samples")
    pred = np.concatenate(preds)
    present = [y for y in labels if y is not None]
    known = np.concatenate(present) if len(present) == len(labels) else None
    return pred, known


def predict(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    output: str | int | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """Predicted class (argmax of the class scores) of every sample, int64 ``(n,)`` on the CPU.

    Parameters
    ----------
    model
        The model; it runs in eval mode under ``torch.inference_mode()`` and its modes are
        restored afterwards.  It is never moved: its device is used unless ``device`` says
        the same place.
    data
        Anything :func:`~tda_activations.datasets.as_source` accepts: an ``ImageDataset``,
        a ``TokenDataset``, a torch ``Dataset`` or ``DataLoader``, an iterable of batches, a
        ``DataSource``.
    batch_size
        Samples per forward pass (a ``DataLoader`` keeps its own).
    device
        Where to run (default: the model's device); inputs are moved there.
    dtype
        Autocast precision: ``"bfloat16"``, ``"float16"`` or ``None`` (float32).
    output
        Which part of the model's output holds the class scores (see
        :func:`~tda_activations._torch.select_output`; default: the tensor itself, or
        ``"logits"`` of a ``ModelOutput``).
    progress
        Show a progress bar (``None``: in terminals and notebooks).

    Returns
    -------
    numpy.ndarray
        Int64 ``(n,)`` predicted classes, in the source's order.

    Raises
    ------
    ValueError
        An unknown or absent device, an unsupported precision, inputs the model rejects
        (the message names the shape and the layer), an output without one row of scores
        per sample, or an empty source.
    TypeError
        Data of an unsupported kind, or inputs the model's ``forward`` cannot take.
    """
    pred, _ = _predict_labels(
        model,
        data,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        output=output,
        progress=progress,
        desc="predict",
    )
    return pred


def accuracy(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    output: str | int | None = None,
    progress: bool | None = None,
) -> float:
    """Top-1 accuracy of ``model`` on labelled ``data``.

    Parameters
    ----------
    model, data, batch_size, device, dtype, output, progress
        As in :func:`predict`.

    Returns
    -------
    float
        Fraction of samples whose predicted class equals their label.

    Raises
    ------
    ValueError
        As in :func:`predict`, and data without labels.
    TypeError
        As in :func:`predict`.
    """
    pred, labels = _predict_labels(
        model,
        data,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        output=output,
        progress=progress,
        desc="accuracy",
    )
    if labels is None:
        raise ValueError("accuracy needs labels, but the data yield none; give labelled data")
    return float(np.mean(pred == labels))


def fit(
    model: nn.Module,
    train: ImageDataset,
    *,
    seed: int = 0,
    epochs: int = 10,
    lr: float = 3e-3,
    batch_size: int = 64,
    weight_decay: float = _WEIGHT_DECAY,
    on_epoch: Callable[[int, float], None] | None = None,
    progress: bool | None = None,
) -> nn.Module:
    """Train a copy of ``model`` with AdamW and a one-cycle schedule; deterministic given ``seed``.

    Deterministic means: the same weights on one machine for one torch version and thread
    count.  Other CPUs (BLAS kernels) give other weights; the weights shipped with the
    package (see :func:`pretrained`) are the same everywhere.

    Parameters
    ----------
    model
        The model to train; it is not modified (a deep copy is trained).
    train
        Training data.
    seed
        Seed of the batch order (initialisation is the caller's: see ``build_model(seed=)``).
    epochs, lr, batch_size, weight_decay
        Optimisation settings.
    on_epoch
        Called after each epoch with ``(epoch, mean training loss)``.
    progress
        Show a bar over the batches (``None``: in terminals and notebooks); a cost estimate
        calibrated on the first batch is logged either way.

    Returns
    -------
    torch.nn.Module
        The trained copy, in eval mode.

    Raises
    ------
    ValueError
        ``epochs`` or ``batch_size`` below 1, or ``lr`` not positive.
    """
    model = copy.deepcopy(check_model(model))
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError("epochs and batch_size must be >= 1 and lr > 0")
    x_all = torch.from_numpy(np.array(train.images))
    y_all = torch.from_numpy(np.array(train.labels))
    gen = torch.Generator().manual_seed(int(seed))
    steps = epochs * ((len(train) + batch_size - 1) // batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    desc = f"training {type(model).__name__}"
    with progress_bar(total=steps, desc=desc, unit="batch", enabled=progress) as bar:
        for epoch in range(epochs):
            order = torch.randperm(len(train), generator=gen)
            total = 0.0
            for start in range(0, len(train), batch_size):
                t0 = time.perf_counter() if bar.n == 0 else 0.0
                idx = order[start : start + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x_all[idx]), y_all[idx])
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
                if bar.n == 0:
                    first = time.perf_counter() - t0
                    announce_cost(
                        CostEstimate(
                            what=desc,
                            units=steps,
                            unit="step",
                            seconds=first * steps,
                            detail=f"{epochs} epochs, calibrated on the first batch: {first:.3f} s",
                        )
                    )
                bar.update(1)
            log.debug("epoch %d: loss %.4f", epoch, total / len(train))
            bar.set_postfix(f"loss {total / len(train):.4f}")
            if on_epoch is not None:
                on_epoch(epoch, total / len(train))
    return model.eval()


def cache_dir() -> Path:
    """Where trained zoo weights are cached: ``$TDA_ACTIVATIONS_CACHE`` or ``~/.cache/tda_activations``.

    Returns
    -------
    pathlib.Path
        The cache folder.
    """
    root = os.environ.get("TDA_ACTIVATIONS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "tda_activations"


def training_key(name: str, *, seed: int = 0, settings: dict[str, Any] | None = None) -> str:
    """The key that names one trained zoo model: what was trained, on what, how, from which seed.

    It hashes the architecture (name, input shape, classes, width), the training settings
    (epochs, learning rate, batch size, weight decay, :data:`TRAINING_FORMAT`), the
    fingerprint of the training data and the seed.  Shipped weights are found by it, and
    the cache adds the torch version to it.

    Parameters
    ----------
    name
        Zoo name.
    seed
        Seed of initialisation and batch order.
    settings
        Overrides of :data:`DEFAULT_TRAINING` (``width``, ``epochs``, ``upsample``), or of
        :data:`~tda_activations.models.zoo_transformers.MODULAR_DEFAULTS` for
        ``"modular_addition"``.

    Returns
    -------
    str
        A hex digest.

    Raises
    ------
    ValueError
        Unknown zoo name.
    """
    if name == MODULAR:
        from .zoo_transformers import modular_training_key

        return modular_training_key(seed=seed, settings=settings)
    return _plan(name, seed=seed, overrides=settings or {})[0]


def _plan(
    name: str, *, seed: int, overrides: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any], Split]:
    """(training key, architecture, training settings, data) of one zoo model."""
    from ..datasets import load_digits

    if name == "modular_addition":
        raise ValueError(
            "the modular addition transformer trains on token data, not digits: use "
            "tda_activations.models.pretrained_modular_addition(seed=...)"
        )
    if name not in ZOO:
        raise unknown_name_error("zoo model", name, ZOO)
    if name not in DEFAULT_TRAINING:
        raise ValueError(f"zoo model {name!r} has no training defaults on the embedded digits")
    settings = dict(DEFAULT_TRAINING[name])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    data = load_digits(upsample=int(settings["upsample"]))
    arch = {
        "name": name,
        "in_channels": 1,
        "image_size": data.train.image_shape[1],
        "num_classes": 10,
        "width": float(settings["width"]),
    }
    train_cfg = {k: settings[k] for k in ("epochs", "lr", "batch_size")}
    key = fingerprint_params(
        {
            "arch": arch,
            "train": {**train_cfg, "weight_decay": _WEIGHT_DECAY},
            "seed": int(seed),
            "data": data.train.fingerprint,
            "upsample": int(settings["upsample"]),
            "format": TRAINING_FORMAT,
        }
    )
    return key, arch, {**train_cfg, "upsample": settings["upsample"]}, data


def _train(
    name: str,
    *,
    seed: int,
    arch: dict[str, Any],
    train_cfg: dict[str, Any],
    data: Split,
    progress: bool | None,
) -> nn.Module:
    """Train one zoo model from scratch as :func:`pretrained` does (the shipped weights too)."""
    log.info("training %s (seed %d) on %s", name, seed, data.train.name)
    model = build_model(
        name,
        in_channels=1,
        image_size=arch["image_size"],
        num_classes=10,
        width=arch["width"],
        seed=seed,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return fit(
            model,
            data.train,
            seed=seed,
            epochs=int(train_cfg["epochs"]),
            lr=float(train_cfg["lr"]),
            batch_size=int(train_cfg["batch_size"]),
            weight_decay=_WEIGHT_DECAY,
            progress=progress,
        )


def train_from_scratch(name: str, *, seed: int = 0, progress: bool | None = None) -> TrainedModel:
    """Train a zoo model at its default settings now, ignoring shipped and cached weights.

    This is how the shipped weights were made (``benchmarks/make_zoo_weights.py``) and how
    a test checks that training still reaches them.  Nothing is written.

    Parameters
    ----------
    name
        Zoo name.
    seed
        Seed of initialisation and batch order.
    progress
        Show a bar while training.

    Returns
    -------
    TrainedModel
        With ``source="trained"``.

    Raises
    ------
    ValueError
        Unknown zoo name.
    """
    if name == MODULAR:
        from .zoo_transformers import train_modular_from_scratch

        return train_modular_from_scratch(seed=seed, progress=progress)
    key, arch, train_cfg, data = _plan(name, seed=seed, overrides={})
    t0 = time.perf_counter()
    model = _train(name, seed=seed, arch=arch, train_cfg=train_cfg, data=data, progress=progress)
    return TrainedModel(
        name=name,
        model=model,
        data=data,
        seed=int(seed),
        test_accuracy=accuracy(model, data.test),
        train_accuracy=accuracy(model, data.train),
        fingerprint=fingerprint_model(model),
        params={**arch, **train_cfg},
        seconds=time.perf_counter() - t0,
        source="trained",
        key=key,
    )


def load_or_train(
    name: str,
    *,
    seed: int,
    key: str,
    build: Callable[[], nn.Module],
    train: Callable[[], nn.Module],
    cache: str | os.PathLike[str] | None = None,
) -> tuple[nn.Module, str, float]:
    """Weights found by their training key: shipped, else cached, else trained now and cached.

    The one lookup of every zoo model (:func:`pretrained`,
    :func:`~tda_activations.models.pretrained_modular_addition`).  Every file is verified
    before use (SHA-256 and the zip archive's CRCs): a damaged cache entry is logged,
    deleted and rebuilt, never used; damaged shipped weights raise.

    Parameters
    ----------
    name, seed
        Zoo name and seed (for messages and the cache file name).
    key
        The training key (architecture, settings, data, seed; no torch version).
    build
        Returns the untrained model (the shipped or cached state dict is loaded into it).
    train
        Trains a fresh model and returns it (in eval mode).
    cache
        Cache folder (default :func:`cache_dir`).

    Returns
    -------
    tuple
        ``(model in eval mode, source, training seconds)`` with source ``"shipped"``,
        ``"cache"`` or ``"trained"``.

    Raises
    ------
    DamagedWeightsError
        A shipped weight file fails its checks: the installed package is damaged.
    """
    model = build()
    shipped = shipped_entry(key)
    if shipped is not None:
        try:
            model.load_state_dict(load_verified(shipped.path, shipped.sha256))
        except _LOAD_ERRORS as exc:
            raise DamagedWeightsError(
                f"the shipped weights of {name} (seed {seed}) at {shipped.path} are damaged "
                f"({exc}); the installed package is corrupt: reinstall tda-activations"
            ) from exc
        log.info("loaded %s (seed %d) from the shipped weights", name, seed)
        return model.eval(), "shipped", 0.0
    cache_key = fingerprint_params({"training": key, "torch": torch.__version__.split("+")[0]})
    path = Path(cache if cache is not None else cache_dir()) / "models" / f"{name}-{cache_key}.pt"
    if path.exists() or sidecar_path(path).exists():
        try:
            model.load_state_dict(load_verified(path, read_sidecar(path)))
            log.info("loaded %s (seed %d) from %s", name, seed, path)
            return model.eval(), "cache", 0.0
        except _LOAD_ERRORS as exc:  # a damaged cache entry is rebuilt, never used
            log.warning("cache entry %s is damaged (%s); deleting it and retraining", path, exc)
            path.unlink(missing_ok=True)
            sidecar_path(path).unlink(missing_ok=True)
    t0 = time.perf_counter()
    model = train()
    seconds = time.perf_counter() - t0
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    # weights first, sidecar second: an entry without its sidecar is never used
    sidecar_path(path).unlink(missing_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    atomic_write_bytes(sidecar_path(path), sidecar_text(path).encode("utf-8"))
    return model.eval(), "trained", seconds


def pretrained(
    name: str,
    *,
    seed: int = 0,
    width: float | None = None,
    epochs: int | None = None,
    upsample: int | None = None,
    cache: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> TrainedModel:
    """A zoo model trained on the embedded digits: shipped weights, else the cache, else trained now.

    The weights are found by their training key (:func:`training_key`: architecture,
    training settings, data, seed), never by name:

    1. the weights shipped with the package (each zoo model at its default settings, seed
       0; ResNet-18, LeNet-5 and the modular-addition model also seeds 1-4): trained once
       and loaded identically on every machine;
    2. the cache (``<cache>/models/<name>-<key>.pt`` with a ``.sha256`` sidecar; the key
       also holds the torch version);
    3. otherwise the model is trained now (deterministic on one machine; other CPUs give
       other weights) and cached.

    Every file is verified before use (SHA-256 and the zip archive's CRCs).  A damaged
    cache entry is logged, deleted and rebuilt, never used; damaged shipped weights raise.

    Parameters
    ----------
    name
        Zoo name (see :func:`~tda_activations.models.zoo_names`), or ``"modular_addition"``:
        :func:`~tda_activations.models.pretrained_modular_addition` at its defaults.
    seed
        Seed of initialisation and batch order.
    width, epochs, upsample
        Override the defaults of :data:`DEFAULT_TRAINING` (not for ``"modular_addition"``).
    cache
        Cache folder (default :func:`cache_dir`).
    progress
        Show a bar while training (``None``: in terminals and notebooks).

    Returns
    -------
    TrainedModel
        The model in eval mode with its data and accuracies; ``source`` says where the
        weights came from.

    Raises
    ------
    ValueError
        Unknown zoo name.
    DamagedWeightsError
        A shipped weight file fails its checksum: the installed package is damaged.
    """
    if name == MODULAR:
        given = [
            k
            for k, v in (("width", width), ("epochs", epochs), ("upsample", upsample))
            if v is not None
        ]
        if given:
            raise ValueError(
                f"{', '.join(given)} do not apply to the modular addition model; change its "
                "settings with tda_activations.models.pretrained_modular_addition(seed=..., **settings)"
            )
        from .zoo_transformers import pretrained_modular_addition

        return pretrained_modular_addition(seed=seed, cache=cache, progress=progress)
    key, arch, train_cfg, data = _plan(
        name, seed=seed, overrides={"width": width, "epochs": epochs, "upsample": upsample}
    )

    def build() -> nn.Module:
        return build_model(
            name,
            in_channels=1,
            image_size=arch["image_size"],
            num_classes=10,
            width=arch["width"],
            seed=seed,
        )

    def train() -> nn.Module:
        return _train(name, seed=seed, arch=arch, train_cfg=train_cfg, data=data, progress=progress)

    model, source, seconds = load_or_train(
        name, seed=seed, key=key, build=build, train=train, cache=cache
    )
    return TrainedModel(
        name=name,
        model=model,
        data=data,
        seed=int(seed),
        test_accuracy=accuracy(model, data.test),
        train_accuracy=accuracy(model, data.train),
        fingerprint=fingerprint_model(model),
        params={**arch, **train_cfg},
        seconds=seconds,
        source=source,
        key=key,
    )
