"""Frozen column tables: the data behind every experiment result.

A :class:`Table` keeps its columns as read-only NumPy arrays, so a result
cannot be changed in place; :meth:`Table.to_pandas` builds a fresh
:class:`pandas.DataFrame` each time and :meth:`Table.to_csv` writes atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_text
from .._hashing import stable_json
from ..types import frozen_array, unknown_name_error

__all__ = ["Table", "table_from_records", "write_params"]


@dataclass(frozen=True)
class Table:
    """Named columns of equal length, read-only.

    Attributes
    ----------
    columns
        Column names, in order.
    data
        Column name -> read-only 1-D array.
    """

    columns: tuple[str, ...]
    data: Mapping[str, np.ndarray] = field(repr=False)

    def __post_init__(self) -> None:
        cols = tuple(self.columns)
        if set(cols) != set(self.data):
            raise ValueError("a table's columns must name exactly its data arrays")
        lengths = {len(np.asarray(self.data[c])) for c in cols}
        if len(lengths) > 1:
            raise ValueError(f"table columns have different lengths {sorted(lengths)}")
        data = {}
        for c in cols:
            arr = np.asarray(self.data[c])
            data[c] = arr if not arr.flags.writeable else frozen_array(arr)
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "data", data)

    def __len__(self) -> int:
        return len(self.data[self.columns[0]]) if self.columns else 0

    def column(self, name: str) -> np.ndarray:
        """One column (read-only)."""
        if name not in self.data:
            raise unknown_name_error("column", name, self.columns)
        return self.data[name]

    def to_pandas(self) -> Any:
        """A new :class:`pandas.DataFrame` with the columns in order."""
        import pandas as pd

        return pd.DataFrame(
            {c: np.array(self.data[c]) for c in self.columns}, columns=list(self.columns)
        )

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the table as CSV, atomically; returns the path."""
        return atomic_write_text(path, self.to_pandas().to_csv(index=False, float_format="%.10g"))

    def to_markdown(self, *, float_format: str = "{:.3f}") -> str:
        """The table as a GitHub Markdown table (no extra dependency)."""
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        for i in range(len(self)):
            cells = []
            for c in self.columns:
                v = self.data[c][i]
                if isinstance(v, (float, np.floating)):
                    cells.append("" if np.isnan(v) else float_format.format(float(v)))
                else:
                    cells.append(str(v))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def table_from_records(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    """Build a :class:`Table` from row dictionaries (every row must have every column)."""
    data: dict[str, np.ndarray] = {}
    for c in columns:
        values = [r[c] for r in records]
        if values and all(isinstance(v, str) for v in values):
            data[c] = np.array(values, dtype=object)
        elif values and all(isinstance(v, (bool, np.bool_)) for v in values):
            data[c] = np.array(values, dtype=bool)
        elif values and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
        ):
            data[c] = np.array(values, dtype=np.int64)
        elif values and all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
            data[c] = np.array(values, dtype=np.float64)
        else:
            data[c] = np.array(values, dtype=object)
    return Table(columns=tuple(columns), data=data)


def write_params(path: str | os.PathLike[str], params: Mapping[str, Any]) -> Path:
    """Write a parameter mapping as indented, key-sorted JSON, atomically."""
    return atomic_write_text(
        path, json.dumps(json.loads(stable_json(dict(params))), indent=1) + "\n"
    )
