"""Model zoo, deterministic training, the weights cache and loading users' models."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from tda_activations.datasets import load_digits
from tda_activations.models import (
    CifarResNet18,
    accuracy,
    build_model,
    fit,
    load_model,
    pretrained,
    zoo_names,
)
from tda_activations.models.zoo import _ShortcutA


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_model_maps_images_to_logits(name: str) -> None:
    model = build_model(name, in_channels=1, image_size=16, num_classes=7, seed=0)
    out = model(torch.zeros(3, 1, 16, 16))
    assert out.shape == (3, 7)


def test_resnet18_is_the_papers_cifar_architecture() -> None:
    model = CifarResNet18(in_channels=3, num_classes=10, width=1.0)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 17
    assert all(m.kernel_size == (3, 3) for m in model.modules() if isinstance(m, nn.Conv2d))
    # option A: parameter-free zero-padding shortcuts where the shape changes
    shortcuts = [m for m in model.modules() if isinstance(m, _ShortcutA)]
    assert len(shortcuts) == 3 and all(not list(s.parameters()) for s in shortcuts)
    widths = [model.get_submodule(f"layer{i}.1.conv2").out_channels for i in range(1, 5)]
    assert widths == [64, 128, 256, 512]
    # spatial sizes on CIFAR input: 32, 16, 8, 4
    sizes = {}
    hooks = [model.get_submodule(f"layer{i}").register_forward_hook(
        lambda m, i, o, k=i: sizes.__setitem__(k, o.shape[-1])) for i in range(1, 5)]
    model(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert sizes == {1: 32, 2: 16, 3: 8, 4: 4}


def test_option_a_shortcut_pads_channels_and_subsamples() -> None:
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).view(1, 2, 4, 4)
    y = _ShortcutA(2, 6, 2)(x)
    assert y.shape == (1, 6, 2, 2)
    assert torch.equal(y[:, 2:4], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, :2]) == 0 and torch.count_nonzero(y[:, 4:]) == 0


def test_width_multiplier_and_bad_names() -> None:
    narrow = build_model("resnet18", width=0.25)
    assert narrow.get_submodule("layer4.1.conv2").out_channels == 128
    with pytest.raises(ValueError, match="did you mean 'resnet18'"):
        build_model("resnet-18")
    with pytest.raises(ValueError, match="width must be a positive"):
        build_model("mlp", width=-1)


def test_lenet_refuses_images_too_small_with_advice() -> None:
    with pytest.raises(ValueError, match="upsample"):
        build_model("lenet", image_size=8)


def test_training_is_deterministic_given_the_seed() -> None:
    data = load_digits(upsample=1)
    small = data.train.subset(range(128))
    a = fit(build_model("mlp", image_size=8, seed=3, hidden=(32,)), small, seed=3, epochs=1)
    b = fit(build_model("mlp", image_size=8, seed=3, hidden=(32,)), small, seed=3, epochs=1)
    c = fit(build_model("mlp", image_size=8, seed=4, hidden=(32,)), small, seed=4, epochs=1)
    for (k, va), vb, vc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(va, vb), k
    assert any(not torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values()))


def test_fit_leaves_the_given_model_untouched() -> None:
    data = load_digits(upsample=1)
    model = build_model("mlp", image_size=8, seed=0, hidden=(16,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fit(model, data.train.subset(range(64)), epochs=1)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_default_resnet18_reaches_95_percent() -> None:
    tm = pretrained("resnet18", seed=0)  # the shared test cache: trained once per run
    assert tm.test_accuracy >= 0.95
    assert not tm.model.training


def test_weights_are_cached_by_content(tmp_path) -> None:
    first = pretrained("lenet", seed=0, cache=tmp_path, epochs=1)
    again = pretrained("lenet", seed=0, cache=tmp_path, epochs=1)
    assert first.seconds > 0 and again.seconds == 0.0 and again.fingerprint == first.fingerprint
    other = pretrained("lenet", seed=1, cache=tmp_path, epochs=1)
    assert other.fingerprint != first.fingerprint
    assert len(list((tmp_path / "models").glob("lenet-*.pt"))) == 2


def test_a_corrupted_weights_file_is_retrained_not_used(tmp_path) -> None:
    first = pretrained("lenet", seed=0, cache=tmp_path, epochs=1)
    (path,) = (tmp_path / "models").glob("lenet-*.pt")
    path.write_bytes(b"not a checkpoint")
    again = pretrained("lenet", seed=0, cache=tmp_path, epochs=1)
    assert again.seconds > 0 and again.fingerprint == first.fingerprint


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "lenet", "densenet"])
def test_every_default_zoo_model_reaches_95_percent(name: str) -> None:
    tm = pretrained(name, seed=0)
    assert tm.test_accuracy >= 0.95, (name, tm.test_accuracy)


# ------------------------------------------------------------------ loading models


def test_load_model_from_every_form(tmp_path) -> None:
    model = build_model("lenet", seed=1)
    assert load_model(model) is model
    built = load_model("tda_activations.models.zoo:LeNet5", in_channels=1, num_classes=10, image_size=16)
    assert isinstance(built, nn.Module) and not built.training

    ckpt = tmp_path / "lenet.pt"
    torch.save(model.state_dict(), ckpt)
    loaded = load_model(ckpt, architecture="lenet")
    x = torch.randn(2, 1, 16, 16)
    model.eval()
    assert torch.equal(loaded(x), model(x))
    wrapped = tmp_path / "wrapped.ckpt"
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, wrapped)
    assert torch.equal(load_model(wrapped, architecture="lenet")(x), model(x))

    scripted = tmp_path / "lenet.ts"
    torch.jit.trace(model, x).save(str(scripted))
    assert torch.allclose(load_model(scripted)(x), model(x))


def test_load_model_bad_input_says_what_to_do(tmp_path) -> None:
    ckpt = tmp_path / "w.pt"
    torch.save(build_model("lenet").state_dict(), ckpt)
    with pytest.raises(ValueError, match="architecture="):
        load_model(ckpt)
    with pytest.raises(ValueError, match="does not fit architecture"):
        load_model(ckpt, architecture="mlp")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        load_model(42)
    with pytest.raises(ValueError, match="did you mean 'densenet'"):
        load_model("densnet")
    with pytest.raises(ValueError, match="cannot import"):
        load_model("no_such_package.models:Net")
    if importlib.util.find_spec("timm") is None:
        with pytest.raises(ValueError, match="not installed"):
            load_model("timm:resnet18")


def test_accuracy_restores_training_mode() -> None:
    data = load_digits(upsample=2)
    model = build_model("lenet", seed=0).train()
    acc = accuracy(model, data.test.subset(range(20)))
    assert 0.0 <= acc <= 1.0 and model.training
    assert np.isfinite(acc)
