"""Layer labels of the MDS trajectories (``plot.layer_embedding``) never overlap."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Text

from tda_activations import plot as tp
from tda_activations.types import LayerMatrix

NAMES = ["conv1"] + [f"layer{s}.{b}.conv{c}" for s in range(1, 5) for b in range(2) for c in (1, 2)]


def _models(n_models: int, *, seed: int = 0) -> LayerMatrix:
    """``n_models`` trajectories of 17 layers that all start at one spot and end close
    together (as seeds of one architecture do): every end label competes for room."""
    rng = np.random.default_rng(seed)
    pts, labels = [], []
    depth = len(NAMES)
    for m in range(n_models):
        t = np.linspace(0, 1, depth)
        xy = np.c_[t * np.cos(0.4 * m * t + 0.2 * m), t * np.sin(0.4 * m * t)]
        xy += 0.01 * rng.normal(size=(depth, 2))
        xy[0] = 0.005 * rng.normal(size=2)
        xy[-1] = [1.0, 0.3] + 0.02 * rng.normal(size=2)
        pts.append(xy)
        labels += [f"seed{m}/{n}" for n in NAMES]
    x = np.vstack(pts)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    return LayerMatrix(values=d, row_labels=labels, col_labels=labels, measure="x", kind="distance")


@pytest.mark.parametrize("n_models", [2, 4, 5])
def test_end_labels_do_not_overlap(n_models):
    fig, ax = plt.subplots(figsize=(6, 5))
    try:
        tp.layer_embedding(_models(n_models), ax=ax)
        fig.draw_without_rendering()
        r = fig.canvas.get_renderer()
        texts = [t for t in ax.texts if t.get_text()]
        assert sorted(t.get_text() for t in texts) == sorted(["conv1", "layer4.1.conv2"] * n_models)
        # the texts' own boxes (an Annotation's extent also covers its leader line)
        boxes = [Text.get_window_extent(t, r) for t in texts]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert not boxes[i].overlaps(boxes[j]), (texts[i].get_text(), texts[j].get_text())
        # each label stays near its point (offsets in points), on the axes
        px_per_pt = fig.dpi / 72.0
        for t, b in zip(texts, boxes):
            anchor = ax.transData.transform(t.xy)
            nearest = np.clip(anchor, [b.x0, b.y0], [b.x1, b.y1])
            assert np.hypot(*(nearest - anchor)) / px_per_pt < 60
    finally:
        plt.close(fig)


def test_a_single_label_keeps_its_small_offset():
    fig, ax = plt.subplots()
    try:
        tp.layer_embedding(_models(1), ax=ax)
        offsets = [np.hypot(*t.get_position()) for t in ax.texts]
        assert len(offsets) == 2 and max(offsets) == pytest.approx(5.0)
        assert all(t.arrow_patch is None for t in ax.texts)
    finally:
        plt.close(fig)
