"""Results that save and load (tda_activations.io), compact reprs and Diagrams.to_pandas."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest

from tda_activations import io as tio
from tda_activations.types import (
    ActivationSet,
    ClassHierarchy,
    Diagrams,
    ImageDataset,
    LayerMatrix,
    Split,
)

HIER = ClassHierarchy(
    class_names=("0", "1", "2", "3"),
    parents={"coarse": (0, 0, 1, 1)},
    level_names={"coarse": ("A", "B")},
)


def assert_same(a: Any, b: Any, where: str = "obj") -> None:
    """Equal type, equal values; arrays equal bit for bit (dtype, shape, bytes)."""
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype == object:
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
                assert_same(x, y, f"{where}[{i}]")
        else:
            assert a.tobytes() == b.tobytes(), where
        assert not b.flags.writeable, f"{where}: loaded arrays are read-only"
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def roundtrip(obj: Any, tmp_path: Any, name: str = "r.npz") -> Any:
    path = tio.save(obj, tmp_path / name)
    assert tio.provenance_path(path).is_file()
    back = tio.load(path)
    assert_same(obj, back)
    return back


def _circle_acts(rng: np.random.Generator) -> ActivationSet:
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    circle = np.c_[np.cos(t), np.sin(t)] + 0.01 * rng.normal(size=(40, 2))
    blob = rng.normal(size=(40, 3)).astype(np.float32)
    return ActivationSet(
        clouds={"circle": circle, "blob": blob},
        sample_index={"circle": np.arange(40), "blob": np.arange(40)},
        labels=np.arange(40) % 4,
        hierarchy=HIER,
        reduction="synthetic",
        params={"seed": 0, "note": [1, 2.5, None]},
        model_fingerprint="m" * 16,
        data_fingerprint="d" * 16,
        predictions=(np.arange(40) + 1) % 4,
    )


# ------------------------------------------------------------------ round trips


def test_diagrams_round_trip_with_essential_bars_and_persistence(tmp_path):
    from tda_activations.homology import persistence

    rng = np.random.default_rng(0)
    dg = persistence(_circle_acts(rng).cloud("circle"), maxdim=1, label="circle")
    assert np.isinf(dg[0][:, 1]).sum() == 1 and len(dg[1]) >= 1  # a circle: one long H1 bar
    back = roundtrip(dg, tmp_path)
    assert back.threshold == dg.threshold and back.params == dg.params


def test_dict_of_diagrams_and_layer_matrix_round_trip(tmp_path):
    from tda_activations.homology import distance_matrix, layer_persistence

    acts = _circle_acts(np.random.default_rng(1))
    dgms = layer_persistence(acts, maxdim=1)
    roundtrip(dgms, tmp_path, "dgms.npz")
    mat = distance_matrix(dgms, metric="sliced_wasserstein", dim=1)
    back = roundtrip(mat, tmp_path, "sw.npz")
    assert back.to_pandas().equals(mat.to_pandas())


def test_activation_set_and_dataset_round_trip(tmp_path):
    acts = _circle_acts(np.random.default_rng(2))
    back = roundtrip(acts, tmp_path)
    assert back.cloud("blob").dtype == np.float32
    ds = ImageDataset(
        images=np.random.default_rng(0).random((5, 1, 4, 4)),
        labels=[0, 1, 2, 3, 0],
        hierarchy=HIER,
        name="tiny",
    )
    roundtrip(Split(train=ds, test=ds.subset([1, 2])), tmp_path, "split.npz")


def test_mapper_graph_and_layer_mapper_round_trip(tmp_path):
    from tda_activations.mapper import layer_mapper

    rng = np.random.default_rng(3)
    clouds = {"a": rng.normal(size=(120, 3)), "b": rng.normal(size=(120, 3)) * 5}
    acts = ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(120) for k in clouds},
        labels=np.arange(120) % 4,
        hierarchy=HIER,
        reduction="synthetic",
    )
    mp = layer_mapper(acts, progress=False, eps=1.5, min_samples=3)
    roundtrip(mp.graphs["a"], tmp_path, "graph.npz")
    back = roundtrip(mp, tmp_path, "mapper.npz")
    assert back.to_pandas().equals(mp.to_pandas())


def test_experiment_results_round_trip(tmp_path):
    from tda_activations import experiments as ex

    rng = np.random.default_rng(4)
    base = [rng.normal(size=(30, 4)) for _ in range(4)]
    models = {}
    for m in range(3):
        clouds = [c + 0.05 * rng.normal(size=c.shape) for c in base]
        models[f"s{m}"] = ActivationSet(
            clouds={f"l{i}": c for i, c in enumerate(clouds)},
            sample_index={f"l{i}": np.arange(30) for i in range(4)},
            labels=np.arange(30) % 4,
            hierarchy=HIER,
            reduction="t",
            model_fingerprint=f"fp{m}",
            data_fingerprint="d",
        )
    res = ex.layer_correspondence(
        models, measures=["linear_cka", "rsa"], n_permutations=19, n_bootstrap=20, progress=False
    )
    back = roundtrip(res, tmp_path, "corr.npz")
    assert back.to_pandas().equals(res.to_pandas())
    assert list(back.matrices) == list(res.matrices)  # tuple keys survive
    mono = ex.layer_monotonicity(models["s0"], measures=["linear_cka"], progress=False)
    roundtrip(mono, tmp_path, "mono.npz")


def test_probe_result_round_trip(tmp_path):
    from tda_activations.probes import separability_of_features

    rng = np.random.default_rng(5)
    res = separability_of_features(rng.normal(size=(40, 3)), np.arange(40) % 4, layer="x")
    roundtrip(res, tmp_path)


# --------------------------------------------------------------- bad input, damage


def test_save_refuses_what_is_not_a_result(tmp_path):
    with pytest.raises(TypeError, match="cannot be saved"):
        tio.save({"f": lambda x: x}, tmp_path / "x.npz")

    @dataclasses.dataclass(frozen=True)
    class Mine:
        x: int = 1

    with pytest.raises(TypeError, match="only results of tda_activations"):
        tio.save([Mine()], tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    with pytest.raises(ValueError, match="directory"):
        tio.save(HIER, tmp_path)


def test_load_refuses_damaged_foreign_and_missing_files(tmp_path):
    dg = Diagrams(dgms=(np.array([[0.0, 1.0], [0.0, np.inf]]),), maxdim=0, label="x")
    path = tio.save(dg, tmp_path / "d.npz")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="does not match its provenance sidecar"):
        tio.load(path)
    with pytest.raises(ValueError, match="not a readable saved result|damaged"):
        tio.load(path, verify=False)  # the zip checksum still catches it
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(ValueError, match="not a saved tda_activations result"):
        tio.load(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="not a readable saved result"):
        tio.load(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match="no such file"):
        tio.load(tmp_path / "missing.npz")


def test_load_refuses_a_type_outside_the_package(tmp_path):
    import io as _io

    header = {
        "format": tio.FORMAT,
        "version": 1,
        "type": "os:system",
        "object": {"__dataclass__": "os:system", "fields": {}},
    }
    buf = _io.BytesIO()
    np.savez(buf, __header__=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    (tmp_path / "evil.npz").write_bytes(buf.getvalue())
    with pytest.raises(ValueError, match="not a tda_activations result"):
        tio.load(tmp_path / "evil.npz")


def test_provenance_sidecar_content(tmp_path):
    mat = LayerMatrix(
        values=np.eye(2),
        row_labels=("a", "b"),
        col_labels=("a", "b"),
        measure="m",
        kind="similarity",
        params={"k": 1},
    )
    path = tio.save(mat, tmp_path / "m.npz")
    side = tio.read_provenance(path)
    import hashlib

    assert side["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert side["result"]["type"].endswith(":LayerMatrix") and side["result"]["measure"] == "m"
    assert side["result"]["params"] == {"k": 1} and side["package"]["name"] == "tda_activations"
    with pytest.raises(FileNotFoundError):
        tio.write_provenance(tmp_path / "nothing.csv")


# ------------------------------------------------------------------------ reprs


def test_reprs_are_compact_and_never_print_arrays():
    rng = np.random.default_rng(6)
    names = [f"layer{i // 4 + 1}.{i % 2}.conv{i % 2 + 1}" for i in range(17)]
    clouds = {
        f"{n}#{i}": rng.normal(size=(1000, 64)).astype(np.float32) for i, n in enumerate(names)
    }
    acts = ActivationSet(
        clouds=clouds,
        sample_index={k: np.arange(1000) for k in clouds},
        labels=rng.integers(0, 4, 1000),
        hierarchy=HIER,
        reduction="top_l2",
        model_fingerprint="ab" * 8,
        data_fingerprint="cd" * 8,
    )
    text = repr(acts)
    assert len(text) < 1500 and "17 layers" in text and "1000 samples" in text
    assert "array" not in text and "(1000, 64)" in text and "..." in text
    dg = Diagrams(
        dgms=(np.array([[0, 1.0], [0, np.inf]]), np.array([[0.5, 0.7]])),
        maxdim=1,
        label="conv1",
        n_points=3,
    )
    assert repr(dg) == (
        "Diagrams('conv1', H0: 2 bars (1 essential); H1: 1 bars; n_points=3, "
        "coeff=2, threshold=inf, metric='euclidean', backend='')"
    )
    mat = LayerMatrix(
        values=np.arange(4.0).reshape(2, 2),
        row_labels=("a", "b"),
        col_labels=("a", "b"),
        measure="sw",
        kind="distance",
    )
    assert repr(mat) == "LayerMatrix('sw', distance, 2x2, values in [0, 3]; rows: a, b)"
    assert "array" not in repr(HIER) and "coarse: 2" in repr(HIER)


def test_result_reprs_are_compact():
    from tda_activations import experiments as ex

    rng = np.random.default_rng(7)
    models = {
        f"s{m}": ActivationSet(
            clouds={f"l{i}": rng.normal(size=(20, 3)) for i in range(3)},
            sample_index={f"l{i}": np.arange(20) for i in range(3)},
            labels=np.arange(20) % 4,
            hierarchy=HIER,
            reduction="t",
            model_fingerprint=f"fp{m}",
        )
        for m in range(2)
    }
    res = ex.layer_correspondence(
        models, measures=["linear_cka"], n_permutations=0, n_bootstrap=0, progress=False
    )
    text = repr(res)
    assert text.startswith("CorrespondenceResult(") and len(text) < 600 and "array" not in text


# ----------------------------------------------------------------- to_pandas


def test_diagrams_to_pandas_matches_the_arrays():
    dg = Diagrams(
        dgms=(np.array([[0, 1.0], [0, np.inf]]), np.array([[0.5, 0.75]])), maxdim=1, label="conv1"
    )
    df = dg.to_pandas()
    assert list(df.columns) == ["layer", "dim", "birth", "death", "persistence"]
    assert df["dim"].tolist() == [0, 0, 1] and (df["layer"] == "conv1").all()
    assert df["persistence"].tolist() == [1.0, np.inf, 0.25]
    empty = Diagrams(dgms=(np.zeros((0, 2)),), maxdim=0).to_pandas()
    assert len(empty) == 0 and list(empty.columns) == list(df.columns)
