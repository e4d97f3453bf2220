"""The batch config's extraction options ([extract] device/dtype/layout/attention_mask/output)
and data sources ([data] token_npz/factory): validated with messages naming the key, and
passed through to the extraction."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from tda_activations.batch import ConfigError, Planner, config_from_dict
from tda_activations.batch.stages import _extract_options, load_run_dataset

MODELS = [{"name": "m", "zoo": "mlp"}]


def cfg(extract=None, data=None, **kw):
    return config_from_dict(
        {
            "models": MODELS,
            "extract": extract or {},
            "data": data if data is not None else {"dataset": "digits:x2"},
            **kw,
        }
    )


@pytest.mark.parametrize(
    ("extract", "message"),
    [
        ({"device": "gpu0"}, r"extract\.device: 'gpu0' is not a device"),
        ({"device": "cuda:x"}, r"extract\.device"),
        ({"dtype": "float64"}, r"extract\.dtype"),
        ({"layout": "channel_first"}, r"extract\.layout: .*'channels_first'"),
        ({"layout": {"blocks.*": "token"}}, r"extract\.layout: \['blocks\.\*'\]: .*'tokens'"),
        ({"layout": {}}, r"extract\.layout: the layout table is empty"),
        ({"layout": 3}, r"extract\.layout"),
        ({"attention_mask": True}, r"extract\.attention_mask"),
        ({"attention_mask": "not a name"}, r"extract\.attention_mask"),
        ({"output": ""}, r"extract\.output: 'output' is empty"),
        ({"output": -1}, r"extract\.output: 'output' index must be >= 0"),
        ({"devise": "cpu"}, r"extract\.devise: unknown key; did you mean 'device'"),
    ],
)
def test_bad_extract_options_name_the_key(extract, message):
    with pytest.raises(ConfigError, match=message):
        cfg(extract)


def test_good_extract_options_reach_the_extraction_task():
    c = cfg(
        {
            "device": "cuda:1",
            "dtype": "bfloat16",
            "layout": {"blocks.*": "tokens"},
            "attention_mask": False,
            "output": "logits",
        }
    )
    params = Planner(c).initial()[0].params["extract"]
    assert params["device"] == "cuda:1" and params["dtype"] == "bfloat16"
    assert params["layout"] == {"blocks.*": "tokens"} and params["attention_mask"] is False
    assert params["output"] == "logits"
    assert cfg({"layout": "flat", "output": 0}).extract.output == 0
    # the options change the extraction's key (and so every result that depends on it)
    assert Planner(c).initial()[0].key != Planner(cfg()).initial()[0].key


def test_options_are_passed_only_when_set_and_only_where_extract_takes_them():
    def new_extract(
        model,
        data,
        *,
        layout=None,
        attention_mask="attention_mask",
        output=None,
        device=None,
        dtype=None,
    ):
        pass

    def old_extract(model, data, *, layers=None):
        pass

    defaults = cfg().extract.model_dump()
    assert _extract_options(new_extract, defaults) == {}
    assert _extract_options(old_extract, defaults) == {}
    set_ = {**defaults, "layout": "tokens", "attention_mask": False, "device": "cpu"}
    assert _extract_options(new_extract, set_) == {
        "layout": "tokens",
        "attention_mask": None,
        "device": "cpu",
    }
    with pytest.raises(ValueError, match=r"extract\.device is not supported by this version"):
        _extract_options(old_extract, set_)
    from tda_activations.extract import extract

    accepted = set(inspect.signature(extract).parameters)
    assert _extract_options(extract, defaults) == {}  # whatever version: defaults always run
    if {"layout", "device"} <= accepted:
        assert _extract_options(extract, set_)["layout"] == "tokens"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dataset": "digits", "token_npz": "t.npz"}, r"data: give exactly one of"),
        ({"dataset": "digits", "factory": "tda_activations.datasets:load_digits"}, "exactly one"),
        ({"token_npz": "t.npz", "factory": "tda_activations.datasets:load_digits"}, "exactly one"),
        (
            {"factory": "not a path"},
            r"data\.factory: 'not a path' is not 'package\.module:callable'",
        ),
        ({"factory": "os:"}, r"data\.factory"),
        ({"dataset": "digits", "kwargs": {"a": 1}}, r"'kwargs' goes with 'factory'"),
        ({"token_npz": "t.npz", "size": 32}, r"'size' resizes images"),
    ],
)
def test_bad_data_sections_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        cfg(data=data)


def test_token_npz_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.token_npz: 'missing\.npz' is not a file"):
        config_from_dict(
            {"models": MODELS, "data": {"token_npz": "missing.npz"}}, base_dir=tmp_path
        )
    (tmp_path / "tokens.npz").write_bytes(b"")
    c = config_from_dict(
        {"models": MODELS, "data": {"token_npz": "tokens.npz", "limit": 5}}, base_dir=tmp_path
    )
    assert c.data.dataset is None
    params = Planner(c).data_params
    assert params["token_npz"] == str(tmp_path / "tokens.npz")
    assert c.dataset_spec() == f"token_npz:{tmp_path / 'tokens.npz'}"


def test_factory_data_is_loaded_with_its_kwargs_and_limit():
    c = cfg(
        data={
            "factory": "tda_activations.datasets:load_dataset",
            "kwargs": {"spec": "digits:x2", "split": "train"},
            "limit": 17,
        }
    )
    params = Planner(c).data_params
    assert params["factory"] == "tda_activations.datasets:load_dataset"
    dataset = load_run_dataset(params)
    from tda_activations.datasets import load_dataset

    ref = load_dataset("digits:x2", split="train")
    assert len(dataset) == 17 and len(ref) > 17
    np.testing.assert_array_equal(np.asarray(dataset.images), np.asarray(ref.images)[:17])
    np.testing.assert_array_equal(np.asarray(dataset.labels), np.asarray(ref.labels)[:17])


TINY_LM = """
import torch
from torch import nn


