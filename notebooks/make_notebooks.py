"""Write the tutorial notebooks (outputs stripped) from the cell sources below.

Run ``.venv/bin/python notebooks/make_notebooks.py`` after editing a cell here; the
``.ipynb`` files are generated, never edited by hand, so git holds no outputs.
``tests/test_notebooks.py`` executes every notebook (and checks that the committed
files are exactly what this script writes).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import logging
import matplotlib.pyplot as plt
import numpy as np
import torch

torch.set_num_threads(2)
logging.basicConfig(level=logging.WARNING)
%matplotlib inline"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

# ------------------------------------------------------------------ 1. quickstart
NOTEBOOKS["01_quickstart.ipynb"] = [
    (
        "md",
        """\
# Quickstart: from a model to diagrams, distances and a Mapper graph

Everything here runs offline on the embedded digits (8x8 images upsampled to 16x16; 1257
training and 540 test images). A zoo model is trained on first use (about half a minute)
and cached by content afterwards.

The flow: **model -> activations (one point cloud per layer) -> persistence diagrams ->
distances between layers -> figures**, plus a Mapper graph of one layer.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from tda_activations import homology, mapper, plot
from tda_activations.extract import extract
from tda_activations.models import pretrained

tm = pretrained("lenet", seed=0)                 # TrainedModel: model, data (Split), accuracy, fingerprint
print(tm.name, "test accuracy", round(tm.test_accuracy, 3))
acts = extract(tm.model, tm.data.test, reduction="top_l2", seed=0)   # ActivationSet
for layer in acts.layers:
    print(f"{layer:8s} cloud {acts.cloud(layer).shape}")""",
    ),
    (
        "md",
        """\
## Persistence diagrams of every layer

`layer_persistence` computes Vietoris-Rips persistence (H0 and H1) of each layer's cloud,
layers in parallel processes. Essential bars (death = infinity) are drawn as triangles on
the dashed line.""",
    ),
    (
        "code",
        """\
diagrams = homology.layer_persistence(acts, maxdim=1, n_jobs=2)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), layout="constrained")
plot.persistence_diagram(diagrams["conv2"], ax=axes[0])
plot.barcode(diagrams["conv2"], ax=axes[1], dims=1)""",
    ),
    (
        "code",
        """\
plot.betti_curves(diagrams, dim=1, scale="relative");""",
    ),
    (
        "md",
        """\
## Distances between layers

The sliced Wasserstein distance between the H1 diagrams of every pair of layers (the core
paper's choice), as a `LayerMatrix`. Any `LayerMatrix` draws with `layer_heatmap`: a
distance gets a different colour map from a similarity; lighter always means closer.""",
    ),
    (
        "code",
        """\
sw = homology.distance_matrix(diagrams, metric="sliced_wasserstein", dim=1, n_directions=50)
sw.to_pandas().round(2)""",
    ),
    (
        "code",
        """\
plot.layer_heatmap(sw, annotate="{:.0f}");""",
    ),
    (
        "md",
        """\
## A Mapper graph of one layer

Paper defaults: lens = L2 norm of each activation vector, 10 intervals with 50% overlap,
DBSCAN with `eps` at the knee. Nodes are pie charts of the classes of their members; the
digits also have a coarse level (`loop` vs `stroke` digits).""",
    ),
    (
        "code",
        """\
result = mapper.layer_mapper(acts, layers=["conv1", "fc1"])
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), layout="constrained")
plot.mapper_pie_graph(result, layer="conv1", level="fine", ax=axes[0])
plot.mapper_pie_graph(result, layer="fc1", level="fine", ax=axes[1])
result.to_pandas()[["depth", "n_nodes", "purity_fine", "purity_coarse", "n_components"]]""",
    ),
    (
        "md",
        """\
## A figure for a paper

`paper_style()` sets fonts and sizes for a single (3.5 in) or double (7.16 in) column and a
colour-blind-safe palette, only inside the `with` block. `save` writes PDF, PNG and SVG
next to a JSON file recording what drew the figure (result fingerprints, parameters,
package version).""",
    ),
    (
        "code",
        """\
import json, tempfile
from pathlib import Path

