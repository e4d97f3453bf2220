"""Extraction: layer selection, hook hygiene, reductions, bad input, the on-disk store."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import tda_activations.extract.store as store_mod
from tda_activations.datasets import flat_hierarchy, load_digits
from tda_activations.extract import (
    CorruptStoreError,
    extract,
    extract_to_store,
    list_layers,
    load_store,
    select_layers,
    subsample_samples,
)
from tda_activations.models import build_model
from tda_activations.types import ImageDataset


def _data(n: int = 24, size: int = 6, channels: int = 2, seed: int = 0) -> ImageDataset:
    rng = np.random.default_rng(seed)
    return ImageDataset(
        images=rng.normal(size=(n, channels, size, size)).astype(np.float32),
        labels=np.arange(n) % 3,
        hierarchy=flat_hierarchy(["a", "b", "c"]),
        name="random",
    )


class Twice(nn.Module):
    """Uses one ReLU twice, an in-place ReLU after a conv, and returns a tuple from ``pair``."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.inplace = nn.ReLU(inplace=True)
        self.relu = nn.ReLU()
        self.lin = nn.Linear(4, 3)
        self.pair = Pair()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inplace(self.conv(x))
        h = self.relu(h - 0.5)
        h = self.relu(h - 0.1)
        a, b = self.pair(h)
        return self.lin((a + b).mean(dim=(2, 3)))


