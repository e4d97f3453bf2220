"""Reading and writing run results in open formats (CSV + NPZ + JSON for matrices)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np

from .._atomic import atomic_write_bytes, atomic_write_text
from .._json import jsonable
from ..types import LayerMatrix

__all__ = ["load_matrix", "save_matrix"]


def save_matrix(
    matrix: LayerMatrix, directory: str | os.PathLike[str], *, stem: str = "matrix"
) -> dict[str, str]:
    """Write a :class:`~tda_activations.types.LayerMatrix` as CSV, npz and JSON.

    ``<stem>.csv`` (labelled), ``<stem>.npz`` (values and labels) and ``<stem>.json``
    (measure, kind, parameters).

    Parameters
    ----------
    matrix
        The matrix to write.
    directory
        Folder to write into (created if missing).
    stem
        File name without extension.

    Returns
    -------
    dict
        Format -> file name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_text(directory / f"{stem}.csv", matrix.to_pandas().to_csv(float_format="%.10g"))
    buf = io.BytesIO()
    np.savez(
        buf,
        values=np.asarray(matrix.values),
        row_labels=np.array(matrix.row_labels, dtype=str),
        col_labels=np.array(matrix.col_labels, dtype=str),
    )
    atomic_write_bytes(directory / f"{stem}.npz", buf.getvalue())
    meta = {
        "measure": matrix.measure,
        "kind": matrix.kind,
        "params": dict(matrix.params),
        "shape": list(matrix.shape),
    }
    atomic_write_text(directory / f"{stem}.json", json.dumps(meta, indent=1, default=jsonable))
    return {"csv": f"{stem}.csv", "npz": f"{stem}.npz", "json": f"{stem}.json"}


def load_matrix(directory: str | os.PathLike[str], *, stem: str = "matrix") -> LayerMatrix:
    """Read a matrix written by :func:`save_matrix`.

    Parameters
    ----------
    directory
        Folder the matrix was written into.
    stem
        File name without extension.

    Returns
    -------
    LayerMatrix
        The matrix, with its measure, kind and parameters.

    Raises
    ------
    FileNotFoundError
        If the files are missing.
    """
    directory = Path(directory)
    npz, meta_file = directory / f"{stem}.npz", directory / f"{stem}.json"
    if not npz.exists() or not meta_file.exists():
        raise FileNotFoundError(f"no matrix {stem!r} in {directory}")
    meta = json.loads(meta_file.read_text())
    with np.load(npz, allow_pickle=False) as z:
        values, rows, cols = np.array(z["values"]), list(z["row_labels"]), list(z["col_labels"])
    return LayerMatrix(
        values=values,
        row_labels=tuple(map(str, rows)),
        col_labels=tuple(map(str, cols)),
        measure=meta["measure"],
        kind=meta["kind"],
        params=meta.get("params", {}),
    )
