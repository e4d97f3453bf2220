"""All-pairs linear CKA over 17 layers, n = 10,000 samples, widths up to 512.

Compares, in one run and on one thread each:

* ours: ``similarity_matrix(acts, measure="minibatch_cka", batch_size=B)`` -- unbiased
  HSIC accumulated over batches, memory bounded by the batch size;
* ours, exact: ``similarity_matrix(acts, measure="linear_cka")`` (feature form, each
  layer prepared once);
* naive: a straightforward NumPy Gram-matrix implementation (for each pair of layers
  build both n x n Gram matrices, centre them, take the normalised Frobenius product).
  At n = 10,000 one pair takes seconds and the 136 pairs would take many minutes, so it
  is timed on pairs of three width classes (smallest, middle, largest width sum) and
  the all-pairs time is interpolated piecewise-linearly in (width_a + width_b);
* torch-cka 0.21 (``CKA.compare``, float32, same batches), where it is installed.

Data: synthetic ResNet-18-like activations (widths 64 x5, 128 x4, 256 x4, 512 x4:
the 17 conv layers of the CIFAR-style ResNet-18), float32, ReLU of random projections
of a shared latent, so the CKA values are neither 0 nor 1.  Peak memory is measured
with tracemalloc (NumPy allocations; the input clouds themselves are excluded).

Run: ``.venv/bin/python benchmarks/bench_similarity.py`` (about 3-4 minutes).
"""

from __future__ import annotations

import gc
import platform
import statistics
import time
import tracemalloc

import numpy as np

from tda_activations import similarity as sim
from tda_activations.types import ActivationSet, ClassHierarchy

N = 10_000
WIDTHS = [64] * 5 + [128] * 4 + [256] * 4 + [512] * 4
BATCH = 500
REPEATS = 3


def make_acts(seed: int = 0) -> ActivationSet:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(N, 32)).astype(np.float32)
    clouds, h = {}, latent
    for i, w in enumerate(WIDTHS):
        proj = rng.normal(size=(h.shape[1], w)).astype(np.float32) / np.sqrt(h.shape[1])
        h = np.maximum(h @ proj, 0) + 0.1 * rng.normal(size=(N, w)).astype(np.float32)
        clouds[f"conv{i:02d}"] = h
    return ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(N) for k in clouds},
        labels=np.zeros(N, dtype=np.int64),
        hierarchy=ClassHierarchy(class_names=("x",)),
        reduction="synthetic",
        params={"seed": seed},
    )


