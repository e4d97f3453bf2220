"""Data that ships with the package or its dependencies: no download, ever."""

from __future__ import annotations

import numpy as np

from ..types import ImageDataset, Split
from .hierarchy import load_hierarchy

__all__ = ["UPSAMPLE_BUDGET_BYTES", "load_digits"]

#: Most memory (bytes) that upsampled digits may take: 2 GiB.  ``digits:x1000`` would take
#: 460 GB; asking for more than this is refused with the amount it would need.
UPSAMPLE_BUDGET_BYTES = 2 * 1024**3

_DIGIT_SIDE = 8


def check_upsample(upsample: object, n_images: int) -> int:
    """Return ``upsample`` as an int if it is a positive integer whose result fits the budget.

    Raises
    ------
    ValueError
        Not a positive integer, or ``n_images`` upsampled images would take more than
        :data:`UPSAMPLE_BUDGET_BYTES` (the message gives the memory it would need).
    """
    if isinstance(upsample, bool) or not isinstance(upsample, (int, np.integer)) or upsample < 1:
        raise ValueError(f"upsample must be a positive integer, got {upsample!r}")
    side = _DIGIT_SIDE * int(upsample)
    need = int(n_images) * side * side * np.dtype(np.float32).itemsize
    if need > UPSAMPLE_BUDGET_BYTES:
        raise ValueError(
            f"upsampling {n_images} digits x{int(upsample)} ({side}x{side} pixels each) would "
            f"need {_format_bytes(need)}, over the {_format_bytes(UPSAMPLE_BUDGET_BYTES)} "
            "budget; use a smaller factor (x4 gives CIFAR's 32x32) or fewer images (limit=)"
        )
    return int(upsample)


def _format_bytes(n: int) -> str:
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def upsample_images(images: np.ndarray, upsample: int) -> np.ndarray:
    """Bilinear upsampling of float32 ``(n, c, h, w)`` images by an integer factor.

    The size is checked against the memory budget; each image is interpolated on its own,
    so the result for a subset equals the subset of the result.
    """
    upsample = check_upsample(upsample, images.shape[0])
    if upsample == 1:
        return images
    import torch  # imported here: `import tda_activations.datasets` stays light
    import torch.nn.functional as F

    t = torch.from_numpy(np.array(images, dtype=np.float32, order="C"))  # small: a copy
    return F.interpolate(t, scale_factor=upsample, mode="bilinear", align_corners=False).numpy()


def digits_name(upsample: int, part: str) -> str:
    """Name of a part of the embedded digits: ``"digits/test"``, ``"digitsx4/train"``."""
    return f"digits{f'x{upsample}' if upsample > 1 else ''}/{part}"


def load_digits(*, upsample: int = 1, test_size: float = 0.3, seed: int = 0) -> Split:
    """Load scikit-learn's 8x8 handwritten digits as image tensors with a stratified split.

    Pixel values are scaled to [0, 1] (the raw data are 0..16).  The class
    hierarchy is the documented grouping in ``tda_activations/data/hierarchies/digits.json``.

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
        ``train`` and ``test`` :class:`ImageDataset` objects, shape
        ``(n, 1, 8*upsample, 8*upsample)``.

    Raises
    ------
    ValueError
        ``upsample`` is not a positive integer or the upsampled images would take more than
        :data:`UPSAMPLE_BUDGET_BYTES`; ``test_size`` is outside (0, 1).
    """
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    raw = _sk_digits()
    upsample = check_upsample(upsample, raw.images.shape[0])
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    images = upsample_images((raw.images.astype(np.float32) / 16.0)[:, None, :, :], upsample)
    labels = raw.target.astype(np.int64)
    ids = np.arange(labels.size)
    train_idx, test_idx = train_test_split(
        ids, test_size=test_size, random_state=seed, stratify=labels
    )
    train_idx.sort()
    test_idx.sort()
    hierarchy = load_hierarchy("digits")

    def make(idx: np.ndarray, part: str) -> ImageDataset:
        return ImageDataset(
            images=images[idx],
            labels=labels[idx],
            hierarchy=hierarchy,
            name=digits_name(upsample, part),
            sample_ids=ids[idx],
        )

    return Split(train=make(train_idx, "train"), test=make(test_idx, "test"))
