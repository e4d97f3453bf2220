"""Deterministic CPU training, accuracy, and the on-disk cache of trained zoo models."""

from __future__ import annotations

import copy
import io
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._atomic import atomic_write_bytes
from .._torch import check_model, eval_mode
from .._hashing import fingerprint_model, fingerprint_params
from ..types import ImageDataset, Split
from .zoo import ZOO, build_model

__all__ = [
    "DEFAULT_TRAINING",
    "TrainedModel",
    "accuracy",
    "cache_dir",
    "fit",
    "predict",
    "pretrained",
]

log = logging.getLogger(__name__)

#: Per-architecture defaults on the embedded digits: data upsampling, width, epochs, lr.
#: Chosen so that each model reaches >= 95% test accuracy in well under a minute on 2 cores.
DEFAULT_TRAINING: dict[str, dict[str, Any]] = {
    "mlp": {"upsample": 2, "width": 1.0, "epochs": 15, "lr": 2e-3, "batch_size": 64},
    "lenet": {"upsample": 2, "width": 1.0, "epochs": 15, "lr": 3e-3, "batch_size": 64},
    "resnet18": {"upsample": 2, "width": 0.25, "epochs": 8, "lr": 3e-3, "batch_size": 64},
    "densenet": {"upsample": 2, "width": 1.0, "epochs": 6, "lr": 3e-3, "batch_size": 64},
}


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
        The train/test split it was trained and evaluated on.
    seed
        Seed of initialisation and data order.
    test_accuracy, train_accuracy
        Top-1 accuracy on the two splits.
    fingerprint
        Content hash of the architecture and weights.
    params
        Architecture and training parameters.
    seconds
        Training wall time (0 when loaded from the cache).
    """

    name: str
    model: nn.Module
    data: Split
    seed: int
    test_accuracy: float
    train_accuracy: float
    fingerprint: str
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0



def _predict_labels(
    model: nn.Module, data: Any, *, batch_size: int, device: Any, dtype: Any, output: Any,
    progress: bool | None, desc: str,
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
    with eval_mode(model), torch.inference_mode(), progress_bar(
        total=source.n, desc=desc, unit="sample", enabled=progress
    ) as bar:
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
    pred, _ = _predict_labels(model, data, batch_size=batch_size, device=device, dtype=dtype,
                              output=output, progress=progress, desc="predict")
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
    pred, labels = _predict_labels(model, data, batch_size=batch_size, device=device,
                                   dtype=dtype, output=output, progress=progress, desc="accuracy")
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
    weight_decay: float = 5e-4,
    on_epoch: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """Train a copy of ``model`` with AdamW and a one-cycle schedule; deterministic given ``seed``.

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

    Returns
    -------
    torch.nn.Module
        The trained copy, in eval mode.
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
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=gen)
        total = 0.0
        for start in range(0, len(train), batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log.debug("epoch %d: loss %.4f", epoch, total / len(train))
        if on_epoch is not None:
            on_epoch(epoch, total / len(train))
    return model.eval()


def cache_dir() -> Path:
    """Where trained zoo weights are cached: ``$TDA_ACTIVATIONS_CACHE`` or ``~/.cache/tda_activations``."""
    root = os.environ.get("TDA_ACTIVATIONS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "tda_activations"


def pretrained(
    name: str,
    *,
    seed: int = 0,
    width: float | None = None,
    epochs: int | None = None,
    upsample: int | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> TrainedModel:
    """A zoo model trained on the embedded digits, loaded from the cache or trained now.

    The cache key is a hash of the architecture parameters, the training settings,
    the data and the seed, so asking again with the same arguments loads the same
    weights, and changing any of them trains anew.

    Parameters
    ----------
    name
        Zoo name (see :func:`~tda_activations.models.zoo_names`).
    seed
        Seed of initialisation and batch order.
    width, epochs, upsample
        Override the defaults of :data:`DEFAULT_TRAINING`.
    cache
        Cache folder (default :func:`cache_dir`).

    Returns
    -------
    TrainedModel
        The model in eval mode with its data and accuracies.
    """
    from ..datasets import load_digits

    if name not in ZOO:
        from ..types import unknown_name_error

        raise unknown_name_error("zoo model", name, ZOO)
    settings = dict(DEFAULT_TRAINING[name])
    for key, value in (("width", width), ("epochs", epochs), ("upsample", upsample)):
        if value is not None:
            settings[key] = value
    data = load_digits(upsample=int(settings["upsample"]))
    image_size = data.train.image_shape[1]
    arch = {"name": name, "in_channels": 1, "image_size": image_size, "num_classes": 10,
            "width": float(settings["width"])}
    train_cfg = {k: settings[k] for k in ("epochs", "lr", "batch_size")}
    key = fingerprint_params({
        "arch": arch, "train": train_cfg, "seed": int(seed),
        "data": data.train.fingerprint, "torch": torch.__version__.split("+")[0],
        "format": 1,
    })
    path = Path(cache if cache is not None else cache_dir()) / "models" / f"{name}-{key}.pt"
    model = build_model(name, in_channels=1, image_size=image_size, num_classes=10,
                        width=arch["width"], seed=seed)
    seconds = 0.0
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
            model.eval()
            log.info("loaded %s (seed %d) from %s", name, seed, path)
        except Exception as exc:  # a corrupted cache entry is rebuilt, never used
            log.warning("cache entry %s is unreadable (%s); retraining", path, exc)
            path.unlink(missing_ok=True)
    if not path.exists():
        log.info("training %s (seed %d) on %s", name, seed, data.train.name)
        t0 = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = fit(model, data.train, seed=seed, **train_cfg)
        seconds = time.perf_counter() - t0
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        atomic_write_bytes(path, buf.getvalue())
    return TrainedModel(
        name=name, model=model, data=data, seed=int(seed),
        test_accuracy=accuracy(model, data.test), train_accuracy=accuracy(model, data.train),
        fingerprint=fingerprint_model(model), params={**arch, **train_cfg, "upsample": settings["upsample"]},
        seconds=seconds,
    )
