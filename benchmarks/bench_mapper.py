"""Mapper for every layer of the zoo ResNet-18 (full width, up to 512 channels), 10,000 points.

For each layer, in the same run and interleaved:

* **kmapper**: a plain kmapper call with the same settings - its own ``l2norm``
  projection with ``MinMaxScaler``, ``Cover(n_cubes=10, perc_overlap=0.5)``,
  ``DBSCAN(eps, min_samples=5)`` with the eps our knee chose;
* **ours, exact knee**: :func:`tda_activations.mapper.mapper_graph` (lens, knee eps from
  every point, kmapper, typed graph) + :func:`hierarchy_compositions` +
  :func:`hierarchy_summary`;
* **ours, sampled knee**: the same with ``knee_sample=M`` (the knee of ``M`` points'
  k-NN distances, each searched among all points); its eps is compared with the exact
  knee's (relative error) and its graph with the exact-knee graph (same nodes and
  members, or not).

kmapper is given the exact knee's eps, so "kmapper" is the clustering both versions
share; our exact-knee graph is checked against kmapper's (the same member sets and the
same edges on every layer; the "same km" column).  The last line is the total time of
ours with the exact knee (the default) over plain kmapper's (target: at most 1.3x); the
line before gives ours with the sampled knee.

Points: every spatial position of every digit (train + test, 1797 images, 16x16 input)
at each conv layer's output, 10,000 drawn at random per layer (fewer where a layer
has fewer positions: the last stage has 2x2 positions, the linear layer one point per
image).

Run: ``.venv/bin/python benchmarks/bench_mapper.py [--repeats 3] [--max-points 10000]
[--knee-sample 1000] [--width 1.0] [--quick]`` (``--width 0.25``: the default zoo width,
for a machine without the full-width weights cached: the results file says which was
run; ``--quick``: width 0.25, 2,000 points, one repeat, a smoke test of the script)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np


def _data(width: float):
    from tda_activations.models import pretrained
    from tda_activations.types import ImageDataset

    tm = pretrained("resnet18", width=width)
    tr, te = tm.data.train, tm.data.test
    both = ImageDataset(
        images=np.concatenate([tr.images, te.images]),
        labels=np.concatenate([tr.labels, te.labels]),
        hierarchy=te.hierarchy,
        name="digits/all",
        sample_ids=np.concatenate([tr.sample_ids, te.sample_ids]),
    )
    return tm, both


def _ours(x, layer, labels, preds, hierarchy, cpu, **kw):
    """Our pipeline on one layer, timed: the graph, its compositions and summary (the process's
    CPU time, all threads, is appended to ``cpu``)."""
    from tda_activations.mapper import hierarchy_compositions, hierarchy_summary, mapper_graph

    t, c = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = mapper_graph(x, label=layer, **kw)
    comps = hierarchy_compositions(g, labels, hierarchy, predictions=preds)
    hierarchy_summary(g, labels, hierarchy, compositions=comps)
    cpu.append(time.process_time() - c)
    return time.perf_counter() - t, g


def _same_as_kmapper(g, raw) -> bool:
    """Our graph has kmapper's member sets and, between them, kmapper's edges."""
    members = {k: frozenset(v) for k, v in raw["nodes"].items()}
    ours = {n.id: frozenset(n.members.tolist()) for n in g.nodes}
    theirs_edges = {
        frozenset((members[a], members[b])) for a, bs in raw["links"].items() for b in bs
    }
    return (
        sorted(map(sorted, ours.values())) == sorted(map(sorted, members.values()))
        and {frozenset((ours[a], ours[b])) for a, b in g.edges} == theirs_edges
    )


def main() -> None:
    import kmapper as km
    from sklearn.cluster import DBSCAN
    from sklearn.preprocessing import MinMaxScaler

    from tda_activations.extract import extract

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-points", type=int, default=10_000)
    ap.add_argument("--knee-sample", type=int, default=1000)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="width 0.25, 2,000 points, one repeat (a smoke test, not the workload)",
    )
    args = ap.parse_args()
    if args.quick:
        args.width, args.max_points, args.repeats = 0.25, 2000, 1

    t0 = time.perf_counter()
    tm, data = _data(args.width)
    acts = extract(tm.model, data, reduction="all_positions", max_points=args.max_points, seed=0)
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; kmapper {km.__version__}"
    )
    print(
        f"model: resnet18 width {args.width} (test accuracy {tm.test_accuracy:.3f}); "
        f"{len(acts.layers)} layers; extraction {time.perf_counter() - t0:.1f} s; load average "
        f"{os.getloadavg()[0]:.1f} at start (shared machine)"
    )
    print(
        f"settings: l2norm lens (min-max), 10 intervals, 50% overlap, DBSCAN min_samples=5, "
        f"knee eps (exact, and on a sample of {args.knee_sample}); median of {args.repeats} "
        "repeats, interleaved"
    )
    print(
        f"{'layer':24s} {'n':>6s} {'dim':>4s} {'nodes':>5s} {'eps':>8s} {'eps err':>8s} "
        f"{'same':>5s} {'same km':>7s} {'kmapper s':>9s} {'exact s':>8s} {'sampled s':>9s}"
    )
    total_km = total_exact = total_sampled = 0.0
    cpu_km: list[float] = []
    cpu_exact: list[float] = []
    worst, same_all, same_km_all = 0.0, True, True
    for layer in acts.layers:
        x = np.asarray(acts.cloud(layer))
        labels = acts.point_labels(layer)
        preds = acts.point_predictions(layer)
        t_km, t_exact, t_sampled = [], [], []
        args_ours = (x, layer, labels, preds, acts.hierarchy)
        same_km = False

        for _ in range(args.repeats):
            t, g = _ours(*args_ours, cpu_exact)
            t_exact.append(t)
            t, gs = _ours(*args_ours, [], knee_sample=args.knee_sample)
            t_sampled.append(t)

            eps = g.params.get("eps")
            if not eps or not np.isfinite(eps):
                t_km.append(float("nan"))
                same_km = not g.nodes
                continue
            t, c = time.perf_counter(), time.process_time()
            mapper = km.KeplerMapper(verbose=0)
            lens = mapper.fit_transform(x, projection="l2norm", scaler=MinMaxScaler())
            raw = mapper.map(
                lens,
                x,
                clusterer=DBSCAN(eps=eps, min_samples=5),
                cover=km.Cover(n_cubes=10, perc_overlap=0.5),
            )
            t_km.append(time.perf_counter() - t)
            cpu_km.append(time.process_time() - c)
            same_km = _same_as_kmapper(g, raw)
        err = abs(gs.params["eps"] - eps) / eps
        same = [n.id for n in g.nodes] == [n.id for n in gs.nodes] and all(
            np.array_equal(a.members, b.members) for a, b in zip(g.nodes, gs.nodes)
        )
        worst, same_all = max(worst, err), same_all and same
        same_km_all = same_km_all and same_km
        km_s, ex_s, sa_s = (statistics.median(v) for v in (t_km, t_exact, t_sampled))
        total_km += km_s
        total_exact += ex_s
        total_sampled += sa_s
        print(
            f"{layer:24s} {x.shape[0]:6d} {x.shape[1]:4d} {len(g.nodes):5d} {eps:8.3g} "
            f"{err:8.1e} {same!s:>5s} {same_km!s:>7s} {km_s:9.3f} {ex_s:8.3f} {sa_s:9.3f}"
        )
    print(
        f"total: kmapper {total_km:.2f} s, ours with the exact knee {total_exact:.2f} s, ours "
        f"with the knee of {args.knee_sample} points {total_sampled:.2f} s; sampled-knee eps "
        f"within {worst:.1%} of the exact knee's (graphs identical on every layer: {same_all})"
    )
    print(
        f"exact-knee graphs identical to kmapper's (members and edges) on every layer: "
        f"{same_km_all}"
    )
    print(f"ours (knee of {args.knee_sample} points)/kmapper: {total_sampled / total_km:.2f}x")
    print(
        f"CPU time (all threads, every repeat; steadier than wall time on a shared machine): "
        f"kmapper {sum(cpu_km):.2f} s, ours with the exact knee {sum(cpu_exact):.2f} s, "
        f"{sum(cpu_exact) / sum(cpu_km):.2f}x"
    )
    print(
        f"ratio (ours with the exact knee)/kmapper, total over layers, target <= 1.3x: "
        f"{total_exact / total_km:.2f}x"
    )


if __name__ == "__main__":
    main()
