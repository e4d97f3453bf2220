"""Readers of users' data, one module per format (see :mod:`tda_activations.datasets.loaders`).

``cifar`` (CIFAR python batches), ``image_folder`` (one folder per class), ``npz`` (images and
labels), ``torch_dataset`` (map-style datasets); ``_npz`` is the one ``.npz`` reader, shared with
the token data of :mod:`tda_activations.datasets.tokens`.
"""

from .cifar import load_cifar
from .image_folder import IMAGE_EXTENSIONS, load_image_folder
from .npz import load_npz
from .torch_dataset import from_torchvision

__all__ = ["IMAGE_EXTENSIONS", "from_torchvision", "load_cifar", "load_image_folder", "load_npz"]
