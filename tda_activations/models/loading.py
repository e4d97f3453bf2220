"""Loading users' models.

Python objects, import paths, TorchScript, checkpoints, Hugging Face folders,
torchvision/timm architectures with local weights.

Nothing here downloads: Hugging Face models load with ``local_files_only=True``, and
torchvision/timm weights come from a local file (``weights=``) or not at all.  Every torch
zip file (checkpoint or TorchScript) is verified (zip CRCs) before it is read, so a flipped
byte is refused instead of loaded silently.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._imports import import_object
from .zoo import ZOO, build_model

__all__ = [
    "HF_TASKS",
    "MissingArchitectureError",
    "MissingExtraError",
    "load_hf_model",
    "load_model",
    "load_state_dict",
    "verify_model_file",
]

log = logging.getLogger(__name__)

#: ``task=`` of :func:`load_hf_model` -> the ``transformers`` auto class it uses.
HF_TASKS: dict[str, str] = {
    "base": "AutoModel",
    "sequence-classification": "AutoModelForSequenceClassification",
    "causal-lm": "AutoModelForCausalLM",
    "image-classification": "AutoModelForImageClassification",
}

_FILE_SUFFIXES = {".pt", ".pth", ".ts", ".ckpt", ".bin"}
_STATE_KEYS = ("model_state_dict", "state_dict")


class MissingExtraError(ImportError, ValueError):
    """An optional dependency is not installed; the message names the extra to install."""


class MissingArchitectureError(ValueError):
    """A ``state_dict`` checkpoint was given without the architecture it belongs to.

    Attributes
    ----------
    path
        The checkpoint.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(self.message(cli=False))

    def message(self, *, cli: bool) -> str:
        """The error in the words of the Python API or of the command line (``--architecture``)."""
        how = (
            "--architecture resnet18 (a zoo name), --architecture torchvision:resnet18 or "
            "--architecture package.module:Callable"
            if cli
            else "architecture='resnet18' (a zoo name), 'torchvision:resnet18' or "
            "'package.module:Callable'"
        )
        return f"{self.path} is a state_dict checkpoint: say which architecture it belongs to with {how}"


def _require(package: str, extra: str) -> Any:
    """Import ``package`` or raise a one-line :class:`MissingExtraError` naming the extra."""
    try:
        return importlib.import_module(package)
    except ImportError as exc:
        raise MissingExtraError(
            f"this model needs the {package} package, which is not installed ({exc}); "
            f'install it with: pip install "tda-activations[{extra}]"'
        ) from exc
    except Exception as exc:  # e.g. a torchvision built for another torch
        raise MissingExtraError(
            f"{package} is installed but fails to import ({type(exc).__name__}: {exc}); install "
            f'a version that matches torch {torch.__version__}: pip install "tda-activations[{extra}]"'
        ) from exc


# ------------------------------------------------------------------------ files


