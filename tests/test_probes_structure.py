"""The result-table protocol, one meaning of ``summary()``, and the probes' module layout."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from test_plot import architecture_report, experiment_results, mapper_result, probe_results
from test_plot_auto import exported_classes

import tda_activations as ta
from tda_activations._tables import ResultTable, rows_to_pandas
from tda_activations.experiments import Table
from tda_activations.probes import InvarianceRow, SeparabilityRow
from tda_activations.types import Diagrams, LayerMatrix


def table_results() -> list[object]:
    probes = probe_results()
    sens, corr = experiment_results()
    dg = Diagrams(dgms=(np.array([[0.0, 1.0], [0.0, np.inf]]), np.array([[0.5, 0.7]])), maxdim=1)
    lm = LayerMatrix(
        values=np.eye(2),
        row_labels=["a", "b"],
        col_labels=["a", "b"],
        measure="m",
        kind="similarity",
    )
    return [
        Table(columns=("x",), data={"x": np.arange(3)}),
        dg,
        lm,
        mapper_result(),
        architecture_report(),
        sens,
        corr,
        *(probes[k] for k in ("mdp", "ti", "mmd", "cop", "inv", "eq", "sep")),
    ]


def test_every_table_result_satisfies_the_protocol_and_gives_a_fresh_frame() -> None:
    for obj in table_results():
        assert isinstance(obj, ResultTable), type(obj).__name__
        df = obj.to_pandas()
        assert isinstance(df, pd.DataFrame) and len(df.columns) > 0
        columns = list(df.columns)
        del df[columns[0]]  # changing the frame never changes the result
        assert list(obj.to_pandas().columns) == columns
    assert not isinstance(object(), ResultTable)


def test_rows_to_pandas_matches_the_row_dicts_and_keeps_field_order() -> None:
    rows = (InvarianceRow("a", 0, 0.5, 0.25, 10, 1), InvarianceRow("b", 1, 0.1, 0.0, 20, 0))
    df = rows_to_pandas(rows, InvarianceRow)
    expected = pd.DataFrame([dataclasses.asdict(r) for r in rows])
    pd.testing.assert_frame_equal(df, expected)
    empty = rows_to_pandas((), SeparabilityRow)
    assert list(empty.columns) == [f.name for f in dataclasses.fields(SeparabilityRow)]
    assert len(empty) == 0


def test_rows_to_pandas_rejects_what_is_not_its_row_type() -> None:
    with pytest.raises(TypeError, match="dataclass type"):
        rows_to_pandas([], dict)
    with pytest.raises(TypeError, match="every row must be a InvarianceRow, got SeparabilityRow"):
        rows_to_pandas([SeparabilityRow("a", 0, 1.0, 1.0, 1.0, 1.0, 2, 2)], InvarianceRow)


def test_summary_is_always_a_one_line_string() -> None:
    methods = 0
    for name, cls in exported_classes().items():
        member = inspect.getattr_static(cls, "summary", None)
        if not inspect.isfunction(member):
            continue  # no summary, or a field holding a table (the experiments' results)
        methods += 1
        ret = inspect.signature(member).return_annotation
        assert ret in ("str", str), f"{name}.summary() must return str, not {ret}"
    assert methods >= 3
    probes = probe_results()
    for obj in (probes["ti"], architecture_report(), mapper_result()):
        text = obj.summary()
        assert isinstance(text, str) and text and "\n" not in text


def test_torch_free_modules_import_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np\n"
        "from tda_activations.probes.sobol import total_indices\n"
        "from tda_activations.probes.pca import fit_pca\n"
        "import tda_activations._tables\n"
        "x = np.random.default_rng(0).normal(size=(400, 3))\n"
        "ti = total_indices(lambda z: z[:, 0] + z[:, 1] * z[:, 2], x)\n"
        "print(fit_pca(x).n_components, round(float(ti.mean_dimensions[0]), 1))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == "3"


def test_module_imports_do_not_shadow_namespace_functions() -> None:
    for mod in ("equivariance", "correlation_order", "invariance", "separability", "sobol"):
        importlib.import_module(f"tda_activations.probes.{mod}")
    assert callable(ta.probes.equivariance) and inspect.isfunction(ta.probes.equivariance)
    assert inspect.isfunction(ta.probes.correlation_order)
    assert inspect.ismodule(ta.probes.transforms)
    for name in ta.probes.__all__:
        assert getattr(ta.probes, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ta.probes.nope  # noqa: B018


def test_split_modules_keep_the_old_import_paths() -> None:
    from tda_activations.probes import invariance, mean_dimension

    for name in (
        "equivariance",
        "class_separability",
        "layer_outputs",
        "EquivarianceResult",
        "SeparabilityResult",
        "separability_of_features",
    ):
        assert getattr(invariance, name) is getattr(ta.probes, name)
    for name in ("TotalIndices", "total_indices", "PCABasis", "fit_pca", "product_of_marginals"):
        assert getattr(mean_dimension, name) is getattr(ta.probes, name)
