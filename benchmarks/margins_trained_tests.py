"""Margins of the tests that train a network: the spread across seeds and torch thread counts.

A test may assert what a training run learned only with a margin shown to hold across
seeds and machines.  This script reruns the training inside those tests with seeds 0-4
and with 1 and 2 torch threads, and prints the spread of every asserted number next to
its threshold (the smallest margin is on the last line).  The numbers are quoted in the
tests' comments; results in ``benchmarks/results/margins_trained_tests.txt``.

    python benchmarks/margins_trained_tests.py            # everything (a few minutes)
    python benchmarks/margins_trained_tests.py --no-zoo   # without the zoo trainings
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

SEEDS = range(5)
THREADS = (1, 2)


def _xor_numbers(seed: int) -> dict[str, float]:
    from test_correlation_order import make_xor, train

    from tda_activations.probes.correlation_order import correlation_order

    fit, test = make_xor(1000, seed=0), make_xor(1000, seed=1)
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2)
    )
    model = train(model, *fit, seed=seed)
    prof = correlation_order(model, test, fit_data=fit, n_draws=2, seed=0)
    x, y = test
    rho = np.corrcoef(x[y == 0].T)[0, 1]
    limit = 0.5 + math.asin(rho) / math.pi
    second = prof.accuracy_of("class_means_class_covs")[0]
    return {
        "xor true_accuracy (> 0.97)": prof.true_accuracy,
        "xor |second - limit| (< 0.05)": abs(second - limit),
        "xor logits first order (> 0.95)": prof.accuracy_of("class_means_pooled_cov")[-1],
    }


def _first_order_numbers(seed: int) -> dict[str, float]:
    from test_correlation_order import train

    from tda_activations.probes.correlation_order import correlation_order

    rng = np.random.default_rng(0)
    chol = np.linalg.cholesky(np.array([[1.0, 0.6], [0.6, 1.0]]))

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, size=n)
        x = rng.normal(size=(n, 2)) @ chol.T + np.where(y[:, None] == 1, 1.5, -1.5) * np.array(
            [1.0, -1.0]
        )
        return x, y

    fit, test = sample(2000), sample(2000)
    torch.manual_seed(seed)
    model = train(nn.Sequential(nn.Linear(2, 2)), *fit, seed=seed)
    prof = correlation_order(model, test, fit_data=fit, layers=[], include_input=True)
    true, (full, first, second) = prof.true_accuracy, prof.accuracy[0]
    return {
        "first-order true (> 0.95)": true,
        "first-order max |first/full - true| (< 0.03)": max(abs(first - true), abs(full - true)),
        "first-order |second - 0.5| (< 0.05)": abs(second - 0.5),
    }


def _cli_numbers(seed: int) -> dict[str, float]:
    from test_correlation_order import train

    from tda_activations.datasets import load_digits

    data = load_digits()
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    x = np.array(data.train.images).reshape(-1, 64)
    net = train(net, x, data.train.labels, steps=100, seed=seed)
    with torch.no_grad():
        pred = net(torch.from_numpy(np.array(data.test.images))).argmax(1).numpy()
    return {"cli linear digits accuracy (> 0.85)": float(np.mean(pred == data.test.labels))}


def _zoo_numbers(seed: int) -> dict[str, float]:
    from tda_activations.models._weights import shipped_entries
    from tda_activations.models.training import train_from_scratch

    shipped = {(e.name, e.seed): e.test_accuracy for e in shipped_entries()}
    out = {}
    for name in ("lenet", "mlp"):
        tm = train_from_scratch(name, seed=seed, progress=False)
        out[f"zoo {name} test accuracy trained now"] = tm.test_accuracy
        if (name, 0) in shipped:
            out[f"zoo {name} trained now - shipped seed 0"] = tm.test_accuracy - shipped[(name, 0)]
    return out


def _shipped_numbers(seed: int) -> dict[str, float]:
    """What the tests assert about the shipped weights (identical everywhere): only inference
    noise across thread counts can move these, so one run per thread count (seed 0 only)."""
    if seed != 0:
        return {}
    from tda_activations import experiments as ex
    from tda_activations.extract import extract
    from tda_activations.mapper import layer_mapper
    from tda_activations.models import SHIPPED_SEEDS, pretrained

    out: dict[str, float] = {}
    for name, seeds in SHIPPED_SEEDS.items():
        for s in seeds:
            tm = pretrained(name, seed=s)
            with torch.inference_mode():
                top2 = (
                    tm.model(torch.from_numpy(np.array(tm.data.test.images))).topk(2, dim=1).values
                )
            out[f"shipped {name} seed {s} smallest top-2 logit gap"] = float(
                (top2[:, 0] - top2[:, 1]).min()
            )
            out[f"shipped {name} seed {s} test accuracy"] = tm.test_accuracy
    lenets = ex.zoo_activations("lenet", seeds=(0, 1, 2), n_images=150)
    ms = ["linear_cka", ex.layer_measure("H0:sliced_wasserstein", n_jobs=1)]
    df = ex.layer_correspondence(
        lenets, measures=ms, n_permutations=199, n_bootstrap=200
    ).to_pandas()
    for _, row in df.iterrows():
        out[f"lenets {row['measure']} accuracy / chance (>= 2)"] = row["accuracy"] / row["chance"]
        out[f"lenets {row['measure']} p_value (< 0.05)"] = row["p_value"]
    mono = ex.layer_monotonicity(lenets["seed0"], measures=ms, n_permutations=99).to_pandas()
    for _, row in mono.iterrows():
        out[f"lenets {row['measure']} spearman_depth_gap (cka > 0)"] = row["spearman_depth_gap"]
    acts = lenets["seed0"]
    sens = ex.sensitivity(
        acts,
        layers=[acts.layers[2]],
        measures=["procrustes", "linear_cka"],
        fractions=(0.3, 0.6, 0.9),
    ).per_layer.to_pandas()
    for _, row in sens.iterrows():
        out[f"lenet sensitivity {row['measure']} spearman_fraction (> 0.9)"] = row[
            "spearman_fraction"
        ]
    tm = pretrained("lenet", seed=0)
    table = layer_mapper(extract(tm.model, tm.data.test, reduction="top_l2", seed=0)).to_pandas()
    out["mapper lenet purity_fine last - first (> 0)"] = (
        table["purity_fine"].iloc[-1] - table["purity_fine"].iloc[0]
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-zoo", action="store_true", help="skip the zoo trainings")
    ap.add_argument("--only-zoo", action="store_true", help="only the zoo trainings")
    ap.add_argument(
        "--only-shipped",
        action="store_true",
        help="only what the tests assert about the shipped weights",
    )
    args = ap.parse_args()
    parts: list[Callable[[int], dict[str, float]]] = []
    if args.only_shipped:
        parts = [_shipped_numbers]
    elif not args.only_zoo:
        parts += [_xor_numbers, _first_order_numbers, _cli_numbers]
    if not (args.no_zoo or args.only_shipped):
        parts.append(_zoo_numbers)
    rows: dict[str, list[tuple[int, int, float]]] = {}
    for threads in THREADS:
        torch.set_num_threads(threads)
        for seed in SEEDS:
            for part in parts:
                for k, v in part(seed).items():
                    rows.setdefault(k, []).append((threads, seed, float(v)))
    print(f"seeds {list(SEEDS)}, torch threads {list(THREADS)}, torch {torch.__version__}")
    for k, vals in rows.items():
        arr = np.array([v for *_, v in vals])
        by = ", ".join(f"t{t}s{s}={v:.4f}" for t, s, v in vals)
        print(f"{k}: min {arr.min():.4f} max {arr.max():.4f}  [{by}]")


if __name__ == "__main__":
    main()
