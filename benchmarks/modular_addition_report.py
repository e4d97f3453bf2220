"""What topology finds in a transformer trained on modular addition, layer by layer.

Trains (or loads from the cache) the zoo's modular-addition transformer for each seed,
then computes H1 persistence (``tda_activations.homology.persistence``) of:

- the residue embedding matrix ``W_E`` (p rows), as is, projected onto the plane of
  each of its strongest Fourier frequencies, and onto the span of the top planes;
- the residual stream at the ``=`` position after the attention and after the block,
  over all ``p**2`` pairs (greedy subsample) and averaged over pairs with the same
  sum ``(a + b) mod p`` (p points);
- every position of the residual stream after the block (greedy subsample);

and a Mapper graph (PCA lens) of the ``=`` stream, whose cycle rank (independent loops)
is reported with how well its nodes separate the sums.  Writes
``benchmarks/results/modular_addition.md``.

With ``--timing``, also reports each seed's training CPU time and test accuracy (one torch
thread, as recorded when the shipped weights were made; ``--retrain`` trains them now),
then times one training step of the previous recipe (the full forward pass) against the
current one (:func:`~tda_activations.models.zoo_transformers.last_token_logits`); the
last line is the ratio of the previous recipe's training CPU time to the current one's.

Usage::

    python benchmarks/modular_addition_report.py --seeds 0 1 2 3 4 --timing [--retrain]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tda_activations.datasets.modular import frequency_plane, frequency_power, key_frequencies
from tda_activations.homology import persistence
from tda_activations.mapper import mapper_graph
from tda_activations.models.zoo_transformers import (
    MODULAR_DEFAULTS,
    build_modular_transformer,
    last_token_logits,
    pretrained_modular_addition,
    token_states,
    train_modular_from_scratch,
)

log = logging.getLogger("modular_addition_report")
EQ_MEANS = "means:'=' after block 0"
RESULTS = Path(__file__).resolve().parent / "results" / "modular_addition.md"


def h1_summary(cloud: np.ndarray, *, max_points: int | None = None) -> dict[str, float]:
    """Number of H1 bars, the longest and second-longest persistence, their ratio."""
    dg = persistence(cloud, maxdim=1, max_points=max_points, seed=0)
    h1 = dg[1]
    life = np.sort(h1[:, 1] - h1[:, 0])[::-1] if h1.size else np.zeros(0)
    first = float(life[0]) if life.size else 0.0
    second = float(life[1]) if life.size > 1 else 0.0
    scale = float(dg.params.get("enclosing_radius", np.nan))
    return {
        "n": int(cloud.shape[0]),
        "bars": int(life.size),
        "longest": first,
        "second": second,
        "ratio": first / second if second > 0 else float("inf"),
        "scale": scale,
        "covering": float(dg.params.get("subsample", {}).get("covering_radius", 0.0)),
    }


def mapper_loops(cloud: np.ndarray, labels: np.ndarray, p: int) -> dict[str, float]:
    """Cycle rank of a Mapper graph (PCA lens, 2 components) and the purity of its nodes."""
    g = mapper_graph(
        cloud,
        lens="pca",
        lens_params={"n_components": 2},
        n_intervals=8,
        overlap=0.5,
        min_samples=3,
    )
    n_nodes, n_edges = len(g.nodes), len(g.edges)
    import networkx as nx

    from tda_activations.mapper import to_networkx

    comps = nx.number_connected_components(to_networkx(g)) if n_nodes else 0
    purity = [
        np.bincount(labels[np.asarray(node.members)], minlength=p).max() / len(node.members)
        for node in g.nodes
    ]
    return {
        "nodes": n_nodes,
        "edges": n_edges,
        "components": comps,
        "cycle_rank": n_edges - n_nodes + comps,
        "purity": float(np.mean(purity)) if purity else float("nan"),
    }


def one_seed(seed: int, max_points: int) -> tuple[list[list[str]], dict[str, Any]]:
    t0 = time.perf_counter()
    tm = pretrained_modular_addition(seed=seed, progress=False)
    train_s = tm.seconds
    model, p = tm.model, tm.params["p"]
    w = model.residue_embedding.detach().double().numpy()
    keys = key_frequencies(w, n=min(5, (p - 1) // 2))
    power = frequency_power(w)
    share = power[keys - 1] / power.sum()
    rows: list[list[str]] = []

    found: dict[str, dict[str, float]] = {}

    def add(where: str, cloud: np.ndarray, mp: int | None = None, tag: str | None = None) -> None:
        s = h1_summary(cloud, max_points=mp)
        if tag is not None:
            found[tag] = s
        rows.append(
            [
                str(seed),
                where,
                str(s["n"]),
                str(s["bars"]),
                f"{s['longest']:.4g}",
                f"{s['second']:.4g}",
                f"{s['ratio']:.3g}",
                f"{s['scale']:.4g}",
            ]
        )

    add("W_E rows (raw)", w, tag="raw")
    for i, f in enumerate(keys[:3]):
        add(f"W_E on the plane of frequency {f}", frequency_plane(w, int(f)), tag=f"plane{i}")
    top = np.concatenate([frequency_plane(w, int(f)) for f in keys[:3]], axis=1)
    add(f"W_E on the top-3 planes ({', '.join(map(str, keys[:3]))})", top)

    every = tm.data.all_pairs
    states = token_states(model, every.tokens, layers=["blocks.0.attn", "blocks.0"])
    eq_attn = states["blocks.0.attn"][:, -1]
    eq_post = states["blocks.0"][:, -1]
    labels = every.labels
    for name, cloud in (
        ("'=' after attention (attn out)", eq_attn),
        ("'=' after block 0", eq_post),
    ):
        add(f"{name}, all pairs", cloud, max_points)
        means = np.stack([cloud[labels == c].mean(axis=0) for c in range(p)])
        add(f"{name}, mean per sum", means, tag=f"means:{name}")
    add(
        "every position after block 0", states["blocks.0"].reshape(-1, eq_post.shape[1]), max_points
    )
    mapper = mapper_loops(eq_post, labels, p)
    info = {
        "seed": seed,
        "test_accuracy": tm.test_accuracy,
        "train_accuracy": tm.train_accuracy,
        "train_seconds": train_s,
        "keys": keys.tolist(),
        "share": share.tolist(),
        "mapper": mapper,
        "seconds": time.perf_counter() - t0,
        "params": tm.params,
        "source": tm.source,
        "found": found,
    }
    return rows, info


def step_cpu_seconds(full: bool, *, steps: int = 20) -> float:
    """CPU seconds of one full-batch AdamW step at the defaults (full or last-token forward)."""
    import torch.nn.functional as F

    from tda_activations.datasets.modular import load_modular_addition

    cfg = MODULAR_DEFAULTS
    data = load_modular_addition(cfg["p"], train_fraction=cfg["train_fraction"], seed=0).train
    model = build_modular_transformer(
        cfg["p"],
        dim=cfg["dim"],
        heads=cfg["heads"],
        mlp_dim=cfg["mlp_dim"],
        depth=cfg["depth"],
        seed=0,
    )
    x, y = torch.from_numpy(np.array(data.tokens)), torch.from_numpy(np.array(data.labels))
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"], betas=(0.9, 0.98)
    )

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        logits = model(x) if full else last_token_logits(model, x)
        F.cross_entropy(logits, y).backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - t0) / steps


def timing(seeds: list[int], *, retrain: bool) -> list[str]:
    """Training CPU time and test accuracy per seed, and the per-step cost of the recipes.

    With ``retrain`` each seed is trained from scratch now; otherwise the CPU time and
    accuracy recorded in the shipped manifest when the weights were made are reported.
    """
    from tda_activations.models._weights import shipped_entries
    from tda_activations.models.zoo_transformers import modular_training_key

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        load = os.getloadavg()[0]
        lines = [
            "## Training cost (one torch thread)",
            "",
            (
                f"Load average when measured: {load:.1f} on {os.cpu_count()} CPUs (CPU seconds "
                "are this process's own; wall time depends on the load)."
            ),
            "",
        ]
        rows, cpus = [], []
        if retrain:
            lines.append("Trained from scratch now:")
            for seed in seeds:
                t0 = time.process_time()
                tm = train_modular_from_scratch(seed=seed, progress=False)
                cpu = time.process_time() - t0
                cpus.append(cpu)
                rows.append((seed, cpu, tm.seconds, tm.test_accuracy, tm.train_accuracy))
                log.info(
                    "seed %d trained: %.1f CPU s, test accuracy %.4f", seed, cpu, tm.test_accuracy
                )
        else:
            lines.append(
                "As recorded in the shipped manifest when the weights were made "
                "(`benchmarks/make_zoo_weights.py`; rerun with --retrain to train now):"
            )
            manifest = json.loads((shipped_entries()[0].path.parent / "manifest.json").read_text())
            by_key = {e["key"]: e for e in manifest["entries"]}
            for seed in seeds:
                e = by_key[modular_training_key(seed=seed)]
                cpus.append(float(e["train_cpu_seconds"]))
                rows.append(
                    (
                        seed,
                        cpus[-1],
                        float(e["train_seconds"]),
                        e["test_accuracy"],
                        e["train_accuracy"],
                    )
                )
        lines += [
            "",
            "| seed | CPU s | wall s | test accuracy | train accuracy |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[3]:.4f} | {r[4]:.4f} |" for r in rows]
        full, last = step_cpu_seconds(True), step_cpu_seconds(False)
        old = 1000 * full  # the previous default: 1000 steps of the full forward pass, lr 3e-3
        new = MODULAR_DEFAULTS["steps"] * last
        lines += [
            "",
            (
                f"- one step, measured now: full forward {full * 1e3:.1f} ms CPU, last-token "
                f"forward {last * 1e3:.1f} ms CPU ({full / last:.2f}x)"
            ),
            (
                f"- previous recipe (1000 full-forward steps, lr 3e-3; it reached test accuracy 1.0 "
                f"at step 800 on seed 0): {old:.1f} CPU s; current "
                f"({MODULAR_DEFAULTS['steps']} last-token steps, lr {MODULAR_DEFAULTS['lr']}): "
                f"{new:.1f} CPU s; per seed above: {min(cpus):.1f}-{max(cpus):.1f} CPU s"
            ),
            "",
            f"previous recipe / current recipe, training CPU time: {old / new:.2f}x",
        ]
    finally:
        torch.set_num_threads(threads)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-points", type=int, default=500)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--timing",
        action="store_true",
        help="also report the training cost per seed and time the recipes",
    )
    parser.add_argument(
        "--retrain", action="store_true", help="with --timing: train every seed from scratch now"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    head = [
        "seed",
        "cloud",
        "points",
        "H1 bars",
        "longest H1",
        "2nd longest",
        "ratio",
        "enclosing radius",
    ]
    lines = [
        "# Topology of a transformer trained on modular addition",
        "",
        (
            "Model: the zoo's `ModularTransformer` (one block without layer norm, ReLU MLP), "
            "trained by `pretrained_modular_addition` on `(a + b) mod p`; tokens `a, b, =`."
        ),
        (
            "H1: Vietoris-Rips persistence (`tda_activations.homology.persistence`, coefficient 2); "
            "clouds of more than --max-points points are greedily subsampled (the bottleneck "
            "error bound is twice the covering radius). 'ratio' = longest / second-longest H1 bar."
        ),
        (
            f"Generated by `benchmarks/modular_addition_report.py`, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads."
        ),
        "",
    ]
    table: list[list[str]] = []
    infos: list[dict[str, Any]] = []
    for seed in args.seeds:
        rows, info = one_seed(seed, args.max_points)
        table += rows
        infos.append(info)
        shares = ", ".join(f"{k}: {s:.1%}" for k, s in zip(info["keys"], info["share"]))
        m = info["mapper"]
        lines += [
            f"## seed {seed}",
            "",
            f"- settings: {info['params']}",
            (
                f"- accuracy: train {info['train_accuracy']:.4f}, test {info['test_accuracy']:.4f}; "
                f"weights: {info['source']}, report {info['seconds']:.0f} s"
            ),
            f"- strongest Fourier frequencies of W_E (share of its power): {shares}",
            (
                f"- Mapper of the '=' stream after block 0 (PCA lens, 8 intervals): {m['nodes']} "
                f"nodes, {m['edges']} edges, {m['components']} components, cycle rank "
                f"{m['cycle_rank']}, mean node purity (by sum) {m['purity']:.3f}"
            ),
            "",
        ]
        log.info("seed %d done: test accuracy %.4f", seed, info["test_accuracy"])
    lines += [
        "## Across seeds",
        "",
        (
            "Per seed: the strongest frequencies of W_E, and the H1 ratio (longest / second "
            "bar; bars) of W_E as it is, of W_E on the planes of its two strongest "
            "frequencies, and of the per-sum means of the '=' stream after the block."
        ),
        "",
        (
            "| seed | test acc. | top frequencies (share) | raw W_E | plane f1 | plane f2 "
            "| '=' after block, means |"
        ),
        "|---|---|---|---|---|---|---|",
    ]

    def cell(d: dict[str, float]) -> str:
        return f"{d['ratio']:.3g} ({d['bars']} bars)"

    for info in infos:
        fd = info["found"]
        shares = ", ".join(f"{k} ({s:.0%})" for k, s in zip(info["keys"][:3], info["share"][:3]))
        lines.append(
            f"| {info['seed']} | {info['test_accuracy']:.4f} | {shares} | {cell(fd['raw'])} | "
            f"{cell(fd['plane0'])} | {cell(fd['plane1'])} | "
            f"{cell(fd[EQ_MEANS])} |"
        )
    lines += ["", "## H1 per cloud", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in table]
    if args.timing:
        lines += ["", *timing(args.seeds, retrain=args.retrain)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
