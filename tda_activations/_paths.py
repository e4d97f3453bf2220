"""Where the project's shipped data (hierarchies, configs) lives."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """The ``data/`` folder: the source checkout's, or the installed copy's.

    Raises
    ------
    FileNotFoundError
        If neither exists (a broken installation).
    """
    candidates = [
        Path(__file__).resolve().parent.parent / "data",
        Path(sys.prefix) / "share" / "tda_activations" / "data",
    ]
    for path in candidates:
        if (path / "hierarchies").is_dir():
            return path
    raise FileNotFoundError(
        "the tda_activations data folder was not found (looked in "
        + ", ".join(str(p) for p in candidates)
        + "); reinstall the package"
    )
