"""Generate the README's figures into docs/figures/ (PNG, plus the sidecar JSON of each).

    .venv/bin/python benchmarks/make_readme_figures.py

1. ``resnet18_sw_heatmap.png``: the 17 x 17 H1 sliced-Wasserstein matrix of the
   CIFAR-style ResNet-18's convolutions on the embedded digits (540 test images, top-L2
   point per image), with stage separators;
2. ``resnet18_mapper_pies.png``: Mapper graphs (paper defaults) of an early and a late
   layer, nodes as pie charts of the coarse and fine classes;
3. ``zoo_layer_embedding.png``: classical MDS of the sliced-Wasserstein distances between
   every layer of the four zoo architectures, one trajectory per model.

Everything is drawn with the library's plot functions inside ``paper_style`` and written
with ``save``; nothing is edited by hand.  Runs offline in about a minute once the zoo
weights are cached (training them first takes a minute or two more).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

OUT = Path(__file__).resolve().parent.parent / "docs" / "figures"
DPI = 300  # print resolution


def main() -> None:
    import torch

    from tda_activations import homology, mapper, plot
    from tda_activations.extract import extract
    from tda_activations.models import pretrained

    torch.set_num_threads(2)
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    names = ["mlp", "lenet", "resnet18", "densenet"]
    zoo = {n: pretrained(n, seed=0) for n in names}
    acts = {n: extract(zoo[n].model, zoo[n].data.test, reduction="top_l2", seed=0) for n in names}
    res_conv = acts["resnet18"].select([l for l in acts["resnet18"].layers if "conv" in l])
    dgms = {n: homology.layer_persistence(acts[n], maxdim=1, n_jobs=2) for n in names}
    res_dgms = {l: dgms["resnet18"][l] for l in res_conv.layers}
    print(f"models, activations and diagrams: {time.perf_counter() - t0:.1f} s")

    # 1. the 17 x 17 heatmap
    sw = homology.distance_matrix(res_dgms, metric="sliced_wasserstein", dim=1, n_directions=50)
    with plot.paper_style(column="single"):
        # a new figure: sized by the heatmap rule, labelled by plot.figure_label
        fig = plot.layer_heatmap(sw, blocks="auto").figure
        plot.save(
            fig,
            OUT / "resnet18_sw_heatmap",
            formats=("png",),
            dpi=DPI,
            metadata={
                "model": "resnet18",
                "seed": 0,
                "data": "digits/test (540)",
                "reduction": "top_l2",
                "layers": list(res_conv.layers),
            },
        )
        plt.close(fig)

    # 2. mapper pie graphs at an early and a late layer
    early, late = res_conv.layers[1], res_conv.layers[-1]
    lm = mapper.layer_mapper(res_conv, layers=[early, late])
    with plot.paper_style(column="double", aspect=0.5):
        fig, axes = plt.subplots(1, 3)
        plot.mapper_pie_graph(lm, layer=early, level="fine", ax=axes[0], legend_cols=5)
        plot.mapper_pie_graph(lm, layer=late, level="coarse", ax=axes[1])
        plot.mapper_pie_graph(lm, layer=late, level="fine", ax=axes[2], legend_cols=5)
        plot.save(
            fig,
            OUT / "resnet18_mapper_pies",
            formats=("png",),
            dpi=DPI,
            metadata={
                "model": "resnet18",
                "seed": 0,
                "layers": [early, late],
                "mapper": "l2norm lens, 10 intervals, 50% overlap, DBSCAN knee eps",
            },
        )
        plt.close(fig)

    # 3. MDS of every layer of the four architectures
    sw_all = homology.distance_matrix(
        homology.stack_models(dgms), metric="sliced_wasserstein", dim=1
    )
    with plot.paper_style(column="single", aspect=1.1):
        fig, ax = plt.subplots()
        plot.layer_embedding(sw_all, ax=ax, annotate="ends")
        plot.save(
            fig,
            OUT / "zoo_layer_embedding",
            formats=("png",),
            dpi=DPI,
            metadata={"models": names, "seed": 0, "measure": sw_all.measure},
        )
        plt.close(fig)
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
