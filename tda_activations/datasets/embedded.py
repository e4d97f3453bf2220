"""Data that ships with the package or its dependencies: no download, ever."""

from __future__ import annotations

import numpy as np

from ..types import ImageDataset, Split
from .hierarchy import load_hierarchy

__all__ = ["load_digits"]


def load_digits(*, upsample: int = 1, test_size: float = 0.3, seed: int = 0) -> Split:
    """Load scikit-learn's 8x8 handwritten digits as image tensors with a stratified split.

    Pixel values are scaled to [0, 1] (the raw data are 0..16).  The class
    hierarchy is the documented grouping in ``data/hierarchies/digits.json``.

    Parameters
    ----------
    upsample
        Integer factor for bilinear upsampling (``4`` gives 32x32 images, the
        CIFAR size, so CIFAR-style networks keep spatial extent in deep layers).
    test_size
        Fraction of the 1797 images held out for testing.
    seed
        Seed of the stratified split.

    Returns
    -------
    Split
        ``train`` and ``test`` :class:`ImageDataset` objects, shape ``(n, 1, 8*upsample, 8*upsample)``.
    """
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    if not isinstance(upsample, (int, np.integer)) or upsample < 1:
        raise ValueError(f"upsample must be a positive integer, got {upsample!r}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    raw = _sk_digits()
    images = (raw.images.astype(np.float32) / 16.0)[:, None, :, :]
    if upsample > 1:
        import torch  # imported here: `import tda_activations.datasets` stays light
        import torch.nn.functional as F

        t = torch.from_numpy(images)
        images = F.interpolate(t, scale_factor=int(upsample), mode="bilinear", align_corners=False).numpy()
    labels = raw.target.astype(np.int64)
    ids = np.arange(labels.size)
    train_idx, test_idx = train_test_split(ids, test_size=test_size, random_state=seed, stratify=labels)
    train_idx.sort()
    test_idx.sort()
    hierarchy = load_hierarchy("digits")
    suffix = f"x{upsample}" if upsample > 1 else ""
    make = lambda idx, part: ImageDataset(  # noqa: E731
        images=images[idx], labels=labels[idx], hierarchy=hierarchy,
        name=f"digits{suffix}/{part}", sample_ids=ids[idx],
    )
    return Split(train=make(train_idx, "train"), test=make(test_idx, "test"))
