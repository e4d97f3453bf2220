"""Model zoo (MLP, LeNet-5, CIFAR-style ResNet-18, DenseNet), training, and loading users' models."""

from .loading import (
    HF_TASKS,
    MissingArchitectureError,
    MissingExtraError,
    load_hf_model,
    load_model,
    load_state_dict,
    verify_model_file,
)
from .training import DEFAULT_TRAINING, TrainedModel, accuracy, cache_dir, fit, predict, pretrained
from .zoo import MLP, ZOO, CifarResNet18, DenseNet, LeNet5, build_model, zoo_names

__all__ = [
    "DEFAULT_TRAINING",
    "HF_TASKS",
    "MLP",
    "ZOO",
    "CifarResNet18",
    "DenseNet",
    "LeNet5",
    "MissingArchitectureError",
    "MissingExtraError",
    "TrainedModel",
    "accuracy",
    "build_model",
    "cache_dir",
    "fit",
    "load_hf_model",
    "load_model",
    "load_state_dict",
    "predict",
    "pretrained",
    "verify_model_file",
    "zoo_names",
]
