"""Scale: the process scheduler, the edge-counting memory check, the blocked H1 birth bound.

Cross-checks against code we did not write: ripser.py's diagrams (identical, on the code
path where the memory check counts the truncated filtration's edges), a brute-force
relative-neighbourhood search, and threadpoolctl's view of the BLAS pools.
"""

from __future__ import annotations

import importlib
import logging

import numpy as np
import pytest
from ripser import ripser

from tda_activations.homology import (
    PersistenceTooLarge,
    estimate_memory,
    layer_persistence,
    persistence,
)
from tda_activations.homology._parallel import run_tasks

_rips = importlib.import_module("tda_activations.homology.rips")


def _square(k: int) -> int:
    return k * k


def _fail_on_three(k: int) -> int:
    if k == 3:
        raise ValueError("task three fails")
    return k


def _blas_threads(_: int) -> int:
    from threadpoolctl import threadpool_info

    return max((p["num_threads"] for p in threadpool_info()), default=1)


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_run_tasks_results_in_order_and_each_reported_once(n_jobs):
    seen: list[int] = []
    out = run_tasks(_square, [(k,) for k in range(9)], n_jobs, on_done=seen.append)
    assert out == [k * k for k in range(9)]
    assert sorted(seen) == list(range(9))


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_run_tasks_reraises_a_tasks_error(n_jobs):
    with pytest.raises(ValueError, match="task three fails"):
        run_tasks(_fail_on_three, [(k,) for k in range(6)], n_jobs)


def test_run_tasks_one_blas_thread_per_process():
    # every task, in this process and in the worker, sees one BLAS/OpenMP thread
    assert run_tasks(_blas_threads, [(k,) for k in range(6)], 2) == [1] * 6


def _cloud(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 3)) @ rng.normal(size=(3, 12))
    return np.maximum(z + rng.normal(size=12), 0).astype(np.float32)  # ReLU-like, float32


def _ripser_sorted(x: np.ndarray) -> list[np.ndarray]:
    out = []
    for dgm in ripser(x, maxdim=1)["dgms"]:
        dgm = dgm[dgm[:, 1] > dgm[:, 0]]
        out.append(dgm[np.lexsort((dgm[:, 1], dgm[:, 0]))])
    return out


def test_counted_edges_path_equals_ripser():
    x = _cloud(300, 1)
    counted = persistence(x, memory_limit=estimate_memory(300).bytes, distances="ripser-compatible")
    frac = counted.params["edges_in_filtration"] / (300 * 299 / 2)
    assert frac < 0.9 and counted.params["engine_threshold"] < counted.params["enclosing_radius"]
    limit = 1.001 * estimate_memory(300, edge_fraction=frac).bytes
    assert limit < estimate_memory(300).bytes  # the old, full-filtration check refused it
    dg = persistence(x, memory_limit=limit, distances="ripser-compatible")
    assert dg.params["exact"]
    ref = _ripser_sorted(x)
    for d in range(2):
        assert np.array_equal(dg[d], ref[d])
    with pytest.raises(PersistenceTooLarge, match="edges up to the threshold"):
        persistence(x, memory_limit=0.99 * limit / 1.001, distances="ripser-compatible")


def test_counted_edges_for_a_given_threshold_and_distance_matrices():
    from tda_activations._distances import pairwise_distances
    from tda_activations.homology import persistence_of_distances

    x = _cloud(150, 2).astype(np.float64)
    dist = pairwise_distances(x)
    t = float(np.quantile(dist, 0.2))
    dg = persistence_of_distances(dist, threshold=t, memory_limit=estimate_memory(150).bytes)
    edges = (np.count_nonzero(dist.astype(np.float32) <= dg.threshold) - 150) // 2
    assert dg.params["edges_in_filtration"] == edges
    need = estimate_memory(150, edge_fraction=edges / (150 * 149 / 2)).bytes
    with pytest.raises(PersistenceTooLarge, match="edges up to the threshold"):
        persistence_of_distances(dist, threshold=t, memory_limit=0.99 * need)
    ok = persistence_of_distances(dist, threshold=t, memory_limit=1.01 * need)
    for d in range(2):
        assert np.array_equal(ok[d], dg[d])


def _rng_brute(dist: np.ndarray) -> float:
    n = len(dist)
    best = 0.0
    for u in range(n):
        for v in range(u + 1, n):
            if not (np.maximum(dist[u], dist[v]) < dist[u, v]).any():
                best = max(best, float(dist[u, v]))
    return best


@pytest.mark.parametrize("block", [64, 1 << 24])  # one or two rows per block, one block
def test_blocked_h1_birth_bound_is_exact(block, monkeypatch):
    from tda_activations._distances import pairwise_distances

    monkeypatch.setattr(_rips, "_BLOCK_ENTRIES", block)
    rng = np.random.default_rng(3)
    gx, gy = np.meshgrid(np.arange(6), np.arange(6))
    clouds = [rng.normal(size=(45, 4)), np.c_[gx.ravel(), gy.ravel()].astype(float)]
    for x in clouds:
        d32 = pairwise_distances(x).astype(np.float32)
        ref = _rng_brute(d32.astype(np.float64))
        assert _rips.h1_birth_bound(d32) == ref
        assert _rips.h1_birth_bound(d32.astype(np.float64)) == ref


def test_layer_persistence_progress_and_cost(caplog):
    clouds = {f"l{k}": _cloud(60 + 10 * k, k) for k in range(4)}
    seq = layer_persistence(clouds, n_jobs=1, progress=False)
    with caplog.at_level(logging.INFO, logger="tda_activations"):
        par = layer_persistence(clouds, n_jobs=2, progress=True)
    assert list(par) == list(clouds)
    assert any("layer_persistence: 4 layers" in r.getMessage() for r in caplog.records)
    for k in clouds:
        for d in range(2):
            assert np.array_equal(par[k][d], seq[k][d])
