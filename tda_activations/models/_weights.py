"""Verified weight files: the zoo weights shipped with the package and the user's cache.

A weight file is used only after three checks pass: its SHA-256 matches the one recorded
next to it (the shipped manifest, or a ``<file>.sha256`` sidecar in the cache), every
member of the torch zip archive passes its CRC (``torch.load`` does not check them: a
flipped byte would load silently), and the state dict fits the architecture.

Shipped weights live in ``tda_activations/assets/zoo`` with ``manifest.json``::

    {"format": 1, "torch": "2.13.0", "entries": [
        {"file": "lenet-seed0.pt", "name": "lenet", "seed": 0, "key": "<training key>",
         "sha256": "...", "bytes": 91234, "settings": {...}, "test_accuracy": 0.98}, ...]}

An entry is found by its training key (architecture, training settings, data and seed),
never by name, so a change of settings can never pick a wrong file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "DamagedWeightsError",
    "ShippedWeights",
    "file_problem",
    "load_verified",
    "read_sidecar",
    "sha256_file",
    "shipped_dir",
    "shipped_entries",
    "shipped_entry",
    "sidecar_path",
    "sidecar_text",
]

log = logging.getLogger(__name__)

#: Version of the manifest layout.
MANIFEST_FORMAT = 1


class DamagedWeightsError(RuntimeError):
    """A weight file shipped with the package fails its checksum: the installation is damaged."""


@dataclass(frozen=True)
class ShippedWeights:
    """One entry of the shipped manifest.

    Attributes
    ----------
    name, seed
        Zoo name and seed.
    key
        Training key (see :func:`~tda_activations.models.training.training_key`).
    path
        The weight file.
    sha256
        Its expected SHA-256 (hex).
    test_accuracy
        Test accuracy measured when the file was made.
    settings
        The training settings it was made with.
    """

    name: str
    seed: int
    key: str
    path: Path
    sha256: str
    test_accuracy: float
    settings: dict[str, Any] = field(default_factory=dict)


def shipped_dir() -> Path:
    """The folder of the shipped zoo weights (``tda_activations/assets/zoo``)."""
    return Path(__file__).resolve().parent.parent / "assets" / "zoo"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_problem(path: str | os.PathLike[str], sha256: str | None) -> str | None:
    """What is wrong with a weight file, or ``None`` when it is intact.

    Parameters
    ----------
    path
        A file written by ``torch.save`` (a zip archive).
    sha256
        The checksum it must have; ``None`` (no record of one) is itself a problem.

    Returns
    -------
    str or None
        A short reason (``"checksum mismatch"``, ``"zip CRC error in archive/data/3"``...).
    """
    path = Path(path)
    if not path.is_file():
        return "file missing"
    if sha256 is None:
        return "no checksum recorded"
    actual = sha256_file(path)
    if actual != sha256:
        return f"checksum mismatch (sha256 {actual[:12]}..., expected {sha256[:12]}...)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError) as exc:
        return f"not a torch zip archive ({exc})"
    if bad is not None:
        return f"zip CRC error in {bad}"
    return None


def sidecar_path(path: Path) -> Path:
    """The checksum sidecar of a cached weight file: ``<file>.sha256``."""
    return path.with_name(path.name + ".sha256")


def sidecar_text(path: Path) -> str:
    """The sidecar content for ``path``, in ``sha256sum`` format (``sha256sum -c`` reads it)."""
    return f"{sha256_file(path)}  {path.name}\n"


def read_sidecar(path: Path) -> str | None:
    """The checksum recorded in ``path``'s sidecar, or ``None`` when missing or malformed."""
    try:
        text = sidecar_path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    parts = text.split()
    if len(parts) != 2 or parts[1] != path.name or len(parts[0]) != 64:
        return None
    return parts[0].lower()


@lru_cache(maxsize=4)
def _read_manifest(folder: str) -> tuple[ShippedWeights, ...]:
    path = Path(folder) / "manifest.json"
    if not path.exists():
        return ()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"manifest format {doc.get('format')!r}, expected {MANIFEST_FORMAT}")
        return tuple(
            ShippedWeights(
                name=str(e["name"]),
                seed=int(e["seed"]),
                key=str(e["key"]),
                path=Path(folder) / str(e["file"]),
                sha256=str(e["sha256"]),
                test_accuracy=float(e["test_accuracy"]),
                settings=dict(e.get("settings", {})),
            )
            for e in doc["entries"]
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DamagedWeightsError(
            f"the shipped weights manifest {path} is unreadable ({exc}): the installed package "
            "is damaged; reinstall tda-activations"
        ) from exc


def shipped_entries() -> tuple[ShippedWeights, ...]:
    """Every entry of the shipped manifest (empty when the package ships no weights)."""
    return _read_manifest(str(shipped_dir()))


def shipped_entry(key: str) -> ShippedWeights | None:
    """The shipped weights trained under ``key``, or ``None``."""
    for entry in shipped_entries():
        if entry.key == key:
            return entry
    return None


def load_verified(path: Path, sha256: str | None) -> dict[str, torch.Tensor]:
    """Load a state dict after :func:`file_problem` found nothing wrong.

    Raises
    ------
    ValueError
        The file fails a check; the message says which.
    TypeError
        The file holds something other than a state dict.
    """
    problem = file_problem(path, sha256)
    if problem is not None:
        raise ValueError(problem)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise TypeError(f"holds a {type(state).__name__}, not a state dict")
    return state
