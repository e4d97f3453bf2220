"""The shipped data (configs, hierarchies, zoo weights) is package data that a wheel carries."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

import pytest

import tda_activations
from tda_activations._paths import data_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(tda_activations.__file__).resolve().parent


def _package_data_globs() -> list[str]:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(spec["tool"]["setuptools"]["package-data"]["tda_activations"])


@pytest.mark.parametrize("folder", ["data", "assets/zoo"])
def test_every_shipped_file_is_declared_package_data(folder):
    globs = _package_data_globs()
    files = [p for p in (PACKAGE / folder).rglob("*") if p.is_file()]
    assert files, f"nothing under {folder}"
    undeclared = [
        str(p.relative_to(PACKAGE))
        for p in files
        if not any(fnmatch.fnmatch(str(p.relative_to(PACKAGE)), g) for g in globs)
    ]
    assert undeclared == [], f"files a wheel would leave out: {undeclared}"


def test_the_data_folder_is_inside_the_package():
    folder = data_dir()
    assert folder.resolve().parent == PACKAGE
    assert {p.name for p in (folder / "configs").glob("*.toml")} >= {
        "embedded.toml",
        "transformers.toml",
        "paper_cifar10.toml",
    }
    assert (folder / "hierarchies" / "digits.json").is_file()


def test_no_data_folder_at_the_top_of_the_repository():
    # one home for the shipped data: the package
    assert not (ROOT / "data").exists()
