"""Model zoo (MLP, LeNet-5, CIFAR-style ResNet-18, DenseNet), training, and loading users' models."""

from ._weights import DamagedWeightsError
from .loading import load_model
from .training import (
    DEFAULT_TRAINING,
    SHIPPED_SEEDS,
    TrainedModel,
    accuracy,
    cache_dir,
    fit,
    predict,
    pretrained,
    training_key,
)
from .zoo import MLP, ZOO, CifarResNet18, DenseNet, LeNet5, build_model, zoo_names

__all__ = [
    "DEFAULT_TRAINING", "MLP", "SHIPPED_SEEDS", "ZOO", "CifarResNet18", "DamagedWeightsError",
    "DenseNet", "LeNet5", "TrainedModel", "accuracy", "build_model", "cache_dir", "fit",
    "load_model", "predict", "pretrained", "training_key", "zoo_names",
]
