"""Shared pieces of the experiment results: saving, input normalisation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_dir
from .._select import resolve_layer_names
from ..types import ActivationSet, LayerMatrix
from ._tables import Table, write_params

__all__ = ["ResultMixin", "as_models", "layer_list"]


class ResultMixin:
    """``to_pandas`` / ``to_csv`` of the main table (``table``) and ``save`` of every table.

    The main table is the field ``table`` (``summary()``, where a result has one, is a
    one-line ``str``); :meth:`save` writes it as ``summary.csv``, next to the others.
    """

    table: Table
    params: Mapping[str, Any]

    def _tables(self) -> dict[str, Table]:  # pragma: no cover - overridden
        """Every table by its CSV file name (the main one: ``summary``)."""
        return {"summary": self.table}

    def to_pandas(self) -> Any:
        """The main table (``table``) as a :class:`pandas.DataFrame`."""
        return self.table.to_pandas()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the main table (``table``) as CSV (atomically); returns the path."""
        return self.table.to_csv(path)

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write every table as ``<name>.csv`` and the parameters as ``params.json``.

        The directory is built under a temporary name and moved into place
        when complete (an existing one is replaced).
        """
        with atomic_dir(directory) as tmp:
            for name, table in self._tables().items():
                table.to_csv(Path(tmp) / f"{name}.csv")
            write_params(Path(tmp) / "params.json", self.params)
        return Path(directory)


def as_models(models: Any, *, what: str) -> dict[str, ActivationSet]:
    """``{name: ActivationSet}`` from a mapping, a sequence or a single set."""
    if isinstance(models, ActivationSet):
        return {"model": models}
    if isinstance(models, Mapping):
        out = {str(k): v for k, v in models.items()}
    elif isinstance(models, Sequence) and not isinstance(models, (str, bytes)):
        out = {f"model{i}": v for i, v in enumerate(models)}
    else:
        raise TypeError(
            f"{what}: give ActivationSets as a mapping name -> set or a list, got {type(models).__name__}"
        )
    for name, acts in out.items():
        if not isinstance(acts, ActivationSet):
            raise TypeError(
                f"{what}: model {name!r} is a {type(acts).__name__}, not an ActivationSet; extract it "
                "first (tda_activations.extract.extract or load_store)"
            )
    return out


def layer_list(
    acts: ActivationSet, layers: Sequence[str] | str | None, *, model: str = ""
) -> tuple[str, ...]:
    """The layers to use (all by default).

    By the one ``layers=`` rule (:func:`~tda_activations._select.resolve_layer_names`).
    """
    return resolve_layer_names(
        acts.layers, layers, what=f"layer of model {model!r}" if model else "layer"
    )


def matrix(
    values: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    measure: Any,
    params: Mapping[str, Any],
) -> LayerMatrix:
    """A LayerMatrix labelled with the measure's name and kind."""
    return LayerMatrix(
        values=values,
        row_labels=tuple(rows),
        col_labels=tuple(cols),
        measure=measure.id,
        kind=measure.kind,
        params={**measure.describe(), **dict(params)},
    )
