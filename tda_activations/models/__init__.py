"""Model zoo (MLP, LeNet-5, CIFAR-style ResNet-18, DenseNet), training, and loading users' models."""

from .loading import load_model
from .training import DEFAULT_TRAINING, TrainedModel, accuracy, cache_dir, fit, predict, pretrained
from .zoo import ZOO, CifarResNet18, DenseNet, LeNet5, MLP, build_model, zoo_names

__all__ = [
    "DEFAULT_TRAINING", "MLP", "ZOO", "CifarResNet18", "DenseNet", "LeNet5", "TrainedModel",
    "accuracy", "build_model", "cache_dir", "fit", "load_model", "predict", "pretrained", "zoo_names",
]
