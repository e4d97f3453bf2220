"""Architecture-only metrics: computed from the module graph, never from data or weight values.

The network is traced with :func:`torch.fx.symbolic_trace` on a copy moved to
the ``meta`` device (shapes only; no weight value is read) and shapes are
propagated with :class:`torch.fx.passes.shape_prop.ShapeProp`.  Every node of
the graph then gets per-layer quantities, and a small *layer algebra* composes
them into global ones through sequential chains, residual additions and
concatenations:

==========================  =======================================  ============================
quantity (per node)         sequential composition                   residual add / concatenation
==========================  =======================================  ============================
parameters                  sum                                      sum over branches
multiply-accumulates        sum (convolutions and linear layers)     sum over branches
receptive field ``r``,      ``r = r_in + (k_eff - 1) j_in``,         max over branches
jump (stride product) ``j`` ``j = j_in * s``
output dimension            the node's output size                   add: common size; cat: sum
compression ratio           product of per-layer ratios              as output / input size
linear-region bound         Serra et al. (2018), Theorem 1, as a     image dimension reset to the
                            dynamic programme over the image         bound at the fork (immediate
                            dimension, one ReLU layer at a time      dominator): the merged output
                                                                     is an affine function of it
==========================  =======================================  ============================

These are standard, documented quantities named for what they are; they are
*not* the formulas of Badias and Banerjee's "Neural network layer algebra"
(2021/2023), which could not be obtained for this work.

The linear-region bound (log10 of an upper bound on the number of linear
regions of the network as a function of its input) follows Serra,
Tjandraatmadja and Ramalingam (2018): a ReLU layer with ``n`` units acting on
regions whose image has dimension ``d`` splits each into regions indexed by
``j <= min(d, n)`` with multiplicity ``C(n, j)`` and image dimension
``min(d, n - j)``.  Convolutions are linear layers with constrained weights, so
the bound holds for them with ``n`` = output size.  Max pooling is bounded as
an arrangement of ``C(k, 2)`` hyperplanes per output (k = window size);
non-piecewise-linear activations (tanh, sigmoid, GELU, ...) make the bound
undefined (NaN).  Multiply-accumulates count convolutions, linear layers and
matrix products only (normalisation, activation and pooling are not MACs), the
usual convention of published counts.
"""

from __future__ import annotations

import copy
import logging
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._hooks import call_name
from .._tables import rows_to_pandas
from ..types import compact_repr

__all__ = [
    "ArchitectureReport",
    "LayerArchitecture",
    "architecture_metrics",
    "count_parameters",
    "regions_upper_bound_log10",
]

log = logging.getLogger(__name__)

_LOG10 = math.log(10.0)


# ------------------------------------------------------------------ containers


@dataclass(frozen=True)
class LayerArchitecture:
    """Architecture quantities of one node of the traced graph.

    Attributes
    ----------
    layer
        ``named_modules()`` path for a module (``path:k`` for a further call),
        ``scope/op`` for a function such as ``layer1.0/add_1``.
    kind
        Module class name or function name (``Conv2d``, ``relu``, ``add``, ``cat``...).
    output_shape
        Output shape of one sample.
    input_dim, output_dim
        Sizes of one sample's input (sum over inputs for a concatenation) and output.
    params
        Parameters owned by this node (from the module's hyper-parameters).
    macs
        Multiply-accumulates for one sample.
    receptive_field
        ``(height, width)`` of the input region one output unit depends on
        (unclipped), or ``None`` for non-spatial inputs.
    jump
        ``(height, width)`` distance in input pixels between adjacent outputs.
    compression_ratio
        ``output_dim / input_dim``.
    cumulative_compression
        ``output_dim`` over the network's input size.
    pl_units
        Piecewise-linear units (ReLU units, or max-pool hyperplanes) at this node.
    log10_regions_bound
        log10 of the upper bound on linear regions of the network up to and
        including this node (NaN after a non-piecewise-linear activation).
    """

    layer: str
    kind: str
    output_shape: tuple[int, ...]
    input_dim: int
    output_dim: int
    params: int
    macs: int
    receptive_field: tuple[int, int] | None
    jump: tuple[int, int] | None
    compression_ratio: float
    cumulative_compression: float
    pl_units: int
    log10_regions_bound: float

    __repr__ = compact_repr


