"""Architecture-only metrics: counts checked against torch's own counters, hand counts and
published figures; the region bound against a brute-force evaluation of Serra et al.'s formula
and against regions actually counted on a grid."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from tda_activations.models import build_model
from tda_activations.probes.architecture import (
    architecture_metrics,
    count_parameters,
    regions_upper_bound_log10,
)

ZOO = ["mlp", "lenet", "resnet18", "densenet"]


def _torch_macs(model: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2  # torch counts 2 flops per multiply-accumulate


@pytest.mark.parametrize("name", ZOO)
def test_zoo_counts_match_numel_and_torch_flop_counter(name: str) -> None:
    model = build_model(name, image_size=16, seed=0)
    report = architecture_metrics(model, input_shape=(1, 16, 16))
    assert report.total_params == count_parameters(model)
    assert report.total_params == sum(r.params for r in report.layers)
    assert report.total_macs == _torch_macs(model, (1, 16, 16))
    assert report.output_dim == 10
    assert math.isfinite(report.log10_regions_bound) and report.log10_regions_bound > 0


def test_cifar_resnet18_option_a_published_count() -> None:
    # kuangliu's CIFAR ResNet-18 (option B, 1x1 projection shortcuts) has 11,173,962 parameters;
    # option A drops the three projection convs (64*128 + 128*256 + 256*512 weights) and their
    # batch norms (2 * (128 + 256 + 512)).
    expected = 11_173_962 - (64 * 128 + 128 * 256 + 256 * 512) - 2 * (128 + 256 + 512)
    model = build_model("resnet18", in_channels=3, image_size=32, width=1.0, seed=0)
    report = architecture_metrics(model, input_shape=(3, 32, 32))
    assert report.total_params == expected == 11_000_138
    convs = [r for r in report.layers if r.kind == "Conv2d"]
    assert len(convs) == 17
    assert report.total_macs == _torch_macs(model, (3, 32, 32))


class _ImageNetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.downsample(x))


class _ImageNetResNet18(nn.Module):
    """A re-implementation of torchvision's resnet18 (torchvision is not installed here)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], 64
        for i, c in enumerate((64, 128, 256, 512)):
            s = 1 if i == 0 else 2
            layers.append(nn.Sequential(_ImageNetBlock(cin, c, s), _ImageNetBlock(c, c, 1)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def test_imagenet_resnet18_published_figures() -> None:
    report = architecture_metrics(_ImageNetResNet18(), input_shape=(3, 224, 224))
    assert report.total_params == 11_689_512  # torchvision's documented count
    assert report.total_macs == pytest.approx(1.814e9, rel=2e-3)  # 1.814 GMACs at 224x224
    # receptive field of the last conv: 435 pixels (the commonly quoted figure for ResNet-18)
    conv = [r for r in report.layers if r.layer == "layer4.1.conv2"][0]
    assert conv.receptive_field == (435, 435)


def test_hand_counted_conv_stack() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),  # 8*3*9 + 8 = 224 params; 8*8*8 outputs * 27 = 13824 MACs
        nn.ReLU(),
        nn.MaxPool2d(2),  # 8x4x4
        nn.Conv2d(8, 4, 3),  # 4*8*9 + 4 = 292; 4x2x2 outputs * 72 = 1152 MACs
        nn.Flatten(),
        nn.Linear(16, 5),  # 85 params, 80 MACs
    )
    r = architecture_metrics(model, input_shape=(3, 8, 8))
    by = {row.layer: row for row in r.layers}
    assert [by[k].params for k in ("0", "3", "5")] == [224, 292, 85]
    assert [by[k].macs for k in ("0", "3", "5")] == [13824, 1152, 80]
    assert r.total_params == 601 and r.total_macs == 15056
    assert by["0"].receptive_field == (3, 3) and by["0"].jump == (1, 1)
    assert by["2"].receptive_field == (4, 4) and by["2"].jump == (2, 2)
    assert by["3"].receptive_field == (8, 8) and by["3"].jump == (2, 2)
    assert by["5"].receptive_field == (10, 10)  # every position of the 2x2 map: 8 + 1*2
    assert by["0"].compression_ratio == pytest.approx(512 / 192)
    assert by["5"].cumulative_compression == pytest.approx(5 / 192)
    # one ReLU layer of 512 units on a 192-dimensional input: Zaslavsky's count
    zas = math.log10(sum(math.comb(512, j) for j in range(193)))
    assert by["1"].log10_regions_bound == pytest.approx(zas)


