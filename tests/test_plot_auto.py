"""plot_result: one singledispatch registration per result class, checked against the exports."""

from __future__ import annotations

import importlib
import inspect
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes
from test_plot import (
    architecture_report,
    experiment_results,
    fixed_diagrams,
    fixed_layer_diagrams,
    fixed_matrix,
    fixed_pie_data,
    mapper_result,
    probe_results,
)

import tda_activations as ta
import tda_activations.plot as tp
from tda_activations.plot.auto import figure_for, plottable_types

# Classes a figure function accepts besides its registered result but that plot_result does
# not draw by itself: they need more than the object (a MapperGraph needs its compositions) or
# are a part of a result that is registered (a NodeComposition is inside a LayerMapper).
NOT_DISPATCHED = {"MapperGraph", "NodeComposition"}


@pytest.fixture(autouse=True)
def _close_figures():  # type: ignore[no-untyped-def]
    yield
    plt.close("all")


def exported_classes() -> dict[str, type]:
    """Every class in the ``__all__`` of the package and of its namespaces."""
    out: dict[str, type] = {}
    for ns in (None, *ta._NAMESPACES):
        mod = ta if ns is None else importlib.import_module(f"tda_activations.{ns}")
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name, None)
            if inspect.isclass(obj):
                out[name] = obj
    return out


def first_parameter_classes(func: object) -> list[str]:
    """Class names the docstring's first parameter names with ``:class:`` roles."""
    doc = inspect.getdoc(func) or ""
    m = re.search(r"Parameters\n-+\n\w+\n((?:    .*\n?)+)", doc)
    return re.findall(r":class:`~?[\w.]*?(\w+)`", m.group(1)) if m else []


def test_every_registered_type_is_an_exported_class() -> None:
    exported = exported_classes()
    types = plottable_types()
    assert len(types) == len(set(types)) >= 15
    for cls in types:
        assert exported.get(cls.__name__) is cls, f"{cls.__name__} is not exported"


def test_every_exported_class_a_figure_draws_is_dispatched() -> None:
    exported = exported_classes()
    figures = {figure_for(cls) for cls in plottable_types()}
    checked = 0
    for func in figures:
        for name in first_parameter_classes(func):
            if name not in exported or name in NOT_DISPATCHED:
                continue
            cls = exported[name]
            assert cls in plottable_types(), f"{name} has a figure but plot_result does not draw it"
            checked += 1
    assert checked >= len(plottable_types())


def examples() -> list[object]:
    probes = probe_results()
    sens, corr = experiment_results()
    from tda_activations.mapper import class_graph

    lm = mapper_result()
    return [
        fixed_diagrams(),
        fixed_matrix(),
        lm,
        fixed_pie_data(),
        class_graph(lm.compositions["late"]["fine"]),
        probes["mdp"],
        probes["mmd"],
        probes["ti"],
        probes["cop"],
        probes["inv"],
        probes["eq"],
        probes["sep"],
        architecture_report(),
        sens,
        corr,
    ]


EXPECTED = {
    "Diagrams": "persistence_diagram",
    "LayerMatrix": "layer_heatmap",
    "LayerMapper": "hierarchy_trend",
    "PieChartData": "mapper_pie_graph",
    "ClassGraph": "class_dendrogram",
    "MeanDimensionProfile": "mean_dimension_profile",
    "ModelMeanDimensions": "model_mean_dimensions",
    "TotalIndices": "index_heatmap",
    "CorrelationOrderProfile": "correlation_order_accuracy",
    "InvarianceResult": "invariance_profile",
    "EquivarianceResult": "equivariance_profile",
    "SeparabilityResult": "separability_profile",
    "ArchitectureReport": "architecture_profile",
    "SensitivityResult": "sensitivity_curve",
    "CorrespondenceResult": "correspondence_curve",
}


def test_each_type_is_registered_to_its_figure() -> None:
    assert {cls.__name__: figure_for(cls).__name__ for cls in plottable_types()} == EXPECTED
    for cls in plottable_types():
        assert figure_for(cls) is getattr(tp, EXPECTED[cls.__name__])


def test_an_instance_of_every_plottable_type_is_drawn_by_its_figure() -> None:
    objs = examples()
    assert {type(o) for o in objs} == set(plottable_types())
    for obj in objs:
        ax = tp.plot_result(obj)
        assert isinstance(ax, Axes)
        ref = figure_for(type(obj))(obj)
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
            ref.get_xlabel(),
            ref.get_ylabel(),
            ref.get_title(),
        )
        plt.close("all")


def test_dispatch_calls_the_registered_figure_with_ax_and_style() -> None:
    _, ax = plt.subplots()
    out = tp.plot_result(fixed_matrix(), ax=ax, title="t")
    assert out is ax and ax.get_title() == "t"


def test_subclass_follows_its_base_class() -> None:
    from tda_activations.types import Diagrams

    class MyDiagrams(Diagrams):
        pass

    assert figure_for(MyDiagrams) is tp.persistence_diagram
    d = fixed_diagrams()
    sub = MyDiagrams(dgms=d.dgms, maxdim=d.maxdim, label="x", backend="test")
    assert tp.plot_result(sub).get_xlabel() == "birth"


def test_mapping_of_diagrams_draws_betti_curves_and_other_mappings_fail() -> None:
    assert tp.plot_result(fixed_layer_diagrams()).get_ylabel().startswith("Betti")
    with pytest.raises(TypeError, match="no default figure for dict"):
        tp.plot_result({"a": 1})
    with pytest.raises(TypeError, match="no default figure for dict"):
        tp.plot_result({})


def test_unknown_object_raises_type_error_naming_the_plottable_types() -> None:
    with pytest.raises(TypeError) as err:
        tp.plot_result(object())
    msg = str(err.value)
    assert msg.startswith("no default figure for object")
    assert "\n" not in msg
    for cls in plottable_types():
        assert cls.__name__ in msg


def test_every_figure_function_is_typed_to_return_axes() -> None:
    for name in tp.__all__:
        func = getattr(tp, name)
        doc = inspect.getdoc(func) or ""
        if inspect.isfunction(func) and "Returns\n-------\nmatplotlib.axes.Axes" in doc:
            assert inspect.signature(func).return_annotation == "Axes", name
    for cls in plottable_types():
        assert inspect.signature(figure_for(cls)).return_annotation == "Axes", cls.__name__
