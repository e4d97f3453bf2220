"""The price of exact distances: SciPy's direct ``pdist`` against the Gram identity.

Persistence (``tda_activations._distances``) and RSA use distances evaluated directly per
pair (``pdist``), because the Gram identity ``|x|^2 + |y|^2 - 2 x.y`` leaves ~1e-16
noise that breaks exact ties (integer-valued or duplicated rows, common after ReLU).
This times both on activation-like clouds, checks that the Gram values are not
tie-exact, and puts the distance time next to one H0+H1 persistence of the same cloud.

Reference (the fast way we no longer use): centred Gram identity, one BLAS thread,
pairs closer than 1e-2 of |x|^2 + |y|^2 recomputed directly (the previous code).

Run: .venv/bin/python benchmarks/bench_exact_distances.py
"""

from __future__ import annotations

import numpy as np
from _homology_common import activation_like_clouds, machine, median_time
from scipy.spatial.distance import pdist, squareform

from tda_activations._distances import pairwise_distances, single_thread
from tda_activations.homology import persistence


def gram_distances(x: np.ndarray) -> np.ndarray:
    """The previous Gram-identity distances (near pairs recomputed directly)."""
    x = x - x.mean(axis=0)
    with single_thread():
        sq = np.einsum("ij,ij->i", x, x)
        d2 = x @ x.T
    d2 *= -2.0
    d2 += sq[:, None]
    d2 += sq[None, :]
    iu, ju = np.nonzero(np.triu(d2 < 1e-2 * (sq[:, None] + sq[None, :]), 1))
    diff = x[iu] - x[ju]
    d2[iu, ju] = np.einsum("ij,ij->i", diff, diff)
    d2 = np.triu(d2, 1)
    d2 += d2.T
    return np.sqrt(np.maximum(d2, 0.0))


def main() -> None:
    print(f"machine: {machine()}")
    last = 0.0
    for n, dim in [(1000, 512), (2000, 64), (2000, 512)]:
        x = next(iter(activation_like_clouds(1, n, dim).values())).astype(np.float64)
        t_exact, ours = median_time(lambda x=x: pairwise_distances(x), repeats=3)
        t_gram, gram = median_time(lambda x=x: gram_distances(x), repeats=3)
        same = np.array_equal(ours, squareform(pdist(x)))
        print(
            f"n={n} dim={dim}: exact (pdist) {t_exact:.3f} s, Gram identity {t_gram:.3f} s, "
            f"max |Gram - exact| {np.abs(gram - ours).max():.1e}, ours == pdist: {same}"
        )
        last = t_exact / t_gram
    x = next(iter(activation_like_clouds(1, 1000, 512).values()))
    t_ph, _ = median_time(lambda: persistence(x, maxdim=1), repeats=1)
    print(
        f"for scale: persistence(maxdim=1) of one 1000 x 512 cloud, distances included: {t_ph:.2f} s"
    )
    print(f"ratio (exact pdist time / Gram identity time), n=2000 dim=512: {last:.2f}x")


if __name__ == "__main__":
    main()
