"""A transparent group-invariant prototype of a CNN: orbit pooling, PCA, a linear classifier.

The prototype is an ordinary :class:`torch.nn.Module` with three named layers,
so every probe (invariance, equivariance, separability, architecture metrics,
extraction) runs on it exactly as on a zoo CNN:

``representation``
    :class:`OrbitPooling`: features of every transform of the image, averaged
    (or max-pooled) over the group orbit.  If the feature map is equivariant
    (or the identity, the default: raw pixels) and the transforms form a group,
    the result is exactly invariant to the group.
``reduction``
    PCA fitted on the training split, as a linear layer.
``classifier``
    Multinomial logistic regression (scikit-learn) on the PCA scores, as a
    linear layer producing logits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..types import ImageDataset
from .transforms import TensorFn, Transform, as_group

__all__ = ["GroupInvariantPrototype", "OrbitPooling", "fit_group_invariant_prototype"]

log = logging.getLogger(__name__)


class OrbitPooling(nn.Module):
    """Pool features over the orbit of each image under a group of transforms.

    Parameters
    ----------
    group
        The transforms (see :func:`~.transforms.as_group`).
    features
        Module applied to each transformed batch before pooling; ``None``
        flattens the pixels.
    pooling
        ``"mean"`` or ``"max"`` over the orbit.
    """

    def __init__(
        self, group: Sequence[Transform], features: nn.Module | None = None, pooling: str = "mean"
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "max"):
            raise ValueError(f"pooling must be 'mean' or 'max', got {pooling!r}")
        self.group = tuple(group)
        self.features = features if features is not None else nn.Flatten()
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        stack = torch.stack([self.features(t(x)).flatten(1) for t in self.group])
        return stack.mean(dim=0) if self.pooling == "mean" else stack.amax(dim=0)

    def extra_repr(self) -> str:  # noqa: D102
        return f"group={[t.name for t in self.group]}, pooling={self.pooling!r}"


class GroupInvariantPrototype(nn.Module):
    """Orbit-pooled representation -> PCA -> linear classifier (see the module docstring).

    Parameters
    ----------
    representation
        The orbit pooling of the features over the group.
    reduction
        The PCA projection, as a linear layer.
    classifier
        The linear classifier on the PCA coordinates.
    """

    def __init__(
        self, representation: OrbitPooling, reduction: nn.Linear, classifier: nn.Linear
    ) -> None:
        super().__init__()
        self.representation = representation
        self.reduction = reduction
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.classifier(self.reduction(self.representation(x)))


def fit_group_invariant_prototype(
    train: ImageDataset,
    *,
    group: str | Transform | Sequence[Transform | TensorFn] = "flips",
    pooling: str = "mean",
    features: nn.Module | None = None,
    n_components: int = 32,
    C: float = 1.0,
    max_iter: int = 2000,
    seed: int = 0,
) -> GroupInvariantPrototype:
    """Fit the group-invariant prototype on a training split.

    Parameters
    ----------
    train
        Labelled training images.
    group
        Group name, transform or list of transforms (a closed group gives exact
        invariance).
    pooling
        ``"mean"`` or ``"max"`` over the orbit.
    features
        Optional (fixed) feature module applied before orbit pooling; ``None``
        uses the pixels.  Its weights are not trained here.
    n_components
        PCA dimension (at most the representation's dimension and the number of
        training images).
    C
        Inverse regularisation strength of the logistic regression.
    max_iter
        Iterations of the logistic regression solver.
    seed
        Seed of the solvers.

    Returns
    -------
    GroupInvariantPrototype
        The fitted model, in eval mode.
    """
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    if not isinstance(train, ImageDataset):
        raise TypeError(f"train must be an ImageDataset, got {type(train).__name__}")
    if not isinstance(n_components, (int, np.integer)) or n_components < 1:
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    if not C > 0:
        raise ValueError(f"C must be positive, got {C!r}")
    rep = OrbitPooling(as_group(group), features=features, pooling=pooling)
    rep.eval()
    with torch.inference_mode():
        z = rep(torch.as_tensor(np.array(train.images))).double().numpy()
    k = int(min(n_components, z.shape[1], z.shape[0]))
    if k < n_components:
        log.info("n_components reduced from %d to %d (representation size)", n_components, k)
    pca = PCA(n_components=k, random_state=seed).fit(z)
    scores = pca.transform(z)
    clf = LogisticRegression(C=C, max_iter=max_iter, random_state=seed).fit(scores, train.labels)
    n_classes = train.n_classes
    reduction = nn.Linear(z.shape[1], k)
    classifier = nn.Linear(k, n_classes)
    with torch.no_grad():
        comp = torch.as_tensor(pca.components_, dtype=torch.float32)
        reduction.weight.copy_(comp)
        reduction.bias.copy_(-(comp @ torch.as_tensor(pca.mean_, dtype=torch.float32)))
        w = np.zeros((n_classes, k))
        b = np.full(n_classes, -1e4)  # classes absent from training never win
        coef, inter = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # binary: sklearn keeps one row for classes_[1]
            coef, inter = np.vstack([-coef, coef]) / 2, np.concatenate([-inter, inter]) / 2
        w[clf.classes_] = coef
        b[clf.classes_] = inter
        classifier.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
        classifier.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
    model = GroupInvariantPrototype(rep, reduction, classifier)
    model.eval()
    return model
