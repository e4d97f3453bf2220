"""
Which measures notice that information was removed
==================================================

Sensitivity test (Ding, Denain & Steinhardt 2021): delete a layer's top principal
directions, one fraction at a time, and measure how far each representation moves from
the original (:func:`tda_activations.experiments.sensitivity`), next to a linear probe's
accuracy. Drawn by :func:`tda_activations.plot.sensitivity_curve`.
"""

import matplotlib.pyplot as plt

import tda_activations as ta

tm = ta.models.pretrained("lenet", seed=0)
acts = ta.extract.extract(tm.model, tm.data.test, layers=["conv2"], reduction="top_l2")
result = ta.experiments.sensitivity(
    acts, layers=["conv2"], measures=["linear_cka", "procrustes", "H1:sliced_wasserstein"]
)

with ta.plot.paper_style(column="single", aspect=0.75):
    fig, ax = plt.subplots()
    ta.plot.sensitivity_curve(result, ax=ax)
