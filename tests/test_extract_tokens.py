"""Token-aware extraction: layouts, reductions over tokens with padding masks, nested tensors.

Every reduction is compared with a manual forward pass: each sequence is run alone,
without padding, with the test's own forward hook, so padding tokens cannot leak into
the reference.  Models are tiny random ``transformers`` configs (nothing downloaded).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import tda_activations.extract as extract_pkg
from tda_activations.datasets import TokenDataset, flat_hierarchy
from tda_activations.extract import extract, list_layers
from tda_activations.extract.reductions import hash_uniform
from tda_activations.types import ImageDataset

transformers = pytest.importorskip("transformers")

REDUCTIONS = (
    "top_l2",
    "random_position",
    "all_positions",
    "global_avg_pool",
    "first_token",
    "last_token",
)


def _tokens(
    n: int = 7, t: int = 9, vocab: int = 20, *, padded: bool, seed: int = 0
) -> TokenDataset:
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, size=(n, t))
    mask = np.ones((n, t), dtype=np.int64)
    if padded:
        lengths = rng.integers(2, t + 1, size=n)
        lengths[0] = t  # one full-length sequence: the padded length is t
        for i, length in enumerate(lengths):
            mask[i, length:] = 0
            ids[i, length:] = 0
    return TokenDataset(input_ids=ids, attention_mask=mask, labels=np.arange(n) % 3, name="toks")


def _hooked(model: nn.Module, layer: str, **inputs: torch.Tensor) -> torch.Tensor:
    """The output of ``layer`` in one forward pass (the test's own hook)."""
    seen: list[torch.Tensor] = []

    def hook(m: nn.Module, i: object, o: object) -> None:
        t = o[0] if isinstance(o, tuple) else o
        seen.append(t.detach().clone())

    handle = model.get_submodule(layer).register_forward_hook(hook)
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        handle.remove()
    return seen[0]


def _per_sample(model: nn.Module, data: TokenDataset, layer: str) -> list[np.ndarray]:
    """Each sequence run alone without its padding: ``(L_i, D)`` per sample."""
    model.eval()
    out = []
    for ids, mask in zip(data.input_ids, data.attention_mask, strict=True):
        length = int(mask.sum())
        x = torch.from_numpy(np.array(ids[None, :length]))
        m = torch.ones_like(x)
        out.append(_hooked(model, layer, input_ids=x, attention_mask=m)[0].numpy())
    return out


def _check(
    model: nn.Module,
    data: TokenDataset,
    layer: str,
    refs: list[np.ndarray],
    *,
    atol: float = 2e-5,
    batch_size: int = 3,
    **options: object,
) -> None:
    """Every reduction of ``layer`` against the per-sample references ``refs``."""
    n = len(refs)
    ids = np.arange(n)
    for name in REDUCTIONS:
        acts = extract(
            model, data, layers=[layer], reduction=name, batch_size=batch_size, seed=4, **options
        )
        cloud, rows = acts.cloud(layer), acts.sample_index[layer]
        assert acts.layouts[layer] == "tokens"
        if name == "all_positions":
            np.testing.assert_allclose(cloud, np.concatenate(refs), atol=atol, rtol=1e-4)
            np.testing.assert_array_equal(rows, np.repeat(ids, [len(r) for r in refs]))
            continue
        np.testing.assert_array_equal(rows, ids)
        if name == "global_avg_pool":
            expected = np.stack([r.mean(axis=0) for r in refs])
        elif name == "first_token":
            expected = np.stack([r[0] for r in refs])
        elif name == "last_token":
            expected = np.stack([r[-1] for r in refs])
        elif name == "random_position":
            u = hash_uniform(4, layer, ids)
            expected = np.stack(
                [r[min(int(u[i] * len(r)), len(r) - 1)] for i, r in enumerate(refs)]
            )
        else:  # top_l2: the token of largest norm (any token within float noise of the maximum)
            for i, r in enumerate(refs):
                norms = np.linalg.norm(r, axis=1)
                close = np.flatnonzero(norms >= norms.max() - 1e-4)
                assert min(np.abs(r[close] - cloud[i]).max(axis=1)) < atol * 10
            continue
        np.testing.assert_allclose(cloud, expected, atol=atol, rtol=1e-4, err_msg=name)


# ------------------------------------------------------------ PyTorch TransformerEncoder


class Encoder(nn.Module):
    """Embedding + ``nn.TransformerEncoder`` (fast path allowed) + a classifier on token 0."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(20, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=True)
        self.head = nn.Linear(16, 3)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        pad = None if attention_mask is None else attention_mask == 0
        h = self.enc(self.emb(input_ids), src_key_padding_mask=pad)
        return self.head(h[:, 0])


@pytest.mark.parametrize("padded", [False, True])
def test_transformer_encoder_every_reduction_matches_a_manual_forward(padded: bool) -> None:
    model, data = Encoder().eval(), _tokens(padded=padded)
    for layer in ("emb", "enc.layers.0", "enc.layers.1", "enc"):
        _check(model, data, layer, _per_sample(model, data, layer), atol=5e-5)
    acts = extract(model, data, layers=["enc.layers.0", "head"], reduction="top_l2")
    assert dict(acts.layouts) == {"enc.layers.0": "tokens", "head": "flat"}
    assert acts.predictions is not None and acts.params["attention_mask"] == "attention_mask"


def test_the_fast_path_gives_nested_tensors_and_they_are_read_without_padding() -> None:
    model, data = Encoder().eval(), _tokens(padded=True)
    x = {
        "input_ids": torch.from_numpy(np.array(data.input_ids)),
        "attention_mask": torch.from_numpy(np.array(data.attention_mask)),
    }
    with torch.inference_mode():
        nested = _hooked(model, "enc.layers.0", **x)
    assert nested.is_nested  # what the hooks see on this path
    acts = extract(model, data, layers=["enc.layers.0"], reduction="all_positions")
    assert acts.cloud("enc.layers.0").shape == (int(data.attention_mask.sum()), 16)


def test_without_padding_flatten_is_every_token_and_with_padding_it_refuses() -> None:
    model = Encoder().eval()
    full = _tokens(padded=False)
    refs = _per_sample(model, full, "enc.layers.1")
    acts = extract(model, full, layers=["enc.layers.1"], reduction="flatten")
    np.testing.assert_allclose(
        acts.cloud("enc.layers.1"), np.stack([r.reshape(-1) for r in refs]), atol=5e-5, rtol=1e-4
    )
    with pytest.raises(ValueError, match="flatten.*padding"):
        extract(model, _tokens(padded=True), layers=["enc.layers.1"], reduction="flatten")


def test_token_reductions_do_not_depend_on_the_batch_size() -> None:
    model, data = Encoder().eval(), _tokens(n=11, padded=True, seed=3)
    for red, cap in (("random_position", None), ("all_positions", 17)):
        a, b = (
            extract(
                model,
                data,
                layers=["enc.layers.1"],
                reduction=red,
                max_points=cap,
                seed=2,
                batch_size=bs,
            )
            for bs in (2, 11)
        )
        np.testing.assert_array_equal(
            a.sample_index["enc.layers.1"], b.sample_index["enc.layers.1"]
        )
        np.testing.assert_allclose(
            a.cloud("enc.layers.1"), b.cloud("enc.layers.1"), atol=5e-5, rtol=1e-4
        )
    assert a.cloud("enc.layers.1").shape == (17, 16)


# ----------------------------------------------------------------- tiny transformers models


def _gpt2() -> nn.Module:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=50,
        n_positions=16,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2Model(cfg).eval()


def _bert() -> nn.Module:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
        pad_token_id=0,
    )
    return transformers.BertModel(cfg, add_pooling_layer=True).eval()


@pytest.mark.parametrize("padded", [False, True])
def test_gpt2_blocks_every_reduction_matches_a_manual_forward(padded: bool) -> None:
    model, data = _gpt2(), _tokens(vocab=50, padded=padded)
    for layer in ("h.0", "h.1", "ln_f", "h.0.mlp.c_fc", "h.1.attn"):
        _check(model, data, layer, _per_sample(model, data, layer))


@pytest.mark.parametrize("padded", [False, True])
def test_bert_layers_every_reduction_matches_a_manual_forward(padded: bool) -> None:
    model, data = _bert(), _tokens(vocab=50, padded=padded)
    for layer in (
        "embeddings",
        "encoder.layer.0",
        "encoder.layer.1",
        "encoder.layer.0.intermediate",
    ):
        _check(model, data, layer, _per_sample(model, data, layer))
    pooled = extract(model, data, layers=["pooler"], reduction="top_l2")
    assert pooled.layouts["pooler"] == "flat" and pooled.cloud("pooler").shape == (
        len(data.labels),
        32,
    )


def test_a_vit_block_is_a_cloud_of_width_points_not_of_token_count_points() -> None:
    torch.manual_seed(0)
    cfg = transformers.ViTConfig(
        image_size=8,
        patch_size=2,
        num_channels=3,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    model = transformers.ViTModel(cfg).eval()
    rng = np.random.default_rng(0)
    data = ImageDataset(
        images=rng.normal(size=(5, 3, 8, 8)).astype(np.float32),
        labels=np.arange(5) % 2,
        hierarchy=flat_hierarchy(["a", "b"]),
        name="img",
    )
    x = torch.from_numpy(np.array(data.images))
    for layer in ("layers.0", "layers.1", "embeddings", "layers.0.mlp"):
        ref = _hooked(model, layer, pixel_values=x).numpy()  # (5, 17, 32)
        assert ref.shape == (5, 17, 32)
        every = extract(model, data, layers=[layer], reduction="all_positions", batch_size=2)
        assert every.layouts[layer] == "tokens"
        np.testing.assert_allclose(every.cloud(layer), ref.reshape(-1, 32), atol=2e-5, rtol=1e-4)
        gap = extract(model, data, layers=[layer], reduction="global_avg_pool")
        np.testing.assert_allclose(gap.cloud(layer), ref.mean(axis=1), atol=2e-5, rtol=1e-4)
        cls = extract(model, data, layers=[layer], reduction="first_token")
        np.testing.assert_allclose(cls.cloud(layer), ref[:, 0], atol=2e-5, rtol=1e-4)
        top = extract(model, data, layers=[layer], reduction="top_l2")
        best = np.linalg.norm(ref, axis=2).argmax(axis=1)
        np.testing.assert_allclose(top.cloud(layer), ref[np.arange(5), best], atol=2e-5, rtol=1e-4)
    conv = extract(
        model, data, layers=["embeddings.patch_embeddings.projection"], reduction="all_positions"
    )
    assert conv.layouts["embeddings.patch_embeddings.projection"] == "channels_first"
    assert conv.cloud("embeddings.patch_embeddings.projection").shape == (5 * 16, 32)


# ------------------------------------------------------------------------ layout decisions


class Block(nn.Module):
    """A user block whose type says nothing about its 3-D output."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.lin(x))


class Seq(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(20, 8)
        self.block = Block()
        self.conv = nn.Conv1d(8, 4, 3, padding=1)
        self.act = nn.ReLU()

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = self.block(self.emb(input_ids))
        return self.act(self.conv(h.transpose(1, 2))).mean(dim=2)


def test_an_ambiguous_layer_names_itself_its_shape_and_the_option() -> None:
    model, data = Seq().eval(), _tokens(padded=True)
    with pytest.raises(
        ValueError, match=r"layer 'block' \(Block\) has shape \(1, 9, 8\).*layout=\{'block'"
    ):
        extract(model, data, layers=["block"])
    with pytest.raises(ValueError, match="layer 'act'"):  # a ReLU after a Conv1d: undecided
        extract(model, data, layers=["act"])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    acts = extract(
        model,
        data,
        layers=["emb", "block", "conv", "act"],
        reduction="all_positions",
        layout={"bl*": "tokens", "act": "channels_first"},
    )
    assert dict(acts.layouts) == {
        "emb": "tokens",
        "block": "tokens",
        "conv": "channels_first",
        "act": "channels_first",
    }
    refs = _per_sample(model, data, "block")
    np.testing.assert_allclose(acts.cloud("block"), np.concatenate(refs), atol=1e-6)
    # a Conv1d's (B, C, L) output: every position is a point of dimension C (padding included:
    # the mask describes tokens, not a convolution's positions)
    x = torch.from_numpy(np.array(data.input_ids))
    conv = _hooked(model, "conv", input_ids=x).numpy()
    np.testing.assert_allclose(
        acts.cloud("conv"), conv.transpose(0, 2, 1).reshape(-1, 4), atol=1e-6
    )
    with pytest.raises(TypeError):
        acts.layouts["block"] = "flat"  # type: ignore[index]


def test_layouts_masks_and_token_reductions_fail_with_one_line_errors() -> None:
    model, data = Seq().eval(), _tokens(padded=True)
    cases = [
        ({"layers": ["emb"], "layout": "flat"}, ValueError, "does not fit layout 'flat'"),
        ({"layers": ["emb"], "layout": "rows"}, ValueError, "layout"),
        ({"layers": ["emb"], "layout": 3}, TypeError, "layout must be"),
        ({"layers": ["conv"], "reduction": "first_token"}, ValueError, "needs token sequences"),
        (
            {"layers": ["emb"], "attention_mask": "mask"},
            ValueError,
            "attention_mask='mask' names no input",
        ),
        ({"layers": ["emb"], "attention_mask": 1}, TypeError, "attention_mask must be"),
        ({"layers": ["emb"], "progress": lambda d, t: None}, TypeError, "on_batch"),
        ({"layers": ["emb"], "batch_size": 0}, ValueError, "batch_size"),
    ]
    for options, exc, message in cases:
        with pytest.raises(exc, match=message):
            extract(model, data, **options)  # type: ignore[arg-type]
    ids = torch.from_numpy(np.array(data.input_ids))
    twos = [{"input_ids": ids, "attention_mask": torch.full_like(ids, 2)}]
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        extract(model, twos, layers=["emb"])
    bad = TokenDataset(
        input_ids=np.array(data.input_ids), attention_mask=np.array(data.attention_mask), name="bad"
    )
    calls: list[tuple[int, int | None]] = []
    acts = extract(
        model,
        bad,
        layers=["emb"],
        on_batch=lambda d, t: calls.append((d, t)),
        batch_size=4,
        progress=True,
    )
    assert calls == [(4, 7), (7, 7)]
    assert acts.params["labelled"] is False and acts.hierarchy.class_names == ("unlabelled",)


class WithCls(nn.Module):
    """Prepends a learned token: 10 positions for a 9-token mask."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(20, 8)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.norm = nn.LayerNorm(8)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = self.emb(input_ids)
        return self.norm(torch.cat([self.cls.expand(h.shape[0], 1, 8), h], dim=1))


def test_a_mask_that_does_not_fit_the_tokens_is_an_error_and_none_turns_it_off() -> None:
    model, data = WithCls().eval(), _tokens(padded=True)
    with pytest.raises(
        ValueError, match=r"attention mask has shape \(3, 9\).*10 positions.*attention_mask=None"
    ):
        extract(model, data, layers=["norm"], reduction="all_positions", batch_size=3)
    acts = extract(model, data, layers=["norm"], reduction="all_positions", attention_mask=None)
    assert acts.cloud("norm").shape == (7 * 10, 8)


def test_a_layer_without_a_batch_axis_is_refused() -> None:
    with pytest.raises(ValueError, match="'wpe'.*not the batch"):
        extract(_gpt2(), _tokens(vocab=50, padded=False), layers=["wpe"])


def test_the_extract_contract_is_importable_from_the_package() -> None:
    for name in ("extract", "list_layers", "select_layers", "capture"):
        assert name in extract_pkg.__all__
    calls = list_layers(_gpt2(), {"input_ids": torch.zeros(1, 4, dtype=torch.long)})
    names = [c.name for c in calls]
    assert names.index("h.0") < names.index("h.1") and "h.0.attn.c_attn" in names


def test_bfloat16_autocast_gives_float32_points_close_to_float32() -> None:
    model, data = _gpt2(), _tokens(vocab=50, padded=True)
    ref = extract(model, data, layers=["h.1"], reduction="global_avg_pool")
    low = extract(model, data, layers=["h.1"], reduction="global_avg_pool", dtype="bfloat16")
    assert low.cloud("h.1").dtype == np.float32 and low.params["dtype"] == "bfloat16"
    assert ref.params["device"] == "cpu" and ref.params["layouts"] == {"h.1": "tokens"}
    scale = np.abs(ref.cloud("h.1")).max()
    assert np.abs(low.cloud("h.1") - ref.cloud("h.1")).max() < 0.1 * scale


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_extraction_matches_the_cpu() -> None:
    data = _tokens(vocab=50, padded=True)
    cpu = extract(_gpt2(), data, layers=["h.0", "h.1"], reduction="all_positions")
    gpu = extract(_gpt2().cuda(), data, layers=["h.0", "h.1"], reduction="all_positions")
    assert gpu.params["device"].startswith("cuda")
    for layer in ("h.0", "h.1"):
        np.testing.assert_array_equal(cpu.sample_index[layer], gpu.sample_index[layer])
        np.testing.assert_allclose(cpu.cloud(layer), gpu.cloud(layer), atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize(
    ("module", "shape", "layout"),
    [
        (nn.Conv2d(2, 3, 1), (4, 3, 5, 5), "channels_first"),
        (nn.Conv1d(2, 3, 1), (4, 3, 9), "channels_first"),
        (nn.BatchNorm1d(3), (4, 3, 9), "channels_first"),
        (nn.MaxPool1d(2), (4, 3, 9), "channels_first"),
        (nn.ReLU(), (4, 3, 5, 5), "channels_first"),
        (nn.Linear(3, 8), (4, 17, 8), "tokens"),
        (nn.LayerNorm(8), (4, 5, 5, 8), "tokens"),  # channels-last map
        (nn.GELU(), (4, 17, 8), "tokens"),
        (nn.MultiheadAttention(8, 2), (4, 17, 8), "tokens"),
        (nn.Linear(3, 8), (4, 8), "flat"),
        (nn.ReLU(), (4, 17, 8), None),
        (nn.Sequential(), (4, 17, 8), None),
    ],
)
def test_layouts_are_inferred_from_module_type_and_shape(
    module: nn.Module, shape: tuple[int, ...], layout: str | None
) -> None:
    from tda_activations._hooks import LayoutHints, infer_layout

    assert infer_layout(module, shape) == layout
    if layout is None:  # a transformers model's width or sequence length decides, unless T == D
        assert infer_layout(module, shape, LayoutHints(width=8)) == "tokens"
        assert infer_layout(module, shape, LayoutHints(width=32, seq_len=17)) == "tokens"
        assert infer_layout(module, (4, 8, 8), LayoutHints(width=8, seq_len=8)) is None