out_dir = Path(tempfile.mkdtemp())
with plot.paper_style(column="single") as style:
    fig, ax = plt.subplots(figsize=style.figsize)
    plot.layer_heatmap(sw, ax=ax)
    files = plot.save(fig, out_dir / "lenet_sw", metadata={"model": tm.name, "seed": tm.seed})
print(sorted(p.name for p in files.values()))
print(json.dumps(json.loads(files["json"].read_text())["sources"][0], indent=1)[:600])""",
    ),
]

# ------------------------------------------------------------ 2. the core paper
NOTEBOOKS["02_core_paper.ipynb"] = [
    (
        "md",
        """\
# The core paper's experiments (arXiv 2212.00222), small

* per-layer persistence of a CIFAR-style ResNet-18 (17 convolutions, top-L2 point per image),
* sliced-Wasserstein distances between the H1 diagrams of every pair of layers,
* sensitivity (delete principal directions, does the distance notice?) and specificity
  (does a layer's nearest layer in another seed's model sit at the same depth?),
* the Mapper class hierarchy by depth.

**Small settings, so the notebook runs in about two minutes on two cores:** the embedded
digits (540 test images, not CIFAR's 1000), a narrow ResNet-18 (width 0.25), two seeds
instead of 100, three layers in the sensitivity test, every fourth layer for Mapper.
The code is the same at full size: raise those numbers.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from tda_activations import experiments as ex, homology, mapper, plot
from tda_activations.extract import extract
from tda_activations.models import pretrained

models = {f"seed{s}": pretrained("resnet18", seed=s) for s in (0, 1)}
acts = {name: extract(tm.model, tm.data.test, layers="*conv*", reduction="top_l2", seed=0)
        for name, tm in models.items()}
a0 = acts["seed0"]
print(len(a0.layers), "conv layers;", {k: round(tm.test_accuracy, 3) for k, tm in models.items()})""",
    ),
    ("md", "## Per-layer persistence and the 17 x 17 sliced-Wasserstein matrix"),
    (
        "code",
        """\
dgms = homology.layer_persistence(a0, maxdim=1, n_jobs=2)
sw = homology.distance_matrix(dgms, metric="sliced_wasserstein", dim=1, n_directions=50)
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
plot.layer_heatmap(sw, ax=axes[0], blocks="auto", title="ResNet-18, H1 sliced Wasserstein")
plot.betti_curves(dgms, ax=axes[1], dim=1, scale="relative")""",
    ),
    (
        "md",
        """\
## Sensitivity

Delete a growing fraction of a layer's principal directions (lowest variance first) and
measure the dissimilarity to the original cloud. A useful measure grows as information is
removed. Lines are normalised to their maximum so the two measures share an axis.""",
    ),
    (
        "code",
        """\
layers = [a0.layers[2], a0.layers[8], a0.layers[15]]
sens = ex.sensitivity(a0, layers=layers, measures=["H1:sliced_wasserstein", "linear_cka"],
                      fractions=(0.25, 0.5, 0.75, 0.9))
fig, axes = plt.subplots(1, 3, figsize=(11, 3.2), layout="constrained", sharey=True)
for ax, layer in zip(axes, layers):
    plot.sensitivity_curve(sens, layer=layer, ax=ax, normalize=True)
sens.table.to_pandas()""",
    ),
    (
        "md",
        """\
## Specificity: layer correspondence across seeds

For every layer of one model, is the closest layer of the other seed's model the one at the
same depth? (Ding, Denain & Steinhardt 2021.) With two seeds there are two ordered pairs.""",
    ),
    (
        "code",
        """\
corr = ex.layer_correspondence(acts, measures=["H1:sliced_wasserstein", "linear_cka"],
                               n_permutations=199, n_bootstrap=200)
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
plot.correspondence_curve(corr, ax=axes[0])
plot.cross_model_heatmap(corr.matrix("sliced_wasserstein[H1,M=50]", "seed0", "seed1"),
                         row_model="seed0", col_model="seed1", ax=axes[1])
corr.table.to_pandas()[["measure", "accuracy", "ci_low", "ci_high", "p_value", "chance"]]""",
    ),
    (
        "md",
        """\
## Mapper class hierarchy by depth

Early layers mix the classes; deeper layers separate them, first by superclass (loop vs
stroke digits), then by class.""",
    ),
    (
        "code",
        """\
chosen = list(a0.layers[::4]) + [a0.layers[-1]]
lm = mapper.layer_mapper(a0, layers=chosen)
plot.hierarchy_trend(lm)
lm.to_pandas()[["depth", "n_nodes", "purity_fine", "purity_coarse", "cophenetic_correlation"]]""",
    ),
    (
        "code",
        """\
fig, axes = plt.subplots(1, 3, figsize=(12, 4.2), layout="constrained")
plot.mapper_pie_graph(lm, layer=chosen[0], level="coarse", ax=axes[0])
plot.mapper_pie_graph(lm, layer=chosen[-1], level="fine", ax=axes[1])
plot.class_dendrogram(lm, layer=chosen[2], ax=axes[2])""",
    ),
]

# ---------------------------------------------------------- 3. architectures
NOTEBOOKS["03_architectures.ipynb"] = [
    (
        "md",
        """\
# Comparing architectures: MLP, LeNet, ResNet-18, DenseNet

Topological (sliced Wasserstein between H1 diagrams) and representational (linear CKA)
measures between every layer of four architectures trained on the same digits, and an
MDS embedding of all layers: one trajectory per model, from first layer to last.

Small settings: the 540 embedded test digits, one seed per architecture, the zoo's default
widths; about two minutes on two cores (most of it training the four models on first use).""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from tda_activations import homology, plot, similarity
from tda_activations.extract import extract
from tda_activations.models import pretrained
from tda_activations.types import ActivationSet

names = ["mlp", "lenet", "resnet18", "densenet"]
zoo = {n: pretrained(n, seed=0) for n in names}
acts = {n: extract(tm.model, tm.data.test, reduction="top_l2", seed=0) for n, tm in zoo.items()}
for n in names:
    print(f"{n:9s} accuracy {zoo[n].test_accuracy:.3f}  layers {len(acts[n].layers)}")""",
    ),
    ("md", "## Topology: every layer of every model against every other"),
    (
        "code",
        """\
dgms = {n: homology.layer_persistence(acts[n], maxdim=1, n_jobs=2) for n in names}
sw_all = homology.distance_matrix(homology.stack_models(dgms), metric="sliced_wasserstein", dim=1)
print(sw_all.shape)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
plot.cross_model_heatmap(sw_all, ax=axes[0], layer_ticks=False)
plot.layer_embedding(sw_all, ax=axes[1], title="MDS of H1 sliced-Wasserstein distances")""",
    ),
    (
        "md",
        """\
## Representational similarity: linear CKA

All models see the same images in the same order, so their clouds can be put into one
`ActivationSet` (layer names `model/layer`) and compared with any similarity measure. A
similarity becomes a distance for MDS as `sqrt(2 - 2 CKA)`.""",
    ),
    (
        "code",
        """\
joint = ActivationSet(
    clouds={f"{n}/{l}": acts[n].cloud(l) for n in names for l in acts[n].layers},
    sample_index={f"{n}/{l}": acts[n].sample_index[l] for n in names for l in acts[n].layers},
    labels=acts["mlp"].labels, hierarchy=acts["mlp"].hierarchy, reduction="top_l2",
)
cka_all = similarity.similarity_matrix(joint, measure="linear_cka")
fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
plot.cross_model_heatmap(cka_all, ax=axes[0], layer_ticks=False)
plot.layer_embedding(cka_all, ax=axes[1], title="MDS of linear CKA")""",
    ),
    ("md", "## Two architectures layer by layer"),
    (
        "code",
        """\
cross = similarity.cross_similarity_matrix(acts["resnet18"], acts["densenet"], measure="linear_cka")
plot.cross_model_heatmap(cross, row_model="resnet18", col_model="densenet");""",
    ),
]

# ------------------------------------------------------------------ 4. probes
NOTEBOOKS["04_probes.ipynb"] = [
    (
        "md",
        """\
# Probes: mean dimension, correlation order, invariance, architecture

Each probe returns a frozen result with `to_pandas()`, and each result has its figure.

Small settings: 100-200 rows for the mean-dimension estimators and 200 images for
invariance (the estimators' standard errors are drawn); about a minute on two cores.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from tda_activations import plot, probes
from tda_activations.models import pretrained

tm = pretrained("lenet", seed=0)
test = tm.data.test""",
    ),
    (
        "md",
        """\
## Mean dimension per layer

How many input (PCA) directions interact in each layer's output, and how many of a layer's
directions interact in the model's output (Hahn, Feinauer & Borgonovo 2022).""",
    ),
    (
        "code",
        """\
profile = probes.mean_dimension_profile(tm.model, test, n_components=16, n_rows=150, seed=0)
plot.mean_dimension_profile(profile)
profile.to_pandas().round(3)""",
    ),
    ("md", "## Which pixels matter: total Sobol' indices over the input image"),
    (
        "code",
        """\
ti = probes.logit_total_indices(tm.model, test, features="inputs", n_rows=100, seed=0)
fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), layout="constrained")
plot.index_heatmap(ti, ax=axes[0])
plot.index_heatmap(ti, output=3, ax=axes[1], image=test.images[int(np.flatnonzero(test.labels == 3)[0])])
plot.index_heatmap(ti, output=7, ax=axes[2], image=test.images[int(np.flatnonzero(test.labels == 7)[0])])""",
    ),
    (
        "md",
        """\
## Correlation order

Replace a layer by Gaussian surrogates that keep only class means and covariances: where the
surrogate accuracy reaches the model's, the layer's class information is second order
(Fischer et al. 2022).""",
    ),
    (
        "code",
        """\
co = probes.correlation_order(tm.model, tm.data)
plot.correlation_order_accuracy(co);""",
    ),
    ("md", "## Invariance to flips, by depth, for two architectures"),
    (
        "code",
        """\
res = pretrained("resnet18", seed=0)
inv = {name: probes.invariance_scores(m.model, test, group="flips", max_images=200, seed=0)
       for name, m in {"lenet": tm, "resnet18": res}.items()}
plot.invariance_profile(inv);""",
    ),
    ("md", "## Architecture metrics from the module graph"),
    (
        "code",
        """\
reports = {n: probes.architecture_metrics(pretrained(n, seed=0).model, input_shape=test.image_shape)
           for n in ["mlp", "lenet", "resnet18", "densenet"]}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
plot.architecture_profile(reports, metric="output_dim", ax=axes[0])
plot.architecture_profile(reports, metric="receptive_field", ax=axes[1])
import pandas as pd
pd.DataFrame([r.totals() for r in reports.values()])""",
    ),
]

