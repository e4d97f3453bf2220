"""Reductions from a layer's tensor to points, applied inside the hook.

Every reduction maps a batch tensor of a layout (see :mod:`tda_activations._hooks`):
channels-first feature maps ``(B, C, *spatial)``, tokens ``(B, T, D)`` or flat
``(B, F)`` to ``(points, sample_rows)``: a float tensor ``(P, D)`` and, for each
point, the row of the batch it came from.  Positions are the spatial positions of a
feature map or the tokens of a sequence (a flat tensor has one); the same names
work on both.  A mask ``(B, positions)`` marks the real positions: padding tokens
never become points and never enter a mean or an argmax.  Randomness is a function
of ``(seed, sample id, layer)`` only, so results do not depend on the batch size.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .._hooks import positions_view
from .._registry import Registry

__all__ = ["REDUCTIONS", "TOKEN_REDUCTIONS", "Reduction", "get_reduction", "hash_uniform"]

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


ReductionFn = Callable[
    [torch.Tensor, str, "torch.Tensor | None", np.ndarray, str, int],
    tuple[torch.Tensor, np.ndarray],
]


@dataclass(frozen=True)
class Reduction:
    """A named reduction with the parameters it was given.

    Attributes
    ----------
    name
        A key of :data:`REDUCTIONS`.
    seed
        Seed for the random reductions.
    """

    name: str
    seed: int = 0

    def __call__(
        self,
        out: torch.Tensor,
        *,
        sample_ids: np.ndarray,
        layer: str,
        layout: str = "channels_first",
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, np.ndarray]:
        """Reduce one batch; returns new memory (never a view of ``out``).

        Parameters
        ----------
        out
            The layer's tensor, batch first.
        sample_ids
            Id of each sample of the batch (keys of the random choices).
        layer
            The layer's name (a key of the random choices).
        layout
            ``"channels_first"``, ``"tokens"`` or ``"flat"``.
        mask
            Boolean ``(B, positions)``, true at real positions; ``None``: all real.

        Returns
        -------
        tuple
            Points ``(P, D)`` and the batch row of each point (int64 numpy).

        Raises
        ------
        ValueError
            A token reduction on a layout without tokens, a mask of the wrong shape,
            a sample without any real position, ``flatten`` of padded sequences.
        """
        if out.ndim < 2:
            raise ValueError(
                f"layer {layer!r}: a layer output must have a batch and a feature axis, got shape "
                f"{tuple(out.shape)}"
            )
        if self.name in TOKEN_REDUCTIONS and layout != "tokens":
            raise ValueError(
                f"reduction {self.name!r} needs token sequences but layer {layer!r} has layout "
                f"{layout!r} (shape {tuple(out.shape)}); use a position reduction (top_l2, "
                "global_avg_pool, ...) or set layout={layer!r: 'tokens'} if it is one"
            )
        if mask is not None:
            n_pos = positions_view(out, layout).shape[1]
            if mask.ndim != 2 or tuple(mask.shape) != (out.shape[0], n_pos):
                raise ValueError(
                    f"layer {layer!r}: the attention mask has shape {tuple(mask.shape)} but the layer "
                    f"has {out.shape[0]} samples x {n_pos} positions; pass attention_mask=None if the "
                    "mask does not describe this layer's tokens"
                )
            mask = mask.to(device=out.device, dtype=torch.bool)
            if bool(mask.all()):
                mask = None
            elif not bool(mask.any(dim=1).all()):
                raise ValueError(
                    f"layer {layer!r}: a sample has no real (non-padding) position in the mask; "
                    "drop empty sequences from the data"
                )
        return REDUCTIONS[self.name](out, layout, mask, sample_ids, layer, self.seed)


def _rows(b: int) -> np.ndarray:
    return np.arange(b)


def _take(pos: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``pos[b, index[b], :]`` for every row ``b`` (new memory)."""
    idx = index.to(device=pos.device, dtype=torch.long).view(-1, 1, 1).expand(-1, 1, pos.shape[2])
    return torch.gather(pos, 1, idx).squeeze(1)