def naive_pair(x: np.ndarray, y: np.ndarray) -> float:
    """Straightforward Gram-matrix linear CKA (biased HSIC)."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    k = x @ x.T
    l = y @ y.T
    k = k - k.mean(0, keepdims=True) - k.mean(1, keepdims=True) + k.mean()
    l = l - l.mean(0, keepdims=True) - l.mean(1, keepdims=True) + l.mean()
    return float(np.sum(k * l) / (np.linalg.norm(k) * np.linalg.norm(l)))


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def peak_mib(fn) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def torch_cka_matrix(
    acts: ActivationSet, batches: list[np.ndarray]
) -> tuple[float, np.ndarray] | str:
    try:
        import torch
        import torch_cka
        from torch import nn
    except ImportError as exc:  # pragma: no cover - optional
        return f"torch-cka not installed ({exc})"
    torch.set_num_threads(1)
    layers = acts.layers
    order = np.concatenate(batches)
    data = np.hstack([acts.cloud(k) for k in layers])[order].astype(np.float32)
    edges = np.cumsum([0] + [acts.cloud(k).shape[1] for k in layers])

    class Take(nn.Module):
        def __init__(self, lo: int, hi: int) -> None:
            super().__init__()
            self.lo, self.hi = lo, hi

        def forward(self, z):
            return z[:, self.lo : self.hi]

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.parts = nn.ModuleList(
                Take(int(edges[i]), int(edges[i + 1])) for i in range(len(layers))
            )

        def forward(self, z):
            return [p(z) for p in self.parts]

    names = [f"parts.{i}" for i in range(len(layers))]
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(data), torch.zeros(len(data))),
        batch_size=len(batches[0]),
        shuffle=False,
    )
    model = Stack()
    ref = torch_cka.CKA(
        model, model, model1_name="a", model2_name="b", model1_layers=names, model2_layers=names
    )
    t0 = time.perf_counter()
    import contextlib
    import io

    with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
        ref.compare(loader, loader)
    return time.perf_counter() - t0, ref.export()["CKA"].numpy().astype(np.float64)


def main() -> None:
    from threadpoolctl import threadpool_limits

    print(
        f"machine: {platform.machine()}, {platform.python_version()}, numpy {np.__version__}; "
        "one BLAS thread for every implementation"
    )
    print(
        f"data: n={N}, {len(WIDTHS)} layers, widths {sorted(set(WIDTHS))} (sum {sum(WIDTHS)}), "
        f"float32 input; batch size {BATCH}; medians of {REPEATS} repeats"
    )
    acts = make_acts()
    layers = acts.layers
    n_pairs = len(layers) * (len(layers) - 1) // 2

    with threadpool_limits(1):
        # ours: minibatch CKA
        t_mini, mini = timed(
            lambda: sim.similarity_matrix(acts, measure="minibatch_cka", batch_size=BATCH), REPEATS
        )
        mem_mini = peak_mib(
            lambda: sim.similarity_matrix(acts, measure="minibatch_cka", batch_size=BATCH)
        )
        print(
            f"ours  minibatch_cka (batch {BATCH}): {t_mini:8.2f} s   peak traced memory "
            f"{mem_mini:7.1f} MiB  (stacked U-centred Grams: layers x batch^2 x 8 B = "
            f"{len(layers) * BATCH**2 * 8 / 2**20:.1f} MiB, plus per-batch temporaries)"
        )
        t_small, _ = timed(
            lambda: sim.similarity_matrix(acts, measure="minibatch_cka", batch_size=BATCH // 2), 1
        )
        mem_small = peak_mib(
            lambda: sim.similarity_matrix(acts, measure="minibatch_cka", batch_size=BATCH // 2)
        )
        print(
            f"ours  minibatch_cka (batch {BATCH // 2}): {t_small:8.2f} s   peak traced memory "
            f"{mem_small:7.1f} MiB  (memory follows the batch size, not n)"
        )

        # ours: exact linear CKA (feature form)
        t_exact, exact = timed(lambda: sim.similarity_matrix(acts, measure="linear_cka"), 1)
        mem_exact = peak_mib(lambda: sim.similarity_matrix(acts, measure="linear_cka"))
        print(
            f"ours  linear_cka exact (feature form): {t_exact:8.2f} s   peak traced memory "
            f"{mem_exact:7.1f} MiB  (float64 centred copies of every layer)"
        )
        t_deb, debiased = timed(
            lambda: sim.similarity_matrix(acts, measure="linear_cka_debiased"), 1
        )
        print(
            f"max |minibatch - exact debiased CKA| = "
            f"{np.max(np.abs(mini.values - debiased.values)):.4f}"
        )

        # naive: time pairs of three width classes, predict the all-pairs total
        naive_pair(acts.cloud("conv00"), acts.cloud("conv01"))  # warm-up (page faults)
        probes = [("conv00", "conv01"), ("conv05", "conv13"), ("conv13", "conv14")]
        xs, ts = [], []
        for a, b in probes:
            t, value = timed(lambda a=a, b=b: naive_pair(acts.cloud(a), acts.cloud(b)), REPEATS)
            wa, wb = acts.cloud(a).shape[1], acts.cloud(b).shape[1]
            xs.append(wa + wb)
            ts.append(t)
            print(
                f"naive pair {a}({wa}) x {b}({wb}): {t:6.2f} s   |naive - ours exact| = "
                f"{abs(value - exact.value(a, b)):.1e}"
            )
        mem_naive = peak_mib(lambda: naive_pair(acts.cloud("conv13"), acts.cloud("conv14")))
        widths = {k: acts.cloud(k).shape[1] for k in layers}
        # piecewise-linear in (width_a + width_b) between the timed pairs (they span
        # the smallest and the largest sum, so nothing is extrapolated)
        t_naive = float(
            sum(
                np.interp(widths[a] + widths[b], xs, ts)
                for i, a in enumerate(layers)
                for b in layers[i + 1 :]
            )
        )
        print(
            f"naive all {n_pairs} pairs (interpolated from the timed pairs in width_a + "
            f"width_b): {t_naive:8.1f} s   peak traced memory {mem_naive:7.1f} MiB per pair"
        )

    res = torch_cka_matrix(
        acts,
        __import__("tda_activations.similarity.cka", fromlist=["x"]).batch_slices(
            N, batch_size=BATCH, seed=0
        ),
    )
    if isinstance(res, str):
        print(f"torch-cka: {res}")
        ratio_torch = None
    else:
        t_torch, vals = res
        ratio_torch = t_torch / t_mini
        print(
            f"torch-cka 0.21 CKA.compare (same batches, float32, 1 thread): {t_torch:8.2f} s   "
            f"max |torch-cka - ours minibatch| = {np.max(np.abs(vals - mini.values)):.1e}"
        )
    print(f"ratio (ours exact linear_cka / ours minibatch): {t_exact / t_mini:.1f}x")
    if ratio_torch is not None:
        print(f"ratio (torch-cka / ours minibatch): {ratio_torch:.1f}x")
    print(f"ratio (naive NumPy Gram / ours minibatch): {t_naive / t_mini:.1f}x")


if __name__ == "__main__":
    main()
