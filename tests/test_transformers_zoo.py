"""The zoo's transformers: a tiny ViT on digits and the modular-addition model, its data, the
Fourier tools, and the known answer (residues on circles) on an idealised embedding."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from tda_activations.datasets.modular import (
    ModularDataset,
    fourier_basis,
    frequency_plane,
    frequency_power,
    key_frequencies,
    load_modular_addition,
)
from tda_activations.homology import persistence
from tda_activations.models import (
    ModularTransformer,
    TinyViT,
    build_model,
    build_modular_transformer,
    pretrained,
    pretrained_modular_addition,
    token_states,
    zoo_names,
)
from tda_activations.models.zoo_transformers import fit_modular, modular_accuracy

TINY = {"p": 11, "dim": 16, "heads": 2, "mlp_dim": 32, "steps": 4, "train_fraction": 0.5}


# ------------------------------------------------------------------ models


def test_vit_is_in_the_zoo_and_has_named_blocks() -> None:
    assert "vit" in zoo_names()
    model = build_model("vit", image_size=16, seed=0)
    assert isinstance(model, TinyViT)
    out = model(torch.randn(3, 1, 16, 16))
    assert out.shape == (3, 10)
    names = dict(model.named_modules())
    for name in ("patch_embed", "blocks.0", "blocks.2.attn", "blocks.2.mlp", "head"):
        assert name in names
    again = build_model("vit", image_size=16, seed=0)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="multiple of patch_size"):
        TinyViT(image_size=10, patch_size=4)


def test_vit_trains_and_hits_the_cache(tmp_path) -> None:
    first = pretrained("vit", epochs=1, cache=tmp_path)
    assert first.seconds > 0 and 0.0 <= first.test_accuracy <= 1.0
    second = pretrained("vit", epochs=1, cache=tmp_path)
    assert second.seconds == 0 and second.fingerprint == first.fingerprint


def test_modular_transformer_shapes_and_bad_tokens() -> None:
    model = build_modular_transformer(11, dim=16, heads=2, mlp_dim=32, seed=0)
    assert isinstance(model, ModularTransformer)
    logits = model(torch.tensor([[1, 2, 11], [10, 10, 11]]))
    assert logits.shape == (2, 11)
    assert model.residue_embedding.shape == (11, 16)
    with pytest.raises(ValueError, match="integer tokens"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match="multiple of heads"):
        build_modular_transformer(11, dim=10, heads=4)
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        build_modular_transformer(11, dim=0)


def test_token_states_are_the_residual_stream() -> None:
    model = build_modular_transformer(11, dim=16, heads=2, mlp_dim=32, seed=1)
    data = load_modular_addition(11).test
    states = token_states(model, data.tokens, layers=["blocks.0.attn", "blocks.0"], batch_size=7)
    assert states["blocks.0"].shape == (len(data), 3, 16)
    # a manual forward pass: embeddings + positions, then the block
    with torch.inference_mode():
        x = torch.from_numpy(np.array(data.tokens))
        resid = model.embed(x) + model.pos_embed
        manual = model.blocks[0](resid)
    np.testing.assert_allclose(states["blocks.0"], manual.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="did you mean"):
        token_states(model, data.tokens, layers=["blocks.0.atn"])
    with pytest.raises(ValueError, match="not a per-token state"):
        token_states(model, data.tokens, layers=["unembed"])
    with pytest.raises(ValueError, match="integer array"):
        token_states(model, np.zeros((2, 3)), layers=["blocks.0"])


# ------------------------------------------------------------------ data


def test_modular_addition_data() -> None:
    split = load_modular_addition(13, train_fraction=0.3, seed=2)
    assert len(split.train) + len(split.test) == 169
    assert len(split.train) == round(0.3 * 169)
    ids = np.concatenate([split.train.sample_ids, split.test.sample_ids])
    assert sorted(ids.tolist()) == list(range(169))  # every pair exactly once
    for part in (split.train, split.test):
        assert np.array_equal(part.labels, (part.a + part.b) % 13)
        assert np.all(part.tokens[:, 2] == 13)
    every = split.all_pairs
    assert len(every) == 169 and np.array_equal(every.sample_ids, np.arange(169))
    assert split.train.fingerprint != split.test.fingerprint
    again = load_modular_addition(13, train_fraction=0.3, seed=2)
    assert again.train.fingerprint == split.train.fingerprint
    assert (
        load_modular_addition(13, train_fraction=0.3, seed=3).train.fingerprint
        != split.train.fingerprint
    )
    sub = split.test.subset([0, 2])
    assert np.array_equal(sub.sample_ids, split.test.sample_ids[[0, 2]])


@pytest.mark.parametrize("p", [1, 4, 57, 2.0, True])
def test_modular_addition_bad_modulus(p) -> None:
    with pytest.raises(ValueError, match="prime"):
        load_modular_addition(p)


def test_modular_addition_bad_inputs() -> None:
    for frac in (0.0, 1.0, -0.2, 1e-9):
        with pytest.raises(ValueError, match="train_fraction"):
            load_modular_addition(11, train_fraction=frac)
    hier = load_modular_addition(5).train.hierarchy
    with pytest.raises(ValueError, match=r"\(a \+ b\) mod 5"):
        ModularDataset(input_ids=np.array([[1, 2, 5]]), labels=np.array([4]), p=5, hierarchy=hier)
    with pytest.raises(ValueError, match="tokens must be"):
        ModularDataset(input_ids=np.array([[1, 7, 5]]), labels=np.array([3]), p=5, hierarchy=hier)
    with pytest.raises(ValueError, match="shape"):
        ModularDataset(
            input_ids=np.zeros((2, 2), dtype=int), labels=np.zeros(2), p=5, hierarchy=hier
        )


# ------------------------------------------------------------------ Fourier tools


def test_fourier_basis_is_orthonormal_and_matches_numpy_fft() -> None:
    p = 13
    basis = fourier_basis(p)
    np.testing.assert_allclose(basis @ basis.T, np.eye(p), atol=1e-12)
    rng = np.random.default_rng(0)
    w = rng.normal(size=(p, 5))
    # numpy's FFT: power at frequency f (both signs) = 2 |F_f|^2 / p for real input
    fft = np.fft.fft(w, axis=0)
    expected = 2.0 * (np.abs(fft[1 : (p - 1) // 2 + 1]) ** 2).sum(axis=1) / p
    np.testing.assert_allclose(frequency_power(w), expected, rtol=1e-12)
    # Parseval: the constant plus every frequency is the whole norm
    const = (w.sum(axis=0) ** 2).sum() / p
    np.testing.assert_allclose(const + frequency_power(w).sum(), (w**2).sum(), rtol=1e-12)


def _ideal_embedding(
    p: int, freqs: tuple[int, ...], *, dim: int = 24, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Residue k -> sum over f of cos(2 pi f k / p) u_f + sin(...) v_f, orthonormal u, v."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(dim, 2 * len(freqs))))
    k = np.arange(p)
    w = np.zeros((p, dim))
    for i, f in enumerate(freqs):
        amp = 1.0 / (i + 1)
        w += amp * (
            np.outer(np.cos(2 * np.pi * f * k / p), q[:, 2 * i])
            + np.outer(np.sin(2 * np.pi * f * k / p), q[:, 2 * i + 1])
        )
    return w + noise * rng.normal(size=w.shape)


def test_key_frequencies_find_the_planted_ones() -> None:
    w = _ideal_embedding(59, (14, 3, 25), noise=0.01)
    assert key_frequencies(w, n=3).tolist() == [14, 3, 25]  # strongest (largest amplitude) first
    with pytest.raises(ValueError, match="n must be"):
        key_frequencies(w, n=0)
    with pytest.raises(ValueError, match="frequency must be"):
        frequency_plane(w, 30)
    with pytest.raises(ValueError, match="no plane"):
        frequency_plane(_ideal_embedding(59, (14,)), 7)
    with pytest.raises(ValueError, match="NaN"):
        frequency_power(np.full((5, 2), np.nan))


def test_pipeline_finds_the_circle_of_a_fourier_embedding() -> None:
    """Known answer: p equally spaced points on a circle of radius r have one Rips H1 bar,
    born at the chord 2 r sin(pi / p) and dying when the triangles fill it in."""
    p, f = 59, 14
    w = _ideal_embedding(p, (f, 3))
    plane = frequency_plane(w, f)
    radius = np.linalg.norm(plane, axis=1)
    np.testing.assert_allclose(radius, radius[0], rtol=1e-9)  # a circle, not just an ellipse
    r = float(radius[0])
    dg = persistence(plane, maxdim=1, precision="float64")
    h1 = dg[1]
    assert h1.shape == (1, 2)
    np.testing.assert_allclose(h1[0, 0], 2 * r * np.sin(np.pi / p), rtol=1e-9)
    # the bar dies at the longest edge of the "most equilateral" triangle: chord of k steps,
    # k = round(p / 3), i.e. 2 r sin(pi k / p) with k = 20 for p = 59
    np.testing.assert_allclose(h1[0, 1], 2 * r * np.sin(np.pi * 20 / p), rtol=1e-9)
    # the whole embedding (a closed curve on a 2-torus in R^24) still has one dominant loop
    full = persistence(w, maxdim=1)[1]
    life = np.sort(full[:, 1] - full[:, 0])[::-1]
    assert life[0] > 3 * (life[1] if life.size > 1 else 0.0)


# ------------------------------------------------------------------ training and cache


def test_modular_training_is_deterministic() -> None:
    data = load_modular_addition(11, train_fraction=0.5)
    model = build_modular_transformer(11, dim=16, heads=2, mlp_dim=32, seed=0)
    a = fit_modular(model, data.train, seed=1, steps=3, progress=False)
    b = fit_modular(model, data.train, seed=1, steps=3, progress=False)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    assert not torch.equal(a.embed.weight, model.embed.weight)  # it trained a copy
    assert 0.0 <= modular_accuracy(a, data.test) <= 1.0
    with pytest.raises(ValueError, match="steps must be"):
        fit_modular(model, data.train, steps=0)


def test_pretrained_modular_addition_uses_the_cache(tmp_path, caplog) -> None:
    first = pretrained_modular_addition(seed=0, cache=tmp_path, progress=False, **TINY)
    assert first.seconds > 0 and first.params["p"] == 11 and first.source == "trained"
    assert first.name == "modular_addition" and first.key
    second = pretrained_modular_addition(seed=0, cache=tmp_path, progress=False, **TINY)
    assert second.seconds == 0 and second.fingerprint == first.fingerprint
    assert second.source == "cache" and second.key == first.key
    other = pretrained_modular_addition(seed=1, cache=tmp_path, progress=False, **TINY)
    assert other.fingerprint != first.fingerprint
    # a damaged cache entry is retrained, never used
    (entry,) = [
        f
        for f in (tmp_path / "models").glob("modular_addition-*.pt")
        if f.stat().st_mtime_ns
        == min(g.stat().st_mtime_ns for g in (tmp_path / "models").glob("*.pt"))
    ]
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        again = pretrained_modular_addition(seed=0, cache=tmp_path, progress=False, **TINY)
    assert again.seconds > 0 and again.source == "trained" and "retraining" in caplog.text
    assert again.fingerprint == first.fingerprint  # same seed, same machine: same weights


def test_pretrained_modular_addition_bad_settings(tmp_path) -> None:
    with pytest.raises(ValueError, match="did you mean 'steps'"):
        pretrained_modular_addition(cache=tmp_path, step=3)
    with pytest.raises(ValueError, match="width do not apply.*pretrained_modular_addition"):
        pretrained("modular_addition", width=2.0)


# ------------------------------------------------------------------ shipped config


def test_transformers_config_is_valid_and_its_layers_extract() -> None:
    from tda_activations.batch import load_config, shipped_configs
    from tda_activations.datasets import load_digits
    from tda_activations.extract import extract

    path = next(p for p in shipped_configs() if p.stem == "vit")
    cfg = load_config(path)
    assert [m.label for m in cfg.instances()] == ["vit"]
    data = load_digits(upsample=2).test.subset(range(6))
    acts = extract(
        build_model("vit", image_size=16, seed=0),
        data,
        layers=list(cfg.extract.layers),
        reduction=cfg.extract.reduction,
        layout=dict(cfg.extract.layout),
    )
    assert acts.layouts["blocks.1"] == "tokens"
    assert acts.cloud("blocks.1").shape == (6, 48)
    assert acts.cloud("head").shape == (6, 10)
