"""
Token clouds of a vision transformer, block by block
====================================================

A transformer block outputs ``(batch, tokens, features)``: the layout ``"tokens"`` makes
every token a point of the block's width (never a cloud of dimension "number of tokens").
Here the zoo's tiny ViT (16x16 digits cut into 4x4 patches plus a CLS token, width 48;
randomly initialised, so the figure shows the pipeline rather than what training learns)
on 200 digits: every token of every image is a point, at most 600 per block, and the H1
sliced-Wasserstein distance compares the blocks'
persistence diagrams (:func:`tda_activations.plot.layer_heatmap`).
"""

import matplotlib.pyplot as plt

import tda_activations as ta

data = ta.datasets.load_digits(upsample=2).test.subset(range(200))
vit = ta.models.build_model("vit", image_size=16, seed=0)
acts = ta.extract.extract(
    vit,
    data,
    layers="blocks.*",
    layout={"blocks.*": "tokens"},
    reduction="all_positions",
    max_points=600,
)
print({layer: acts.layouts[layer] for layer in acts.layers})
dgms = ta.homology.layer_persistence(acts, maxdim=1, n_jobs=1)
sw = ta.homology.distance_matrix(dgms, metric="sliced_wasserstein", dim=1, n_directions=50)

with ta.plot.paper_style(column="double", aspect=0.4):
    fig, axes = plt.subplots(1, 2)
    ta.plot.persistence_diagram(dgms[acts.layers[-1]], ax=axes[0])
    axes[0].set_title(f"{acts.layers[-1]}: every token a point")
    ta.plot.layer_heatmap(sw, ax=axes[1])
