"""The paper's Mapper setting on every layer of the shipped zoo LeNet (the same weights everywhere)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_layer_mapper_on_a_zoo_model_in_one_call(tmp_path):
    from tda_activations.extract import extract
    from tda_activations.mapper import layer_mapper, save_layer_mapper
    from tda_activations.models import pretrained

    tm = pretrained("lenet", seed=0)
    acts = extract(tm.model, tm.data.test, reduction="top_l2", seed=0)
    res = layer_mapper(acts)  # paper defaults: l2norm, 10 intervals, 50%, DBSCAN 5, knee eps
    table = res.to_pandas()
    assert list(table.index) == list(acts.layers)
    assert {
        "purity_fine",
        "purity_coarse",
        "n_components",
        "separated_fine",
        "separated_coarse",
        "cophenetic_correlation",
    } <= set(table.columns)
    for layer in acts.layers:
        g = res.graphs[layer]
        assert g.params["n_intervals"] == 10 and g.params["overlap"] == 0.5
        assert g.params["min_samples"] == 5 and g.params["eps"] > 0
        assert len(g.nodes) > 0
    # coarse purity is never below fine purity (a coarse group is a union of classes)
    assert np.all(table["purity_coarse"] >= table["purity_fine"] - 1e-12)
    # a trained classifier separates classes better at its logits than at its first layer
    # (the shipped LeNet, the same everywhere: purity 0.41 higher, with 1 and 2 torch threads)
    assert table["purity_fine"].iloc[-1] > table["purity_fine"].iloc[0]
    out = save_layer_mapper(res, tmp_path / "mapper")
    assert (out / "trend.csv").exists()
