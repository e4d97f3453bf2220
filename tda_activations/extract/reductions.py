"""Reductions from a layer's output (feature maps) to points, applied inside the hook.

Every reduction maps a batch tensor ``(B, C, *spatial)`` or ``(B, F)`` to
``(points, sample_rows)``: a float tensor ``(P, D)`` and, for each point, the row
of the batch it came from.  Randomness is a function of ``(seed, sample id,
layer)`` only, so results do not depend on the batch size.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..types import unknown_name_error

__all__ = ["REDUCTIONS", "Reduction", "get_reduction", "hash_uniform"]

_MASK64 = (1 << 64) - 1


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(_MASK64)
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(_MASK64)
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(_MASK64)
    return x ^ (x >> np.uint64(31))


def hash_uniform(seed: int, layer: str, *keys: np.ndarray) -> np.ndarray:
    """Deterministic uniform numbers in [0, 1) from ``(seed, layer, keys...)``.

    A counter-based generator (SplitMix64): the number for one sample does not
    depend on which other samples are in the batch.
    """
    with np.errstate(over="ignore"):
        state = np.full(np.broadcast(*keys).shape if keys else (), np.uint64(int(seed) & _MASK64))
        state = _splitmix64(state ^ np.uint64(zlib.crc32(layer.encode())))
        for k in keys:
            state = _splitmix64(state ^ np.asarray(k, dtype=np.uint64))
    return (state >> np.uint64(11)).astype(np.float64) / float(1 << 53)


@dataclass(frozen=True)
class Reduction:
    """A named reduction with the parameters it was given.

    Attributes
    ----------
    name
        ``"flatten"``, ``"global_avg_pool"``, ``"top_l2"``, ``"random_position"`` or
        ``"all_positions"``.
    seed
        Seed for the random reductions.
    """

    name: str
    seed: int = 0

    def __call__(
        self, out: torch.Tensor, *, sample_ids: np.ndarray, layer: str
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Reduce one batch; returns new memory (never a view of ``out``)."""
        return REDUCTIONS[self.name](out, sample_ids, layer, self.seed)


def _spatial(out: torch.Tensor) -> torch.Tensor:
    """``(B, C, *spatial)`` -> ``(B, C, S)``; ``(B, F)`` -> ``(B, F, 1)``."""
    if out.ndim < 2:
        raise ValueError(f"a layer output must have a batch and a feature axis, got shape {tuple(out.shape)}")
    return out.reshape(out.shape[0], out.shape[1], -1)


def _flatten(out: torch.Tensor, ids: np.ndarray, layer: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    return out.reshape(out.shape[0], -1).clone(), np.arange(out.shape[0])


def _gap(out: torch.Tensor, ids: np.ndarray, layer: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    return _spatial(out).mean(dim=2), np.arange(out.shape[0])


def _top_l2(out: torch.Tensor, ids: np.ndarray, layer: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    s = _spatial(out)  # (B, C, S)
    # argmax of the squared norm (same position; torch.linalg.vector_norm over the channel
    # axis of a (B, C, S) tensor is ~70x slower than square().sum() on CPU)
    pos = s.square().sum(dim=1).argmax(dim=1)  # first maximum on ties
    points = torch.gather(s, 2, pos.view(-1, 1, 1).expand(-1, s.shape[1], 1)).squeeze(2)
    return points, np.arange(out.shape[0])


def _random_position(out: torch.Tensor, ids: np.ndarray, layer: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    s = _spatial(out)
    u = hash_uniform(seed, layer, ids)
    pos = torch.from_numpy(np.minimum((u * s.shape[2]).astype(np.int64), s.shape[2] - 1))
    points = torch.gather(s, 2, pos.view(-1, 1, 1).expand(-1, s.shape[1], 1)).squeeze(2)
    return points, np.arange(out.shape[0])


def _all_positions(out: torch.Tensor, ids: np.ndarray, layer: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    s = _spatial(out)
    b, c, n_pos = s.shape
    points = s.permute(0, 2, 1).reshape(b * n_pos, c).clone()
    return points, np.repeat(np.arange(b), n_pos)


REDUCTIONS: dict[str, Callable[[torch.Tensor, np.ndarray, str, int], tuple[torch.Tensor, np.ndarray]]] = {
    "flatten": _flatten,
    "global_avg_pool": _gap,
    "top_l2": _top_l2,
    "random_position": _random_position,
    "all_positions": _all_positions,
}


def get_reduction(name: str | Reduction, *, seed: int = 0) -> Reduction:
    """Look up a reduction by name.

    Parameters
    ----------
    name
        One of ``"flatten"``, ``"global_avg_pool"``, ``"top_l2"`` (the core paper's:
        per image, the channel vector at the spatial position of largest L2 norm),
        ``"random_position"`` (one seeded random position per image) and
        ``"all_positions"`` (every position is a point).
    seed
        Seed for the random reductions.
    """
    if isinstance(name, Reduction):
        return name
    if name not in REDUCTIONS:
        raise unknown_name_error("reduction", name, REDUCTIONS)
    return Reduction(name=name, seed=int(seed))
