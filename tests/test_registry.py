"""The one Registry: build by name, pass objects through, refuse duplicates and unknowns.

Every stage's registry (similarity measures, diagram distances, reductions, lenses,
transform groups, persistence backends) is checked to be one and to behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tda_activations._registry import Registry
from tda_activations.extract.reductions import REDUCTIONS, get_reduction
from tda_activations.homology import (
    BACKENDS,
    diagram_distance_names,
    get_diagram_distance,
    register_diagram_distance,
)
from tda_activations.homology import distances as hdist
from tda_activations.mapper.lenses import LENSES, as_lens
from tda_activations.probes import transforms
from tda_activations.similarity import _base as sbase
from tda_activations.similarity import available_measures, get_measure, register_measure


@dataclass(frozen=True)
class _Thing:
    size: int = 1
    colour: str = "red"


def _make(*, size: int = 1, colour: str = "red") -> _Thing:
    return _Thing(size, colour)


def test_get_builds_with_defaults_overridden_and_passes_objects_through() -> None:
    reg: Registry[_Thing] = Registry("thing", types=_Thing)
    reg.register("big", _make, defaults={"size": 10}, description="a big thing")
    assert reg.names() == ("big",) and "big" in reg and list(reg) == ["big"] and len(reg) == 1
    assert reg.get("big") == _Thing(10, "red")
    assert reg.get("big", colour="blue", size=2) == _Thing(2, "blue")
    obj = _Thing(3)
    assert reg.get(obj) is obj
    assert reg.entry("big").description == "a big thing" and reg["big"] is _make


def test_unknown_parameter_lists_the_accepted_ones() -> None:
    reg: Registry[_Thing] = Registry("thing", types=_Thing)
    reg.register("big", _make, defaults={"size": 10})
    with pytest.raises(
        TypeError, match=r"thing 'big' takes no parameter 'weight'; accepted: size, colour"
    ):
        reg.get("big", weight=3)


def test_parameters_with_an_object_are_refused() -> None:
    reg: Registry[_Thing] = Registry("thing", types=_Thing)
    with pytest.raises(ValueError, match="set them on the object"):
        reg.get(_Thing(), size=2)
    with pytest.raises(TypeError, match="must be given by name"):
        reg.get(3)


def test_unknown_name_suggests_close_matches() -> None:
    reg: Registry[_Thing] = Registry("thing")
    reg.register("sliced", _make)
    reg.register("bottle", _make)
    with pytest.raises(ValueError, match=r"unknown thing 'slicde': did you mean 'sliced'"):
        reg.get("slicde")
    with pytest.raises(ValueError, match="unknown thing"):
        reg["nothing"]


def test_duplicates_raise_unless_replace() -> None:
    reg: Registry[_Thing] = Registry("thing")
    reg.register("a", _make)
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        reg.register("a", lambda: _Thing(5))
    reg.register("a", lambda: _Thing(5), replace=True)
    assert reg.get("a") == _Thing(5)
    with pytest.raises(TypeError, match="non-empty string"):
        reg.register("", _make)
    with pytest.raises(TypeError, match="callable"):
        reg.register("b", 3)  # type: ignore[arg-type]


def test_a_factory_with_var_keywords_accepts_anything() -> None:
    reg: Registry[dict[str, int]] = Registry("bag")
    reg.register("bag", lambda **kw: dict(kw))
    assert reg.get("bag", x=1) == {"x": 1}


def test_every_stage_uses_the_one_registry() -> None:
    for reg in (sbase._REGISTRY, hdist._REGISTRY, REDUCTIONS, LENSES, transforms._GROUPS, BACKENDS):
        assert isinstance(reg, Registry)
    assert available_measures() == sbase._REGISTRY.names()
    assert diagram_distance_names() == hdist._REGISTRY.names()
    assert tuple(BACKENDS) == ("ripser", "giotto-ph", "gudhi")
    assert "top_l2" in REDUCTIONS and get_reduction("top_l2", seed=3).seed == 3


def test_the_stage_lookups_share_the_duplicate_policy() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_measure("linear_cka", lambda: None)
    with pytest.raises(ValueError, match="already registered"):
        register_diagram_distance("bottleneck", lambda: None)


def test_the_stage_lookups_share_the_unknown_name_and_parameter_errors() -> None:
    with pytest.raises(ValueError, match="did you mean 'linear_cka'"):
        get_measure("linear_ck")
    with pytest.raises(TypeError, match="accepted: debiased, form"):
        get_measure("linear_cka", debias=True)
    with pytest.raises(TypeError, match="accepted: n_directions, essential"):
        get_diagram_distance("sliced_wasserstein", M=50)
    with pytest.raises(ValueError, match="did you mean 'top_l2'"):
        get_reduction("top_l3")
    with pytest.raises(ValueError, match="did you mean 'l2norm'"):
        as_lens("l2nrom")
    with pytest.raises(
        ValueError, match="bad parameters for lens 'pca'.*accepted: n_components, seed"
    ):
        as_lens("pca", k=3)
    with pytest.raises(ValueError, match="did you mean 'rotations'"):
        transforms.named_group("rotation")
