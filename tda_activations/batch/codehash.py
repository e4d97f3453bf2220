"""A fingerprint of the code that computes a task, so that results of old code are never reused.

A task names its function as ``"package.module:function"``.  Its code fingerprint
hashes

* the source of that function and of the module-level functions, classes and
  constants of its module that it uses (transitively), and
* the source files of every ``tda_activations`` module it may import: the imports
  of those functions (also those inside function bodies: the stages import lazily)
  and of the module's top level, followed transitively through the package
  (a package import counts its ``__init__.py`` and what that imports, and for
  ``from pkg import sub`` the submodule).

Everything is read from the files on disk (:mod:`ast` for the task's module, a regular
expression for imports); nothing is imported.
The result is cached per process (one parse of the package, a few milliseconds).
Code outside the package (a user's ``module:function``) is fingerprinted by the
bytes of its module's file.  Modules of other packages (NumPy, ripser...) are not
followed: their versions are recorded in the manifest.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import re
from pathlib import Path

__all__ = ["code_fingerprint", "module_closure"]

_PACKAGE = "tda_activations"
_ROOT = Path(__file__).resolve().parents[1]  # the tda_activations folder


def _module_file(name: str) -> Path | None:
    """The source file of a module of the package (``None`` if it is not one)."""
    if name != _PACKAGE and not name.startswith(_PACKAGE + "."):
        return None
    parts = name.split(".")[1:]
    base = _ROOT.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    file = base.with_suffix(".py")
    return file if parts and file.is_file() else None


def _is_package(name: str) -> bool:
    f = _module_file(name)
    return f is not None and f.name == "__init__.py"


def _absolute(module: str | None, level: int, current: str) -> str:
    if level == 0:
        return module or ""
    base = current.split(".") if _is_package(current) else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


_FROM = re.compile(
    r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)", re.MULTILINE
)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.MULTILINE)


def _imports(text: str, current: str) -> set[str]:
    """Package modules imported anywhere in the source ``text`` of module ``current``.

    A regular expression over the text (an AST walk of the package is 100x slower):
    an import inside a string is counted too, which can only add a dependency.
    """
    out: set[str] = set()
    for dots, module, names in _FROM.findall(text):
        target = _absolute(module or None, len(dots), current)
        out.add(target)
        for alias in names.strip("()").split(","):
            name = alias.split(" as ")[0].strip()
            if name.isidentifier():
                out.add(f"{target}.{name}")  # ``from pkg import submodule``
    for names in _IMPORT.findall(text):
        out.update(alias.split(" as ")[0].strip() for alias in names.split(","))
    return {m for m in out if _module_file(m) is not None}


@functools.cache
def _module_imports(name: str) -> frozenset[str]:
    f = _module_file(name)
    return frozenset() if f is None else frozenset(_imports(f.read_text(encoding="utf-8"), name))


@functools.cache
def module_closure(name: str) -> frozenset[str]:
    """Package modules that ``name`` may import, itself included.

    Parent packages' ``__init__`` files are not followed (they gather exports; what a
    function uses is reached through its own imports).
    """
    seen: set[str] = set()
    todo = [name]
    while todo:
        m = todo.pop()
        if m in seen or _module_file(m) is None:
            continue
        seen.add(m)
        todo += sorted(_module_imports(m))
    return frozenset(seen)


def _top_level(tree: ast.Module) -> dict[str, ast.stmt]:
    names: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    names[t.id] = node
    return names


@functools.cache
def _parsed(name: str) -> tuple[list[str], ast.Module]:
    file = _module_file(name)
    if file is None:
        raise ValueError(f"{name} is not a module of {_PACKAGE}")
    source = file.read_text(encoding="utf-8")
    return source.splitlines(keepends=True), ast.parse(source, filename=str(file))


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The source lines of a top-level statement, decorators included."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return "".join(lines[first - 1 : node.end_lineno])


def _file_hash(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


@functools.cache
def code_fingerprint(func: str) -> str:
    """Hash of the code a task function ``"module:function"`` runs (see the module doc).

    Parameters
    ----------
    func
        ``"package.module:function"``.

    Returns
    -------
    str
        32 hex characters.
    """
    module, _, attr = func.partition(":")
    h = hashlib.blake2b(digest_size=16)
    h.update(func.encode())
    file = _module_file(module)
    if file is None:  # outside the package: the bytes of the module's file
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        origin = getattr(spec, "origin", None)
        h.update(
            _file_hash(Path(origin)).encode() if origin and Path(origin).is_file() else b"missing"
        )
        return h.hexdigest()
    lines, tree = _parsed(module)
    top = _top_level(tree)
    used: dict[str, ast.stmt] = {}
    todo = [attr.split(".")[0]]
    while todo:
        name = todo.pop()
        node = top.get(name)
        if node is None or name in used:
            continue
        used[name] = node
        todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in top]
    if not used:
        raise ValueError(f"task function {func!r}: {module} defines no {attr!r}")
    segments = {name: _segment(lines, node) for name, node in used.items()}
    for name in sorted(segments):
        h.update(f"{name}\n{segments[name]}\n".encode())
    body_imports = _imports("".join(segments.values()), module)
    module_imports = _imports(
        "".join(
            _segment(lines, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
        ),
        module,
    )
    deps: set[str] = set()
    for m in body_imports | module_imports:
        deps |= module_closure(m)
    for m in sorted(deps - {module}):
        h.update(f"{m}:{_file_hash(_module_file(m))}\n".encode())  # type: ignore[arg-type]
    return h.hexdigest()
