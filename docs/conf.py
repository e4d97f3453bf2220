"""Sphinx configuration: the API reference, the guides and the gallery, built offline.

``make docs`` builds it into ``docs/_build/html`` with warnings as errors; nothing is
fetched from the network (no intersphinx, a theme whose assets ship with it).
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TDA_ACTIVATIONS_PROGRESS", "0")

import tda_activations  # noqa: E402

project = "tda_activations"
author = "the tda_activations developers"
copyright = "the tda_activations developers"  # noqa: A001
release = tda_activations.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "api/generated/*.examples",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
templates_path = ["_templates"]

# No network: mathjax is only referenced by pages that use math; the theme ships its assets.
html_theme = "furo"
html_title = f"tda_activations {release}"
html_static_path: list[str] = []

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": False}
autodoc_typehints = "none"  # numpydoc renders the types written in the docstrings
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

NAMESPACES = tda_activations._NAMESPACES  # the one list of public sub-namespaces

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "plot_gallery": "True",
}


def _write_api_pages(app: object) -> None:
    """One page per namespace listing every name of its ``__all__`` (so none is missed)."""
    out = Path(__file__).resolve().parent / "api"
    shutil.rmtree(out, ignore_errors=True)  # no stale page of a name that has gone
    out.mkdir()
    top = [n for n in tda_activations.__all__ if n not in NAMESPACES and not n.startswith("_")]
    sections = [("tda_activations", top)]
    for ns in NAMESPACES:
        mod = importlib.import_module(f"tda_activations.{ns}")
        sections.append((f"tda_activations.{ns}", list(getattr(mod, "__all__", []))))
    index = [
        "API reference",
        "=============",
        "",
        "Every public name, one page per namespace, generated from the docstrings.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    seen: dict[int, str] = {}
    for modname, names in sections:
        mod = importlib.import_module(modname)
        own, again, constants = [], [], []
        for n in sorted(names, key=str.lower):
            obj = getattr(mod, n, None)
            if not callable(obj) and not inspect.ismodule(obj):
                constants.append(f"- ``{n}``: a ``{type(obj).__name__}`` constant")
                continue
            if id(obj) in seen:
                again.append(f"- ``{n}``: documented as :obj:`{seen[id(obj)]}.{n}`")
            else:
                own.append(n)
                if obj is not None:
                    seen.setdefault(id(obj), modname)
        slug = modname.replace(".", "_")
        index.append(f"   {slug}")
        doc = importlib.import_module(modname).__doc__ or ""
        first = doc.strip().splitlines()[0] if doc.strip() else ""
        lines = [
            f"``{modname}``",
            "=" * (len(modname) + 4),
            "",
            first,
            "",
            f".. currentmodule:: {modname}",
            "",
            ".. autosummary::",
            "   :toctree: generated",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {n}" for n in own]
        if constants:
            lines += ["", "Constants:", ""] + constants
        if again:
            lines += ["", "Also available here:", ""] + again
        text = "\n".join(lines) + "\n"
        (out / f"{slug}.rst").write_text(text)
    (out / "index.rst").write_text("\n".join(index) + "\n")


_write_api_pages(None)


def _readme_links(app: object, docname: str, source: list[str]) -> None:
    """The guides link to ``../../README.md``; in the site the README is the index page."""
    if docname.startswith("guide/"):
        source[0] = source[0].replace("../../README.md", "../index.md")


def setup(app: object) -> None:  # noqa: D103
    app.connect("source-read", _readme_links)  # type: ignore[attr-defined]
