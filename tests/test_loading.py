"""Loading the models people use: Hugging Face folders (offline), torchvision/timm with local
weights (fakes: neither imports beside this torch), wrapped checkpoints, verified files, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from tda_activations.models import (
    MissingArchitectureError,
    MissingExtraError,
    build_model,
    load_hf_model,
    load_model,
    load_state_dict,
    verify_model_file,
)

transformers = pytest.importorskip("transformers")


# ------------------------------------------------------------------ Hugging Face


def _save(model: nn.Module, folder: Path) -> Path:
    model.save_pretrained(str(folder))
    return folder


def _tiny_gpt2(folder: Path) -> nn.Module:
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_embd=16, n_layer=2, n_head=2, vocab_size=50, n_positions=16)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    _save(model, folder)
    return model


def test_hf_gpt2_loads_offline_with_the_saved_class(tmp_path) -> None:
    ref = _tiny_gpt2(tmp_path / "gpt2")
    loaded = load_model(tmp_path / "gpt2")
    assert type(loaded).__name__ == "GPT2LMHeadModel" and not loaded.training
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.inference_mode():
        assert torch.equal(loaded(input_ids=ids).logits, ref(input_ids=ids).logits)
    # task= picks the auto class; the base model has no LM head
    base = load_model(f"hf:{tmp_path / 'gpt2'}", task="base")
    assert type(base).__name__ == "GPT2Model"
    with torch.inference_mode():
        hidden = base(input_ids=ids).last_hidden_state
    assert hidden.shape == (1, 4, 16)
    assert type(load_hf_model(tmp_path / "gpt2", task="causal-lm")).__name__ == "GPT2LMHeadModel"


def test_hf_bert_and_vit_classifiers(tmp_path) -> None:
    torch.manual_seed(0)
    bert_cfg = transformers.BertConfig(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=3,
    )
    _save(transformers.BertForSequenceClassification(bert_cfg), tmp_path / "bert")
    bert = load_model(tmp_path / "bert")
    assert type(bert).__name__ == "BertForSequenceClassification"
    with torch.inference_mode():
        out = bert(
            input_ids=torch.tensor([[2, 5, 7]]), attention_mask=torch.ones(1, 3, dtype=torch.long)
        )
    assert out.logits.shape == (1, 3)

    vit_cfg = transformers.ViTConfig(
        image_size=8,
        patch_size=4,
        num_channels=1,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=4,
    )
    _save(transformers.ViTForImageClassification(vit_cfg), tmp_path / "vit")
    vit = load_model(tmp_path / "vit", task="image-classification")
    with torch.inference_mode():
        assert vit(pixel_values=torch.randn(2, 1, 8, 8)).logits.shape == (2, 4)


def test_hf_bad_inputs(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_hf_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        load_hf_model(tmp_path / "empty")
    _tiny_gpt2(tmp_path / "gpt2")
    with pytest.raises(ValueError, match="did you mean 'causal-lm'"):
        load_model(tmp_path / "gpt2", task="causal_lm")
    with pytest.raises(ValueError, match="Hugging Face model folders only"):
        load_model("lenet", task="base")
    with pytest.raises(ValueError, match="offline"):
        load_hf_model(tmp_path / "gpt2", local_files_only=False)
    # a folder whose weights are gone: one line, no download attempted
    for f in (tmp_path / "gpt2").glob("*.safetensors"):
        f.unlink()
    with pytest.raises(ValueError, match="cannot load"):
        load_model(tmp_path / "gpt2")


def test_hf_missing_package_names_the_extra(tmp_path, monkeypatch) -> None:
    _tiny_gpt2(tmp_path / "gpt2")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingExtraError, match=r'pip install "tda-activations\[hf\]"'):
        load_model(tmp_path / "gpt2")


# ------------------------------------------------------------------ torchvision / timm


class _TinyNet(nn.Module):
    def __init__(self, num_classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def _fake_torchvision(calls: list) -> tuple[types.ModuleType, types.ModuleType]:
    tv = types.ModuleType("torchvision")
    tvm = types.ModuleType("torchvision.models")

    def get_model(name: str, *, weights=None, **kw):
        calls.append((name, weights, kw))
        if name != "tinynet":
            raise ValueError(f"Unknown model {name}")
        return _TinyNet(**kw)

    tvm.get_model = get_model  # type: ignore[attr-defined]
    tv.models = tvm  # type: ignore[attr-defined]
    return tv, tvm


def test_torchvision_architecture_with_local_weights(tmp_path, monkeypatch) -> None:
    calls: list = []
    tv, tvm = _fake_torchvision(calls)
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.models", tvm)
    torch.manual_seed(3)
    ref = _TinyNet(num_classes=3).eval()
    path = tmp_path / "tiny.pth"
    torch.save({"model_state_dict": ref.state_dict(), "epoch": 9}, path)
    x = torch.randn(2, 1, 6, 6)
    model = load_model("torchvision:tinynet", weights=path, num_classes=3)
    assert calls[-1] == ("tinynet", None, {"num_classes": 3})  # weights=None: never downloaded
    assert torch.equal(model(x), ref(x)) and not model.training
    # the same through a checkpoint + architecture
    assert torch.equal(
        load_model(path, architecture="torchvision:tinynet", num_classes=3)(x), ref(x)
    )
    with pytest.raises(ValueError, match="never downloaded"):
        load_model("torchvision:tinynet", pretrained=True)
    with pytest.raises(ValueError, match="do not fit"):
        load_model("torchvision:tinynet", weights=path, num_classes=5)
    with pytest.raises(FileNotFoundError):
        load_model("torchvision:tinynet", weights=tmp_path / "missing.pth")


def test_timm_architecture_with_local_weights(tmp_path, monkeypatch) -> None:
    timm = types.ModuleType("timm")
    created: list = []

    def create_model(name: str, *, pretrained: bool = False, **kw):
        created.append((name, pretrained))
        return _TinyNet(**kw)

    timm.create_model = create_model  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "timm", timm)
    ref = _TinyNet().eval()
    path = tmp_path / "dp.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in ref.state_dict().items()}}, path)
    x = torch.randn(1, 1, 5, 5)
    assert torch.equal(load_model("timm:tinynet", weights=path)(x), ref(x))
    assert created == [("tinynet", False)]


@pytest.mark.parametrize("package,extra", [("torchvision", "torchvision"), ("timm", "timm")])
def test_missing_vision_package_names_the_extra(monkeypatch, package, extra) -> None:
    monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.setitem(sys.modules, f"{package}.models", None)
    with pytest.raises(MissingExtraError, match=rf'pip install "tda-activations\[{extra}\]"'):
        load_model(f"{package}:resnet18")
    # also an ImportError and a ValueError: both ways of catching it work
    assert issubclass(MissingExtraError, ImportError) and issubclass(MissingExtraError, ValueError)


def test_broken_package_import_is_one_line(monkeypatch) -> None:
    import importlib

    real = importlib.import_module

    def fake_import(name: str, *a, **k):
        if name == "torchvision.models":
            raise RuntimeError("operator torchvision::nms does not exist")
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(MissingExtraError, match="fails to import.*torchvision::nms"):
        load_model("torchvision:resnet18")


# ------------------------------------------------------------------ checkpoints and files


def test_wrapped_and_dataparallel_checkpoints(tmp_path) -> None:
    model = build_model("lenet", seed=2).eval()
    x = torch.randn(2, 1, 16, 16)
    state = model.state_dict()
    forms = {
        "plain.pt": state,
        "msd.pt": {"model_state_dict": state, "optimizer_state_dict": {}, "epoch": 4},
        "sd.ckpt": {"state_dict": state},
        "dp.pth": {f"module.{k}": v for k, v in state.items()},
        "dp_wrapped.pt": {"model_state_dict": {f"module.{k}": v for k, v in state.items()}},
    }
    for name, obj in forms.items():
        torch.save(obj, tmp_path / name)
        assert torch.equal(load_model(tmp_path / name, architecture="lenet")(x), model(x)), name
        assert set(load_state_dict(tmp_path / name)) == set(state)
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "noweights.pt")
    with pytest.raises(ValueError, match="does not hold a state_dict of tensors"):
        load_model(tmp_path / "noweights.pt", architecture="lenet")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(TypeError, match="does not hold a state_dict"):
        load_model(tmp_path / "list.pt", architecture="lenet")
    # weights= on an import path builds the architecture, then loads
    built = load_model(
        "tda_activations.models.zoo:LeNet5",
        weights=tmp_path / "msd.pt",
        in_channels=1,
        num_classes=10,
        image_size=16,
    )
    assert torch.equal(built(x), model(x))


def _flip_a_data_byte(path: Path) -> None:
    """Flip one byte inside the stored data of the largest member (not the zip headers)."""
    with zipfile.ZipFile(path) as zf:
        info = max(zf.infolist(), key=lambda i: i.compress_size)
    with open(path, "r+b") as fh:
        fh.seek(info.header_offset + 26)
        n_name, n_extra = int.from_bytes(fh.read(2), "little"), int.from_bytes(fh.read(2), "little")
        pos = info.header_offset + 30 + n_name + n_extra + info.compress_size // 2
        fh.seek(pos)
        b = fh.read(1)
        fh.seek(pos)
        fh.write(bytes([b[0] ^ 0xFF]))


def test_flipped_byte_is_refused_for_checkpoints_and_torchscript(tmp_path) -> None:
    model = build_model("lenet", seed=1).eval()
    ckpt = tmp_path / "w.pt"
    torch.save(model.state_dict(), ckpt)
    ts = tmp_path / "m.ts"
    torch.jit.trace(model, torch.randn(1, 1, 16, 16)).save(str(ts))
    assert verify_model_file(ckpt) == ckpt and verify_model_file(ts) == ts
    for path, kwargs in ((ckpt, {"architecture": "lenet"}), (ts, {})):
        _flip_a_data_byte(path)
        with pytest.raises(ValueError, match="is damaged") as info:
            load_model(path, **kwargs)
        assert "\n" not in str(info.value)
    trunc = tmp_path / "t.pt"
    torch.save(model.state_dict(), trunc)
    trunc.write_bytes(trunc.read_bytes()[:-200])
    with pytest.raises(ValueError):
        load_model(trunc, architecture="lenet")


def test_checkpoint_without_architecture_names_the_option(tmp_path) -> None:
    ckpt = tmp_path / "w.pt"
    torch.save(build_model("lenet").state_dict(), ckpt)
    with pytest.raises(MissingArchitectureError, match="architecture='resnet18'") as info:
        load_model(ckpt)
    assert "--architecture" in info.value.message(cli=True)
    assert "architecture='" not in info.value.message(cli=True)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root  # the package, never the user's folder
    return subprocess.run(
        [sys.executable, "-c", "from tda_activations.cli import main; main()", *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_checkpoint_without_architecture_says_the_flag(tmp_path) -> None:
    ckpt = tmp_path / "w.pt"
    torch.save(build_model("lenet").state_dict(), ckpt)
    proc = _cli(["extract", str(ckpt), "--out", str(tmp_path / "s"), "--data", "digits"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = (proc.stdout + proc.stderr).strip()
    assert "--architecture" in err and "architecture='" not in err and "Traceback" not in err


def test_cli_imports_a_model_from_the_current_folder(tmp_path) -> None:
    (tmp_path / "mynet_tda_test.py").write_text(
        "import torch\nfrom torch import nn\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(64, 10)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(x.flatten(1))\n"
    )
    out = tmp_path / "store"
    proc = _cli(
        [
            "extract",
            "mynet_tda_test:Net",
            "--out",
            str(out),
            "--data",
            "digits",
            "--limit",
            "12",
            "--reduction",
            "flatten",
            "--quiet",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "manifest.json").exists()
    # the folder was on sys.path for that import only
    assert str(tmp_path) not in sys.path


def test_import_from_cwd_in_python_is_temporary(tmp_path, monkeypatch) -> None:
    (tmp_path / "mynet_tda_test2.py").write_text(
        "from torch import nn\nNet = lambda: nn.Linear(2, 2)\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    before = list(sys.path)
    assert isinstance(load_model("mynet_tda_test2:Net"), nn.Linear)
    assert sys.path == before
    sys.modules.pop("mynet_tda_test2", None)
