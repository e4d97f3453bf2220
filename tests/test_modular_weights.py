"""The modular-addition model: its training forward pass, its shipped weights (seeds 0-4)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tda_activations.datasets.modular import load_modular_addition
from tda_activations.models import (
    DamagedWeightsError,
    _weights,
    pretrained,
    pretrained_modular_addition,
)
from tda_activations.models._weights import sha256_file, shipped_dir, shipped_entries
from tda_activations.models.training import SHIPPED_SEEDS, training_key
from tda_activations.models.zoo_transformers import (
    MODULAR_DEFAULTS,
    build_modular_transformer,
    last_token_logits,
    modular_training_key,
)

SEEDS = SHIPPED_SEEDS["modular_addition"]


def _entry(seed: int) -> _weights.ShippedWeights:
    (entry,) = [e for e in shipped_entries() if e.name == "modular_addition" and e.seed == seed]
    return entry


@pytest.mark.parametrize("depth", [1, 2])
def test_last_token_logits_are_the_model_logits_with_the_same_gradients(depth: int) -> None:
    data = load_modular_addition(13, train_fraction=0.5, seed=1).train
    model = build_modular_transformer(13, dim=16, heads=4, mlp_dim=24, depth=depth, seed=3)
    x, y = torch.from_numpy(np.array(data.tokens)), torch.from_numpy(np.array(data.labels))
    grads = []
    for forward in (model, lambda t: last_token_logits(model, t)):
        model.zero_grad()
        logits = forward(x)
        F.cross_entropy(logits, y).backward()
        grads.append((logits.detach(), [p.grad.clone() for p in model.parameters()]))
    (full, g_full), (last, g_last) = grads
    torch.testing.assert_close(last, full, rtol=1e-5, atol=1e-6)
    assert len(g_full) == len(g_last)
    for a, b in zip(g_full, g_last):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-7)


def test_shipped_modular_entries_match_the_current_training_key() -> None:
    # a change of MODULAR_DEFAULTS, the split or MODULAR_FORMAT changes the key: the shipped
    # files are then not used (never a wrong one) and this test says to regenerate them
    for seed in SEEDS:
        entry = _entry(seed)
        assert (
            entry.key
            == modular_training_key(seed=seed)
            == training_key("modular_addition", seed=seed)
        ), f"seed {seed}: run benchmarks/make_zoo_weights.py"
        assert entry.settings == MODULAR_DEFAULTS
        assert entry.test_accuracy == 1.0
    total = sum(_entry(s).path.stat().st_size for s in SEEDS)
    assert total < 1_500_000  # five small files


@pytest.mark.parametrize("seed", SEEDS)
def test_shipped_modular_weights_load_without_training(seed: int, tmp_path) -> None:
    tm = pretrained_modular_addition(seed=seed, cache=tmp_path, progress=False)
    assert tm.source == "shipped" and tm.seconds == 0.0 and not tm.model.training
    assert not (tmp_path / "models").exists()  # nothing trained, nothing cached
    assert tm.key == _entry(seed).key and tm.params == MODULAR_DEFAULTS
    assert tm.test_accuracy == 1.0 and tm.train_accuracy == 1.0
    # the same weights on every machine give the same answers: on every pair the top logit
    # leads the second by far more than the float32 difference between 1 and 2 threads
    # (smallest top-2 gap over the 3481 pairs when shipped: 2.08 on seed 2, 5.8-11.3 on the
    # others; the thread-count difference measured 0)
    x = torch.from_numpy(np.array(tm.data.all_pairs.tokens))
    threads = torch.get_num_threads()
    try:
        with torch.inference_mode():
            torch.set_num_threads(1)
            logits = tm.model(x)
            torch.set_num_threads(2)
            noise = float((tm.model(x) - logits).abs().max())
    finally:
        torch.set_num_threads(threads)
    top2 = logits.topk(2, dim=1).values
    gap = float((top2[:, 0] - top2[:, 1]).min())
    assert gap > 1.0 and noise < gap / 100, (gap, noise)
    # the zoo's entry point gives the same model
    assert pretrained("modular_addition", seed=seed, cache=tmp_path).fingerprint == tm.fingerprint


def _flip_bytes_in_largest_member(path) -> None:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
    raw = bytearray(path.read_bytes())
    start = info.header_offset
    name_len = int.from_bytes(raw[start + 26 : start + 28], "little")
    extra_len = int.from_bytes(raw[start + 28 : start + 30], "little")
    data = start + 30 + name_len + extra_len
    raw[data + info.file_size // 2] ^= 0xFF  # one byte of tensor data; the zip stays readable
    path.write_bytes(bytes(raw))


def test_a_flipped_byte_in_shipped_modular_weights_is_refused(tmp_path, monkeypatch) -> None:
    copy = tmp_path / "zoo"
    shutil.copytree(shipped_dir(), copy)
    monkeypatch.setattr(_weights, "shipped_dir", lambda: copy)
    try:
        entry = _entry(2)
        assert entry.path.parent == copy
        _flip_bytes_in_largest_member(entry.path)
        with pytest.raises(
            DamagedWeightsError, match=r"modular_addition \(seed 2\).*checksum mismatch.*reinstall"
        ):
            pretrained_modular_addition(seed=2, cache=tmp_path / "cache", progress=False)
        assert not (tmp_path / "cache").exists()  # refused, not silently retrained
        # with a manifest checksum that matches the damaged bytes, the zip CRCs still catch it
        doc = json.loads((copy / "manifest.json").read_text())
        for e in doc["entries"]:
            if e["file"] == entry.path.name:
                e["sha256"] = sha256_file(entry.path)
        (copy / "manifest.json").write_text(json.dumps(doc))
        _weights._read_manifest.cache_clear()
        with pytest.raises(DamagedWeightsError, match="zip CRC error"):
            pretrained("modular_addition", seed=2, cache=tmp_path / "cache")
        # the other seeds are intact and still load
        assert pretrained_modular_addition(seed=0, cache=tmp_path / "cache").source == "shipped"
    finally:
        _weights._read_manifest.cache_clear()


def test_other_settings_are_not_the_shipped_weights(tmp_path) -> None:
    key = modular_training_key(seed=0, settings={"steps": 599})
    assert key != _entry(0).key
    assert all(e.key != key for e in shipped_entries())