def _flatten(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    if mask is not None:
        raise ValueError(
            f"reduction 'flatten' of layer {layer!r} would mix padding tokens into the points; "
            "pad every sequence to the same real length, or use a position reduction "
            "(all_positions, global_avg_pool, last_token, ...)"
        )
    return out.reshape(out.shape[0], -1).clone(), _rows(out.shape[0])


def _gap(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    pos = positions_view(out, layout)
    if mask is None:
        if layout == "channels_first":  # the mean over the maps' own contiguous axis (bit-stable)
            return out.reshape(out.shape[0], out.shape[1], -1).mean(dim=2), _rows(out.shape[0])
        return pos.mean(dim=1), _rows(out.shape[0])
    m = mask.unsqueeze(2).to(pos.dtype)
    return (pos * m).sum(dim=1) / m.sum(dim=1), _rows(out.shape[0])


def _top_l2(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    pos = positions_view(out, layout)  # (B, P, D)
    # argmax of the squared norm (same position; torch.linalg.vector_norm is ~70x slower on CPU)
    if layout == "channels_first":  # summed over channels in the maps' own memory order
        sq = out.reshape(out.shape[0], out.shape[1], -1).square().sum(dim=1)
    else:
        sq = pos.square().sum(dim=2)
    if mask is not None:
        sq = sq.masked_fill(~mask, float("-inf"))
    return _take(pos, sq.argmax(dim=1)), _rows(out.shape[0])  # first maximum on ties


def _random_position(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    pos = positions_view(out, layout)
    u = hash_uniform(seed, layer, ids)
    if mask is None:
        k = np.minimum((u * pos.shape[1]).astype(np.int64), pos.shape[1] - 1)
        return _take(pos, torch.from_numpy(k)), _rows(out.shape[0])
    m = mask.cpu()
    n_valid = m.sum(dim=1).numpy()
    kth = torch.from_numpy(np.minimum((u * n_valid).astype(np.int64), n_valid - 1))
    index = (
        (m & (m.cumsum(dim=1) == (kth + 1).unsqueeze(1))).int().argmax(dim=1)
    )  # the k-th real one
    return _take(pos, index), _rows(out.shape[0])


def _all_positions(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    pos = positions_view(out, layout)
    b, n_pos, d = pos.shape
    if mask is None:
        return pos.reshape(b * n_pos, d).clone(), np.repeat(np.arange(b), n_pos)
    return pos[mask], np.repeat(np.arange(b), mask.sum(dim=1).cpu().numpy())


def _first_token(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    pos = positions_view(out, layout)
    if mask is None:
        return pos[:, 0, :].clone(), _rows(out.shape[0])
    return _take(pos, mask.int().argmax(dim=1)), _rows(out.shape[0])


def _last_token(
    out: torch.Tensor,
    layout: str,
    mask: torch.Tensor | None,
    ids: np.ndarray,
    layer: str,
    seed: int,
) -> tuple[torch.Tensor, np.ndarray]:
    pos = positions_view(out, layout)
    if mask is None:
        return pos[:, -1, :].clone(), _rows(out.shape[0])
    last = pos.shape[1] - 1 - mask.flip(dims=(1,)).int().argmax(dim=1)
    return _take(pos, last), _rows(out.shape[0])


#: The reductions by name (a :class:`~tda_activations._registry.Registry` of reduction
#: functions; ``name in REDUCTIONS``, ``REDUCTIONS[name]`` and iteration over names work).
REDUCTIONS: Registry[tuple[torch.Tensor, np.ndarray]] = Registry("reduction")
for _name, _fn, _what in (
    ("flatten", _flatten, "the whole tensor, one point per sample"),
    ("global_avg_pool", _gap, "mean over positions"),
    ("top_l2", _top_l2, "per sample, the feature vector at the position of largest L2 norm"),
    ("random_position", _random_position, "one seeded random position per sample"),
    ("all_positions", _all_positions, "every position is a point"),
    ("first_token", _first_token, "the first real token (e.g. CLS)"),
    ("last_token", _last_token, "the last real, non-padding token"),
):
    REDUCTIONS.register(_name, _fn, description=_what)
TOKEN_REDUCTIONS = frozenset({"first_token", "last_token"})
"""Reductions that need the ``"tokens"`` layout."""


def get_reduction(name: str | Reduction, *, seed: int = 0) -> Reduction:
    """Look up a reduction by name.

    Parameters
    ----------
    name
        ``"flatten"`` (the whole tensor, one point per sample), ``"global_avg_pool"``
        (mean over positions), ``"top_l2"`` (the core paper's: per sample, the feature
        vector at the position of largest L2 norm), ``"random_position"`` (one seeded
        random position per sample), ``"all_positions"`` (every position is a point),
        and for tokens ``"first_token"`` (the first real token, e.g. CLS) and
        ``"last_token"`` (the last real, non-padding token).
    seed
        Seed for the random reductions.

    Returns
    -------
    Reduction
        The reduction.

    Raises
    ------
    ValueError
        For an unknown name (with close matches).
    """
    if isinstance(name, Reduction):
        return name
    return Reduction(name=REDUCTIONS.entry(name).name, seed=int(seed))
