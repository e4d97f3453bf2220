"""The batched linear-CKA matrix equals the pairwise engine (and rsatoolbox-checked CKA)."""

from __future__ import annotations

import numpy as np
import pytest

from tda_activations._measure import all_pairs
from tda_activations.similarity import cka as cka_mod
from tda_activations.similarity import get_measure


def _clouds(n=60, widths=(3, 17, 8, 40, 5, 12), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 6))
    return [np.tanh(base @ rng.normal(size=(6, w)) + 0.3 * rng.normal(size=(n, w))) for w in widths]


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("batch_width", [8, 30, 4096])  # many blocks, a few, one
def test_batched_matrix_equals_the_pairwise_engine(monkeypatch, debiased, batch_width):
    monkeypatch.setattr(cka_mod, "BATCH_WIDTH", batch_width)
    m = get_measure("linear_cka", debiased=debiased, form="feature")
    rows = m.prepare_many(_clouds())
    cols = m.prepare_many(_clouds(seed=1, widths=(9, 2, 33)))
    square = m.score_matrix(rows)
    ref = all_pairs(m.score, rows, symmetric=True, identity_value=1.0)
    np.testing.assert_allclose(square, ref, rtol=1e-12, atol=1e-14)
    assert np.array_equal(square, square.T) and np.all(np.diag(square) == 1.0)
    rect = m.score_matrix(rows, cols)
    np.testing.assert_allclose(
        rect,
        all_pairs(m.score, rows, cols, symmetric=True, identity_value=1.0),
        rtol=1e-12,
        atol=1e-14,
    )


def test_gram_form_clouds_fall_back_to_pairs():
    m = get_measure("linear_cka")  # auto: Gram form where width >= n
    rows = m.prepare_many(_clouds(n=20, widths=(30, 5, 25)))
    ref = all_pairs(m.score, rows, symmetric=True, identity_value=1.0)
    assert np.array_equal(m.score_matrix(rows), ref)


def test_batched_matrix_keeps_the_pair_checks():
    m = get_measure("linear_cka", form="feature")
    a = m.prepare_many(_clouds(n=30, widths=(4, 5)))
    b = m.prepare_many(_clouds(n=31, widths=(4,)))
    with pytest.raises(ValueError, match="points"):
        m.score_matrix(a, b)
    other = get_measure("linear_cka", debiased=True, form="feature").prepare_many(
        _clouds(n=30, widths=(4,))
    )
    with pytest.raises(ValueError, match="prepared by"):
        m.score_matrix(a, other)


def test_batched_matrix_does_not_depend_on_the_blas_thread_count():
    # a resumed batch run must reproduce a clean one bit for bit, whatever its threads
    from threadpoolctl import threadpool_limits

    m = get_measure("linear_cka", debiased=True, form="feature")
    rows = m.prepare_many(_clouds(n=400, widths=(64, 128, 96, 128)))
    values = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            values.append(m.score_matrix(rows))
    assert np.array_equal(values[0], values[1])
