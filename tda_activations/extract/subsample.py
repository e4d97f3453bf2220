"""Subsampling of clouds and of activation sets.

Farthest-point (greedy permutation) subsampling lives in the base layer
(``tda_activations._subsample``: :func:`greedy_subsample`, whose covering radius
bounds the bottleneck error of persistence); it is re-exported here, next to the
random subsampling of samples, and by :mod:`tda_activations.homology`.
"""

from __future__ import annotations

import numpy as np

from .._subsample import Subsample, greedy_subsample
from ..types import ActivationSet

__all__ = ["Subsample", "greedy_subsample", "subsample_samples"]


def subsample_samples(acts: ActivationSet, *, n_samples: int, seed: int = 0) -> ActivationSet:
    """Keep the points of a seeded uniform random subset of samples, in every layer.

    The same samples are kept in every layer, so clouds stay in correspondence
    (what similarity measures need).  Points keep their order.

    Parameters
    ----------
    acts
        The activations.
    n_samples
        Number of samples to keep (all when at least the number present).
    seed
        Seed of the choice.

    Returns
    -------
    ActivationSet
        The activations of the kept samples.
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    n = acts.labels.shape[0]
    if n_samples >= n:
        return acts
    keep = np.sort(np.random.default_rng(seed).choice(n, size=n_samples, replace=False))
    mask = np.zeros(n, dtype=bool)
    mask[keep] = True
    new_row = np.cumsum(mask) - 1
    clouds, index = {}, {}
    for layer in acts.layers:
        rows = acts.sample_index[layer]
        sel = mask[rows]
        clouds[layer] = acts.cloud(layer)[sel]
        index[layer] = new_row[rows[sel]]
    return ActivationSet(
        clouds=clouds,
        sample_index=index,
        labels=acts.labels[keep],
        hierarchy=acts.hierarchy,
        reduction=acts.reduction,
        params={**acts.params, "subsample": {"n_samples": n_samples, "seed": seed}},
        model_fingerprint=acts.model_fingerprint,
        data_fingerprint=acts.data_fingerprint,
        predictions=None if acts.predictions is None else acts.predictions[keep],
        layouts=acts.layouts,
    )
