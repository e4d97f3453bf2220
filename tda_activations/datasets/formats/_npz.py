"""The one reader of ``.npz`` files (images and token data): no pickles, clear errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

__all__ = ["read_npz"]


def _check_npz_magic(path: Path, *, how: str) -> None:
    """Refuse a file that is neither a zip (npz) nor an npy array before numpy reads it.

    NumPy would call unknown bytes 'pickled data'.
    """
    with open(path, "rb") as fh:
        head = fh.read(6)
    if not (head.startswith(b"PK") or head == b"\x93NUMPY"):
        raise ValueError(
            f"{path} is not a readable .npz file (not a zip archive); write it with {how}"
        )


def read_npz(path: Path, *, how: str, what: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, read without pickles, or one clear error.

    Parameters
    ----------
    path
        The file (it exists).
    how
        How to write a good file, e.g. ``"numpy.savez(path, images=..., labels=...)"``.
    what
        What the file should hold, e.g. ``"images and labels"``.

    Returns
    -------
    dict
        Array name -> array.

    Raises
    ------
    ValueError
        If the file is not a zip archive, holds a single array, is corrupt or stores Python
        objects; each message says how to write the file instead.
    """
    _check_npz_magic(path, how=how)
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError(  # noqa: TRY004 - the file's content, not a caller's type
                f"{path} holds a single array, not an .npz archive; save {what} with {how}"
            )
        with npz:
            return {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(
            f"{path} is not a readable .npz file ({exc}); write it with {how}"
        ) from exc
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                f"{path} stores Python objects (e.g. an object array of names); store names as "
                "a string array, e.g. numpy.array(names, dtype=str), and numbers as numeric arrays"
            ) from exc
        raise
