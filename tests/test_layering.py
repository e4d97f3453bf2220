"""The import rules of docs/architecture.md, checked on the source (lazy imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tda_activations"

CONTAINERS = {"types", "_frozen", "_hashing"}
BASE = {
    "_atomic",
    "_checks",
    "_distances",
    "_figure_labels",
    "_hooks",
    "_imports",
    "_json",
    "_measure",
    "_paths",
    "_progress",
    "_registry",
    "_select",
    "_subsample",
    "_tables",
    "_torch",
}
ANALYSES = {"homology", "mapper", "similarity"}
LOWER = CONTAINERS | BASE
# unit -> what it may import besides itself (the package root, for __version__, always)
ALLOWED: dict[str, set[str]] = {
    **{c: CONTAINERS for c in CONTAINERS},
    **{b: LOWER for b in BASE},
    "datasets": LOWER,
    "extract": LOWER | {"datasets"},
    "models": LOWER | {"datasets", "extract"},
    **{a: LOWER for a in ANALYSES},
    "experiments": LOWER | ANALYSES | {"datasets", "extract", "models"},
    "probes": LOWER | ANALYSES | {"datasets", "extract", "models"},
    "plot": LOWER | ANALYSES | {"datasets", "extract", "models", "experiments", "probes"},
    "io": LOWER | ANALYSES | {"datasets", "extract", "models", "experiments", "probes", "plot"},
}


def _unit(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    """Top-level units of tda_activations that ``path`` imports (anywhere in the file)."""
    rel = path.relative_to(PACKAGE)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            here = list(rel.parts[:-1])
            base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
            parts = base + (node.module.split(".") if node.module else [])
            if parts:
                found.add(parts[0])
            else:  # from . import x (at the package root)
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "tda_activations."
        ):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1] for a in node.names if a.name.startswith("tda_activations.")
            )
    return found


def _files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if _unit(p) in ALLOWED)


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_from_its_layer_and_below(path):
    unit = _unit(path)
    allowed = ALLOWED[unit] | {unit, "__version__", "__init__"}
    wrong = sorted(_imports(path) - allowed)
    assert not wrong, (
        f"{path.relative_to(PACKAGE)} ({unit}) imports {wrong}; see docs/architecture.md "
        "for the layers and where shared ideas live"
    )


def test_every_top_level_module_has_a_layer():
    units = {_unit(p) for p in PACKAGE.rglob("*.py")} - {
        "__init__",
        "batch",
        "cli",
        "assets",
        "data",
    }
    assert units <= set(ALLOWED), (
        f"modules without a layer in docs/architecture.md: {units - set(ALLOWED)}"
    )


def test_the_architecture_page_names_every_base_module():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(m for m in BASE | CONTAINERS if f"`{m}.py`" not in page)
    assert not missing, f"docs/architecture.md does not list {missing}"
