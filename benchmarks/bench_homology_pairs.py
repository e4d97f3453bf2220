"""All-pairs diagram distances over 500 H1 diagrams: ours vs persim's functions.

Diagrams: H1 of 500 activation-like clouds (300 points, 128-D, ReLU of random
projections of a clustered latent; ~150 bars each).  Ours: the full all-pairs
matrix (124,750 pairs) with ``distance_matrix(..., n_jobs=2)``.  Reference:
persim's ``sliced_wasserstein(M=50)``, ``bottleneck`` and ``wasserstein``
timed on a random sample of pairs and extrapolated to all pairs (said so in
the output); the sampled values are also compared with ours.

Run: .venv/bin/python benchmarks/bench_homology_pairs.py [n_diagrams]
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import persim
from _homology_common import activation_like_clouds, machine, median_time

from tda_activations.homology import distance_matrix, layer_persistence


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    print(f"machine: {machine()}")
    t = time.perf_counter()
    dgms = layer_persistence(activation_like_clouds(n, 300, 128), n_jobs=2, maxdim=1)
    sizes = [len(d[1]) for d in dgms.values()]
    print(
        f"{n} H1 diagrams in {time.perf_counter() - t:.1f} s; bars per diagram: "
        f"mean {np.mean(sizes):.0f}, max {max(sizes)}"
    )
    h1 = [d[1] for d in dgms.values()]
    n_pairs = n * (n - 1) // 2
    rng = np.random.default_rng(0)
    sample = [tuple(rng.choice(n, 2, replace=False)) for _ in range(200)]
    refs = {
        "sliced_wasserstein": (
            lambda a, b: persim.sliced_wasserstein(a, b, M=50),
            {"n_directions": 50},
        ),
        "bottleneck": (persim.bottleneck, {}),
        "wasserstein": (persim.wasserstein, {"order": 1, "internal_p": 2}),
    }
    ratios = {}
    for name, (ref_fn, params) in refs.items():

        def ref_loop(ref_fn=ref_fn):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return [ref_fn(h1[i], h1[j]) for i, j in sample]

        t_ref, ref_vals = median_time(ref_loop, repeats=3)
        t_ref_all = t_ref / len(sample) * n_pairs
        t_ours, mat = median_time(
            lambda name=name, params=params: distance_matrix(
                dgms, metric=name, dim=1, n_jobs=2, **params
            ),
            repeats=3 if name == "sliced_wasserstein" else 1,
        )
        ours_vals = np.array([mat.values[i, j] for i, j in sample])
        err = np.max(np.abs(ours_vals - np.array(ref_vals, dtype=float)))
        ratios[name] = t_ref_all / t_ours
        print(
            f"{name}: persim {t_ref / len(sample) * 1e3:.2f} ms/pair on {len(sample)} sampled pairs "
            f"-> {t_ref_all:.0f} s extrapolated to {n_pairs} pairs; ours {t_ours:.1f} s for all pairs "
            f"(2 processes); max |ours - persim| on the sample {err:.1e}; "
            f"ratio (persim/ours): {ratios[name]:.1f}x"
        )
    print(
        f"ratio (persim/ours) bottleneck {ratios['bottleneck']:.1f}x, wasserstein "
        f"{ratios['wasserstein']:.1f}x"
    )
    print(
        f"ratio (persim/ours), sliced Wasserstein all pairs over {n} diagrams: "
        f"{ratios['sliced_wasserstein']:.1f}x"
    )


if __name__ == "__main__":
    main()