@dataclass(frozen=True)
class ArchitectureReport:
    """Architecture metrics of one network for one input shape.

    Attributes
    ----------
    model
        Class name of the network.
    input_shape
        Shape of one input sample ``(channels, height, width)``.
    layers
        One entry per node of the traced graph, in forward (topological) order.
    total_params
        Sum of the per-node parameter counts (shared modules counted once).
    total_macs
        Sum of the per-node multiply-accumulates for one sample.
    log10_regions_bound
        log10 of the bound on linear regions of the whole network.
    receptive_field
        Receptive field of the output (or of the last spatial node).
    output_dim
        Size of the network's output.
    graph
        How the graph was obtained (``"torch.fx"``).
    params
        Parameters of the analysis (recorded for provenance).
    """

    model: str
    input_shape: tuple[int, ...]
    layers: tuple[LayerArchitecture, ...]
    total_params: int
    total_macs: int
    log10_regions_bound: float
    receptive_field: tuple[int, int] | None
    output_dim: int
    graph: str = "torch.fx"
    params: dict[str, Any] = field(default_factory=dict)

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "input_shape", tuple(self.input_shape))

    def to_pandas(self, *, kinds: Sequence[str] | None = None) -> Any:
        """One row per node (optionally only those whose ``kind`` is in ``kinds``)."""
        rows = [r for r in self.layers if kinds is None or r.kind in kinds]
        return rows_to_pandas(rows, LayerArchitecture)

    def summary(self) -> str:
        """One line ``key=value ...`` of the global quantities (those of :meth:`totals`)."""
        return " ".join(f"{k}={v}" for k, v in self.totals().items())

    def totals(self) -> dict[str, Any]:
        """The global quantities as a flat dict (one row of a comparison table)."""
        rf = self.receptive_field
        return {
            "model": self.model,
            "input_shape": "x".join(map(str, self.input_shape)),
            "params": self.total_params,
            "macs": self.total_macs,
            "receptive_field": None if rf is None else max(rf),
            "output_dim": self.output_dim,
            "compression": self.output_dim / max(1, int(np.prod(self.input_shape))),
            "log10_regions_bound": self.log10_regions_bound,
            "n_nodes": len(self.layers),
        }