class TinyLM(nn.Module):
    def __init__(self, vocab=20, width=8, classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.block = nn.TransformerEncoderLayer(width, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(width, classes)

    def forward(self, input_ids, attention_mask=None):
        pad = None if attention_mask is None else attention_mask == 0
        h = self.block(self.emb(input_ids), src_key_padding_mask=pad)
        return self.head(h[:, 0])
"""


def test_token_data_and_layouts_run_through_the_batch(tmp_path, monkeypatch):
    import sys

    import torch

    from tda_activations.batch import run_batch
    from tda_activations.datasets.tokens import load_token_npz
    from tda_activations.extract import extract, load_store

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, size=(30, 6))
    mask = np.ones_like(ids)
    mask[::3, 4:] = 0  # padding at the end of every third sequence
    ids[mask == 0] = 0
    np.savez(
        tmp_path / "tokens.npz",
        input_ids=ids,
        attention_mask=mask,
        labels=rng.integers(0, 3, size=30),
    )
    (tmp_path / "tinylm.py").write_text(TINY_LM)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tinylm", raising=False)
    c = config_from_dict(
        {
            "models": [{"name": "lm", "source": "tinylm:TinyLM", "layers": ["emb", "block"]}],
            "data": {"token_npz": "tokens.npz", "limit": 24},
            "extract": {
                "layout": {"emb": "tokens", "block": "tokens"},
                "reduction": "top_l2",
                "device": "cpu",
            },
            "homology": {"maxdim": 0},
            "distances": {"dim": 0, "metrics": ["bottleneck"]},
            "similarity": {"measures": ["linear_cka"]},
            "mapper": {"enabled": False},
            "probes": {"run": []},
        },
        base_dir=tmp_path,
    )
    result = run_batch(c, out=tmp_path / "run", workers=1, report=False, trust=True)
    assert result.ok, result.summary()
    store = next((tmp_path / "run").glob("tasks/extract/lm-*/store"))
    got = load_store(store)

    import tinylm

    torch.manual_seed(0)  # what the run does for a model built from a class (seed 0)
    model = tinylm.TinyLM()
    data = load_token_npz(tmp_path / "tokens.npz").subset(range(24))
    ref = extract(
        model,
        data,
        layers=["emb", "block"],
        reduction="top_l2",
        layout={"emb": "tokens", "block": "tokens"},
        device="cpu",
    )
    assert list(got.layers) == ["emb", "block"]
    for layer in ref.layers:
        np.testing.assert_array_equal(got.cloud(layer), ref.cloud(layer))
    assert got.cloud("block").shape == (24, 8)  # one point per sequence, width 8
