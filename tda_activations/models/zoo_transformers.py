"""Two small transformers with known answers.

A tiny ViT on the embedded digits and a one-layer transformer that learns modular
addition with Fourier features.

- :class:`TinyViT`: patch embedding, a CLS token, learned positions, pre-norm blocks,
  the CLS token's final state classified.  In the zoo as ``"vit"`` (images in, logits
  out), trained like the other zoo models by :func:`~tda_activations.models.pretrained`.
- :class:`ModularTransformer`: token and position embeddings, blocks without layer norm
  (as in Nanda et al. 2023), logits read at the ``=`` token.  Trained on
  :func:`~tda_activations.datasets.modular.load_modular_addition` by
  :func:`pretrained_modular_addition`, which caches the weights by content like the zoo.

Both are built from the same :class:`TransformerBlock`, so hooks name the residual
stream the same way: ``blocks.i`` (the stream after block ``i``), ``blocks.i.attn``,
``blocks.i.mlp``.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._hashing import fingerprint_model, fingerprint_params
from .._progress import progress_bar
from .._torch import check_model, eval_mode

if TYPE_CHECKING:
    from .training import TrainedModel

__all__ = [
    "MODULAR_DEFAULTS",
    "MODULAR_FORMAT",
    "ModularTransformer",
    "SelfAttention",
    "TinyViT",
    "TransformerBlock",
    "build_modular_transformer",
    "fit_modular",
    "last_token_logits",
    "modular_accuracy",
    "modular_training_key",
    "pretrained_modular_addition",
    "token_states",
    "train_modular_from_scratch",
]

log = logging.getLogger(__name__)


class SelfAttention(nn.Module):
    """Multi-head self-attention written out (so the pattern can be hooked): ``qkv`` and ``out``.

    Parameters
    ----------
    dim
        Width of the residual stream.
    heads
        Number of heads; ``dim`` must be a multiple of it.
    causal
        Mask attention to later positions.
    """

    def __init__(self, dim: int, heads: int, *, causal: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.heads = heads
        self.causal = causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.pattern = nn.Identity()  # hook point: attention weights (B, heads, T, T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attention output for a token batch ``(batch, tokens, dim)``."""
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) / float(d // self.heads) ** 0.5
        if self.causal:
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            scores = scores.masked_fill(mask, float("-inf"))
        weights = self.pattern(scores.softmax(dim=-1))
        return self.out((weights @ v).transpose(1, 2).reshape(b, t, d))


class TransformerBlock(nn.Module):
    """``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``.

    The norms are identities when ``pre_norm=False``.

    Parameters
    ----------
    dim, heads
        Width and number of attention heads.
    mlp_dim
        Hidden width of the MLP (ReLU for the modular model, GELU in the ViT).
    pre_norm
        Layer norm before the attention and the MLP (ViT) or none (Nanda et al.'s model).
    activation
        ``"gelu"`` or ``"relu"``.
    causal
        Causal attention mask.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        mlp_dim: int,
        *,
        pre_norm: bool = True,
        activation: str = "gelu",
        causal: bool = False,
    ) -> None:
        super().__init__()
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation must be 'gelu' or 'relu', got {activation!r}")
        self.norm1: nn.Module = nn.LayerNorm(dim) if pre_norm else nn.Identity()
        self.attn = SelfAttention(dim, heads, causal=causal)
        self.norm2: nn.Module = nn.LayerNorm(dim) if pre_norm else nn.Identity()
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.GELU() if activation == "gelu" else nn.ReLU(),
            nn.Linear(mlp_dim, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block applied to a token batch ``(batch, tokens, dim)`` (pre-norm, residual)."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A tiny Vision Transformer: patches -> tokens, a CLS token, pre-norm blocks, a linear head.

    Parameters
    ----------
    in_channels, num_classes
        Input channels and output logits.
    image_size
        Side of the (square) input; a multiple of ``patch_size``.
    patch_size
        Side of the square patches.
    dim, depth, heads
        Width, number of blocks, attention heads.
    mlp_ratio
        MLP width as a multiple of ``dim``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 16,
        patch_size: int = 4,
        dim: int = 48,
        depth: int = 3,
        heads: int = 4,
        mlp_ratio: float = 2.0,
    ) -> None:
        super().__init__()
        if image_size % patch_size:
            raise ValueError(
                f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})"
            )
        n_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n_patches + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, heads, max(1, round(mlp_ratio * dim))) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def vit_builder(
    *, in_channels: int, image_size: int, num_classes: int, width: float = 1.0, **kw: Any
) -> nn.Module:
    """Zoo builder of :class:`TinyViT`: ``dim = heads * round(12 * width)`` (48 at width 1)."""
    heads = int(kw.pop("heads", 4))
    dim = heads * max(1, round(12 * width))
    return TinyViT(in_channels, num_classes, image_size=image_size, dim=dim, heads=heads, **kw)


class ModularTransformer(nn.Module):
    """A transformer on ``a, b, =`` token sequences with logits over the residues at ``=``.

    Parameters
    ----------
    p
        The modulus: ``p + 1`` tokens (residues and ``=``), ``p`` logits.
    dim, heads, mlp_dim
        Width, attention heads and MLP width (Nanda et al.: 128, 4, 512).
    depth
        Number of blocks (no layer norm, ReLU MLPs).

    Notes
    -----
    ``embed.weight[:p]`` is the embedding matrix ``W_E`` of the residues.
    """

    def __init__(
        self, p: int, *, dim: int = 128, heads: int = 4, mlp_dim: int = 512, depth: int = 1
    ) -> None:
        super().__init__()
        self.p = int(p)
        self.embed = nn.Embedding(p + 1, dim)
        self.pos_embed = nn.Parameter(torch.randn(3, dim) / dim**0.5)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, heads, mlp_dim, pre_norm=False, activation="relu", causal=True)
            for _ in range(depth)
        )
        self.unembed = nn.Linear(dim, p, bias=False)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``(batch, p)`` at the last token of ``input_ids`` ``(batch, T <= 3)``.

        ``attention_mask`` (the batches of a :class:`~tda_activations.datasets.TokenDataset`)
        must be all ones: the model has no padding.
        """
        tokens = input_ids
        if tokens.ndim != 2 or tokens.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"expected integer tokens of shape (batch, 3), got {tuple(tokens.shape)} {tokens.dtype}"
            )
        if attention_mask is not None and not bool((attention_mask == 1).all()):
            raise ValueError(
                "the modular addition model takes no padding: attention_mask must be all ones"
            )
        x = self.embed(tokens) + self.pos_embed[: tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.unembed(x[:, -1])

    @property
    def residue_embedding(self) -> torch.Tensor:
        """``W_E``: the embedding rows of the residues 0 to p - 1, ``(p, dim)``."""
        return self.embed.weight[: self.p]


def build_modular_transformer(
    p: int = 59,
    *,
    dim: int = 128,
    heads: int = 4,
    mlp_dim: int = 512,
    depth: int = 1,
    seed: int | None = None,
) -> ModularTransformer:
    """An untrained :class:`ModularTransformer`, initialised from ``seed`` (``None``: torch's state).

    Parameters
    ----------
    p
        The modulus: ``p + 1`` tokens (residues and ``=``), ``p`` logits.
    dim, heads, mlp_dim
        Width, attention heads (must divide ``dim``) and MLP width.
    depth
        Number of blocks.
    seed
        Seed of the initialisation; ``None``: torch's current random state.

    Returns
    -------
    ModularTransformer
        The model.

    Raises
    ------
    ValueError
        Sizes that are not positive integers or a width not divisible by ``heads``.
    """
    for name, value in (
        ("p", p),
        ("dim", dim),
        ("heads", heads),
        ("mlp_dim", mlp_dim),
        ("depth", depth),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if seed is None:
        return ModularTransformer(p, dim=dim, heads=heads, mlp_dim=mlp_dim, depth=depth)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ModularTransformer(p, dim=dim, heads=heads, mlp_dim=mlp_dim, depth=depth)


def token_states(
    model: nn.Module,
    tokens: Any,
    *,
    layers: tuple[str, ...] | list[str],
    batch_size: int = 1024,
) -> dict[str, np.ndarray]:
    """Every position's state at some layers of a token model, float32 ``(n, T, d)`` per layer.

    A small helper for token models that take one integer tensor (the modular model):
    the hooks are the project's :func:`~tda_activations.extract.capture`, the model runs
    in eval mode under ``torch.inference_mode()``, and its mode is restored afterwards.

    Parameters
    ----------
    model
        A model called as ``model(tokens)``.
    tokens
        Integer array ``(n, T)``.
    layers
        Layer names (``"embed"``, ``"blocks.0.attn"``, ``"blocks.0"``, ...).
    batch_size
        Sequences per forward pass.

    Returns
    -------
    dict
        Layer name -> float32 array ``(n, T, d)``.

    Raises
    ------
    ValueError
        Unknown layers, or a layer whose output is not ``(batch, T, d)``.
    """
    from ..extract import capture

    x = torch.from_numpy(np.array(tokens))
    if x.ndim != 2 or x.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"tokens must be an integer array (n, T), got {tuple(x.shape)} {x.dtype}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    got: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}

    def sink(layer: str, value: torch.Tensor) -> None:
        if value.ndim != 3 or value.shape[:2] != current[0].shape:
            raise ValueError(
                f"layer {layer!r} gave shape {tuple(value.shape)}, not (batch, "
                f"{current[0].shape[1]}, d): it is not a per-token state"
            )
        got[layer].append(value.detach().float().cpu().numpy().copy())

    current: list[torch.Tensor] = [x[:0]]
    with eval_mode(check_model(model)), torch.inference_mode(), capture(model, list(layers), sink):
        for start in range(0, x.shape[0], batch_size):
            current[0] = x[start : start + batch_size]
            model(current[0])
    return {layer: np.concatenate(parts) for layer, parts in got.items()}


# ------------------------------------------------------------------ training


#: Settings of :func:`pretrained_modular_addition` (Nanda et al.'s recipe, shortened):
#: full-batch AdamW with strong weight decay on 60% of the pairs of p = 59, a width-64 block.
#: At lr 1e-2, seeds 0, 1, 3 and 4 hold test accuracy 1.0 from step 150-350 on, seed 2 is at
#: 0.9993 at step 600; after the 1000 steps all five are at 1.0 (one torch thread), about
#: 35 CPU seconds each (``benchmarks/results/modular_addition.md``).  Their weights ship
#: with the package.
#: Changing a value changes the training key: rerun ``benchmarks/make_zoo_weights.py``.
MODULAR_DEFAULTS: dict[str, Any] = {
    "p": 59,
    "train_fraction": 0.6,
    "dim": 64,
    "heads": 4,
    "mlp_dim": 256,
    "depth": 1,
    "steps": 1000,
    "lr": 1e-2,
    "weight_decay": 1.0,
    "warmup": 10,
}

#: Version of the modular training procedure (:func:`fit_modular`) in the training key.
#: 2: the loss reads :func:`last_token_logits` (same gradients, about half the CPU per step).
MODULAR_FORMAT = 2


def modular_accuracy(model: nn.Module, data: Any) -> float:
    """Accuracy of ``model`` on a :class:`~tda_activations.datasets.modular.ModularDataset`."""
    with eval_mode(check_model(model)), torch.inference_mode():
        logits = model(torch.from_numpy(np.array(data.tokens)))
    return float((logits.argmax(dim=1).numpy() == data.labels).mean())


def last_token_logits(model: ModularTransformer, input_ids: torch.Tensor) -> torch.Tensor:
    """``model(input_ids)`` computed for the last position only: the training forward pass.

    The logits are read at the last token, so the last block needs its attention query,
    attention output and MLP at that position alone (keys and values at every position).
    Equal to ``model(input_ids)`` up to float rounding, with the same gradients, for about half
    the CPU time of a training step (1.8-2x measured); hooks are not called (use the model itself to read activations).

    Parameters
    ----------
    model
        A :class:`ModularTransformer`.
    input_ids
        Integer tokens ``(batch, T)``.

    Returns
    -------
    torch.Tensor
        Logits ``(batch, p)``.
    """
    x = model.embed(input_ids) + model.pos_embed[: input_ids.shape[1]]
    for block in model.blocks[:-1]:
        x = block(x)
    last = cast(TransformerBlock, model.blocks[-1])
    attn = last.attn
    b, t, d = x.shape
    heads = attn.heads
    normed = last.norm1(x)
    w, bias = attn.qkv.weight, attn.qkv.bias
    q = F.linear(normed[:, -1], w[:d], bias[:d]).view(b, heads, 1, d // heads)
    k, v = F.linear(normed, w[d:], bias[d:]).view(b, t, 2, heads, d // heads).permute(2, 0, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / float(d // heads) ** 0.5  # the last query sees every key
    z = x[:, -1] + attn.out((scores.softmax(dim=-1) @ v).reshape(b, d))
    z = z + last.mlp(last.norm2(z))
    return cast(torch.Tensor, model.unembed(z))


def fit_modular(
    model: nn.Module,
    train: Any,
    *,
    seed: int = 0,
    steps: int = 3000,
    lr: float = 1e-3,
    weight_decay: float = 1.0,
    warmup: int = 10,
    progress: bool | None = None,
) -> nn.Module:
    """Full-batch AdamW (betas 0.9, 0.98) on modular addition; a copy is trained, in eval mode.

    Parameters
    ----------
    model
        A :class:`ModularTransformer` (not modified).
    train
        A :class:`~tda_activations.datasets.modular.ModularDataset`.
    seed
        Seeds torch's state during training (full batch: the data order plays no part).
    steps, lr, weight_decay, warmup
        Optimisation: ``steps`` full-batch updates, learning rate warmed up linearly
        over ``warmup`` steps.
    progress
        Show a progress bar (``None``: on a terminal only).

    Returns
    -------
    torch.nn.Module
        The trained copy, in eval mode.
    """
    import copy

    if steps < 1 or lr <= 0 or weight_decay < 0 or warmup < 0:
        raise ValueError("steps must be >= 1, lr > 0, weight_decay >= 0 and warmup >= 0")
    model = copy.deepcopy(check_model(model))
    forward = (
        functools.partial(last_token_logits, model)
        if isinstance(model, ModularTransformer)
        else model
    )
    x = torch.from_numpy(np.array(train.tokens))
    y = torch.from_numpy(np.array(train.labels))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, warmup)))
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with progress_bar(
            total=steps, desc="modular addition", unit="step", enabled=progress
        ) as bar:
            for step in range(steps):
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(forward(x), y)
                loss.backward()
                opt.step()
                sched.step()
                bar.update(1)
                if step % 500 == 0:
                    log.debug("step %d: loss %.4f", step, loss.item())
    return model.eval()


def __getattr__(name: str) -> Any:
    # ``TrainedModularModel`` is the zoo's ``TrainedModel`` (imported late: training imports
    # this module through the zoo)
    if name == "TrainedModularModel":
        from .training import TrainedModel

        return TrainedModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _modular_plan(seed: int, settings: dict[str, Any]) -> tuple[str, dict[str, Any], Any]:
    """(training key, settings, data split) of one modular-addition model."""
    from ..datasets.modular import load_modular_addition

    unknown = set(settings) - set(MODULAR_DEFAULTS)
    if unknown:
        from ..types import unknown_name_error

        raise unknown_name_error("modular addition setting", min(unknown), MODULAR_DEFAULTS)
    cfg = {**MODULAR_DEFAULTS, **settings}
    data = load_modular_addition(cfg["p"], train_fraction=cfg["train_fraction"], seed=seed)
    key = fingerprint_params(
        {
            "arch": {
                "name": "modular_transformer",
                "p": cfg["p"],
                **{k: cfg[k] for k in _ARCH_KEYS},
            },
            "train": {k: cfg[k] for k in _TRAIN_KEYS},
            "seed": int(seed),
            "data": data.train.fingerprint,
            "format": MODULAR_FORMAT,
        }
    )
    return key, cfg, data


def modular_training_key(*, seed: int = 0, settings: dict[str, Any] | None = None) -> str:
    """The training key of a modular-addition model (what its shipped or cached file is found by).

    It hashes the architecture, the training settings (:data:`MODULAR_DEFAULTS` with
    ``settings`` over them, :data:`MODULAR_FORMAT`), the fingerprint of the training split
    and the seed.

    Parameters
    ----------
    seed
        Seed of initialisation, train/test split and training.
    settings
        Overrides of :data:`MODULAR_DEFAULTS`.

    Returns
    -------
    str
        A hex digest.

    Raises
    ------
    ValueError
        An unknown setting.
    """
    return _modular_plan(seed, dict(settings or {}))[0]


_ARCH_KEYS = ("dim", "heads", "mlp_dim", "depth")
_TRAIN_KEYS = ("steps", "lr", "weight_decay", "warmup")


def _modular_result(
    model: nn.Module,
    cfg: dict[str, Any],
    data: Any,
    *,
    seed: int,
    key: str,
    source: str,
    seconds: float,
) -> TrainedModel:
    from .training import TrainedModel

    return TrainedModel(
        name="modular_addition",
        model=model,
        data=data,
        seed=int(seed),
        test_accuracy=modular_accuracy(model, data.test),
        train_accuracy=modular_accuracy(model, data.train),
        fingerprint=fingerprint_model(model),
        params=dict(cfg),
        seconds=seconds,
        source=source,
        key=key,
    )


def _train_modular(
    cfg: dict[str, Any], data: Any, *, seed: int, progress: bool | None
) -> nn.Module:
    log.info("training the modular addition model (p=%d, seed %d)", cfg["p"], seed)
    fresh = build_modular_transformer(cfg["p"], seed=seed, **{k: cfg[k] for k in _ARCH_KEYS})
    return fit_modular(
        fresh, data.train, seed=seed, progress=progress, **{k: cfg[k] for k in _TRAIN_KEYS}
    )


def train_modular_from_scratch(*, seed: int = 0, progress: bool | None = None) -> TrainedModel:
    """Train the modular-addition model at :data:`MODULAR_DEFAULTS` now (nothing read or written).

    How its shipped weights were made (``benchmarks/make_zoo_weights.py``).

    Parameters
    ----------
    seed
        Seed of initialisation, train/test split and training.
    progress
        Progress bar while training (``None``: on a terminal only).

    Returns
    -------
    TrainedModel
        ``source="trained"``, with the training wall time in ``seconds``.
    """
    key, cfg, data = _modular_plan(seed, {})
    t0 = time.perf_counter()
    model = _train_modular(cfg, data, seed=seed, progress=progress)
    return _modular_result(
        model, cfg, data, seed=seed, key=key, source="trained", seconds=time.perf_counter() - t0
    )


def pretrained_modular_addition(
    *,
    seed: int = 0,
    cache: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    **settings: Any,
) -> TrainedModel:
    """A :class:`ModularTransformer` trained on ``(a + b) mod p``: shipped, cached or trained now.

    The weights are found by their training key (settings, data split, seed) as for every
    zoo model (:func:`~tda_activations.models.training.load_or_train`): seeds 0-4 at
    :data:`MODULAR_DEFAULTS` ship with the package; other settings are trained on first
    use and cached.  A damaged cache entry is retrained, never used; damaged shipped
    weights raise.  ``pretrained("modular_addition", seed=s)`` is the same call.

    Parameters
    ----------
    seed
        Seed of initialisation, train/test split and training.
    cache
        Cache folder (default :func:`~tda_activations.models.cache_dir`).
    progress
        Progress bar while training (``None``: on a terminal only).
    **settings
        Override :data:`MODULAR_DEFAULTS` (``p``, ``train_fraction``, ``dim``, ``heads``,
        ``mlp_dim``, ``depth``, ``steps``, ``lr``, ``weight_decay``, ``warmup``).

    Returns
    -------
    TrainedModel
        ``name="modular_addition"``, the model in eval mode, ``data`` its
        :class:`~tda_activations.datasets.modular.ModularSplit`, the accuracies, ``params``
        (the settings), ``source`` (``"shipped"``, ``"cache"`` or ``"trained"``) and ``key``.

    Raises
    ------
    ValueError
        An unknown setting or a bad value.
    DamagedWeightsError
        A shipped weight file fails its checks: the installed package is damaged.
    """
    from .training import load_or_train

    key, cfg, data = _modular_plan(seed, settings)

    def build() -> nn.Module:
        return build_modular_transformer(cfg["p"], seed=seed, **{k: cfg[k] for k in _ARCH_KEYS})

    model, source, seconds = load_or_train(
        "modular_addition",
        seed=seed,
        key=key,
        build=build,
        cache=cache,
        train=lambda: _train_modular(cfg, data, seed=seed, progress=progress),
    )
    return _modular_result(model, cfg, data, seed=seed, key=key, source=source, seconds=seconds)
