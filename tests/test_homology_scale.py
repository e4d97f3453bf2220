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
    # ripser-compatible distances pass through a float64 matrix: sized as a given matrix
    x = _cloud(300, 1)
    counted = persistence(
        x, memory_limit=estimate_memory(300, source="matrix").bytes, distances="ripser-compatible"
    )
    frac = counted.params["edges_in_filtration"] / (300 * 299 / 2)
    assert frac < 0.9 and counted.params["engine_threshold"] < counted.params["enclosing_radius"]
    limit = 1.001 * estimate_memory(300, edge_fraction=frac, source="matrix", shortcut=True).bytes
    assert (
        limit < estimate_memory(300, source="matrix").bytes
    )  # the old, full-filtration check refused it
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
    dg = persistence_of_distances(
        dist, threshold=t, memory_limit=estimate_memory(150, source="matrix").bytes
    )
    edges = (np.count_nonzero(dist.astype(np.float32) <= dg.threshold) - 150) // 2
    assert dg.params["edges_in_filtration"] == edges
    need = estimate_memory(150, edge_fraction=edges / (150 * 149 / 2), source="matrix").bytes
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

    monkeypatch.setattr(_rips, "BLOCK_ENTRIES", block)
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


# ------------------------------------------------------- memory held by the pipeline


_dist_mod = importlib.import_module("tda_activations._distances")
_checks_mod = importlib.import_module("tda_activations.homology._checks")


@pytest.mark.parametrize("block", [40, 1 << 24])  # one row per block, one block
def test_blocked_distance_matrix_equals_pdist(block, monkeypatch):
    from scipy.spatial.distance import pdist, squareform

    monkeypatch.setattr(_dist_mod, "BLOCK_ENTRIES", block)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(37, 6)) * 100.0
    x[5] = x[3]  # a duplicate: distance exactly 0
    for metric in ("euclidean", "cityblock", "cosine", "chebyshev"):
        ref = squareform(np.maximum(pdist(x, metric=metric), 0.0), checks=False)
        got = _dist_mod.pairwise_distances(x, metric=metric)
        assert got.dtype == np.float64 and np.array_equal(got, ref)
        got32 = _dist_mod.pairwise_distances(x, metric=metric, dtype=np.float32)
        assert got32.dtype == np.float32 and np.array_equal(got32, ref.astype(np.float32))
        assert np.array_equal(got32, got32.T) and not np.diagonal(got32).any()


def test_blocked_distance_matrix_errors():
    zero = np.vstack([np.zeros(3), np.ones(3)])
    with pytest.raises(ValueError, match="NaN or infinite distances"):
        _dist_mod.pairwise_distances(zero, metric="cosine")
    with pytest.raises(ValueError, match="exceed the float32 range; rescale"):
        _dist_mod.pairwise_distances(np.array([[0.0], [1e39]]), dtype=np.float32)
    with pytest.raises(ValueError, match="unknown or unusable metric 'nope'"):
        _dist_mod.pairwise_distances(zero, metric="nope")


def test_blocked_mirror_and_matrix_checks(monkeypatch):
    from tda_activations.homology._checks import as_distance_matrix

    monkeypatch.setattr(_dist_mod, "BLOCK_ENTRIES", 50)
    monkeypatch.setattr(_checks_mod, "BLOCK_ENTRIES", 50)
    rng = np.random.default_rng(6)
    upper = np.triu(rng.uniform(1, 2, size=(23, 23)), 1)
    lower = (upper * (1 + 1e-14 * rng.uniform(size=upper.shape))).T  # within the tolerance
    got = as_distance_matrix(upper + lower)
    assert np.array_equal(got, upper + upper.T)
    bad = upper + upper.T
    bad[20, 3] += 1e-6
    with pytest.raises(ValueError, match="not symmetric"):
        as_distance_matrix(bad)
    bad = upper + upper.T
    bad[22, 1] = -1.0
    with pytest.raises(ValueError, match="negative entries"):
        as_distance_matrix(bad)


