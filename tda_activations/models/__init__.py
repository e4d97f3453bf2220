"""Model zoo, training, and loading users' models.

The zoo: MLP, LeNet-5, CIFAR-style ResNet-18, DenseNet, tiny ViT, modular-addition
transformer.
"""

from ._weights import DamagedWeightsError
from .loading import (
    HF_TASKS,
    MissingArchitectureError,
    MissingExtraError,
    load_hf_model,
    load_model,
    load_state_dict,
    verify_model_file,
)
from .training import (
    DEFAULT_TRAINING,
    SHIPPED_SEEDS,
    TrainedModel,
    accuracy,
    cache_dir,
    fit,
    predict,
    pretrained,
)
from .zoo import MLP, ZOO, CifarResNet18, DenseNet, LeNet5, build_model, zoo_names
from .zoo_transformers import (
    MODULAR_DEFAULTS,
    ModularTransformer,
    TinyViT,
    TrainedModularModel,
    build_modular_transformer,
    pretrained_modular_addition,
    token_states,
)

__all__ = [
    "DEFAULT_TRAINING",
    "HF_TASKS",
    "MLP",
    "MODULAR_DEFAULTS",
    "SHIPPED_SEEDS",
    "ZOO",
    "CifarResNet18",
    "DamagedWeightsError",
    "DenseNet",
    "LeNet5",
    "MissingArchitectureError",
    "MissingExtraError",
    "ModularTransformer",
    "TinyViT",
    "TrainedModel",
    "TrainedModularModel",
    "accuracy",
    "build_model",
    "build_modular_transformer",
    "cache_dir",
    "fit",
    "load_hf_model",
    "load_model",
    "load_state_dict",
    "predict",
    "pretrained",
    "pretrained_modular_addition",
    "token_states",
    "verify_model_file",
    "zoo_names",
]