def count_parameters(model: nn.Module) -> int:
    """Count the parameters, ``sum(p.numel() for p in model.parameters())`` (shared ones once).

    Parameters
    ----------
    model
        The network.

    Returns
    -------
    int
        The number of parameters.

    Raises
    ------
    TypeError
        If ``model`` is not a :class:`torch.nn.Module`.

    Examples
    --------
    >>> from torch import nn
    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return int(sum(p.numel() for p in model.parameters()))


# ------------------------------------------------------------------ region bound


def _log_binom_row(n: int, upto: int) -> np.ndarray:
    from scipy.special import gammaln

    j = np.arange(upto + 1)
    return gammaln(n + 1) - gammaln(j + 1) - gammaln(n - j + 1)


def _logsumexp(a: np.ndarray) -> float:
    m = float(np.max(a)) if a.size else -math.inf
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.exp(a - m).sum()))


def _suffix_logsumexp(state: np.ndarray) -> np.ndarray:
    """``out[k] = log sum_{d >= k} exp(state[d])`` (length ``state.size + 1``, last = -inf)."""
    out = np.full(state.size + 1, -math.inf)
    with np.errstate(invalid="ignore"):
        out[:-1] = np.logaddexp.accumulate(state[::-1])[::-1]
    return out


def _relu_step(state: np.ndarray, n: int) -> np.ndarray:
    """Serra et al.'s transition for a ReLU layer of ``n`` units.

    ``state[d]`` is the log of the number of regions whose image has dimension
    (at most) ``d``.  A region of dimension ``d`` gives ``C(n, j)`` regions of
    dimension ``min(d, n - j)`` for every ``j <= min(d, n)``.  Evaluated in
    O(len(state)): the ``j <= n - d`` terms keep dimension ``d``; the others land
    on ``d' = n - j`` and are collected with a suffix log-sum-exp.
    """
    dmax = state.size - 1
    top = min(dmax, n)
    lb = _log_binom_row(n, top)  # log C(n, j), j = 0..top
    cum = np.logaddexp.accumulate(lb)
    out = np.full(state.size, -math.inf)
    d = np.arange(state.size)
    keep = (d <= n) & np.isfinite(state)
    if keep.any():
        kk = np.minimum(d[keep], n - d[keep])
        out[keep] = state[keep] + cum[np.minimum(kk, top)]
    suffix = _suffix_logsumexp(state)
    dp = np.arange(top + 1)  # target dimensions d' = n - j
    lo = np.maximum(n - dp, dp + 1)
    ok = lo <= dmax
    add = np.full(dp.size, -math.inf)
    add[ok] = lb[dp[ok]] + suffix[lo[ok]]  # C(n, n - d') = C(n, d')
    out[: top + 1] = np.logaddexp(out[: top + 1], add)
    return out


def _arrangement_step(state: np.ndarray, m: int, cap: int) -> np.ndarray:
    """Split every region of dim ``d`` by ``m`` hyperplanes (Zaslavsky); image dim capped at ``cap``."""
    dmax = state.size - 1
    lb = _log_binom_row(m, min(dmax, m))
    cum = np.logaddexp.accumulate(lb)
    d = np.arange(state.size)
    vals = state + cum[np.minimum(d, m)]
    return _cap(vals, cap)


def _cap(state: np.ndarray, cap: int) -> np.ndarray:
    if cap >= state.size - 1:
        return state
    out = state.copy()
    out[cap] = _logsumexp(state[cap:])
    out[cap + 1 :] = -math.inf
    return out


def _reset(state: np.ndarray, dim: int) -> np.ndarray:
    out = np.full(state.size, -math.inf)
    out[min(dim, state.size - 1)] = _logsumexp(state)
    return out


def _top(state: np.ndarray) -> int:
    idx = np.nonzero(np.isfinite(state))[0]
    return int(idx.max()) if idx.size else 0


def regions_upper_bound_log10(widths: Sequence[int], n_input: int) -> float:
    """Compute log10 of Serra et al.'s (2018, Theorem 1) bound for a fully connected ReLU network.

    The bound is ``sum over (j_1..j_L) in J of prod_l C(n_l, j_l)`` with
    ``J = {0 <= j_l <= min(n_0, n_1 - j_1, ..., n_{l-1} - j_{l-1}, n_l)}``,
    evaluated as a dynamic programme over the image dimension.

    Parameters
    ----------
    widths
        Number of ReLU units in each hidden layer, ``n_1 .. n_L``.
    n_input
        Input dimension ``n_0``.

    Returns
    -------
    float
        log10 of the bound (0 for no hidden layer: one region).
    """
    if n_input < 1 or any(int(w) < 1 for w in widths):
        raise ValueError(
            f"the input dimension and every width must be positive; got {n_input}, {list(widths)}"
        )
    state = np.full(int(n_input) + 1, -math.inf)
    state[int(n_input)] = 0.0
    for w in widths:
        state = _relu_step(state, int(w))
    return _logsumexp(state) / _LOG10


# ------------------------------------------------------------------ graph walk

_RELU_FUNCS = {
    F.relu,
    torch.relu,
    F.relu_,
    torch.relu_,
    F.leaky_relu,
    torch.nn.functional.leaky_relu,
}
_NONPL_FUNCS = {
    torch.sigmoid,
    torch.tanh,
    F.gelu,
    F.silu,
    F.elu,
    F.softplus,
    F.sigmoid,
    F.tanh,
    F.mish,
}
_RELU_METHODS = {"relu", "relu_"}
_NONPL_METHODS = {"sigmoid", "tanh", "sigmoid_", "tanh_"}
_ADD = {operator.add, operator.iadd, torch.add, operator.sub, torch.sub}
_CAT = {torch.cat, torch.concat, torch.stack}
_FLATTEN_FUNCS = {torch.flatten}
_FLATTEN_METHODS = {"flatten", "view", "reshape"}
_RELU_MODULES = (nn.ReLU, nn.LeakyReLU, nn.PReLU)
_NONPL_MODULES = (
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.SiLU,
    nn.ELU,
    nn.Softplus,
    nn.Mish,
    nn.SELU,
    nn.CELU,
)


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return (int(v[0]), int(v[-1]))
    return (int(v), int(v))


@dataclass
class _Info:
    shape: tuple[int, ...]  # one sample
    rf: tuple[int, int] | None
    jump: tuple[int, int] | None
    flat_extent: tuple[int, int] | None = None  # spatial extent folded in by a flatten
    dmax: int = 0


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod(shape)) if len(shape) else 1


def _spatial(shape: tuple[int, ...]) -> tuple[int, int] | None:
    return (shape[-2], shape[-1]) if len(shape) == 3 else None


def _window(
    rf: tuple[int, int],
    jump: tuple[int, int],
    k: tuple[int, int],
    s: tuple[int, int],
    dil: tuple[int, int] = (1, 1),
) -> tuple[tuple[int, int], tuple[int, int]]:
    r = tuple(rf[i] + (dil[i] * (k[i] - 1)) * jump[i] for i in range(2))
    j = tuple(jump[i] * s[i] for i in range(2))
    return r, j  # type: ignore[return-value]


def _global(
    info: _Info, extent: tuple[int, int] | None
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    if info.rf is None or info.jump is None or extent is None:
        return info.rf, info.jump
    r = tuple(info.rf[i] + (extent[i] - 1) * info.jump[i] for i in range(2))
    return r, info.jump  # type: ignore[return-value]


# ----------------------------------------------------------- what each module type does


@dataclass(frozen=True)
class _Effect:
    """What one module does to the running quantities.

    Receptive field and jump (``None`` once not spatial), the spatial extent folded in by a flatten, its multiply-accumulates,
    its piecewise-linear kind (``"linear"``, ``"relu"``, ``"maxout"``, ``"nonpl"``) and the
    window size of a max pooling.
    """

    rf: tuple[int, int] | None
    jump: tuple[int, int] | None
    flat_extent: tuple[int, int] | None
    macs: int = 0
    pl_kind: str = "linear"
    pool_k: int = 1


_ModuleHandler = Callable[[Any, _Info, tuple[int, ...], _Effect], _Effect]


def _conv2d(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    macs = _numel(shape) * (mod.in_channels // mod.groups) * int(np.prod(mod.kernel_size))
    rf, jump = eff.rf, eff.jump
    if rf is not None and jump is not None:
        rf, jump = _window(rf, jump, _pair(mod.kernel_size), _pair(mod.stride), _pair(mod.dilation))
    return replace(eff, rf=rf, jump=jump, macs=macs)


def _conv_other(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    macs = _numel(shape) * (mod.in_channels // mod.groups) * int(np.prod(mod.kernel_size))
    return replace(eff, rf=None, jump=None, macs=macs)  # 1-D / 3-D: no 2-D receptive field


def _linear(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    rf, jump = eff.rf, eff.jump
    if eff.flat_extent is not None:  # every input position feeds every output
        rf, jump = _global(first, eff.flat_extent)
    return replace(eff, rf=rf, jump=jump, flat_extent=None, macs=_numel(shape) * mod.in_features)


def _relu(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    return replace(eff, pl_kind="relu")


def _not_piecewise_linear(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    return replace(eff, pl_kind="nonpl")


def _pool2d(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    ks, st = _pair(mod.kernel_size), _pair(mod.stride or mod.kernel_size)
    dil = _pair(getattr(mod, "dilation", 1))
    rf, jump = eff.rf, eff.jump
    if rf is not None and jump is not None:
        rf, jump = _window(rf, jump, ks, st, dil)
    if isinstance(mod, nn.MaxPool2d):
        return replace(eff, rf=rf, jump=jump, pl_kind="maxout", pool_k=ks[0] * ks[1])
    return replace(eff, rf=rf, jump=jump)


def _adaptive_pool2d(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    rf, jump, pool_k = _adaptive(first, shape)
    pl_kind = "maxout" if isinstance(mod, nn.AdaptiveMaxPool2d) else eff.pl_kind
    return replace(eff, rf=rf, jump=jump, pool_k=pool_k, pl_kind=pl_kind)


def _flatten(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    return replace(eff, flat_extent=_spatial(first.shape))


def _normalisation(mod: Any, first: _Info, shape: tuple[int, ...], eff: _Effect) -> _Effect:
    return eff  # affine per feature: parameters counted, nothing else changes


_MODULE_HANDLERS: dict[type[nn.Module], _ModuleHandler] = {
    nn.Conv2d: _conv2d,
    nn.Conv1d: _conv_other,
    nn.Conv3d: _conv_other,
    nn.Linear: _linear,
    **dict.fromkeys(_RELU_MODULES, _relu),
    **dict.fromkeys(_NONPL_MODULES, _not_piecewise_linear),
    nn.MaxPool2d: _pool2d,
    nn.AvgPool2d: _pool2d,
    nn.AdaptiveAvgPool2d: _adaptive_pool2d,
    nn.AdaptiveMaxPool2d: _adaptive_pool2d,
    nn.Flatten: _flatten,
    **dict.fromkeys(
        (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm), _normalisation
    ),
}
"""Module type -> its handler; a subclass uses the handler of its nearest registered base."""


def _module_handler(mod: nn.Module) -> _ModuleHandler | None:
    for cls in type(mod).__mro__:
        handler = _MODULE_HANDLERS.get(cls)
        if handler is not None:
            return handler
    return None


def _module_params(m: nn.Module) -> tuple[int, bool]:
    """Parameter count from hyper-parameters (True) or by counting tensors (False)."""
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)):
        k = int(np.prod(m.kernel_size))
        n = m.out_channels * (m.in_channels // m.groups) * k
        return n + (m.out_channels if m.bias is not None else 0), True
    if isinstance(m, nn.Linear):
        return m.in_features * m.out_features + (m.out_features if m.bias is not None else 0), True
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        return (2 * m.num_features if m.affine else 0), True
    return sum(p.numel() for p in m.parameters(recurse=True)), False


def architecture_metrics(
    model: nn.Module,
    *,
    input_shape: Sequence[int] = (1, 16, 16),
) -> ArchitectureReport:
    """Per-layer and global architecture metrics from the module graph alone.

    Parameters
    ----------
    model
        The network (not modified: a copy on the ``meta`` device is traced).
    input_shape
        Shape of one input sample, e.g. ``(channels, height, width)``.

    Returns
    -------
    ArchitectureReport
        One :class:`LayerArchitecture` per graph node and the composed totals.

    Raises
    ------
    ValueError
        If the model cannot be traced symbolically (data-dependent control
        flow) or does not accept the input shape.
    """
    import networkx as nx
    from torch.fx.passes.shape_prop import ShapeProp

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    input_shape = tuple(int(s) for s in input_shape)
    if not input_shape or any(s < 1 for s in input_shape):
        raise ValueError(f"input_shape must be positive sizes of one sample, got {input_shape}")
    meta = copy.deepcopy(model).to("meta")
    meta.eval()
    try:
        gm = torch.fx.symbolic_trace(meta)
    except Exception as exc:  # torch.fx raises many types
        raise ValueError(
            f"{type(model).__name__} cannot be traced with torch.fx ({exc}); architecture metrics "
            "need a static graph: trace a submodule or remove data-dependent control flow"
        ) from exc
    example = torch.empty((1, *input_shape), device="meta")
    try:
        ShapeProp(gm).propagate(example)
    except Exception as exc:
        raise ValueError(
            f"{type(model).__name__} does not accept inputs of shape {input_shape} ({exc}); "
            "pass the shape of one sample as input_shape"
        ) from exc
    modules = dict(gm.named_modules())
    nodes = [n for n in gm.graph.nodes]
    n0 = _numel(input_shape)

    # dominators for merges
    graph = nx.DiGraph()
    root = "__root__"
    graph.add_node(root)
    for node in nodes:
        graph.add_node(node.name)
        if node.op == "placeholder":
            graph.add_edge(root, node.name)
        for inp in node.all_input_nodes:
            graph.add_edge(inp.name, node.name)
    idom = nx.immediate_dominators(graph, root)

    infos: dict[str, _Info] = {}
    rows: list[LayerArchitecture] = []
    calls: dict[str, int] = {}
    state = np.full(n0 + 1, -math.inf)
    state[n0] = 0.0
    owner: str | None = None
    bound_defined = True
    seen_params: set[str] = set()
    total_params = 0
    total_macs = 0
    last_spatial_rf: tuple[int, int] | None = None

    def shape_of(node: Any) -> tuple[int, ...] | None:
        tm = node.meta.get("tensor_meta")
        if tm is None or not hasattr(tm, "shape"):
            return None
        return tuple(int(s) for s in tm.shape[1:])

    def scope_of(node: Any) -> str:
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            path = list(stack.values())[-1][0]
            return str(path)
        return ""

    for node in nodes:
        if node.op in ("placeholder",):
            shape = shape_of(node) or input_shape
            sp = _spatial(shape)
            infos[node.name] = _Info(shape, (1, 1) if sp else None, (1, 1) if sp else None, dmax=n0)
            owner = node.name
            continue
        if node.op in ("output", "get_attr"):
            continue
        node_shape = shape_of(node)
        if node_shape is None:  # a non-tensor value (a size, a tuple): not a layer
            continue
        shape = node_shape
        tensor_inputs = [i for i in node.all_input_nodes if i.name in infos]
        if not tensor_inputs:
            continue
        first = infos[tensor_inputs[0].name]
        out_dim = _numel(shape)
        in_dim = (
            sum(_numel(infos[i.name].shape) for i in tensor_inputs)
            if node.target in _CAT
            else _numel(first.shape)
        )
        rf, jump, flat_extent = first.rf, first.jump, first.flat_extent
        params = macs = 0
        kind = ""
        pl_kind = "linear"  # "linear" | "relu" | "maxout" | "nonpl" | "merge"
        pool_k = 1
        if node.op == "call_module":
            mod = modules[str(node.target)]
            base = str(node.target)
            k = calls.get(base, 0)
            calls[base] = k + 1
            name = call_name(base, k)
            kind = type(mod).__name__
            if base not in seen_params:
                params, _exact = _module_params(mod)
                seen_params.add(base)
            handler = _module_handler(mod)
            if handler is not None:
                eff = handler(mod, first, shape, _Effect(rf, jump, flat_extent))
                rf, jump, flat_extent = eff.rf, eff.jump, eff.flat_extent
                macs, pl_kind, pool_k = eff.macs, eff.pl_kind, eff.pool_k
            elif params:
                log.warning(
                    "module %s (%s): parameters counted, MACs and receptive field not modelled",
                    name,
                    kind,
                )
        else:
            target = node.target
            kind = target if isinstance(target, str) else getattr(target, "__name__", str(target))
            scope = scope_of(node)
            name = f"{scope}/{node.name}" if scope else node.name
            if target in _RELU_FUNCS or target in _RELU_METHODS:
                pl_kind = "relu"
            elif target in _NONPL_FUNCS or target in _NONPL_METHODS:
                pl_kind = "nonpl"
            elif target in (F.max_pool2d, F.avg_pool2d, F.max_pool2d_with_indices):
                ks = _pair(_arg(node, 1, "kernel_size"))
                st_arg = _arg(node, 2, "stride")
                st = _pair(st_arg) if st_arg not in (None, [], ()) else ks
                if rf is not None and jump is not None:
                    rf, jump = _window(rf, jump, ks, st)
                if target is not F.avg_pool2d:
                    pl_kind, pool_k = "maxout", ks[0] * ks[1]
            elif target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
                rf, jump, pool_k = _adaptive(first, shape)
                if target is F.adaptive_max_pool2d:
                    pl_kind = "maxout"
            elif target in _FLATTEN_FUNCS or target in _FLATTEN_METHODS:
                if len(shape) < len(first.shape):
                    flat_extent = _spatial(first.shape)
            elif target in (torch.matmul, torch.mm, torch.bmm, operator.matmul, "matmul"):
                other = infos[tensor_inputs[-1].name].shape if len(tensor_inputs) > 1 else (1,)
                macs = out_dim * int(other[-2] if len(other) >= 2 else other[-1])
            elif target is operator.getitem:
                sl = node.args[1] if len(node.args) > 1 else None
                if isinstance(sl, tuple) and len(sl) == 4 and rf is not None and jump is not None:
                    steps = tuple(int(s.step or 1) if isinstance(s, slice) else 1 for s in sl[2:])
                    jump = (jump[0] * steps[0], jump[1] * steps[1])
            if len({i.name for i in tensor_inputs}) > 1 and (
                target in _ADD or target in _CAT or target in (operator.mul, torch.mul)
            ):
                pl_kind = "merge"
                rfs = [infos[i.name].rf for i in tensor_inputs]
                jumps = [infos[i.name].jump for i in tensor_inputs]
                if all(r is not None for r in rfs) and all(j is not None for j in jumps):
                    rf = (max(r[0] for r in rfs), max(r[1] for r in rfs))  # type: ignore[index]
                    jump = (max(j[0] for j in jumps), max(j[1] for j in jumps))  # type: ignore[index]
                kind = (
                    ("cat" if target in (torch.cat, torch.concat) else "stack")
                    if target in _CAT
                    else kind
                )
        # ---- region bound (layer algebra over the image dimension)
        src = tensor_inputs[0].name
        src_dim = infos[src].dmax
        if pl_kind == "merge":
            fork = idom.get(node.name)
            fork_dim = infos[fork].dmax if fork in infos else n0
            branch_sum = sum(infos[i.name].dmax for i in tensor_inputs)
            state = _reset(state, min(fork_dim, branch_sum, out_dim))
            owner = node.name
        elif pl_kind in ("relu", "maxout", "nonpl"):
            if owner != src:
                state = _reset(state, src_dim)
            if pl_kind == "relu":
                state = _relu_step(state, out_dim)
            elif pl_kind == "maxout":
                state = _arrangement_step(state, out_dim * math.comb(pool_k, 2), out_dim)
            else:
                bound_defined = False
            owner = node.name
        elif owner == src:
            state = _cap(state, out_dim)
            owner = node.name
        dmax = _top(state) if owner == node.name else min(src_dim, out_dim)
        infos[node.name] = _Info(shape, rf, jump, flat_extent, dmax)
        if _spatial(shape) is not None and rf is not None:
            last_spatial_rf = rf
        bound = _logsumexp(state) / _LOG10 if bound_defined else math.nan
        n_pl = (
            out_dim
            if pl_kind == "relu"
            else (out_dim * math.comb(pool_k, 2) if pl_kind == "maxout" else 0)
        )
        total_params += params
        total_macs += macs
        rows.append(
            LayerArchitecture(
                layer=name,
                kind=kind,
                output_shape=shape,
                input_dim=in_dim,
                output_dim=out_dim,
                params=int(params),
                macs=int(macs),
                receptive_field=rf,
                jump=jump,
                compression_ratio=out_dim / in_dim if in_dim else math.nan,
                cumulative_compression=out_dim / n0,
                pl_units=int(n_pl),
                log10_regions_bound=bound,
            )
        )
    out_node = [n for n in nodes if n.op == "output"]
    final = rows[-1] if rows else None
    if out_node and out_node[0].all_input_nodes:
        src = out_node[0].all_input_nodes[0].name
        final_info = infos.get(src)
    else:
        final_info = None
    rf_final = (
        final_info.rf if final_info is not None and final_info.rf is not None else last_spatial_rf
    )
    return ArchitectureReport(
        model=type(model).__name__,
        input_shape=input_shape,
        layers=tuple(rows),
        total_params=int(total_params),
        total_macs=int(total_macs),
        log10_regions_bound=(_logsumexp(state) / _LOG10) if bound_defined else math.nan,
        receptive_field=rf_final,
        output_dim=_numel(final_info.shape)
        if final_info is not None
        else (final.output_dim if final else 0),
        graph="torch.fx",
    )


def _arg(node: Any, pos: int, name: str) -> Any:
    if len(node.args) > pos:
        return node.args[pos]
    return node.kwargs.get(name)


def _adaptive(first: _Info, shape: tuple[int, ...]) -> tuple[Any, Any, int]:
    """Receptive field, jump and window size of an adaptive pooling layer."""
    in_sp = _spatial(first.shape)
    out_sp = _spatial(shape)
    if in_sp is None or out_sp is None or first.rf is None or first.jump is None:
        return first.rf, first.jump, 1
    ks = tuple(math.ceil(in_sp[i] / out_sp[i]) for i in range(2))
    st = tuple(max(1, in_sp[i] // out_sp[i]) for i in range(2))
    rf, jump = _window(first.rf, first.jump, ks, st)  # type: ignore[arg-type]
    return rf, jump, int(ks[0] * ks[1])