class Pair(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x * 2.0, x * 3.0


# ----------------------------------------------------------------- layer selection


def test_default_layers_are_convs_and_linears_in_forward_order() -> None:
    model = build_model("resnet18", width=0.125)
    names = select_layers(model, torch.zeros(1, 1, 16, 16))
    assert len(names) == 18
    assert names[0] == "conv1" and names[1] == "layer1.0.conv1" and names[-1] == "linear"
    assert (
        names.index("layer2.0.conv1")
        < names.index("layer2.0.conv2")
        < names.index("layer3.0.conv1")
    )


def test_select_by_glob_type_callable_and_exact_names() -> None:
    model, x = build_model("resnet18", width=0.125), torch.zeros(1, 1, 16, 16)
    assert select_layers(model, x, "layer4.*.conv2") == ("layer4.0.conv2", "layer4.1.conv2")
    assert select_layers(model, x, nn.Linear) == ("linear",)
    assert select_layers(model, x, lambda name, m: name.endswith("bn1"))[0] == "bn1"
    assert select_layers(model, x, ["linear", "conv1"]) == ("linear", "conv1")


def test_unknown_layers_fail_with_close_matches() -> None:
    model, x = build_model("resnet18", width=0.125), torch.zeros(1, 1, 16, 16)
    with pytest.raises(ValueError, match="did you mean .*'layer1.0.conv1'"):
        select_layers(model, x, "layer1.0.conv")
    with pytest.raises(ValueError, match="matches no layer"):
        select_layers(model, x, "block*")


def test_module_called_twice_gets_a_suffix_and_each_call_its_values() -> None:
    model, data = Twice(), _data()
    calls = [c.name for c in list_layers(model, data.images[:1])]
    assert "relu" in calls and "relu:1" in calls
    acts = extract(model, data, layers=["relu", "relu:1"], reduction="flatten")
    x = torch.from_numpy(np.array(data.images))
    with torch.no_grad():
        h = torch.relu(model.conv(x))
        first = torch.relu(h - 0.5)
        second = torch.relu(first - 0.1)
    np.testing.assert_allclose(acts.cloud("relu"), first.flatten(1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(acts.cloud("relu:1"), second.flatten(1).numpy(), rtol=1e-6)


def test_inplace_relu_does_not_change_what_was_captured() -> None:
    model, data = Twice(), _data()
    acts = extract(model, data, layers=["conv"], reduction="flatten")
    with torch.no_grad():
        raw = model.conv(torch.from_numpy(np.array(data.images))).flatten(1).numpy()
    assert (acts.cloud("conv") < 0).any()  # the pre-ReLU values, not the clamped ones
    np.testing.assert_allclose(acts.cloud("conv"), raw, rtol=1e-6)


def test_tuple_outputs_need_an_explicit_index() -> None:
    model, data = Twice(), _data()
    with pytest.raises(ValueError, match=r"tensor_index=\{'pair': i\}"):
        extract(model, data, layers=["pair"], reduction="global_avg_pool")
    acts = extract(
        model, data, layers=["pair"], reduction="global_avg_pool", tensor_index={"pair": 1}
    )
    base = extract(model, data, layers=["relu:1"], reduction="global_avg_pool")
    np.testing.assert_allclose(acts.cloud("pair"), 3.0 * base.cloud("relu:1"), rtol=1e-5)


def test_module_inputs_can_be_captured() -> None:
    model, data = Twice(), _data()
    inp = extract(model, data, layers=["lin"], io="input")
    with torch.no_grad():
        h = torch.relu(
            torch.relu(torch.relu(model.conv(torch.from_numpy(np.array(data.images)))) - 0.5) - 0.1
        )
        expected = (5.0 * h).mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(inp.cloud("lin"), expected, rtol=1e-5, atol=1e-6)


def test_eval_mode_is_used_and_restored_and_hooks_are_removed() -> None:
    model = build_model("resnet18", width=0.125, image_size=8, seed=0).train()
    data = _data(size=8, channels=1)
    acts = extract(model, data, layers=["linear"], reduction="flatten")
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(np.array(data.images))).numpy()
    np.testing.assert_allclose(acts.cloud("linear"), expected, rtol=1e-5, atol=1e-6)


def test_hooks_are_removed_when_the_forward_raises() -> None:
    class Boom(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(72, 3)
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            if self.calls > 1:  # the tracing pass succeeds, the extraction pass fails
                raise RuntimeError("boom")
            return self.lin(x.flatten(1))

    model = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        extract(model, _data(), layers=["lin"])
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


# ----------------------------------------------------------------------- reductions


def test_top_l2_takes_the_channel_vector_of_largest_norm() -> None:
    model, data = Twice(), _data()
    acts = extract(model, data, layers=["conv"], reduction="top_l2", batch_size=5)
    with torch.no_grad():
        fmap = model.conv(torch.from_numpy(np.array(data.images))).numpy()  # (n, c, h, w)
    flat = fmap.reshape(fmap.shape[0], fmap.shape[1], -1)
    best = np.linalg.norm(flat, axis=1).argmax(axis=1)
    expected = flat[np.arange(flat.shape[0]), :, best]
    np.testing.assert_allclose(acts.cloud("conv"), expected, rtol=1e-6)
    np.testing.assert_array_equal(acts.sample_index["conv"], np.arange(len(data)))


def test_global_average_pool_and_shapes_of_every_reduction() -> None:
    model, data = Twice(), _data(n=10)
    gap = extract(model, data, layers=["conv"], reduction="global_avg_pool")
    flat = extract(model, data, layers=["conv"], reduction="flatten")
    allp = extract(model, data, layers=["conv"], reduction="all_positions")
    np.testing.assert_allclose(
        gap.cloud("conv"), flat.cloud("conv").reshape(10, 4, 36).mean(axis=2), rtol=1e-5
    )
    assert flat.cloud("conv").shape == (10, 4 * 36)
    assert allp.cloud("conv").shape == (10 * 36, 4)
    np.testing.assert_array_equal(allp.sample_index["conv"], np.repeat(np.arange(10), 36))
    np.testing.assert_array_equal(allp.point_labels("conv"), np.repeat(data.labels, 36))


def test_random_reductions_are_seeded_and_independent_of_batch_size() -> None:
    model, data = Twice(), _data(n=30)
    a = extract(model, data, layers=["conv"], reduction="random_position", seed=1, batch_size=4)
    b = extract(model, data, layers=["conv"], reduction="random_position", seed=1, batch_size=30)
    c = extract(model, data, layers=["conv"], reduction="random_position", seed=2, batch_size=30)
    np.testing.assert_allclose(a.cloud("conv"), b.cloud("conv"), rtol=1e-5, atol=1e-6)
    assert not np.allclose(a.cloud("conv"), c.cloud("conv"))
    capped = [
        extract(
            model,
            data,
            layers=["conv"],
            reduction="all_positions",
            max_points=50,
            seed=0,
            batch_size=bs,
        )
        for bs in (3, 30)
    ]
    assert capped[0].cloud("conv").shape == (50, 4)
    np.testing.assert_array_equal(capped[0].sample_index["conv"], capped[1].sample_index["conv"])
    np.testing.assert_allclose(
        capped[0].cloud("conv"), capped[1].cloud("conv"), rtol=1e-5, atol=1e-6
    )
    assert np.all(np.diff(capped[0].sample_index["conv"]) >= 0)


def test_predictions_are_recorded_and_labels_follow_points() -> None:
    model, data = Twice(), _data()
    acts = extract(model, data, layers=["conv"], reduction="all_positions", max_points=40)
    preds = acts.point_predictions("conv")
    assert preds is not None and preds.shape == (40,)
    np.testing.assert_array_equal(acts.point_labels("conv"), data.labels[acts.sample_index["conv"]])


def test_subsample_samples_keeps_the_same_samples_in_every_layer() -> None:
    model, data = Twice(), _data(n=30)
    acts = extract(model, data, layers=["conv", "lin"], reduction="top_l2")
    sub = subsample_samples(acts, n_samples=10, seed=0)
    assert sub.labels.shape == (10,)
    for layer in sub.layers:
        assert sub.cloud(layer).shape[0] == 10
        np.testing.assert_array_equal(sub.sample_index[layer], np.arange(10))


# ----------------------------------------------------------------------- bad input


def test_bad_input_gets_clear_errors() -> None:
    data = _data()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        extract(lambda x: x, data)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ImageDataset"):
        extract(Twice(), np.zeros((3, 2, 6, 6)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        ImageDataset(
            images=np.zeros((0, 1, 4, 4)), labels=np.zeros(0, int), hierarchy=flat_hierarchy(["a"])
        )
    with pytest.raises(ValueError, match="one label per image"):
        ImageDataset(
            images=np.zeros((3, 1, 4, 4)), labels=np.zeros(2, int), hierarchy=flat_hierarchy(["a"])
        )
    with pytest.raises(ValueError, match="did you mean 'conv'"):
        extract(Twice(), data, layers=["conv2"])
    with pytest.raises(ValueError, match="reduction"):
        extract(Twice(), data, reduction="max_pool")


def test_non_finite_activations_name_the_layer_and_the_count() -> None:
    model = Twice()
    with torch.no_grad():
        model.lin.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"layer 'lin' produced 24 non-finite"):
        extract(model, _data(), layers=["conv", "lin"])


# -------------------------------------------------------------------------- store


def test_store_round_trip_and_reuse(tmp_path, monkeypatch) -> None:
    model, data = Twice(), _data()
    path = tmp_path / "store"
    acts = extract_to_store(model, data, path, layers=["conv", "relu:1"], reduction="top_l2")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["model_fingerprint"] == acts.model_fingerprint and manifest["complete"]
    loaded = load_store(path)
    assert loaded.layers == acts.layers
    for layer in acts.layers:
        np.testing.assert_array_equal(loaded.cloud(layer), acts.cloud(layer))
        np.testing.assert_array_equal(loaded.sample_index[layer], acts.sample_index[layer])
    np.testing.assert_array_equal(loaded.predictions, acts.predictions)

    def no_extract(*a, **k):  # the same request must load, not recompute
        raise AssertionError("recomputed")

    monkeypatch.setattr(store_mod, "extract", no_extract)
    again = extract_to_store(model, data, path, layers=["conv", "relu:1"], reduction="top_l2")
    np.testing.assert_array_equal(again.cloud("conv"), acts.cloud("conv"))
    with pytest.raises(AssertionError, match="recomputed"):  # a different request recomputes
        extract_to_store(model, data, path, layers=["conv"], reduction="top_l2")


def test_corrupt_or_partial_stores_are_detected_and_rebuilt(tmp_path) -> None:
    model, data = Twice(), _data()
    path = tmp_path / "store"
    acts = extract_to_store(model, data, path, layers=["conv"])
    # damage one chunk of the points
    chunk = next(
        p
        for p in (path / "arrays" / "L000" / "points").rglob("*")
        if p.is_file() and "zarr" not in p.name
    )
    chunk.write_bytes(b"\x00" * 7)
    with pytest.raises(CorruptStoreError):
        load_store(path)
    rebuilt = extract_to_store(model, data, path, layers=["conv"])
    np.testing.assert_array_equal(rebuilt.cloud("conv"), acts.cloud("conv"))
    load_store(path)
    # a store without manifest (killed mid-write) is never used
    (path / "manifest.json").unlink()
    with pytest.raises(CorruptStoreError, match="no manifest"):
        load_store(path)
    extract_to_store(model, data, path, layers=["conv"])
    assert (path / "manifest.json").exists()
    with pytest.raises(FileNotFoundError, match="tda-activations extract"):
        load_store(tmp_path / "nothing")


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    model, data = Twice(), _data()
    path = tmp_path / "store"
    calls = {"n": 0}
    real = store_mod._write_array

    def failing(p, d):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(p, d)

    monkeypatch.setattr(store_mod, "_write_array", failing)
    with pytest.raises(OSError, match="disk full"):
        extract_to_store(model, data, path, layers=["conv"])
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_digits_resnet_extraction_matches_a_manual_forward() -> None:
    data = load_digits(upsample=2).test.subset(range(16))
    model = build_model("resnet18", width=0.125, seed=0).eval()
    acts = extract(model, data, layers=["layer3.1.conv2"], reduction="top_l2")
    captured = {}
    h = model.get_submodule("layer3.1.conv2").register_forward_hook(
        lambda m, i, o: captured.setdefault("o", o)
    )
    with torch.no_grad():
        model(torch.from_numpy(np.array(data.images)))
    h.remove()
    fmap = captured["o"].flatten(2)
    best = fmap.norm(dim=1).argmax(dim=1)
    expected = fmap[torch.arange(16), :, best].numpy()
    np.testing.assert_allclose(acts.cloud("layer3.1.conv2"), expected, rtol=1e-5, atol=1e-6)


def test_streaming_bottom_k_keeps_the_smallest_keys_of_everything_seen():
    from tda_activations.extract.capture import _BottomK

    rng = np.random.default_rng(3)
    for k in (1, 7, 50):
        kept = _BottomK(k)
        all_keys, all_rows = [], []
        start = 0
        for b in rng.integers(1, 30, size=12):
            keys = rng.random(b)
            pts = rng.normal(size=(b, 3)).astype(np.float32)
            pts[:, 0] = keys  # each point carries its key, to check points move with keys
            rows = np.arange(start, start + b)
            kept.add(pts, rows, keys, np.zeros(b, dtype=np.int64))
            all_keys.append(keys)
            all_rows.append(rows)
            start += b
        p, r, _ = kept.arrays()
        keys, rows = np.concatenate(all_keys), np.concatenate(all_rows)
        want = np.sort(rows[np.argsort(keys)[:k]])
        assert np.array_equal(np.sort(r), want)
        np.testing.assert_array_equal(p[np.argsort(r), 0], keys[want].astype(np.float32))
