"""What code a run config would import, and whether it may without the user's say-so.

A config is data.  It may name code only in forms that run nothing of the config
author's choosing:

* a zoo name, a model file (TorchScript, ``state_dict`` checkpoint) or a model folder;
* ``torchvision:NAME`` / ``timm:NAME`` (architectures of those packages, no weights);
* ``module:attr`` where ``module`` belongs to a trusted package (``tda_activations``,
  ``torch``, ``torchvision``, ``timm``, ``transformers``: importing them is safe) *and*
  ``attr`` is a ``torch.nn.Module`` subclass (for ``[data] factory``: a
  ``torch.utils.data.Dataset`` subclass) or a documented factory: a public function
  (listed in its module's ``__all__``) of ``tda_activations.models`` or
  ``tda_activations.datasets``, except those that themselves load code from a
  string (:data:`NOT_FACTORIES`).

Everything else (importing a module of the user's, or calling ``os:system``) runs
code the config chose and needs an explicit ``trust=True`` (``--trust-config`` on the
command line).  The check resolves ``module:attr`` *without calling anything*, and
imports a module only when it belongs to a trusted package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .._imports import import_object
from .config import ConfigError, RunConfig

__all__ = [
    "NOT_FACTORIES",
    "TRUSTED_PACKAGES",
    "CodeReference",
    "check_trust",
    "code_references",
]

#: Top-level packages whose modules a config may import without ``trust``.
TRUSTED_PACKAGES = ("tda_activations", "torch", "torchvision", "timm", "transformers")

#: Public functions of the factory packages that are *not* factories a config may name:
#: they load code from a string (``load_model("os:system")``) or need Python objects.
NOT_FACTORIES = frozenset({"load_model", "fit", "predict", "accuracy", "from_torchvision"})

_FACTORY_PACKAGES = ("tda_activations.models", "tda_activations.datasets")
_MODEL_SUFFIXES = {".pt", ".pth", ".ts", ".ckpt"}

Role = Literal["model", "architecture", "data factory"]


@dataclass(frozen=True)
class CodeReference:
    """One piece of code a config names.

    Attributes
    ----------
    key
        Where the config names it (``models[0].source``).
    spec
        What it says (``"mypkg.nets:Net"``).
    role
        ``"model"``, ``"architecture"`` or ``"data factory"``.
    module
        The module that would be imported.
    safe
        Whether it may run without ``trust``.
    why
        Why it is safe, or what it would run.
    """

    key: str
    spec: str
    role: Role
    module: str
    safe: bool
    why: str

    def describe(self) -> str:
        """One line: key, spec, and the verdict."""
        verdict = "allowed" if self.safe else "needs --trust-config"
        return f"{self.key} = {self.spec!r}: imports {self.module!r} ({verdict}: {self.why})"


def _is_file_spec(text: str, base: RunConfig) -> bool:
    path = Path(text)
    return path.suffix in _MODEL_SUFFIXES or path.exists() or Path(base.resolve_path(text)).exists()


def _documented_factory(obj: Any) -> bool:
    import sys

    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__name__", None)
    if not callable(obj) or isinstance(obj, type) or name is None or name in NOT_FACTORIES:
        return False
    if not any(module == p or module.startswith(p + ".") for p in _FACTORY_PACKAGES):
        return False
    mod = sys.modules.get(module)
    return mod is not None and name in getattr(mod, "__all__", ()) and getattr(mod, name) is obj


def _resolve_trusted(module_name: str, attr: str, *, key: str, spec: str) -> Any:
    try:
        return import_object(f"{module_name}:{attr}")
    except ImportError as exc:
        raise ConfigError(f"{key}: cannot import {module_name!r} for {spec!r} ({exc})") from None
    except AttributeError:
        raise ConfigError(f"{key}: {module_name!r} has no attribute {attr!r} ({spec!r})") from None


def _import_reference(spec: str, *, key: str, role: Role, resolve: bool) -> CodeReference:
    module_name, _, attr = spec.partition(":")
    top = module_name.split(".")[0]
    if not module_name or not attr:
        raise ConfigError(f"{key}: {spec!r} is not 'package.module:attribute'")
    if top not in TRUSTED_PACKAGES:
        return CodeReference(
            key,
            spec,
            role,
            module_name,
            False,
            f"importing {module_name!r} runs its code; only modules of "
            f"{', '.join(TRUSTED_PACKAGES)} are imported without trust",
        )
    if not resolve:
        return CodeReference(key, spec, role, module_name, True, "not checked (trusted config)")
    obj = _resolve_trusted(module_name, attr, key=key, spec=spec)
    import torch

    if role == "data factory":
        base: type = torch.utils.data.Dataset
        kind = "a torch.utils.data.Dataset subclass"
    else:
        base = torch.nn.Module
        kind = "a torch.nn.Module subclass"
    if isinstance(obj, type) and issubclass(obj, base):
        return CodeReference(key, spec, role, module_name, True, kind)
    if role != "data factory" and isinstance(obj, torch.nn.Module):
        return CodeReference(key, spec, role, module_name, True, "a torch.nn.Module (not called)")
    if _documented_factory(obj):
        return CodeReference(key, spec, role, module_name, True, "a documented factory")
    return CodeReference(
        key,
        spec,
        role,
        module_name,
        False,
        f"{attr!r} is neither {kind} nor a documented factory of "
        f"{' or '.join(_FACTORY_PACKAGES)}; calling it would run arbitrary code",
    )


def _model_reference(
    cfg: RunConfig, text: str, *, key: str, role: Role, resolve: bool
) -> CodeReference | None:
    from ..models import ZOO

    if role == "architecture" and text in ZOO:
        return None
    if _is_file_spec(text, cfg):
        return None
    if text.startswith(("torchvision:", "timm:")):
        package = text.split(":", 1)[0]
        return CodeReference(key, text, role, package, True, f"an architecture of {package}")
    if ":" in text:
        return _import_reference(text, key=key, role=role, resolve=resolve)
    return None  # a zoo name, or a missing file: the model's task reports it


def code_references(config: RunConfig, *, resolve: bool = True) -> tuple[CodeReference, ...]:
    """Every piece of code ``config`` names, with whether it may run without trust.

    Parameters
    ----------
    config
        A validated config.
    resolve
        Import the trusted modules named and check what their attribute is (without
        calling it).  ``False`` only classifies by module name (imports nothing).

    Returns
    -------
    tuple of CodeReference
        In config order; zoo names and model files (data) are not listed.

    Raises
    ------
    ConfigError
        If a trusted module cannot be imported or lacks the attribute named.
    """
    out: list[CodeReference] = []
    seen: set[tuple[str, str]] = set()
    for i, spec in enumerate(config.models):
        sources = spec.source if isinstance(spec.source, list) else [spec.source]
        if spec.seeds is not None and isinstance(spec.source, str):
            sources = [spec.source.replace("{seed}", str(s)) for s in spec.seeds]
        for j, src in enumerate(sources):
            if src is None:
                continue
            key = f"models[{i}].source" + (f"[{j}]" if isinstance(spec.source, list) else "")
            if (key, src) not in seen:
                seen.add((key, src))
                ref = _model_reference(config, src, key=key, role="model", resolve=resolve)
                if ref is not None:
                    out.append(ref)
        if spec.architecture is not None:
            ref = _model_reference(
                config,
                spec.architecture,
                key=f"models[{i}].architecture",
                role="architecture",
                resolve=resolve,
            )
            if ref is not None:
                out.append(ref)
    if config.data.factory is not None:
        out.append(
            _import_reference(
                config.data.factory, key="data.factory", role="data factory", resolve=resolve
            )
        )
    return tuple(out)


def check_trust(config: RunConfig, *, trust: bool = False) -> tuple[CodeReference, ...]:
    """Refuse a config that would run code of its own choosing unless ``trust`` is given.

    Parameters
    ----------
    config
        A validated config.
    trust
        The user trusts the config: any import path may be imported and called.

    Returns
    -------
    tuple of CodeReference
        What the config imports (see :func:`code_references`).

    Raises
    ------
    ConfigError
        Naming each reference that needs trust (before anything is imported from it).
    """
    refs = code_references(config, resolve=not trust)
    bad = [r for r in refs if not r.safe]
    if bad and not trust:
        raise ConfigError(
            "; ".join(r.describe() for r in bad)
            + " -- the config would run code of its own choosing: pass --trust-config "
            "(trust=True in the API) only if you trust it"
        )
    return refs