def _serra_brute(widths: list[int], n0: int) -> int:
    total = 0
    for js in itertools.product(*[range(w + 1) for w in widths]):
        dim, ok = n0, True
        for j, w in zip(js, widths):
            if j > min(dim, w):
                ok = False
                break
            dim = min(dim, w - j)
        if ok:
            total += math.prod(math.comb(w, j) for j, w in zip(js, widths))
    return total


@pytest.mark.parametrize(
    "widths,n0", [([3], 2), ([4, 4], 2), ([5, 3, 4], 3), ([2, 6, 3], 4), ([6, 6, 6], 1)]
)
def test_region_bound_equals_brute_force_formula(widths: list[int], n0: int) -> None:
    assert regions_upper_bound_log10(widths, n0) == pytest.approx(
        math.log10(_serra_brute(widths, n0))
    )


def test_region_bound_of_mlp_graph_matches_formula_and_counted_regions() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 1))
    r = architecture_metrics(model, input_shape=(2,))
    assert r.log10_regions_bound == pytest.approx(regions_upper_bound_log10([6, 5], 2))
    assert r.receptive_field is None
    # distinct activation patterns on a fine grid never exceed the bound
    g = torch.linspace(-4, 4, 400)
    xy = torch.cartesian_prod(g, g)
    with torch.no_grad():
        h1 = model[0](xy)
        h2 = model[2](torch.relu(h1))
    patterns = {tuple(p) for p in torch.cat([h1 > 0, h2 > 0], 1).numpy().tolist()}
    assert 1 < len(patterns) <= 10**r.log10_regions_bound + 1e-9


def test_linear_network_has_one_region_and_nonpl_is_nan() -> None:
    lin = nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.Linear(4, 2))
    assert architecture_metrics(lin, input_shape=(1, 4, 4)).log10_regions_bound == 0.0
    tanh = nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.Tanh(), nn.Linear(4, 2))
    assert math.isnan(architecture_metrics(tanh, input_shape=(1, 4, 4)).log10_regions_bound)


def test_residual_and_concat_receptive_fields() -> None:
    class Res(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(2, 2, 3, padding=1)
            self.b = nn.Conv2d(2, 2, 5, padding=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.a(x)) + x  # residual: rf max(3, 1)
            return torch.cat([self.b(y), y], 1)  # concat: rf max(7, 3)

    r = architecture_metrics(Res(), input_shape=(2, 8, 8))
    kinds = {row.kind: row for row in r.layers}
    assert kinds["add"].receptive_field == (3, 3)
    assert kinds["cat"].receptive_field == (7, 7)
    assert kinds["cat"].input_dim == 2 * 128 and kinds["cat"].output_dim == 256
    assert r.total_params == count_parameters(Res())


def test_model_is_not_modified_and_errors() -> None:
    model = build_model("lenet", image_size=16, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    architecture_metrics(model, input_shape=(1, 16, 16))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert next(model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="input_shape"):
        architecture_metrics(model, input_shape=(1, 7, 7))
    with pytest.raises(TypeError):
        architecture_metrics("lenet")  # type: ignore[arg-type]

    class Branchy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    with pytest.raises(ValueError, match="torch.fx"):
        architecture_metrics(Branchy(), input_shape=(1, 4, 4))


def test_to_pandas_and_summary() -> None:
    r = architecture_metrics(
        build_model("resnet18", image_size=16, seed=0), input_shape=(1, 16, 16)
    )
    df = r.to_pandas(kinds=["Conv2d", "Linear"])
    assert len(df) == 18 and list(df["layer"])[:2] == ["conv1", "layer1.0.conv1"]
    assert df["log10_regions_bound"].is_monotonic_increasing
    s = r.totals()
    assert s["params"] == r.total_params and s["input_shape"] == "1x16x16"
    assert r.summary() == " ".join(f"{k}={v}" for k, v in s.items())
    assert np.isclose(s["compression"], 10 / 256)


def test_cli_architecture(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from tda_activations.cli.probes_invariance import app

    out = tmp_path / "arch.csv"
    result = CliRunner().invoke(
        app, ["architecture", "densenet", "--input-shape", "1,16,16", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "params=76378" in result.output
    import pandas as pd

    df = pd.read_csv(out)
    assert set(df["kind"]) <= {"Conv2d", "Linear", "add", "cat"} and (df["kind"] == "cat").any()
    bad = CliRunner().invoke(app, ["architecture", "resnet19"])
    assert bad.exit_code == 2 and "did you mean" in bad.output
