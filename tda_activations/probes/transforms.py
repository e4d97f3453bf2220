"""Image transformations and groups of them, for the invariance and equivariance probes.

A :class:`Transform` maps a batch of images ``(n, channels, height, width)`` to
a batch of the same layout.  Geometric transforms (flips, 90-degree rotations,
integer translations) also know how they act on a *feature map* of a
convolutional layer (``spatial_action``): flips and rotations act the same way;
a translation by ``(dy, dx)`` input pixels moves a feature map of stride ``s``
by ``(dy / s, dx / s)`` cells (rounded).  The equivariance probe uses that
action to fit the Lenc-Vedaldi map ``M_g`` as "move the feature map, then mix
channels"; a user callable has no known action and is fitted densely.

A group is given as a tuple (or list) of transforms; the helpers below return
the usual ones (:func:`flip_group`, :func:`rotation_group`,
:func:`dihedral_group`, :func:`translation_group`).  Nothing checks closure:
orbit averaging is exactly invariant only when the list is a group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F

from .._registry import Registry

__all__ = [
    "Transform",
    "apply_transform",
    "as_group",
    "custom",
    "dihedral_group",
    "flip_group",
    "hflip",
    "identity",
    "named_group",
    "rot90",
    "rotation_group",
    "translate",
    "translation_group",
    "vflip",
]

TensorFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Transform:
    """A named transformation of a batch of images.

    Attributes
    ----------
    name
        Short, unique description (``"hflip"``, ``"translate(0,2,circular)"``).
    kind
        ``"identity"``, ``"hflip"``, ``"vflip"``, ``"rot90"``, ``"transpose"``,
        ``"antitranspose"``, ``"translate"`` or ``"custom"``.
    params
        Parameters of the transform (``k`` for rotations, ``dy``, ``dx``,
        ``mode`` for translations).
    fn
        The callable for ``kind="custom"`` (``None`` otherwise).
    """

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    fn: TensorFn | None = field(default=None, compare=False)

    def __call__(self, images: Any) -> torch.Tensor:
        """Apply the transform to images ``(n, c, h, w)`` (tensor or array); returns a tensor."""
        x = _as_tensor(images)
        return self._apply(x, scale=(1.0, 1.0))

    @property
    def has_spatial_action(self) -> bool:
        """Whether the action on a convolutional feature map is known."""
        return self.kind != "custom"

    def spatial_action(
        self, feature_map: torch.Tensor, *, input_size: tuple[int, int]
    ) -> torch.Tensor:
        """Act on a feature map ``(n, c, h', w')`` of an input of size ``input_size``.

        Flips and rotations act as on images; a translation is scaled by
        ``h' / h`` and ``w' / w`` and rounded to whole cells.

        Raises
        ------
        ValueError
            For a custom transform (its action on feature maps is unknown).
        """
        if not self.has_spatial_action:
            raise ValueError(
                f"transform {self.name!r} is a user callable: its action on feature maps is "
                "unknown; fit it with structure='dense'"
            )
        h, w = feature_map.shape[-2:]
        scale = (h / input_size[0], w / input_size[1])
        return self._apply(feature_map, scale=scale)

    def _apply(self, x: torch.Tensor, *, scale: tuple[float, float]) -> torch.Tensor:
        if not isinstance(x, torch.fx.Proxy) and x.ndim != 4:
            raise ValueError(
                f"transform {self.name!r} expects images of shape (n, channels, height, width); "
                f"got shape {tuple(x.shape)}"
            )
        if self.kind == "identity":
            return x
        if self.kind == "hflip":
            return torch.flip(x, dims=(-1,))
        if self.kind == "vflip":
            return torch.flip(x, dims=(-2,))
        if self.kind == "rot90":
            return torch.rot90(x, k=int(self.params["k"]), dims=(-2, -1))
        if self.kind == "transpose":
            return torch.transpose(x, -2, -1)
        if self.kind == "antitranspose":
            return torch.rot90(torch.transpose(x, -2, -1), 2, dims=(-2, -1))
        if self.kind == "translate":
            dy = int(round(self.params["dy"] * scale[0]))
            dx = int(round(self.params["dx"] * scale[1]))
            return _shift(x, dy, dx, mode=self.params["mode"])
        if self.kind == "custom":
            assert self.fn is not None  # set by custom()
            out = self.fn(x)
            if not isinstance(out, torch.Tensor):
                out = torch.as_tensor(np.asarray(out), dtype=x.dtype)
            if not isinstance(x, torch.fx.Proxy) and out.shape[0] != x.shape[0]:
                raise ValueError(
                    f"custom transform {self.name!r} returned {out.shape[0]} images for "
                    f"{x.shape[0]}; it must map a batch to a batch of the same length"
                )
            return out
        raise ValueError(f"unknown transform kind {self.kind!r}")  # pragma: no cover


def _as_tensor(images: Any) -> torch.Tensor:
    if isinstance(images, (torch.Tensor, torch.fx.Proxy)):  # proxies: traced by torch.fx
        return images  # type: ignore[return-value]
    return torch.as_tensor(np.array(images, dtype=np.float32))


def _shift(x: torch.Tensor, dy: int, dx: int, *, mode: str) -> torch.Tensor:
    if dy == 0 and dx == 0:
        return x
    if mode == "circular":
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    h, w = x.shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        return torch.zeros_like(x)
    # pad (left, right, top, bottom) then crop back to (h, w)
    padded = F.pad(x, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top = max(-dy, 0)
    left = max(-dx, 0)
    return padded[..., top : top + h, left : left + w]


def apply_transform(images: Any, transform: Transform) -> np.ndarray:
    """Apply ``transform`` to images ``(n, c, h, w)`` and return a float32 NumPy array.

    Parameters
    ----------
    images
        An array or tensor of shape ``(n, channels, height, width)``.
    transform
        The transform.

    Returns
    -------
    numpy.ndarray
        The transformed images (a new array).
    """
    if not isinstance(transform, Transform):
        raise TypeError(f"transform must be a Transform, got {type(transform).__name__}")
    with torch.no_grad():
        out = transform(images)
    return out.detach().cpu().numpy().astype(np.float32, copy=True)


def identity() -> Transform:
    """The identity transform."""
    return Transform("identity", "identity")


def hflip() -> Transform:
    """Horizontal flip (mirror left-right)."""
    return Transform("hflip", "hflip")


def vflip() -> Transform:
    """Vertical flip (mirror top-bottom)."""
    return Transform("vflip", "vflip")


def rot90(k: int = 1) -> Transform:
    """Rotation by ``k`` times 90 degrees (counter-clockwise, as :func:`torch.rot90`).

    Parameters
    ----------
    k
        Number of quarter turns; taken modulo 4.
    """
    if not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer number of quarter turns, got {k!r}")
    k = int(k) % 4
    if k == 0:
        return identity()
    return Transform(f"rot{90 * k}", "rot90", {"k": k})


def translate(dy: int, dx: int, *, mode: str = "circular") -> Transform:
    """Integer translation by ``dy`` rows (down) and ``dx`` columns (right).

    Parameters
    ----------
    dy, dx
        Shift in pixels.
    mode
        ``"circular"`` (wrap around, a group action) or ``"zeros"`` (pad with
        zeros, pixels shifted out are lost).
    """
    if not isinstance(dy, (int, np.integer)) or not isinstance(dx, (int, np.integer)):
        raise TypeError(f"translations are by whole pixels; got dy={dy!r}, dx={dx!r}")
    if mode not in ("circular", "zeros"):
        raise ValueError(f"mode must be 'circular' or 'zeros', got {mode!r}")
    if dy == 0 and dx == 0:
        return identity()
    return Transform(
        f"translate({int(dy)},{int(dx)},{mode})",
        "translate",
        {"dy": int(dy), "dx": int(dx), "mode": mode},
    )


def custom(fn: TensorFn, *, name: str | None = None) -> Transform:
    """Wrap a user callable ``(n, c, h, w) tensor -> (n, c', h', w') tensor`` as a transform.

    Parameters
    ----------
    fn
        The callable; it receives a float tensor and must return a tensor (or
        array) with the same number of images.
    name
        Name of the transform (default: the callable's ``__name__``).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    return Transform(str(name or getattr(fn, "__name__", "custom")), "custom", {}, fn)


def flip_group() -> tuple[Transform, ...]:
    """The group generated by both flips: identity, hflip, vflip, rotation by 180 degrees."""
    return (identity(), hflip(), vflip(), rot90(2))


def rotation_group() -> tuple[Transform, ...]:
    """The four rotations by multiples of 90 degrees (the cyclic group C4)."""
    return tuple(rot90(k) for k in range(4))


def dihedral_group() -> tuple[Transform, ...]:
    """The eight symmetries of the square (the dihedral group D4)."""
    return (
        *rotation_group(),
        hflip(),
        vflip(),
        Transform("transpose", "transpose"),
        Transform("antitranspose", "antitranspose"),
    )


def translation_group(
    shifts: Sequence[int] | Sequence[tuple[int, int]] = (-1, 0, 1), *, mode: str = "circular"
) -> tuple[Transform, ...]:
    """Translations by every pair of the given shifts (or by the given ``(dy, dx)`` pairs).

    Parameters
    ----------
    shifts
        Integers (every ``(dy, dx)`` in ``shifts x shifts`` is used) or explicit
        ``(dy, dx)`` pairs.
    mode
        ``"circular"`` or ``"zeros"``.  Only the set of *all* circular shifts of
        an image is closed (a group); smaller sets are a neighbourhood of the identity.
    """
    given: list[Any] = list(shifts)
    if not given:
        raise ValueError("give at least one shift")
    if all(isinstance(s, (int, np.integer)) for s in given):
        pairs = [(int(a), int(b)) for a in given for b in given]
    else:
        pairs = [(int(a), int(b)) for a, b in given]
    return tuple(translate(dy, dx, mode=mode) for dy, dx in pairs)


_GROUPS: Registry[tuple[Transform, ...]] = Registry("transform group")
for _name, _factory in (
    ("flips", flip_group),
    ("hflip", lambda: (identity(), hflip())),
    ("vflip", lambda: (identity(), vflip())),
    ("rotations", rotation_group),
    ("dihedral", dihedral_group),
    ("translations", lambda: translation_group((-1, 0, 1), mode="circular")),
    ("translations-zeros", lambda: translation_group((-1, 0, 1), mode="zeros")),
):
    _GROUPS.register(_name, _factory)


def named_group(name: str) -> tuple[Transform, ...]:
    """A group by name.

    ``"flips"``, ``"hflip"``, ``"vflip"``, ``"rotations"``, ``"dihedral"``,
    ``"translations"`` (circular, shifts -1..1), ``"translations-zeros"``.
    """
    return _GROUPS.get(name)


def as_group(group: str | Transform | Sequence[Transform | TensorFn]) -> tuple[Transform, ...]:
    """Normalise a group given as a name, a transform or a list of transforms/callables.

    Raises
    ------
    ValueError
        For an empty list or duplicate transform names.
    """
    if isinstance(group, str):
        return named_group(group)
    if isinstance(group, Transform):
        return (group,)
    items = list(group)
    if not items:
        raise ValueError("a transform group needs at least one transform")
    out = tuple(t if isinstance(t, Transform) else custom(t) for t in items)
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise ValueError(
            f"transform names must be unique within a group, got {names}; name custom "
            "callables with custom(fn, name=...)"
        )
    return out
