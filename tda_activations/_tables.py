"""The one result-table protocol and the one way to tabulate rows of dataclasses.

Every result that is a table (the experiments' :class:`~tda_activations.experiments.Table`,
the probes' results, :class:`~tda_activations.mapper.LayerMapper`,
:class:`~tda_activations.types.Diagrams`, :class:`~tda_activations.types.LayerMatrix`)
satisfies :class:`ResultTable`: ``to_pandas()`` builds a fresh :class:`pandas.DataFrame`.
A method called ``summary()`` always returns a short human-readable ``str``; tables are
``to_pandas()`` (and named ``*_table()`` where a result has more than one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas

__all__ = ["ResultTable", "rows_to_pandas"]


@runtime_checkable
class ResultTable(Protocol):
    """A result that can be shown as one table.

    ``isinstance(obj, ResultTable)`` checks that ``obj`` has a ``to_pandas`` method.
    """

    def to_pandas(self) -> pandas.DataFrame:
        """A new :class:`pandas.DataFrame` (changing it never changes the result)."""
        ...  # pragma: no cover - protocol


def rows_to_pandas(rows: Sequence[Any], row_type: type) -> pandas.DataFrame:
    """One row per dataclass instance, one column per field of ``row_type``, in field order.

    Parameters
    ----------
    rows
        Instances of the dataclass ``row_type`` (may be empty).
    row_type
        The row dataclass; its fields name the columns even when ``rows`` is empty.

    Returns
    -------
    pandas.DataFrame
        A new frame; tuple-valued fields stay tuples (object columns).

    Raises
    ------
    TypeError
        If ``row_type`` is not a dataclass or a row is not an instance of it.
    """
    import pandas as pd

    if not (isinstance(row_type, type) and dataclasses.is_dataclass(row_type)):
        raise TypeError(f"row_type must be a dataclass type, got {row_type!r}")
    columns = [f.name for f in dataclasses.fields(row_type)]
    records = []
    for r in rows:
        if not isinstance(r, row_type):
            raise TypeError(f"every row must be a {row_type.__name__}, got {type(r).__name__}")
        records.append([getattr(r, c) for c in columns])
    return pd.DataFrame.from_records(records, columns=columns)
