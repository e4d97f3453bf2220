"""The model zoo: small networks that train on the CPU in under a minute.

Every model takes images ``(n, channels, height, width)`` (the MLP flattens them)
and returns class logits ``(n, num_classes)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..types import unknown_name_error
from .zoo_transformers import vit_builder

__all__ = ["MLP", "ZOO", "CifarResNet18", "DenseNet", "LeNet5", "build_model", "zoo_names"]


class MLP(nn.Module):
    """A multilayer perceptron: flatten, then ``Linear -> ReLU`` blocks, then a linear classifier.

    Parameters
    ----------
    in_features
        Number of input features (``channels * height * width`` for images).
    num_classes
        Number of output logits.
    hidden
        Widths of the hidden layers.
    """

    def __init__(
        self, in_features: int, num_classes: int, hidden: Sequence[int] = (256, 128)
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        return self.classifier(self.features(x))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) with ReLU and max pooling; ``conv1`` is padded to keep size.

    Parameters
    ----------
    in_channels, num_classes
        Input channels and output logits.
    image_size
        Side of the (square) input; the first linear layer is sized from it.
    width
        Multiplier of the channel and hidden widths (6, 16, 120, 84 at 1.0).
    """

    def __init__(
        self, in_channels: int, num_classes: int, image_size: int = 32, width: float = 1.0
    ) -> None:
        super().__init__()
        c1, c2 = max(1, round(6 * width)), max(1, round(16 * width))
        f1, f2 = max(1, round(120 * width)), max(1, round(84 * width))
        self.conv1 = nn.Conv2d(in_channels, c1, 5, padding=2)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        side = (image_size // 2 - 4) // 2
        if side < 1:
            raise ValueError(
                f"LeNet-5 needs images of at least 12x12 pixels, got {image_size}; upsample the "
                "data (e.g. load_digits(upsample=2))"
            )
        self.fc1 = nn.Linear(c2 * side * side, f1)
        self.fc2 = nn.Linear(f1, f2)
        self.fc3 = nn.Linear(f2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class _ShortcutA(nn.Module):
    """He et al.'s option-A shortcut: subsample by stride and zero-pad the new channels."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            lo = self.pad // 2
            x = F.pad(x, (0, 0, 0, 0, lo, self.pad - lo))
        return x


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity or option-A shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = (
            _ShortcutA(in_planes, planes, stride)
            if stride != 1 or in_planes != planes
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet18(nn.Module):
    """CIFAR-style ResNet-18: 3x3 stem, BasicBlocks [2, 2, 2, 2], option-A shortcuts, 17 convs.

    This is the architecture of the core paper (arXiv 2212.00222): no max pool after
    the stem, stages of 64, 128, 256 and 512 channels at ``width=1``, parameter-free
    zero-padding shortcuts, so the only convolutions are the stem and the 16 in the
    blocks.

    Parameters
    ----------
    in_channels, num_classes
        Input channels and output logits.
    width
        Multiplier of the channel widths (64 * width channels in the first stage).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 10, width: float = 1.0) -> None:
        super().__init__()
        widths = [max(1, round(c * width)) for c in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        stages = []
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            blocks = [BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)]
            in_planes = planes
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


class _DenseLayer(nn.Module):
    def __init__(self, in_planes: int, growth: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        return torch.cat([x, self.conv(F.relu(self.bn(x)))], dim=1)


class _Transition(nn.Module):
    def __init__(self, in_planes: int, out_planes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_planes)
        self.conv = nn.Conv2d(in_planes, out_planes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)


class DenseNet(nn.Module):
    """A small DenseNet (Huang et al. 2017): dense blocks of BN-ReLU-Conv3x3 layers joined by transitions.

    Parameters
    ----------
    in_channels, num_classes
        Input channels and output logits.
    growth
        Growth rate (channels added by each dense layer).
    block_layers
        Number of dense layers in each block.
    width
        Multiplier of the growth rate and the stem width.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        growth: int = 12,
        block_layers: Sequence[int] = (4, 4, 4),
        width: float = 1.0,
    ) -> None:
        super().__init__()
        growth = max(1, round(growth * width))
        planes = 2 * growth
        self.conv1 = nn.Conv2d(in_channels, planes, 3, padding=1, bias=False)
        blocks: list[nn.Module] = []
        for b, n_layers in enumerate(block_layers):
            layers = []
            for _ in range(n_layers):
                layers.append(_DenseLayer(planes, growth))
                planes += growth
            blocks.append(nn.Sequential(*layers))
            if b < len(block_layers) - 1:
                out = planes // 2
                blocks.append(_Transition(planes, out))
                planes = out
        self.features = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(planes)
        self.linear = nn.Linear(planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of images ``(batch, channels, height, width)``."""
        out = self.features(self.conv1(x))
        out = F.adaptive_avg_pool2d(F.relu(self.bn(out)), 1).flatten(1)
        return self.linear(out)


def _mlp(
    *, in_channels: int, image_size: int, num_classes: int, width: float = 1.0, **kw: Any
) -> nn.Module:
    hidden = kw.pop("hidden", None) or tuple(max(1, round(h * width)) for h in (256, 128))
    return MLP(in_channels * image_size * image_size, num_classes, hidden=hidden, **kw)


def _lenet(
    *, in_channels: int, image_size: int, num_classes: int, width: float = 1.0, **kw: Any
) -> nn.Module:
    return LeNet5(in_channels, num_classes, image_size=image_size, width=width, **kw)


def _resnet18(
    *, in_channels: int, image_size: int, num_classes: int, width: float = 0.25, **kw: Any
) -> nn.Module:
    return CifarResNet18(in_channels, num_classes, width=width, **kw)


def _densenet(
    *, in_channels: int, image_size: int, num_classes: int, width: float = 1.0, **kw: Any
) -> nn.Module:
    return DenseNet(in_channels, num_classes, width=width, **kw)


#: Zoo name -> builder(in_channels=, image_size=, num_classes=, width=, **extra)
ZOO: dict[str, Callable[..., nn.Module]] = {
    "mlp": _mlp,
    "lenet": _lenet,
    "resnet18": _resnet18,
    "densenet": _densenet,
    "vit": vit_builder,
}


def zoo_names() -> tuple[str, ...]:
    """Names of the zoo architectures.

    Returns
    -------
    tuple of str
        The names.
    """
    return tuple(ZOO)


def build_model(
    name: str,
    *,
    in_channels: int = 1,
    image_size: int = 16,
    num_classes: int = 10,
    width: float | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build an untrained zoo model.

    Parameters
    ----------
    name
        One of :func:`zoo_names`: ``"mlp"``, ``"lenet"``, ``"resnet18"``, ``"densenet"``,
        ``"vit"``.
    in_channels, image_size, num_classes
        Shape of the inputs (square images) and number of classes.
    width
        Width multiplier; ``None`` takes the architecture's default (0.25 for ResNet-18,
        1.0 otherwise).
    seed
        Seed of the weight initialisation (``None``: torch's current state).
    **kwargs
        Extra architecture arguments (``hidden=`` for the MLP, ``growth=``/``block_layers=``
        for the DenseNet).

    Returns
    -------
    torch.nn.Module
        The model in training mode.
    """
    if name not in ZOO:
        raise unknown_name_error("zoo model", name, ZOO)
    if width is not None and not (
        isinstance(width, (int, float)) and width > 0 and math.isfinite(width)
    ):
        raise ValueError(f"width must be a positive number, got {width!r}")
    extra = dict(kwargs)
    if width is not None:
        extra["width"] = float(width)
    if seed is None:
        return ZOO[name](
            in_channels=in_channels, image_size=image_size, num_classes=num_classes, **extra
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ZOO[name](
            in_channels=in_channels, image_size=image_size, num_classes=num_classes, **extra
        )