def _traced_peak(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("distances", "precision", "source"),
    [
        ("exact", "float32", "cloud"),
        ("exact", "float64", "cloud"),
        ("ripser-compatible", "float32", "matrix"),
        ("given", "float32", "matrix"),
        ("given", "float64", "matrix"),
    ],
)
def test_arrays_held_stay_within_the_memory_model(distances, precision, source, monkeypatch):
    """NumPy's allocations (traced) never pass the estimate's n x n part plus its block work.

    A float64 matrix, a condensed copy or an n x n boolean temporary that the model does
    not count would push the peak over it.
    """
    import gudhi._ripser_ext  # noqa: F401 - imports are not what is measured
    import sklearn.metrics  # noqa: F401

    from tda_activations.homology import persistence_of_distances

    large = importlib.import_module("tda_activations.homology.large")
    # blocks of 1/8 of the matrix: the block work arrays count, and must fit the model too
    for mod in (_dist_mod, _rips, _checks_mod, large):
        monkeypatch.setattr(mod, "BLOCK_ENTRIES", 1 << 17)
    x = _cloud(1000, 8).astype(np.float64)
    x = x[np.unique(x, axis=0, return_index=True)[1]]
    n = len(x)
    if distances == "given":
        dist = _dist_mod.pairwise_distances(x)
        run = lambda: persistence_of_distances(dist, precision=precision)  # noqa: E731
    else:
        run = lambda: persistence(x, precision=precision, distances=distances)  # noqa: E731
    run()  # warm: first-call caches are not what is measured
    peak = _traced_peak(run)
    est = estimate_memory(n, precision=precision, source=source, edge_fraction=0.0)
    # the model's n x n arrays and block work, and 1/8 of an n x n float64 array for the
    # rest (the birth bound's candidate edges, the engine's edge list, the diagrams)
    allowed = est.breakdown["distance_matrices"] + est.breakdown["block_work"] + n * n
    assert peak <= allowed, (peak / n**2, allowed / n**2)
    # and the model is not loose: at least the matrices it counts are held
    assert peak >= 0.9 * est.breakdown["distance_matrices"]


def test_available_memory_respects_cgroup_and_address_space_limits(tmp_path, monkeypatch):
    import resource

    large = importlib.import_module("tda_activations.homology.large")
    (tmp_path / "memory.max").write_text("max\n")
    (tmp_path / "memory.current").write_text("100\n")
    assert large._cgroup_room(str(tmp_path)) == float("inf")
    (tmp_path / "memory.max").write_text(f"{3 * 2**30}\n")
    (tmp_path / "memory.current").write_text(f"{2**30}\n")
    assert large._cgroup_room(str(tmp_path)) == 2 * 2**30
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    (v1 / "memory.usage_in_bytes").write_text("5\n")
    assert large._cgroup_room(str(tmp_path / "v1")) == float("inf")
    assert large._cgroup_room(str(tmp_path / "absent")) == float("inf")
    # ulimit -v: what is left of the address space bounds what persistence may plan for
    monkeypatch.setattr(resource, "getrlimit", lambda _: (2**30, resource.RLIM_INFINITY))
    assert large._address_space_room() < 2**30
    assert large.available_memory() < 2**30


def test_cgroup_room_reads_the_process_cgroup_and_its_ancestors(tmp_path):
    # a batch scheduler's job cgroup deep in the host's tree: the tightest limit on the way
    # up counts, a directory without one does not
    large = importlib.import_module("tda_activations.homology.large")
    step = tmp_path / "system.slice" / "job_7" / "step_0"
    step.mkdir(parents=True)
    (step / "memory.max").write_text("max\n")
    (step / "memory.current").write_text("0\n")
    job = step.parent
    (job / "memory.max").write_text(f"{6 * 2**30}\n")
    (job / "memory.current").write_text(f"{2**30}\n")
    (tmp_path / "memory.max").write_text(f"{100 * 2**30}\n")
    (tmp_path / "memory.current").write_text("0\n")
    proc = tmp_path / "self_cgroup"
    proc.write_text("0::/system.slice/job_7/step_0\n")
    assert large._cgroup_room(str(tmp_path), str(proc)) == 5 * 2**30
    # cgroup v1: the memory controller's line names the path
    v1 = tmp_path / "v1" / "memory" / "slurm" / "uid_0"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(f"{4 * 2**30}\n")
    (v1 / "memory.usage_in_bytes").write_text(f"{2**30}\n")
    proc.write_text("5:memory:/slurm/uid_0\n4:cpu,cpuacct:/slurm\n")
    assert large._cgroup_room(str(tmp_path / "v1"), str(proc)) == 3 * 2**30
