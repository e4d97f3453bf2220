"""Devices, precision and calling models: resolve_device, move_inputs, autocast, call_model,
select_output, predict/accuracy on every kind of data, and the CLI's input-fit check.
GPU paths run only where CUDA is available."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from tda_activations._torch import (
    autocast,
    call_model,
    check_input_fit,
    move_inputs,
    resolve_device,
    select_output,
)
from tda_activations.datasets import TokenDataset, as_source, load_digits
from tda_activations.models import build_model
from tda_activations.models.training import accuracy, predict

DIGITS16 = load_digits(upsample=2).test
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")

#: bf16 autocast changes these untrained nets' logits and extracted clouds (conv1, conv2,
#: fc1) by at most 0.6% of their largest magnitude (LeNet, seeds 0-3, 1 and 2 torch
#: threads); asserted with a 5x margin.
BF16_REL_TOL = 0.03


def _lenet(seed: int = 0, **kw: int) -> nn.Module:
    return build_model("lenet", image_size=kw.pop("image_size", 16), seed=seed, **kw).eval()


def _manual_argmax(model: nn.Module, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(np.array(images))).argmax(1).numpy()


# ------------------------------------------------------------------------ devices


def test_resolve_device_defaults_to_the_model_and_checks_names() -> None:
    net = _lenet()
    assert resolve_device(net) == torch.device("cpu")
    assert resolve_device(net, "cpu") == torch.device("cpu")
    assert resolve_device(net, torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(nn.ReLU()) == torch.device("cpu")  # no parameters
    with pytest.raises(ValueError, match="'meta' holds no data.*cpu"):
        resolve_device(net, "meta")
    if torch.cuda.device_count() < 8:
        with pytest.raises(ValueError, match="'cuda:7' does not exist on this machine; available"):
            resolve_device(net, "cuda:7")
    with pytest.raises(ValueError, match="'gpu' is not a device name.*available here: cpu"):
        resolve_device(net, "gpu")
    with pytest.raises(TypeError, match="device must be a string"):
        resolve_device(net, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="torch.nn.Module"):
        resolve_device("model")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'meta' holds no data"):
        resolve_device(nn.Linear(2, 2, device="meta"))


def test_move_inputs_keeps_the_structure() -> None:
    x = torch.arange(6.0).reshape(2, 3)
    moved = move_inputs({"a": x, "b": (x, [x]), "n": 3}, "meta")
    assert moved["a"].device.type == "meta" and moved["n"] == 3
    assert isinstance(moved["b"], tuple) and isinstance(moved["b"][1], list)
    assert moved["b"][1][0].device.type == "meta" and moved["b"][1][0].shape == (2, 3)
    same = move_inputs(x, torch.device("cpu"))
    assert torch.equal(same, x)


def test_autocast_precisions() -> None:
    a = torch.ones(2, 2)
    with autocast("cpu", None):
        assert (a @ a).dtype == torch.float32
    with autocast("cpu", "float32"):
        assert (a @ a).dtype == torch.float32
    for name, dt in (
        ("bfloat16", torch.bfloat16),
        ("bf16", torch.bfloat16),
        (torch.float16, torch.float16),
        ("float16", torch.float16),
    ):
        with autocast(torch.device("cpu"), name):
            assert (a @ a).dtype == dt
    for bad in ("float64", torch.float64, "int8", "fp8"):
        with pytest.raises(ValueError, match="not an autocast precision"):
            autocast("cpu", bad)
    with pytest.raises(ValueError, match="not available on device type 'meta'"):
        autocast("meta", "bfloat16")


def test_bf16_autocast_stays_close_to_float32() -> None:
    x = torch.from_numpy(np.array(DIGITS16.images[:128]))
    for seed in (0, 1):
        net = _lenet(seed)
        with torch.inference_mode():
            full = call_model(net, x)
            with autocast("cpu", "bfloat16"):
                half = call_model(net, x)
        assert half.dtype == torch.bfloat16
        scale = float(full.abs().max())
        assert float((half.float() - full).abs().max()) <= BF16_REL_TOL * scale


def test_bf16_extraction_on_the_cpu_matches_float32() -> None:
    from tda_activations.extract import extract

    net = _lenet(seed=1)
    part = DIGITS16.subset(range(48))
    kw = {"layers": ["conv2", "fc1"], "reduction": "global_avg_pool", "progress": False}
    ref = extract(net, part, **kw)
    half = extract(net, part, dtype="bfloat16", device="cpu", **kw)
    for layer in ("conv2", "fc1"):
        a, b = ref.cloud(layer), half.cloud(layer)
        assert b.dtype == np.float32 and b.shape == a.shape
        assert float(np.abs(a - b).max()) <= BF16_REL_TOL * float(np.abs(a).max())


# ------------------------------------------------------------------------ calling a model


def test_call_model_names_the_shape_the_layer_and_the_fix() -> None:
    small = torch.from_numpy(np.array(load_digits().test.images[:2]))  # 8x8 into a 16x16 LeNet
    with pytest.raises(ValueError) as info:
        call_model(_lenet(), small)
    text = str(info.value)
    assert "inputs of shape (2, 1, 8, 8)" in text and "layer 'conv2'" in text
    assert "5x5 kernel" in text and "upsample" in text and "\n" not in text
    rgb = torch.zeros(2, 3, 16, 16)  # RGB into a grey model
    with pytest.raises(
        ValueError, match=r"\(2, 3, 16, 16\).*'conv1'.*1 input channels.*grey vs RGB"
    ):
        call_model(_lenet(), rgb)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(64, 4))
    with pytest.raises(
        ValueError,
        match=r"layer '1' \(Linear with 64 input features\) received "
        r"shape \(2, 256\)",
    ):
        call_model(mlp, torch.zeros(2, 1, 16, 16))


class Boom(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("CUDA out of memory (simulated)")


class Keywords(nn.Module):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return (input_ids * attention_mask).float().sum(1, keepdim=True)


def test_call_model_dispatches_and_lets_other_errors_through() -> None:
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    out = call_model(Keywords(), {"input_ids": ids, "attention_mask": mask})
    assert out.tolist() == [[3.0], [15.0]]
    with pytest.raises(RuntimeError, match="simulated"):
        call_model(Boom(), torch.zeros(1))
    with pytest.raises(TypeError, match=r"cannot take keyword inputs \['input_ids'\]"):
        call_model(_lenet(), {"input_ids": ids})
    with pytest.raises(TypeError, match="cannot take one positional tensor"):
        call_model(Keywords(), ids)


def test_check_input_fit_runs_one_example_and_restores_modes() -> None:
    net = _lenet().train()
    check_input_fit(net, as_source(DIGITS16).example())
    assert net.training
    with pytest.raises(ValueError, match="inputs of shape"):
        check_input_fit(net, as_source(load_digits().test).example())
    assert net.training


def test_select_output() -> None:
    from transformers.modeling_outputs import SequenceClassifierOutput

    t = torch.zeros(2, 3)
    assert select_output(t) is t
    with pytest.raises(ValueError, match="single tensor"):
        select_output(t, "logits")
    aux = torch.ones(2, 1)
    assert select_output((t, aux), 1) is aux and select_output([t, aux], -2) is t
    with pytest.raises(ValueError, match="tuple of 2 elements.*output=<index>"):
        select_output((t, aux))
    with pytest.raises(ValueError, match="out of range"):
        select_output((t, aux), 2)
    with pytest.raises(TypeError, match="integer index"):
        select_output((t, aux), "logits")
    with pytest.raises(TypeError, match="selects a str"):
        select_output((t, "x"), 1)
    hf = SequenceClassifierOutput(logits=t, hidden_states=None)
    assert select_output(hf) is t and select_output(hf, 0) is t
    with pytest.raises(ValueError, match=r"no 'hidden_states'; available: \['logits'\]"):
        select_output(hf, "hidden_states")
    assert select_output({"logits": t, "pooled": aux}, "pooled") is aux
    with pytest.raises(ValueError, match=r"without 'logits'.*\['pooled'\]"):
        select_output({"pooled": aux})
    with pytest.raises(TypeError, match="returns a str"):
        select_output("text")


# ------------------------------------------------------------------------ predict, accuracy


def test_predict_matches_a_manual_forward_on_every_kind_of_data() -> None:
    net = _lenet(seed=3)
    part = DIGITS16.subset(range(50))
    expected = _manual_argmax(net, part.images)
    x, y = torch.from_numpy(np.array(part.images)), torch.from_numpy(np.array(part.labels))
    for data in (
        part,
        as_source(part),
        TensorDataset(x, y),
        DataLoader(TensorDataset(x, y), batch_size=7),
        [(x[:20], y[:20]), (x[20:], y[20:])],
    ):
        got = predict(net, data, batch_size=16, device="cpu", progress=False)
        assert got.dtype == np.int64 and got.shape == (50,)
        np.testing.assert_array_equal(got, expected)
    acc = accuracy(net, TensorDataset(x, y), batch_size=9, progress=False)
    assert acc == float(np.mean(expected == part.labels))
    with pytest.raises(ValueError, match="accuracy needs labels"):
        accuracy(net, TensorDataset(x), progress=False)


def test_predict_on_token_data_with_a_tiny_transformer() -> None:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=3,
    )
    model = BertForSequenceClassification(cfg).eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 50, size=(9, 6))
    mask = np.ones_like(ids)
    mask[::2, 4:] = 0
    tok = TokenDataset(input_ids=ids, attention_mask=mask, labels=rng.integers(0, 3, 9))
    with torch.no_grad():
        logits = model(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).logits
    got = predict(model, tok, batch_size=4, progress=False)  # ModelOutput: "logits" by default
    np.testing.assert_array_equal(got, logits.argmax(1).numpy())
    assert accuracy(model, tok, progress=False) == float(np.mean(got == tok.labels))


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.lin(x), x[:, None, :]


def test_predict_outputs_dtype_and_bad_input() -> None:
    x = torch.randn(10, 3, generator=torch.Generator().manual_seed(0))
    net = TwoHeads().eval()
    with torch.no_grad():
        expected = net.lin(x).argmax(1).numpy()
    np.testing.assert_array_equal(
        predict(net, TensorDataset(x), output=0, progress=False), expected
    )
    with pytest.raises(ValueError, match="output=<index>"):
        predict(net, TensorDataset(x), progress=False)
    with pytest.raises(ValueError, match=r"shape \(4, 1, 3\).*one row of class scores"):
        predict(net, TensorDataset(x), output=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match="'cuda:7' does not exist|not where"):
        predict(net, TensorDataset(x), device="cuda:7", output=0, progress=False)
    with pytest.raises(ValueError, match="not an autocast precision"):
        predict(net, TensorDataset(x), dtype="int8", output=0, progress=False)
    with pytest.raises(ValueError, match=r"inputs of shape \(16, 1, 8, 8\)"):
        predict(_lenet(), load_digits().test, batch_size=16, progress=False)
    with pytest.raises(TypeError, match="bare ndarray"):
        predict(net, np.zeros((3, 3)), progress=False)


def test_predict_in_bf16_agrees_where_the_float32_margin_is_clear() -> None:
    net = _lenet(seed=1)
    part = DIGITS16.subset(range(200))
    x = torch.from_numpy(np.array(part.images))
    with torch.no_grad():
        logits = net(x)
    top2 = logits.topk(2, dim=1).values
    margin = (top2[:, 0] - top2[:, 1]).numpy()
    clear = margin > 2 * BF16_REL_TOL * float(logits.abs().max())
    got = predict(net, part, dtype="bfloat16", progress=False)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got[clear], logits.argmax(1).numpy()[clear])


# ------------------------------------------------------------------------ GPU (CUDA only)


@needs_cuda
def test_cuda_models_get_their_inputs_moved() -> None:
    net = _lenet(seed=2).to("cuda")
    assert resolve_device(net).type == "cuda"
    assert resolve_device(net, "cuda") == torch.device("cuda", torch.cuda.current_device())
    with pytest.raises(ValueError, match="move the model first"):
        resolve_device(net, "cpu")
    part = DIGITS16.subset(range(64))
    cpu_logits = _lenet(seed=2)(torch.from_numpy(np.array(part.images))).detach()
    top2 = cpu_logits.topk(2, dim=1).values
    clear = ((top2[:, 0] - top2[:, 1]) > 1e-3).numpy()
    got = predict(net, part, progress=False)
    np.testing.assert_array_equal(got[clear], cpu_logits.argmax(1).numpy()[clear])


@needs_cuda
def test_cuda_bf16_extraction_matches_float32() -> None:
    from tda_activations.extract import extract

    net = _lenet(seed=0)
    part = DIGITS16.subset(range(64))
    ref = extract(net, part, layers=["conv1", "fc1"], reduction="global_avg_pool", progress=False)
    gpu = extract(
        net.to("cuda"),
        part,
        layers=["conv1", "fc1"],
        reduction="global_avg_pool",
        dtype="bfloat16",
        progress=False,
    )
    for layer in ("conv1", "fc1"):
        a, b = ref.cloud(layer), gpu.cloud(layer)
        assert b.dtype == np.float32
        assert float(np.abs(a - b).max()) <= BF16_REL_TOL * float(np.abs(a).max())


# ------------------------------------------------------------------------ command line


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from tda_activations.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_cli_extract_refuses_data_that_do_not_fit_with_one_line(tmp_path: Path) -> None:
    # the zoo LeNet is trained on 16x16 digits; 8x8 digits and RGB images do not fit
    out = tmp_path / "store"
    proc = _cli("extract", "lenet", "--out", str(out), "--data", "digits", "--limit", "4", "-q")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "inputs of shape (1, 1, 8, 8)" in lines[0] and "digits:x2" in lines[0]
    assert not out.exists()
    np.savez(tmp_path / "rgb.npz", images=np.zeros((3, 16, 16, 3), np.uint8), labels=[0, 1, 2])
    proc = _cli("extract", "lenet", "--out", str(out), "--data", str(tmp_path / "rgb.npz"), "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "(1, 3, 16, 16)" in proc.stderr and "1 input channels" in proc.stderr
    assert not out.exists()