# ------------------------------------------------------------------ 5. transformers
NOTEBOOKS["05_transformers.ipynb"] = [
    (
        "md",
        """\
# Topology of a transformer's residual stream: modular addition

A one-block transformer trained on `(a + b) mod 59` (tokens `a, b, =`; 60% of the 3481
pairs for training). Such networks are known to solve the task with Fourier features: the
residues' embeddings lie on circles, one per *key frequency* (Nanda et al. 2023, "Progress
measures for grokking via mechanistic interpretability"). Here we look for those circles
with persistent homology and Mapper, layer by layer.

The model is trained on first use (about half a minute on a quiet 2-core machine) and
cached by content afterwards. Everything runs offline.""",
    ),
    ("code", SETUP),
    (
        "code",
        """\
from tda_activations import plot
from tda_activations.datasets.modular import frequency_plane, frequency_power, key_frequencies
from tda_activations.homology import persistence
from tda_activations.mapper import mapper_graph
from tda_activations.models import pretrained_modular_addition, token_states

tm = pretrained_modular_addition(seed=0)     # TrainedModularModel: model, data, accuracies
p = tm.params["p"]
print(f"p = {p}: train accuracy {tm.train_accuracy:.3f}, test accuracy {tm.test_accuracy:.3f}")""",
    ),
    (
        "md",
        """\
## The embedding matrix in the Fourier basis

`frequency_power` splits the squared norm of the residue embedding `W_E` (59 rows) over
the frequencies `1 .. 29`; a model that learned Fourier features puts most of it on a
few key frequencies.""",
    ),
    (
        "code",
        """\
W = tm.model.residue_embedding.detach().double().numpy()
power = frequency_power(W)
keys = key_frequencies(W, n=5)
fig, ax = plt.subplots(figsize=(7, 2.5), layout="constrained")
ax.bar(np.arange(1, power.size + 1), power / power.sum())
ax.set_xlabel("frequency"); ax.set_ylabel("share of |W_E|^2")
print("key frequencies:", keys.tolist())""",
    ),
    (
        "md",
        """\
## Circles: the residues on the plane of each key frequency

Projected onto the plane of a key frequency, the 59 residues go round a closed curve in
the order `k -> f k mod p`. Persistence finds it as one long H1 bar.""",
    ),
    (
        "code",
        """\
fig, axes = plt.subplots(1, 3, figsize=(10, 3.3), layout="constrained")
for ax, f in zip(axes, keys[:3]):
    xy = frequency_plane(W, int(f))
    ax.scatter(xy[:, 0], xy[:, 1], c=(int(f) * np.arange(p)) % p, cmap="twilight", s=14)
    h1 = persistence(xy, maxdim=1)[1]
    life = np.sort(h1[:, 1] - h1[:, 0])[::-1]
    ax.set_title(f"frequency {f}: H1 bars {np.round(life[:2], 3).tolist()}", fontsize=9)
    ax.set_aspect("equal")""",
    ),
    (
        "code",
        """\
raw = persistence(W, maxdim=1, label="W_E")
plot.barcode(raw, dims=1);""",
    ),
    (
        "md",
        """\
## The residual stream at `=`, layer by layer

`token_states` hooks the blocks (the project's `capture`) and returns every position's
state. Over all 3481 pairs the `=` position is a large cloud (subsampled greedily for H1);
its mean over the pairs with the same sum `(a + b) mod p` is 59 points, one per answer.""",
    ),
    (
        "code",
        """\
every = tm.data.all_pairs
states = token_states(tm.model, every.tokens, layers=["blocks.0.attn", "blocks.0"])
rows = []
for layer in ["blocks.0.attn", "blocks.0"]:
    eq = states[layer][:, -1]
    means = np.stack([eq[every.labels == c].mean(axis=0) for c in range(p)])
    for what, cloud, mp in (("all pairs", eq, 300), ("mean per sum", means, None)):
        h1 = persistence(cloud, maxdim=1, max_points=mp, seed=0)[1]
        life = np.sort(h1[:, 1] - h1[:, 0])[::-1]
        rows.append({"layer": layer, "cloud": what, "H1 bars": len(life),
                     "longest": life[0] if len(life) else 0.0,
                     "2nd": life[1] if len(life) > 1 else 0.0})
import pandas as pd
pd.DataFrame(rows).round(4)""",
    ),
    (
        "md",
        """\
## Mapper of the `=` stream after the block, coloured by the sum

A PCA lens with two components; each node is coloured by the mean angle of its sums on
the circle of the strongest key frequency.""",
    ),
    (
        "code",
        """\
eq = states["blocks.0"][:, -1]
graph = mapper_graph(eq, lens="pca", lens_params={"n_components": 2}, n_intervals=8,
                     overlap=0.5, min_samples=3)
from tda_activations.mapper import to_networkx
import networkx as nx
g = to_networkx(graph)
angle = 2 * np.pi * int(keys[0]) * every.labels / p
colour = [np.angle(np.exp(1j * angle[np.asarray(n.members)]).mean()) for n in graph.nodes]
loops = g.number_of_edges() - g.number_of_nodes() + nx.number_connected_components(g)
fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
nx.draw(g, pos=nx.spring_layout(g, seed=0), node_color=colour, cmap="twilight", node_size=40, ax=ax)
ax.set_title(f"{g.number_of_nodes()} nodes, {loops} independent loops");""",
    ),
]


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` with outputs stripped."""
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    cells = []
    for i, (kind, src) in enumerate(NOTEBOOKS[name]):
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        cell["id"] = f"{Path(name).stem.split('_')[0]}-{i:02d}"
        cells.append(cell)
    nb.cells = cells
    return nb


def render(name: str) -> str:
    """The notebook's file content, exactly as written to disk."""
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str]) -> int:
    for name in NOTEBOOKS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
