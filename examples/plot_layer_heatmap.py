"""
Distances between the layers of one network
===========================================

Every convolution and linear layer of the zoo LeNet-5 on the embedded digits: one
``top_l2`` point per image, H1 persistence per layer, and the sliced-Wasserstein distance
(M = 50) between every pair of layers, drawn by :func:`tda_activations.plot.layer_heatmap`.
"""

import matplotlib.pyplot as plt

import tda_activations as ta

tm = ta.models.pretrained("lenet", seed=0)
acts = ta.extract.extract(tm.model, tm.data.test, reduction="top_l2")
dgms = ta.homology.layer_persistence(acts, maxdim=1)
sw = ta.homology.distance_matrix(dgms, metric="sliced_wasserstein", dim=1, n_directions=50)

with ta.plot.paper_style(column="single", aspect=0.9):
    fig, ax = plt.subplots()
    ta.plot.layer_heatmap(sw, ax=ax)
