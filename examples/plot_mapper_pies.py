"""
A Mapper graph with the class composition of its nodes
======================================================

The core paper's Mapper settings (L2-norm lens, 10 intervals, 50% overlap, DBSCAN with
eps at the knee) on the last hidden layer of the zoo LeNet-5; each node is a pie chart of
the digit classes it holds (:func:`tda_activations.plot.mapper_pie_graph`).
"""

import matplotlib.pyplot as plt

import tda_activations as ta

tm = ta.models.pretrained("lenet", seed=0)
acts = ta.extract.extract(tm.model, tm.data.test, layers=["fc2"], reduction="flatten")
lm = ta.mapper.layer_mapper(acts)

with ta.plot.paper_style(column="single", aspect=0.9):
    fig, ax = plt.subplots()
    ta.plot.mapper_pie_graph(lm, layer="fc2", level="fine", ax=ax)
