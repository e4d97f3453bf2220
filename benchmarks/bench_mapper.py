"""Mapper for every layer of the zoo ResNet-18 (full width, up to 512 channels), 10,000 points.

For each layer, in the same run and interleaved:

* **kmapper**: a plain kmapper call with the same settings - its own ``l2norm``
  projection with ``MinMaxScaler``, ``Cover(n_cubes=10, perc_overlap=0.5)``,
  ``DBSCAN(eps, min_samples=5)`` with the eps our knee chose;
* **ours**: :func:`tda_activations.mapper.mapper_graph` (lens, knee eps, kmapper,
  typed graph) + :func:`hierarchy_compositions` + :func:`hierarchy_summary`.

Our overhead is ``ours - kmapper`` (knee, conversion, compositions, summaries); the
last line is the total overhead over the total kmapper time (target: at most 1.5x).

Points: every spatial position of every digit (train + test, 1797 images, 16x16 input)
at each conv layer's output, 10,000 drawn at random per layer (fewer where a layer
has fewer positions: the last stage has 2x2 positions, the linear layer one point per
image).

Run: ``.venv/bin/python benchmarks/bench_mapper.py [--repeats 3] [--max-points 10000]``
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np


def _data():
    from tda_activations.models import pretrained
    from tda_activations.types import ImageDataset

    tm = pretrained("resnet18", width=1.0)
    tr, te = tm.data.train, tm.data.test
    both = ImageDataset(
        images=np.concatenate([tr.images, te.images]),
        labels=np.concatenate([tr.labels, te.labels]),
        hierarchy=te.hierarchy, name="digits/all",
        sample_ids=np.concatenate([tr.sample_ids, te.sample_ids]),
    )
    return tm, both


def main() -> None:
    import kmapper as km
    from sklearn.cluster import DBSCAN
    from sklearn.preprocessing import MinMaxScaler

    from tda_activations.extract import extract
    from tda_activations.mapper import hierarchy_compositions, hierarchy_summary, mapper_graph

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-points", type=int, default=10_000)
    args = ap.parse_args()

    t0 = time.perf_counter()
    tm, data = _data()
    acts = extract(tm.model, data, reduction="all_positions", max_points=args.max_points, seed=0)
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; kmapper {km.__version__}")
    print(f"model: resnet18 width 1.0 (test accuracy {tm.test_accuracy:.3f}); "
          f"{len(acts.layers)} layers; extraction {time.perf_counter() - t0:.1f} s")
    print(f"settings: l2norm lens (min-max), 10 intervals, 50% overlap, DBSCAN min_samples=5, "
          f"knee eps; median of {args.repeats} repeats, interleaved")
    print(f"{'layer':24s} {'n':>6s} {'dim':>4s} {'nodes':>5s} {'eps':>8s} "
          f"{'kmapper s':>9s} {'ours s':>8s} {'overhead':>8s} {'ratio':>6s}")
    total_km = total_ours = 0.0
    for layer in acts.layers:
        x = np.asarray(acts.cloud(layer))
        labels = acts.point_labels(layer)
        preds = acts.point_predictions(layer)
        t_km, t_ours = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = mapper_graph(x, label=layer)
            comps = hierarchy_compositions(g, labels, acts.hierarchy, predictions=preds)
            hierarchy_summary(g, labels, acts.hierarchy, compositions=comps)
            t_ours.append(time.perf_counter() - t)

            eps = g.params.get("eps")
            if not eps or not np.isfinite(eps):
                t_km.append(float("nan"))
                continue
            t = time.perf_counter()
            mapper = km.KeplerMapper(verbose=0)
            lens = mapper.fit_transform(x, projection="l2norm", scaler=MinMaxScaler())
            raw = mapper.map(lens, x, clusterer=DBSCAN(eps=eps, min_samples=5),
                             cover=km.Cover(n_cubes=10, perc_overlap=0.5))
            t_km.append(time.perf_counter() - t)
            assert len(raw["nodes"]) == len(g.nodes), (layer, len(raw["nodes"]), len(g.nodes))
        km_s, ours_s = statistics.median(t_km), statistics.median(t_ours)
        total_km += km_s
        total_ours += ours_s
        print(f"{layer:24s} {x.shape[0]:6d} {x.shape[1]:4d} {len(g.nodes):5d} {eps:8.3g} "
              f"{km_s:9.3f} {ours_s:8.3f} {ours_s - km_s:8.3f} {(ours_s - km_s) / km_s:5.2f}x")
    print(f"total: kmapper {total_km:.2f} s, ours {total_ours:.2f} s "
          f"(ours/kmapper {total_ours / total_km:.2f}x)")
    print(f"ratio (overhead/kmapper, target <= 1.5x): {(total_ours - total_km) / total_km:.2f}x")


if __name__ == "__main__":
    main()
