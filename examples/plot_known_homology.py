"""
Persistence diagrams of shapes with known homology
==================================================

A noisy circle has one long H1 bar; a torus has two. The diagrams are computed by
:func:`tda_activations.homology.persistence` and drawn by
:func:`tda_activations.plot.persistence_diagram`.
"""

import matplotlib.pyplot as plt

import tda_activations as ta

circle = ta.datasets.make_circle(200, noise=0.05, seed=0)
torus = ta.datasets.make_torus(400, seed=0)

with ta.plot.paper_style(column="double", aspect=0.45):
    fig, axes = plt.subplots(1, 2)
    ta.plot.persistence_diagram(ta.homology.persistence(circle, maxdim=1), ax=axes[0])
    axes[0].set_title("circle: one long H1 bar")
    ta.plot.persistence_diagram(ta.homology.persistence(torus, maxdim=1), ax=axes[1])
    axes[1].set_title("torus: two long H1 bars")
