"""Loading users' models: Python objects, import paths, TorchScript, checkpoints, torchvision/timm."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .zoo import ZOO, build_model

__all__ = ["load_model"]

log = logging.getLogger(__name__)


def _from_import_path(spec: str, kwargs: dict[str, Any]) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"cannot import {module_name!r} for model {spec!r} ({exc}); check the module is on "
            "PYTHONPATH or installed"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"module {module_name!r} has no attribute {attr!r} (model {spec!r})")
        obj = getattr(obj, part)
    model = obj(**kwargs) if callable(obj) and not isinstance(obj, nn.Module) else obj
    if not isinstance(model, nn.Module):
        raise TypeError(f"{spec!r} gave a {type(model).__name__}, not a torch.nn.Module")
    return model


def _from_hub_package(spec: str, kwargs: dict[str, Any]) -> nn.Module:
    package, _, name = spec.partition(":")
    if importlib.util.find_spec(package) is None:
        raise ValueError(f"model {spec!r} needs the {package} package, which is not installed")
    if package == "torchvision":
        import torchvision.models as tvm  # type: ignore[import-not-found]

        return tvm.get_model(name, weights=kwargs.pop("weights", None), **kwargs)
    import timm  # type: ignore[import-not-found]

    # pretrained weights would be downloaded: never at run time.
    return timm.create_model(name, pretrained=False, **kwargs)


def load_model(
    spec: Any,
    *,
    architecture: str | None = None,
    strict: bool = True,
    **kwargs: Any,
) -> nn.Module:
    """Load a model from any of the forms users have, in eval mode.

    Parameters
    ----------
    spec
        One of: a ``torch.nn.Module`` (returned as is); ``"package.module:callable"``
        (called with ``**kwargs``, or an attribute that is a module); a zoo name
        (``"resnet18"``: untrained, built with ``**kwargs``); ``"torchvision:NAME"`` or
        ``"timm:NAME"`` when those packages are installed (architecture only, no weights
        are downloaded); a path to a TorchScript file; a path to a ``state_dict``
        checkpoint together with ``architecture=`` (a zoo name or an import path).
    architecture
        The architecture a ``state_dict`` checkpoint belongs to.
    strict
        Passed to ``load_state_dict``.
    **kwargs
        Arguments of the builder (``in_channels=``, ``num_classes=``, ``width=``, ...).

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.
    """
    if isinstance(spec, nn.Module):
        return spec.eval()
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"cannot load a model from a {type(spec).__name__}; give a torch.nn.Module, a "
            "'package.module:callable' path, a zoo name, or a checkpoint/TorchScript file"
        )
    text = str(spec)
    path = Path(text)
    if path.suffix in {".pt", ".pth", ".ts", ".ckpt"} or path.exists():
        if not path.exists():
            raise FileNotFoundError(f"model file {path} does not exist")
        return _from_file(path, architecture=architecture, strict=strict, kwargs=kwargs)
    if text.startswith(("torchvision:", "timm:")):
        return _from_hub_package(text, dict(kwargs)).eval()
    if ":" in text:
        return _from_import_path(text, dict(kwargs)).eval()
    if text in ZOO:
        return build_model(text, **kwargs).eval()
    from ..types import unknown_name_error

    raise unknown_name_error("model", text, ZOO)


def _from_file(path: Path, *, architecture: str | None, strict: bool, kwargs: dict[str, Any]) -> nn.Module:
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        log.debug("%s is not TorchScript (%s); trying a state_dict", path, exc)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path} is neither TorchScript nor a readable checkpoint: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state_dict (found {type(state).__name__})")
    if architecture is None:
        raise ValueError(
            f"{path} is a state_dict checkpoint: say which architecture it belongs to with "
            "architecture='resnet18' (a zoo name) or 'package.module:callable'"
        )
    model = load_model(architecture, **kwargs)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise ValueError(
            f"the checkpoint {path} does not fit architecture {architecture!r} with {kwargs}: {exc}"
        ) from exc
    return model.eval()
