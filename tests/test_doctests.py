"""Every docstring example in the package runs as a doctest (the API reference shows them)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tda_activations

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(tda_activations.__path__, prefix="tda_activations.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