def verify_model_file(path: str | os.PathLike[str]) -> Path:
    """Check a model file before it is read.

    It must exist and, for torch zip files (what ``torch.save`` and TorchScript write),
    every member's CRC must match.

    Parameters
    ----------
    path
        A checkpoint or TorchScript file.

    Returns
    -------
    pathlib.Path
        The path.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is a damaged zip archive (a CRC mismatch or a broken directory).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"model file {p} does not exist")
    if not zipfile.is_zipfile(p):
        # legacy (pre-1.6) torch pickles carry no checksum; nothing to verify
        log.debug("%s is not a zip archive; its integrity cannot be verified", p)
        return p
    try:
        with zipfile.ZipFile(p) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"model file {p} is damaged ({exc}); save or copy it again") from exc
    if bad is not None:
        raise ValueError(
            f"model file {p} is damaged (checksum mismatch in {bad!r}); save or copy it again"
        )
    return p


def _unwrap_state(state: Any, path: Path) -> dict[str, Any]:
    """The ``state_dict`` inside a checkpoint.

    Plain, ``{"model_state_dict": ...}`` or ``{"state_dict": ...}``; DataParallel's
    ``module.`` prefix removed.
    """
    if isinstance(state, Mapping):
        for key in _STATE_KEYS:
            inner = state.get(key)
            if isinstance(inner, Mapping):
                state = inner
                break
    if not isinstance(state, Mapping):
        raise TypeError(f"{path} does not hold a state_dict (found {type(state).__name__})")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if not tensors or len(tensors) != len(state):
        raise ValueError(
            f"{path} does not hold a state_dict of tensors (keys: {sorted(map(str, state))[:6]}); "
            f"save model.state_dict() or a dict with one of {list(_STATE_KEYS)}"
        )
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module.") :]: v for k, v in tensors.items()}
    return tensors


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read the ``state_dict`` of a checkpoint file, verified and unwrapped.

    Parameters
    ----------
    path
        A file written by ``torch.save``: a ``state_dict``, or a dict holding one under
        ``"model_state_dict"`` or ``"state_dict"`` (training checkpoints); keys of a
        ``DataParallel`` model (``module.``-prefixed) are unprefixed.

    Returns
    -------
    dict
        Parameter name -> tensor (on the CPU).

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        A missing, damaged or unreadable file, or one without a ``state_dict``.
    """
    p = verify_model_file(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{p} is not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    return _unwrap_state(state, p)


def _apply_weights(
    model: nn.Module, weights: str | os.PathLike[str], *, strict: bool, what: str
) -> nn.Module:
    state = load_state_dict(weights)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ValueError(f"the weights {weights} do not fit {what}: {first}") from exc
    return model


# ------------------------------------------------------------------ specs


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    """Put the current folder at the end of ``sys.path`` for one import (``mynet:Net``)."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def _from_import_path(spec: str, kwargs: dict[str, Any]) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        with _cwd_on_path():
            obj: Any = import_object(spec)
    except ImportError as exc:
        raise ValueError(
            f"cannot import {module_name!r} for model {spec!r} ({exc}); check the module is in "
            "the current folder, on PYTHONPATH or installed"
        ) from exc
    except AttributeError:
        raise ValueError(
            f"module {module_name!r} has no attribute {attr!r} (model {spec!r})"
        ) from None
    model = obj(**kwargs) if callable(obj) and not isinstance(obj, nn.Module) else obj
    if not isinstance(model, nn.Module):
        raise TypeError(f"{spec!r} gave a {type(model).__name__}, not a torch.nn.Module")
    return model


def _from_hub_package(spec: str, kwargs: dict[str, Any]) -> nn.Module:
    package, _, name = spec.partition(":")
    if "weights" in kwargs or "pretrained" in kwargs:
        raise ValueError(
            f"{spec}: weights are never downloaded; give a local file with weights='path.pth'"
        )
    if package == "torchvision":
        tvm = _require("torchvision.models", "torchvision")
        return tvm.get_model(name, weights=None, **kwargs)  # type: ignore[no-any-return]
    timm = _require("timm", "timm")
    return timm.create_model(name, pretrained=False, **kwargs)  # type: ignore[no-any-return]


def _is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def load_hf_model(
    path: str | os.PathLike[str],
    *,
    task: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Load a Hugging Face ``transformers`` model from a local folder, offline, in eval mode.

    Parameters
    ----------
    path
        A folder written by ``save_pretrained`` (``config.json`` and the weights).
    task
        ``None`` (default): the class named in ``config.json``'s ``architectures``
        (what was saved: ``GPT2LMHeadModel``, ``BertForSequenceClassification``, ...), or
        ``AutoModel`` when it names none.  Otherwise one of :data:`HF_TASKS`:
        ``"base"``, ``"sequence-classification"``, ``"causal-lm"``, ``"image-classification"``.
    **kwargs
        Passed to ``from_pretrained`` (``dtype=``, ``attn_implementation=``, ...).

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.

    Raises
    ------
    MissingExtraError
        ``transformers`` is not installed (``pip install "tda-activations[hf]"``).
    FileNotFoundError, ValueError
        A missing folder, one without ``config.json``, an unknown task, or weights that
        cannot be read.
    """
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"Hugging Face model folder {folder} does not exist")
    if not _is_hf_folder(folder):
        raise ValueError(
            f"{folder} is not a Hugging Face model folder (no config.json); give the folder that "
            "save_pretrained wrote"
        )
    if task is not None and task not in HF_TASKS:
        from ..types import unknown_name_error

        raise unknown_name_error("task", str(task), HF_TASKS)
    for bad in ("local_files_only", "trust_remote_code"):
        if bad in kwargs:
            raise ValueError(f"{bad} is fixed here (offline, no remote code); do not pass it")
    transformers = _require("transformers", "hf")
    for weights in folder.glob("*.bin"):
        verify_model_file(weights)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{folder / 'config.json'} is not readable JSON ({exc})") from exc
    archs = (config.get("architectures") or []) if isinstance(config, dict) else []
    if task is not None:
        cls_name = HF_TASKS[task]
    elif archs and hasattr(transformers, str(archs[0])):
        cls_name = str(archs[0])
    else:
        cls_name = "AutoModel"
    cls = getattr(transformers, cls_name)
    try:
        model = cls.from_pretrained(str(folder), local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot load {folder} as {cls_name}: {first}") from exc
    log.info("loaded %s from %s", type(model).__name__, folder)
    return model.eval()  # type: ignore[no-any-return]


def load_model(
    spec: Any,
    *,
    architecture: str | None = None,
    weights: str | os.PathLike[str] | None = None,
    task: str | None = None,
    strict: bool = True,
    **kwargs: Any,
) -> nn.Module:
    """Load a model from any of the forms users have, in eval mode.

    Parameters
    ----------
    spec
        One of: a ``torch.nn.Module`` (returned as is); ``"package.module:callable"``
        (called with ``**kwargs``, or an attribute that is a module; a module in the
        current folder is found); a zoo name (``"resnet18"``: untrained, built with
        ``**kwargs``); ``"torchvision:NAME"`` or ``"timm:NAME"`` (the architecture; weights
        only from ``weights=``); a Hugging Face folder (or ``"hf:FOLDER"``, see
        :func:`load_hf_model`); a TorchScript file; a ``state_dict`` checkpoint together
        with ``architecture=``.
    architecture
        The architecture a ``state_dict`` checkpoint belongs to (any ``spec`` form above
        that builds a model).
    weights
        A local checkpoint to load into the architecture ``spec`` builds (the same as
        giving the checkpoint as ``spec`` and ``architecture=spec``).
    task
        For Hugging Face folders only: see :func:`load_hf_model`.
    strict
        Passed to ``load_state_dict``.
    **kwargs
        Arguments of the builder (``in_channels=``, ``num_classes=``, ``width=``, ...).

    Returns
    -------
    torch.nn.Module
        The model, in eval mode.

    Raises
    ------
    MissingArchitectureError
        A ``state_dict`` checkpoint without ``architecture=``.
    MissingExtraError
        The form needs an optional package that is not installed (the extra is named).
    FileNotFoundError, ValueError, TypeError
        Missing or damaged files, weights that do not fit, unknown names.
    """
    if isinstance(spec, nn.Module):
        if weights is not None:
            return _apply_weights(spec, weights, strict=strict, what=type(spec).__name__).eval()
        return spec.eval()
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(
            f"cannot load a model from a {type(spec).__name__}; give a torch.nn.Module, a "
            "'package.module:callable' path, a zoo name, a Hugging Face folder, or a "
            "checkpoint/TorchScript file"
        )
    if task is not None and not (str(spec).startswith("hf:") or _is_hf_folder(Path(spec))):
        raise ValueError(f"task= is for Hugging Face model folders only, not {str(spec)!r}")
    text = str(spec)
    if text.startswith("hf:"):
        return load_hf_model(text[3:], task=task, **kwargs)
    path = Path(text)
    if path.is_dir():
        if weights is not None:
            raise ValueError(f"weights= does not apply to the model folder {path}")
        return load_hf_model(path, task=task, **kwargs)
    if path.suffix in _FILE_SUFFIXES or path.exists():
        if weights is not None:
            raise ValueError(
                f"{path} is a model file; give the architecture with architecture=, not weights="
            )
        return _from_file(path, architecture=architecture, strict=strict, kwargs=kwargs)
    if architecture is not None:
        raise ValueError(f"architecture= goes with a checkpoint file, not with {text!r}")
    if text.startswith(("torchvision:", "timm:")):
        model = _from_hub_package(text, dict(kwargs))
    elif ":" in text:
        model = _from_import_path(text, dict(kwargs))
    elif text in ZOO:
        model = build_model(text, **kwargs)
    else:
        from ..types import unknown_name_error

        raise unknown_name_error("model", text, ZOO)
    if weights is not None:
        model = _apply_weights(model, weights, strict=strict, what=f"architecture {text!r}")
    return model.eval()


def _from_file(
    path: Path, *, architecture: str | None, strict: bool, kwargs: dict[str, Any]
) -> nn.Module:
    verify_model_file(path)
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        log.debug("%s is not TorchScript (%s); trying a state_dict", path, exc)
    state = load_state_dict(path)
    if architecture is None:
        raise MissingArchitectureError(path)
    model = load_model(architecture, **kwargs)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise ValueError(
            f"the checkpoint {path} does not fit architecture {architecture!r} with {kwargs}: "
            f"{str(exc).strip().splitlines()[0]}"
        ) from exc
    return model.eval()
