"""Every public name is documented in one numpydoc style (Parameters / Returns / summary).

Walks each namespace's ``__all__`` (and the containers of the top-level ``__all__``) and checks
every function and class with numpydoc:

- functions: :func:`numpydoc.validate.validate` with the checks in :data:`CHECKS` (every
  parameter documented, no unknown or misordered one, a Returns section when something is
  returned, a one-line summary that starts with a capital letter and ends with a period);
- classes: the summary checks, and every parameter of ``__init__`` (the fields of a dataclass)
  documented under Parameters or Attributes of :class:`numpydoc.docscrape.ClassDoc`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")
docscrape = pytest.importorskip("numpydoc.docscrape")

import tda_activations  # noqa: E402 - only when numpydoc is installed

NAMESPACES = tda_activations._NAMESPACES  # the one list of public sub-namespaces

# GL08 no docstring; PR01 parameter not documented; PR02 unknown parameter documented;
# PR03 parameters in the wrong order; RT01 no Returns section although something is returned;
# SS01 no summary; SS02 summary not capitalised; SS03 summary without a final period.
CHECKS = frozenset({"GL08", "PR01", "PR02", "PR03", "RT01", "SS01", "SS02", "SS03"})
CLASS_CHECKS = frozenset({"GL08", "SS01", "SS02", "SS03"})

# Modules not checked (empty: every public name is).
TO_DO: tuple[str, ...] = ()


def _public_objects() -> dict[str, Any]:
    """Every public function and class, once, keyed by its qualified name."""
    pairs: list[tuple[str, str]] = [
        ("tda_activations", n)
        for n in tda_activations.__all__
        if n not in NAMESPACES and not n.startswith("_")
    ]
    for ns in NAMESPACES:
        module = importlib.import_module(f"tda_activations.{ns}")
        pairs += [(module.__name__, n) for n in module.__all__]
    found: dict[str, Any] = {}
    for modname, name in pairs:
        obj = getattr(importlib.import_module(modname), name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not obj.__module__.startswith("tda_activations"):
            continue  # re-exported from elsewhere (numpy, ...): not ours to document
        found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


PUBLIC = _public_objects()
CHECKED = sorted(
    q for q, o in PUBLIC.items() if not o.__module__.startswith(TO_DO) and o.__module__ not in TO_DO
)


def test_the_walk_finds_the_public_names() -> None:
    # The walk must see every namespace (a broken walk would check nothing and pass).
    modules = {obj.__module__.split(".")[1] for obj in PUBLIC.values()}
    assert {"homology", "similarity", "mapper", "probes", "experiments", "io"} <= modules
    assert len(CHECKED) > 150


def _signature_names(func: Callable[..., Any]) -> list[str]:
    """Parameter names as numpydoc expects them documented (``*args``, ``**kwargs``)."""
    names = []
    for p in inspect.signature(func).parameters.values():
        if p.name in ("self", "cls"):
            continue
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        names.append(prefix + p.name)
    return names


def _documented(section: list[Any]) -> set[str]:
    """Names of a Parameters/Attributes section; ``a, b : int`` documents both."""
    names: set[str] = set()
    for entry in section:
        names.update(n.strip() for n in entry.name.split(","))
    return names


@pytest.mark.parametrize("qualname", CHECKED)
def test_public_name_is_documented(qualname: str) -> None:
    obj = PUBLIC[qualname]
    result = numpydoc_validate.validate(qualname)
    wanted = CLASS_CHECKS if inspect.isclass(obj) else CHECKS
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code in wanted]
    if inspect.isclass(obj):
        doc = docscrape.ClassDoc(obj, config={"show_class_members": False})
        documented = _documented(doc["Parameters"]) | _documented(doc["Attributes"])
        init = obj.__init__
        if inspect.isfunction(init):  # not the builtin one of an exception or a warning
            # Underscored fields are private (set by the module's own builders).
            missing = [
                n
                for n in _signature_names(init)
                if not n.startswith("_") and n.lstrip("*") not in documented and n not in documented
            ]
            if missing:
                errors.append(f"parameters not under Parameters or Attributes: {missing}")
    assert not errors, f"{qualname}:\n  " + "\n  ".join(errors)


def test_checker_reports_a_missing_parameter_and_returns() -> None:
    # The checks themselves fail on a docstring that misses a parameter and its Returns.
    report = numpydoc_validate.validate(f"{__name__}._bad_example")
    assert {"PR01", "RT01"} <= {code for code, _ in report["errors"]}


def _bad_example(x: int, *, scale: float = 1.0) -> float:
    """Scale a number.

    Parameters
    ----------
    x : int
        The number.
    """
    return x * scale
