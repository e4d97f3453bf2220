"""
How invariant each layer is to a group of transformations
==========================================================

Invariance of every layer of the zoo LeNet-5 to horizontal and vertical flips of the
digits (:func:`tda_activations.probes.invariance_scores`), drawn by
:func:`tda_activations.plot.invariance_profile`.
"""

import matplotlib.pyplot as plt

import tda_activations as ta

tm = ta.models.pretrained("lenet", seed=0)
result = ta.probes.invariance_scores(tm.model, tm.data.test, group="flips")

with ta.plot.paper_style(column="single", aspect=0.75):
    fig, ax = plt.subplots()
    ta.plot.invariance_profile(result, ax=ax)
