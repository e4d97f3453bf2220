"""``--layout`` on the command line: one parser, the extract command, one-line errors (exit 2)."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tda_activations.cli import app
from tda_activations.cli._common import parse_layout
from tda_activations.extract import load_store

runner = CliRunner()

VIT = "tda_activations.models.zoo_transformers:TinyViT"  # built untrained: no training, no files


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (None, None),
        ([], None),
        (["tokens"], "tokens"),
        (["blocks.*=tokens"], {"blocks.*": "tokens"}),
        (["blocks.*=tokens, head = flat"], {"blocks.*": "tokens", "head": "flat"}),
        (
            ["blocks.*=tokens", "patch_embed=channels_first"],
            {"blocks.*": "tokens", "patch_embed": "channels_first"},
        ),
        (["a=flat", "a=flat"], {"a": "flat"}),
    ],
)
def test_parse_layout(values, expected) -> None:
    assert parse_layout(values) == expected


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (
            ["blocks.*=tokn"],
            "unknown layout 'tokn'; accepted layouts: channels_first, tokens, flat",
        ),
        (["token"], "unknown layout 'token'"),
        (["=tokens"], "write GLOB=LAYOUT"),
        (["blocks.*="], "write GLOB=LAYOUT"),
        (["blocks.*=tokens,"], "write GLOB=LAYOUT"),
        (["a=flat", "a=tokens"], "two layouts"),
        (["tokens", "a=flat"], "a bare layout sets every layer"),
        (["tokens,flat"], "a bare layout sets every layer"),
    ],
)
def test_parse_layout_refuses(values, match) -> None:
    with pytest.raises(ValueError, match=match):
        parse_layout(values)


def _extract(tmp_path, *extra: str, name: str = "store") -> tuple[object, str]:
    out = tmp_path / name
    args = [
        "extract",
        VIT,
        "--data",
        "digits:x2",
        "--out",
        str(out),
        "--limit",
        "6",
        "--layer",
        "blocks.0",
        "--layer",
        "blocks.2",
        "--reduction",
        "last_token",
        "--quiet",
        *extra,
    ]
    return runner.invoke(app, args), str(out)


def test_extract_with_layout_gives_token_points(tmp_path) -> None:
    result, out = _extract(tmp_path, "--layout", "blocks.*=tokens")
    assert result.exit_code == 0, result.output
    acts = load_store(out)
    assert acts.layouts == {"blocks.0": "tokens", "blocks.2": "tokens"}
    assert acts.cloud("blocks.2").shape == (6, 48)
    # the comma-separated form names the same layouts
    again, out2 = _extract(tmp_path, "--layout", "blocks.0=tokens,blocks.2=tokens", name="b")
    assert again.exit_code == 0, again.output
    assert load_store(out2).layouts == acts.layouts


def test_extract_without_layout_names_the_ambiguity(tmp_path) -> None:
    result, _ = _extract(tmp_path)
    assert result.exit_code != 0
    assert "tokens" in str(result.exception)
    assert not (tmp_path / "store").exists()


def test_bad_layout_exits_2_with_one_line(tmp_path) -> None:
    result, _ = _extract(tmp_path, "--layout", "blocks.*=tokn")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [
        (
            "error: --layout 'blocks.*=tokn': unknown layout 'tokn'; accepted layouts: "
            "channels_first, tokens, flat"
        )
    ]
    assert not (tmp_path / "store").exists()  # refused before any work


def test_unfitting_layout_is_refused_before_anything_is_written(tmp_path) -> None:
    # a ValueError, which the console entry point prints as one line with exit status 2
    # (tests/test_cli.py runs that path in a subprocess)
    result, _ = _extract(tmp_path, "--layout", "blocks.0=flat")
    assert isinstance(result.exception, ValueError)
    assert "does not fit layout 'flat'" in str(result.exception)
    assert not (tmp_path / "store").exists()


def test_extract_the_modular_model_at_the_equals_token(tmp_path) -> None:
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        [
            "extract",
            "modular_addition",
            "--out",
            str(out),
            "--seed",
            "1",
            "--layer",
            "blocks.0",
            "--layout",
            "tokens",
            "--reduction",
            "last_token",
            "--limit",
            "50",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    acts = load_store(out)
    assert acts.layouts == {"blocks.0": "tokens"} and acts.cloud("blocks.0").shape == (50, 64)
    # its default data are the model's own held-out pairs, all answered right
    assert np.array_equal(acts.predictions, acts.labels)
