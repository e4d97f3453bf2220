"""
Every layer of two architectures in one picture
===============================================

The H1 sliced-Wasserstein distances between every layer of the zoo MLP and LeNet-5,
embedded in the plane by classical MDS (:func:`tda_activations.plot.layer_embedding`):
one trajectory per model, from input to logits.
"""

import matplotlib.pyplot as plt

import tda_activations as ta

dgms = {}
for name in ("mlp", "lenet"):
    tm = ta.models.pretrained(name, seed=0)
    acts = ta.extract.extract(tm.model, tm.data.test, reduction="top_l2")
    dgms[name] = ta.homology.layer_persistence(acts, maxdim=1)
sw = ta.homology.distance_matrix(ta.homology.stack_models(dgms), metric="sliced_wasserstein", dim=1)

with ta.plot.paper_style(column="single", aspect=0.9):
    fig, ax = plt.subplots()
    ta.plot.layer_embedding(sw, ax=ax)
