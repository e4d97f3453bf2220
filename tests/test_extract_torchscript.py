"""TorchScript models: refused with a one-line error (API and CLI); Python parts still hookable."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from tda_activations.datasets import flat_hierarchy
from tda_activations.extract import extract, list_layers
from tda_activations.probes._hooks import LayerCapture
from tda_activations.types import ImageDataset


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)
    ).eval()


def _data() -> ImageDataset:
    rng = np.random.default_rng(0)
    return ImageDataset(
        images=rng.uniform(size=(6, 1, 6, 6)).astype(np.float32),
        labels=np.arange(6) % 2,
        hierarchy=flat_hierarchy(["a", "b"]),
        name="r",
    )


def test_torchscript_cannot_take_hooks_in_this_torch(tmp_path) -> None:
    """What the refusal rests on: scripted and loaded modules refuse Python hooks, and the
    submodules of a traced one accept them but never call them (a silent empty capture)."""
    scripted = torch.jit.script(_net())
    scripted.save(str(tmp_path / "s.pt"))
    for module in (scripted, torch.jit.load(str(tmp_path / "s.pt"))):
        with pytest.raises(RuntimeError, match="not supported on ScriptModules"):
            module.register_forward_hook(lambda *a: None)
    traced = torch.jit.trace(_net(), torch.zeros(1, 1, 6, 6))
    fired: list[str] = []
    traced.get_submodule("0").register_forward_hook(lambda *a: fired.append("conv"))
    traced(torch.zeros(2, 1, 6, 6))
    assert fired == []


@pytest.mark.parametrize("how", ["script", "trace"])
def test_a_torchscript_model_is_refused_with_what_to_do(how: str) -> None:
    net = _net()
    scripted = (
        torch.jit.script(net) if how == "script" else torch.jit.trace(net, torch.zeros(1, 1, 6, 6))
    )
    for call in (
        lambda: extract(scripted, _data()),
        lambda: list_layers(scripted, torch.zeros(1, 1, 6, 6)),
        lambda: LayerCapture(scripted, ["0"]),
    ):
        with pytest.raises(ValueError, match="TorchScript.*pass the Python nn.Module"):
            call()


class Mixed(nn.Module):
    """A Python model with a scripted part: the Python layers can be extracted."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.jit.script(nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU()))
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stem(x).mean(dim=(2, 3)))


def test_python_layers_of_a_model_with_a_scripted_part_are_extracted() -> None:
    model = Mixed().eval()
    names = [c.name for c in list_layers(model, torch.zeros(1, 1, 6, 6))]
    assert names == ["head"]  # the scripted stem and its insides are not observable
    acts = extract(model, _data(), layers=["head"])
    with torch.no_grad():
        expected = model(torch.from_numpy(np.array(_data().images))).numpy()
    np.testing.assert_allclose(acts.cloud("head"), expected, rtol=1e-6)
    with pytest.raises(
        ValueError, match="'stem'.*not called in the forward pass \\(or runs inside TorchScript"
    ):
        extract(model, _data(), layers=["stem"])


def test_the_cli_refuses_a_torchscript_file_with_exit_status_2(tmp_path) -> None:
    path = tmp_path / "net.pt"
    torch.jit.script(_net()).save(str(path))
    data = tmp_path / "d.npz"
    d = _data()
    np.savez(data, images=np.array(d.images), labels=np.array(d.labels))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tda_activations.cli import main; main()",
            "extract",
            str(path),
            "--out",
            str(tmp_path / "s"),
            "--data",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "TorchScript" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "s").exists()
