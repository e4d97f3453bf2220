"""Where the package's shipped data (class hierarchies, run configs) lives.

The files are package data (``tda_activations/data``), found through
:mod:`importlib.resources`, so they are found in a source checkout, an editable
install or a wheel alike.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """The shipped ``data`` folder (``hierarchies/*.json``, ``configs/*.toml``).

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    FileNotFoundError
        If the folder is missing (a broken installation) or the package is imported
        from a zip archive (its configs are read as files: install it unzipped).

    Examples
    --------
    >>> sorted(p.name for p in data_dir().joinpath("configs").iterdir())[:1]
    ['embedded.toml']
    """
    folder = resources.files("tda_activations").joinpath("data")
    if not isinstance(folder, Path):
        raise FileNotFoundError(
            "tda_activations is imported from an archive; install it as files (pip install) "
            "so that its shipped configs and hierarchies can be read"
        )
    if not (folder / "hierarchies").is_dir():
        raise FileNotFoundError(
            "the tda_activations data folder (tda_activations/data) is missing; "
            "reinstall the package"
        )
    return folder
