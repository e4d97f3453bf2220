"""tda_activations: topological data analysis of neural-network activations.

Namespaces
----------
datasets     embedded data and loaders for users' data
models       model zoo, training, loading users' models
extract      activations as per-layer point clouds; on-disk store
homology     persistence diagrams, distances between them, vectorisations
mapper       Mapper graphs and class-hierarchy summaries
similarity   representational similarity measures (CKA, CCA family, RSA, ...)
experiments  sensitivity, specificity and layer correspondence
probes       mean dimension, correlation order, invariance, architecture metrics
plot         figures and paper style
batch        config-driven runs, cache, executors, report
io           save and load any result (.npz + provenance sidecar)
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from .types import (
    ActivationSet,
    ClassHierarchy,
    Diagrams,
    ImageDataset,
    LayerMatrix,
    MapperGraph,
    Split,
)

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_NAMESPACES = (
    "datasets",
    "models",
    "extract",
    "homology",
    "mapper",
    "similarity",
    "experiments",
    "probes",
    "plot",
    "batch",
    "io",
)

__all__ = [
    "ActivationSet",
    "ClassHierarchy",
    "Diagrams",
    "ImageDataset",
    "LayerMatrix",
    "MapperGraph",
    "Split",
    "__version__",
    *_NAMESPACES,
]


def __getattr__(name: str) -> Any:
    # Namespaces are imported lazily: `import tda_activations as ta` stays cheap.
    if name in _NAMESPACES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tda_activations' has no attribute {name!r}")
