"""Activations of zoo models trained from several seeds, on one fixed set of images."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._progress import CostEstimate, announce_cost, progress_bar
from ..types import ActivationSet, ImageDataset

__all__ = ["digits_images", "zoo_activations"]

log = logging.getLogger(__name__)

Source = Literal["all", "train", "test"]


def digits_images(
    split: Any, *, n_images: int | None = 1000, source: Source = "all", seed: int = 0
) -> ImageDataset:
    """Choose a seeded subset of the digits images a zoo model was trained and tested on.

    Parameters
    ----------
    split
        The :class:`~tda_activations.types.Split` of a trained zoo model (``tm.data``).
    n_images
        Number of images (``None``: all of ``source``).
    source
        ``"all"`` (train and test splits together, 1797 digits), ``"train"``
        (1257) or ``"test"`` (540).
    seed
        Seed of the choice; the images are kept in sample-id order.

    Returns
    -------
    ImageDataset
        The images, their labels and sample ids.
    """
    if source == "train":
        pool = split.train
    elif source == "test":
        pool = split.test
    elif source == "all":
        tr, te = split.train, split.test
        ids = np.concatenate([tr.sample_ids, te.sample_ids])
        order = np.argsort(ids, kind="stable")
        pool = ImageDataset(
            images=np.concatenate([tr.images, te.images])[order],
            labels=np.concatenate([tr.labels, te.labels])[order],
            hierarchy=tr.hierarchy,
            name=tr.name.rsplit("/", 1)[0] + "/all",
            sample_ids=ids[order],
        )
    else:
        raise ValueError(f"source must be 'all', 'train' or 'test', got {source!r}")
    if n_images is None or n_images >= len(pool):
        if n_images is not None and n_images > len(pool):
            raise ValueError(
                f"{n_images} images asked but {pool.name} has {len(pool)}; ask for fewer or source='all'"
            )
        return pool
    if n_images < 4:
        raise ValueError(f"n_images must be at least 4, got {n_images}")
    keep = np.sort(np.random.default_rng(seed).choice(len(pool), size=n_images, replace=False))
    return pool.subset(keep, name=f"{pool.name}[{n_images},seed={seed}]")


def zoo_activations(
    name: str = "resnet18",
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    n_images: int | None = 1000,
    source: Source = "all",
    image_seed: int = 0,
    layers: Any = None,
    reduction: str = "top_l2",
    store_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    **model_options: Any,
) -> dict[str, ActivationSet]:
    """Zoo models trained from several seeds, each extracted on the same images.

    Parameters
    ----------
    name
        Zoo name (``"resnet18"``: the CIFAR-style ResNet-18 with 17 conv layers).
    seeds
        Training seeds (weights are cached by :func:`~tda_activations.models.pretrained`).
    n_images, source, image_seed
        The images (see :func:`digits_images`); the same for every model.
    layers
        Layer spec of :func:`~tda_activations.extract.extract` (``"*conv*"``
        for ResNet-18's 17 convolutions; default: every conv and linear layer).
    reduction
        Reduction of feature maps to points (default ``"top_l2"``, the core paper's).
    store_dir
        If given, each model's activations are kept in
        ``<store_dir>/<name>-seed<seed>`` (reused when the request is the same).
    progress
        Show a progress bar over the seeds (``None``: in a terminal or notebook).  A model
        not yet in the cache is trained first: minutes per model on 2 cores for ResNet-18.
    **model_options
        ``width``, ``epochs``, ``upsample`` of :func:`~tda_activations.models.pretrained`.

    Returns
    -------
    dict
        ``"seed<s>"`` -> ActivationSet, in the order of ``seeds``.
    """
    from ..extract import extract, extract_to_store
    from ..models import pretrained

    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    if not seeds:
        raise ValueError("give at least one seed")
    announce_cost(
        CostEstimate(
            what="zoo_activations",
            units=len(seeds),
            unit="model",
            detail=f"{name}: each seed trained on first use (cached afterwards), then extracted on "
            f"{n_images if n_images is not None else 'all'} images",
        )
    )
    out: dict[str, ActivationSet] = {}
    with progress_bar(
        total=len(seeds), desc=f"zoo_activations {name}", unit="model", enabled=progress
    ) as bar:
        for s in seeds:
            bar.set_postfix(f"seed {s}")
            tm = pretrained(name, seed=s, **model_options)
            images = digits_images(tm.data, n_images=n_images, source=source, seed=image_seed)
            opts = {"layers": layers, "reduction": reduction, "seed": 0}
            if store_dir is not None:
                acts = extract_to_store(
                    tm.model, images, Path(store_dir) / f"{name}-seed{s}", **opts
                )
            else:
                acts = extract(tm.model, images, **opts)
            log.info(
                "%s seed %d: test accuracy %.3f, %d layers",
                name,
                s,
                tm.test_accuracy,
                len(acts.layers),
            )
            out[f"seed{s}"] = acts
            bar.update(1)
    return out
