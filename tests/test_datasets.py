"""Tests of tda_activations.datasets: synthetic data, shipped hierarchies, loaders, bad input.

Every loader test writes tiny files in the real format itself (tmp_path) and checks
that the pixels come back exactly (uint8 / 255).  Topology of the synthetic shapes is
cross-checked with ripser (Vietoris-Rips) and GUDHI (alpha complexes); the digits
against scikit-learn's raw data; image resizing against PIL.
"""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.spatial.distance import pdist

from tda_activations.datasets import (
    IMAGE_EXTENSIONS,
    flat_hierarchy,
    from_torchvision,
    hierarchy_from_dict,
    hierarchy_to_dict,
    known_betti_numbers,
    load_cifar,
    load_dataset,
    load_digits,
    load_hierarchy,
    load_image_folder,
    load_npz,
    make_circle,
    make_shape,
    make_sphere,
    make_torus,
    make_two_circles,
    make_xor,
    random_rotation,
    shape_names,
)
from tda_activations.types import ClassHierarchy, ImageDataset

CIFAR10_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


# =============================================================================== XOR


def test_xor_shapes_types_and_determinism() -> None:
    X, y = make_xor(101, noise=0.1, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    X2, y2 = make_xor(101, noise=0.1, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make_xor(101, noise=0.1, seed=4)
    assert not np.allclose(X, X3)


def test_xor_without_noise_is_the_four_corners_with_parity_labels() -> None:
    X, y = make_xor(8, noise=0.0, seed=0)
    corners = {tuple(r) for r in X.tolist()}
    assert corners == {(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)}
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert np.bincount(y).tolist() == [4, 4]


def test_xor_information_is_second_order_only() -> None:
    """Equal means, opposite covariances; linear model at chance, product feature perfect."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    X, y = make_xor(2000, noise=0.25, seed=0)
    for k in (0, 1):
        np.testing.assert_allclose(X[y == k].mean(axis=0), 0.0, atol=0.05)
    cov0, cov1 = np.cov(X[y == 0].T)[0, 1], np.cov(X[y == 1].T)[0, 1]
    assert cov0 > 0.8 and cov1 < -0.8
    linear = cross_val_score(LogisticRegression(), X, y, cv=5).mean()
    quadratic = cross_val_score(LogisticRegression(), X[:, :1] * X[:, 1:], y, cv=5).mean()
    assert linear < 0.6
    assert quadratic > 0.97


def test_xor_in_three_dimensions_is_third_order() -> None:
    X, y = make_xor(4000, noise=0.2, seed=1, dim=3)
    assert X.shape == (4000, 3)
    # all first and second moments agree between the classes ...
    for k in (0, 1):
        np.testing.assert_allclose(X[y == k].mean(axis=0), 0.0, atol=0.06)
    np.testing.assert_allclose(np.cov(X[y == 0].T), np.cov(X[y == 1].T), atol=0.08)
    # ... and the triple product separates them
    triple = X.prod(axis=1)
    assert np.mean((triple < 0) == (y == 1)) > 0.97


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 3}, "at least 4"),
        ({"n": 10, "noise": -1.0}, "noise"),
        ({"n": 10, "dim": 1}, "dim"),
        ({"n": 10, "noise": float("nan")}, "noise"),
    ],
)
def test_xor_bad_input(kwargs: dict, match: str) -> None:
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=match):
        make_xor(n, **kwargs)


def test_xor_rejects_non_integer_n() -> None:
    with pytest.raises(TypeError, match="integer"):
        make_xor(10.5)  # type: ignore[arg-type]


# ============================================================================ shapes


def test_shapes_lie_on_their_surfaces_without_noise() -> None:
    c = make_circle(200, radius=2.5, seed=0)
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.5)
    s = make_sphere(300, radius=0.5, seed=0)
    assert s.shape == (300, 3)
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), 0.5)
    t = make_torus(400, major_radius=3.0, minor_radius=1.0, seed=0)
    ring = np.hypot(t[:, 0], t[:, 1])
    np.testing.assert_allclose((ring - 3.0) ** 2 + t[:, 2] ** 2, 1.0)
    two = make_two_circles(101, radius=1.0, separation=4.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(two[:51], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(two[51:] - [4.0, 0.0], axis=1), 1.0)
    for arr in (c, s, t, two):
        assert arr.dtype == np.float64


def test_sphere_and_torus_are_uniform_by_area() -> None:
    s = make_sphere(20000, seed=1)
    # Archimedes: z is uniform on [-1, 1] for the uniform measure on S^2
    np.testing.assert_allclose(np.quantile(s[:, 2], [0.25, 0.5, 0.75]), [-0.5, 0.0, 0.5], atol=0.03)
    big, small = 2.0, 1.0
    t = make_torus(20000, major_radius=big, minor_radius=small, seed=1)
    outer = np.mean(np.hypot(t[:, 0], t[:, 1]) > big)
    # area of the outer half (cos > 0) over the whole: (pi R + 2 r) / (2 pi R)
    assert outer == pytest.approx((np.pi * big + 2 * small) / (2 * np.pi * big), abs=0.015)


def test_noise_and_seed() -> None:
    a = make_circle(500, noise=0.1, seed=7)
    np.testing.assert_array_equal(a, make_circle(500, noise=0.1, seed=7))
    assert not np.allclose(a, make_circle(500, noise=0.1, seed=8))
    r = np.linalg.norm(a, axis=1)
    assert 0.05 < r.std() < 0.15  # radial spread is about the noise level


@pytest.mark.parametrize("name", ["circle", "two_circles", "torus", "sphere"])
def test_ambient_embedding_is_an_isometry(name: str) -> None:
    base = make_shape(name, 60, noise=0.05, seed=2)
    lifted = make_shape(name, 60, noise=0.05, seed=2, ambient_dim=9)
    assert lifted.shape == (60, 9)
    np.testing.assert_allclose(pdist(lifted), pdist(base), rtol=1e-10, atol=1e-12)
    # the embedding really uses the extra dimensions
    assert np.linalg.matrix_rank(lifted - lifted.mean(0), tol=1e-8) == base.shape[1]
    assert np.abs(lifted[:, base.shape[1] :]).max() > 1e-3


def test_random_rotation_is_orthogonal() -> None:
    q = random_rotation(7, seed=5)
    np.testing.assert_allclose(q @ q.T, np.eye(7), atol=1e-12)
    np.testing.assert_array_equal(q, random_rotation(7, seed=5))


def test_shape_bad_input() -> None:
    with pytest.raises(ValueError, match="ambient_dim"):
        make_torus(10, ambient_dim=2)
    with pytest.raises(ValueError, match="minor_radius"):
        make_torus(10, major_radius=1.0, minor_radius=2.0)
    with pytest.raises(ValueError, match="separation"):
        make_two_circles(10, separation=1.5)
    with pytest.raises(ValueError, match="radius"):
        make_circle(10, radius=0.0)
    with pytest.raises(ValueError, match="at least 1"):
        make_sphere(0)
    with pytest.raises(ValueError, match="did you mean 'torus'"):
        make_shape("toruss", 10)
    with pytest.raises(ValueError, match="did you mean 'sphere'"):
        known_betti_numbers("spher")


def _long_bars(dgm: np.ndarray, threshold: float) -> int:
    return int(np.sum(dgm[:, 1] - dgm[:, 0] > threshold))


@pytest.mark.parametrize("name", ["circle", "two_circles"])
def test_circles_homology_with_ripser(name: str) -> None:
    """Peer check: Vietoris-Rips persistence (ripser) recovers b0 and b1, even when lifted."""
    import ripser

    betti = known_betti_numbers(name)
    for ambient in (None, 6):
        X = make_shape(name, 120, noise=0.05, seed=0, ambient_dim=ambient)
        dgms = ripser.ripser(X, maxdim=1)["dgms"]
        assert _long_bars(dgms[0], 0.6) == betti[0]
        assert _long_bars(dgms[1], 0.6) == betti[1]


@pytest.mark.parametrize("name, n", [("torus", 1500), ("sphere", 400)])
def test_surfaces_homology_with_gudhi_alpha(name: str, n: int) -> None:
    """Peer check: GUDHI's alpha complex recovers b0, b1, b2 of the torus and the sphere."""
    import gudhi

    X = make_shape(name, n, noise=0.02, seed=0)
    st = gudhi.AlphaComplex(points=X).create_simplex_tree()
    st.compute_persistence()
    for d, b in enumerate(known_betti_numbers(name)):
        bars = np.sqrt(st.persistence_intervals_in_dimension(d).reshape(-1, 2))  # radii
        assert _long_bars(bars, 0.45) == b, (name, d)


def test_shape_registry() -> None:
    assert set(shape_names()) == {"circle", "two_circles", "torus", "sphere"}
    assert known_betti_numbers("torus") == (1, 2, 1)
    assert known_betti_numbers("sphere") == (1, 0, 1)
    np.testing.assert_array_equal(make_shape("sphere", 20, seed=1), make_sphere(20, seed=1))


# ======================================================================= hierarchies


def test_shipped_cifar_hierarchies() -> None:
    h10 = load_hierarchy("cifar10")
    assert list(h10.class_names) == CIFAR10_NAMES
    vehicles = {
        h10.class_names[i]
        for i, p in enumerate(h10.parents["coarse"])
        if h10.names("coarse")[p] == "vehicle"
    }
    assert vehicles == {"airplane", "automobile", "ship", "truck"}
    h100 = load_hierarchy("cifar100")
    assert len(h100.class_names) == 100 and list(h100.class_names) == sorted(h100.class_names)
    assert len(h100.names("coarse")) == 20
    assert np.bincount(h100.parents["coarse"]).tolist() == [5] * 20
    assert h100.map_labels([h100.class_names.index("whale")], "coarse").tolist() == [
        h100.names("coarse").index("aquatic_mammals")
    ]
    assert hierarchy_from_dict(hierarchy_to_dict(h100)) == h100


def test_hierarchy_errors(tmp_path: Path) -> None:
    base = {
        "classes": ["a", "b"],
        "levels": {"coarse": {"names": ["g"], "members": {"g": ["a", "b"]}}},
    }
    assert hierarchy_from_dict(base).map_labels([0, 1], "coarse").tolist() == [0, 0]
    with pytest.raises(ValueError, match="'c', which is not one of the classes"):
        hierarchy_from_dict(
            {"classes": ["a", "b"], "levels": {"coarse": {"members": {"g": ["a", "b", "c"]}}}}
        )
    with pytest.raises(ValueError, match="in two groups"):
        hierarchy_from_dict(
            {
                "classes": ["a", "b"],
                "levels": {"coarse": {"members": {"g": ["a", "b"], "h": ["a"]}}},
            }
        )
    with pytest.raises(ValueError, match=r"does not place the classes \['b'\]"):
        hierarchy_from_dict(
            {"classes": ["a", "b"], "levels": {"coarse": {"members": {"g": ["a"]}}}}
        )
    with pytest.raises(ValueError, match="no 'classes'"):
        hierarchy_from_dict({"levels": {}})
    with pytest.raises(ValueError, match="unique"):
        hierarchy_from_dict({"classes": ["a", "a"]})
    with pytest.raises(ValueError, match="not in its 'names'"):
        hierarchy_from_dict(
            {"classes": ["a"], "levels": {"coarse": {"names": ["g"], "members": {"h": ["a"]}}}}
        )
    with pytest.raises(ValueError, match="did you mean 'cifar10'"):
        load_hierarchy("cifar1O")
    with pytest.raises(FileNotFoundError):
        load_hierarchy(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_hierarchy(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(base))
    assert load_hierarchy(good).class_names == ("a", "b")


# ============================================================================ digits


def test_digits_match_scikit_learn() -> None:
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits()
    split = load_digits(test_size=0.3, seed=0)
    assert len(split.train) + len(split.test) == 1797
    assert not set(split.train.sample_ids) & set(split.test.sample_ids)
    for part in (split.train, split.test):
        assert part.images.shape[1:] == (1, 8, 8) and part.images.dtype == np.float32
        np.testing.assert_array_equal(part.images[:, 0] * 16.0, raw.images[part.sample_ids])
        np.testing.assert_array_equal(part.labels, raw.target[part.sample_ids])
    # stratified: class proportions within 1 image
    counts = np.bincount(split.test.labels)
    np.testing.assert_allclose(counts, np.bincount(raw.target) * 0.3, atol=1.0)
    up = load_digits(upsample=4)
    assert up.test.image_shape == (1, 32, 32)
    assert 0.0 <= up.test.images.min() and up.test.images.max() <= 1.0
    with pytest.raises(ValueError, match="upsample"):
        load_digits(upsample=0)
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=1.0)


# ============================================================================= CIFAR


def _dump(obj: object, path: Path, *, protocol: int = 2) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def write_cifar10(root: Path, *, batch_sizes=(3, 2), n_test=4, seed=0, str_keys=False) -> dict:
    """A CIFAR-10 python directory with few images; returns what was written."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    key = (lambda k: k) if str_keys else (lambda k: k.encode())
    _dump(
        {key("label_names"): [n.encode() for n in CIFAR10_NAMES], key("num_vis"): 3072},
        root / "batches.meta",
    )
    written = {}
    for name, n in [
        *((f"data_batch_{i + 1}", k) for i, k in enumerate(batch_sizes)),
        ("test_batch", n_test),
    ]:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).tolist()
        _dump(
            {
                key("batch_label"): name.encode(),
                key("labels"): labels,
                key("data"): data,
                key("filenames"): [b"x.png"] * n,
            },
            root / name,
            protocol=5 if str_keys else 2,
        )
        written[name] = (data, np.array(labels))
    return written


def test_cifar10_round_trip(tmp_path: Path) -> None:
    written = write_cifar10(tmp_path / "c10")
    test = load_cifar(tmp_path / "c10")
    data, labels = written["test_batch"]
    assert test.name == "cifar10/test" and test.images.shape == (4, 3, 32, 32)
    np.testing.assert_array_equal(test.images, data.reshape(4, 3, 32, 32).astype(np.float32) / 255)
    np.testing.assert_array_equal(test.labels, labels)
    # row-major RGB planes: column 1024 is the top-left green value, 33 is red at (1, 1)
    assert test.images[0, 1, 0, 0] == np.float32(data[0, 1024]) / 255
    assert test.images[2, 0, 1, 1] == np.float32(data[2, 33]) / 255
    # the coarse level is the animal/vehicle grouping
    vehicle = [CIFAR10_NAMES.index(c) for c in ("airplane", "automobile", "ship", "truck")]
    np.testing.assert_array_equal(test.labels_at("coarse") == 1, np.isin(labels, vehicle))
    train = load_cifar(tmp_path / "c10", split="train")
    expected = np.concatenate([written["data_batch_1"][0], written["data_batch_2"][0]])
    np.testing.assert_array_equal(train.images, expected.reshape(5, 3, 32, 32) / np.float32(255))
    np.testing.assert_array_equal(train.sample_ids, np.arange(5))
    limited = load_cifar(tmp_path / "c10", split="train", limit=4)
    np.testing.assert_array_equal(limited.images, train.images[:4])


def test_cifar10_from_parent_dir_and_str_keys(tmp_path: Path) -> None:
    written = write_cifar10(tmp_path / "cifar-10-batches-py", str_keys=True)
    ds = load_cifar(tmp_path)
    np.testing.assert_array_equal(ds.labels, written["test_batch"][1])
    assert ds.hierarchy == load_hierarchy("cifar10")


def test_cifar10_pickles_written_by_numpy_1(tmp_path: Path) -> None:
    """The official files reference numpy.core (NumPy 1.x); they must load under NumPy 2 too."""
    written = write_cifar10(tmp_path)
    raw = (tmp_path / "test_batch").read_bytes()
    assert b"numpy._core.multiarray\n_reconstruct" in raw  # protocol 2: text GLOBAL opcodes
    (tmp_path / "test_batch").write_bytes(raw.replace(b"numpy._core.", b"numpy.core."))
    np.testing.assert_array_equal(
        load_cifar(tmp_path).images,
        written["test_batch"][0].reshape(-1, 3, 32, 32) / np.float32(255),
    )


def write_cifar100(root: Path, *, n=6, seed=0, coarse_override=None) -> dict:
    h = load_hierarchy("cifar100")
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    _dump(
        {
            b"fine_label_names": [c.encode() for c in h.class_names],
            b"coarse_label_names": [c.encode() for c in h.names("coarse")],
        },
        root / "meta",
    )
    out = {}
    for split in ("train", "test"):
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        fine = rng.choice(100, size=n, replace=False)
        coarse = h.map_labels(fine, "coarse") if coarse_override is None else coarse_override(fine)
        _dump(
            {
                b"data": data,
                b"fine_labels": fine.tolist(),
                b"coarse_labels": list(map(int, coarse)),
                b"filenames": [b"x.png"] * n,
            },
            root / split,
        )
        out[split] = (data, fine, np.asarray(coarse))
    return out


def test_cifar100_round_trip_and_hierarchy(tmp_path: Path) -> None:
    written = write_cifar100(tmp_path / "cifar-100-python")
    ds = load_cifar(tmp_path / "cifar-100-python", split="train")
    data, fine, coarse = written["train"]
    assert ds.name == "cifar100/train"
    np.testing.assert_array_equal(ds.images, data.reshape(-1, 3, 32, 32) / np.float32(255))
    np.testing.assert_array_equal(ds.labels, fine)
    np.testing.assert_array_equal(ds.labels_at("coarse"), coarse)
    # classes without images are placed by the shipped file, so the whole table is standard
    assert ds.hierarchy == load_hierarchy("cifar100")
    assert len(load_cifar(tmp_path, split="test", limit=2)) == 2


def test_cifar100_mapping_is_taken_from_the_data(tmp_path: Path) -> None:
    # a non-standard but consistent mapping: fine label f -> coarse f % 20 ...
    h = load_hierarchy("cifar100")
    root = tmp_path / "c100"
    h_names = [c.encode() for c in h.class_names]
    _dump(
        {
            b"fine_label_names": h_names,
            b"coarse_label_names": [c.encode() for c in h.names("coarse")],
        },
        root.mkdir() or root / "meta",
    )
    fine = np.arange(100)
    _dump(
        {
            b"data": np.zeros((100, 3072), np.uint8),
            b"fine_labels": fine.tolist(),
            b"coarse_labels": (fine % 20).tolist(),
        },
        root / "test",
    )
    ds = load_cifar(root)
    np.testing.assert_array_equal(ds.hierarchy.parents["coarse"], fine % 20)


def test_cifar100_inconsistent_coarse_labels(tmp_path: Path) -> None:
    root = tmp_path / "c100"
    write_cifar100(root, n=4)
    test = pickle.loads((root / "test").read_bytes())
    test[b"fine_labels"] = [7, 7, 8, 9]
    test[b"coarse_labels"] = [1, 2, 3, 3]
    _dump(test, root / "test")
    with pytest.raises(ValueError, match="inconsistent.*'beetle'.*every fine class must belong"):
        load_cifar(root)


def test_cifar100_unknown_classes_without_images(tmp_path: Path) -> None:
    root = tmp_path / "c100"
    root.mkdir()
    _dump({b"fine_label_names": [b"x", b"y", b"z"], b"coarse_label_names": [b"g"]}, root / "meta")
    _dump(
        {b"data": np.zeros((1, 3072), np.uint8), b"fine_labels": [0], b"coarse_labels": [0]},
        root / "test",
    )
    with pytest.raises(ValueError, match=r"\['y', 'z'\].*pass the hierarchy"):
        load_cifar(root)


def test_cifar_wrong_directory_says_what_was_expected_and_found(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    (tmp_path / "images").mkdir()
    with pytest.raises(
        ValueError, match=r"expected the files batches\.meta.*found images/, readme\.txt"
    ):
        load_cifar(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_cifar(tmp_path / "nope")
    with pytest.raises(ValueError, match="is a file"):
        load_cifar(tmp_path / "readme.txt")


def test_cifar_missing_files(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(ValueError, match=r"lacks test_batch.*found batches\.meta, data_batch_1"):
        load_cifar(tmp_path)
    assert len(load_cifar(tmp_path, split="train")) == 5  # train still loads
    (tmp_path / "batches.meta").unlink()
    with pytest.raises(ValueError, match="lacks batches.meta"):
        load_cifar(tmp_path, split="train")
    with pytest.raises(ValueError, match="did you mean 'train'"):
        load_cifar(tmp_path, split="trian")  # type: ignore[arg-type]


def test_cifar_corrupt_and_malicious_pickles(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    good = (tmp_path / "test_batch").read_bytes()
    (tmp_path / "test_batch").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="test_batch is not a readable CIFAR python batch"):
        load_cifar(tmp_path)
    (tmp_path / "test_batch").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="corrupt"):
        load_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    _dump({b"data": Evil()}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="refusing to load .*print"):
        load_cifar(tmp_path)
    _dump([1, 2, 3], tmp_path / "test_batch")
    with pytest.raises(ValueError, match="holds a list"):
        load_cifar(tmp_path)


def test_cifar_bad_contents(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    _dump({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="one integer label per image"):
        load_cifar(tmp_path)
    _dump({b"data": np.zeros((3, 3000), np.uint8), b"labels": [0, 1, 2]}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="3000 columns"):
        load_cifar(tmp_path)
    _dump({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="uint8"):
        load_cifar(tmp_path)
    _dump({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 1]}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="no 'labels' entry"):
        load_cifar(tmp_path)
    _dump({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="no images"):
        load_cifar(tmp_path)
    _dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, tmp_path / "test_batch")
    with pytest.raises(ValueError, match="names 10 classes"):
        load_cifar(tmp_path)


# ====================================================================== image folder


def write_image_folder(
    root: Path, *, mode: str = "RGB", size=(5, 4), seed=0
) -> dict[str, list[np.ndarray]]:
    """3 classes of 2 PNGs each; returns the uint8 pixels written, by class."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {}
    for cls in ("cat", "ant", "bee"):
        (root / cls).mkdir(parents=True)
        out[cls] = []
        for i in range(2):
            shape = size if mode == "L" else (*size, 3)
            arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
            Image.fromarray(arr, mode=mode).save(root / cls / f"img{i}.png")
            out[cls].append(arr)
    return out


def test_image_folder_rgb_round_trip(tmp_path: Path) -> None:
    written = write_image_folder(tmp_path / "pets")
    ds = load_image_folder(tmp_path / "pets")
    assert ds.hierarchy.class_names == ("ant", "bee", "cat")
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.images.shape == (6, 3, 5, 4) and ds.name == "pets"
    expected = np.stack([a for c in ("ant", "bee", "cat") for a in written[c]])
    np.testing.assert_array_equal(ds.images, np.transpose(expected, (0, 3, 1, 2)) / np.float32(255))


def test_image_folder_grayscale_and_mixed(tmp_path: Path) -> None:
    written = write_image_folder(tmp_path / "g", mode="L")
    ds = load_image_folder(tmp_path / "g")
    assert ds.image_shape == (1, 5, 4)
    np.testing.assert_array_equal(ds.images[0, 0], written["ant"][0] / np.float32(255))
    as_rgb = load_image_folder(tmp_path / "g", color="rgb")
    assert as_rgb.image_shape == (3, 5, 4)
    np.testing.assert_array_equal(as_rgb.images[:, 0], as_rgb.images[:, 2])
    # one RGBA image among grayscale ones: auto chooses RGB and drops alpha
    rgba = np.random.default_rng(1).integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "g" / "cat" / "z.png")
    mixed = load_image_folder(tmp_path / "g")
    assert mixed.image_shape == (3, 5, 4)
    np.testing.assert_array_equal(
        mixed.images[-1], np.transpose(rgba[:, :, :3], (2, 0, 1)) / np.float32(255)
    )
    # explicit grayscale of RGB data is PIL's luma conversion
    gray = load_image_folder(tmp_path / "g", color="grayscale")
    pil_l = np.asarray(Image.fromarray(rgba, mode="RGBA").convert("L"))
    np.testing.assert_array_equal(gray.images[-1, 0], pil_l / np.float32(255))
    with pytest.raises(ValueError, match="did you mean 'rgb'"):
        load_image_folder(tmp_path / "g", color="rbg")  # type: ignore[arg-type]


def test_image_folder_sixteen_bit_and_jpeg(tmp_path: Path) -> None:
    arr = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    (tmp_path / "a").mkdir()
    Image.fromarray(arr).save(tmp_path / "a" / "x.png")
    ds = load_image_folder(tmp_path)
    np.testing.assert_array_equal(ds.images[0, 0], arr / np.float32(65535))
    (tmp_path / "b").mkdir()
    Image.fromarray(np.full((2, 2, 3), 200, np.uint8)).save(tmp_path / "b" / "y.JPG")
    both = load_image_folder(tmp_path)
    assert both.image_shape == (3, 2, 2) and both.labels.tolist() == [0, 1]
    np.testing.assert_allclose(both.images[1], 200 / 255, atol=3 / 255)  # JPEG is lossy


def test_image_folder_sizes(tmp_path: Path) -> None:
    write_image_folder(tmp_path, size=(8, 8))
    odd = np.random.default_rng(2).integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    Image.fromarray(odd).save(tmp_path / "bee" / "odd.png")
    with pytest.raises(ValueError, match=r"different sizes.*bee/odd\.png is 6x10.*pass size="):
        load_image_folder(tmp_path)
    ds = load_image_folder(tmp_path, size=(4, 5))
    assert ds.images.shape == (7, 3, 4, 5)
    # resizing agrees with PIL's own bilinear resize of the 8-bit image (to rounding)
    pil = np.asarray(Image.fromarray(odd).resize((5, 4), Image.Resampling.BILINEAR)) / 255
    idx = int(np.flatnonzero(ds.labels == 1)[-1])
    np.testing.assert_allclose(ds.images[idx], np.transpose(pil, (2, 0, 1)), atol=1.01 / 255)
    assert load_image_folder(tmp_path, size=3).image_shape == (3, 3, 3)
    with pytest.raises(ValueError, match="size"):
        load_image_folder(tmp_path, size=(0, 4))


def test_image_folder_with_hierarchy(tmp_path: Path) -> None:
    for cls in ("truck", "cat", "airplane"):
        (tmp_path / cls).mkdir()
        Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / cls / "a.png")
    ds = load_image_folder(tmp_path, hierarchy="cifar10")
    assert ds.labels.tolist() == [0, 3, 9]  # CIFAR-10 label order, not folder order
    assert ds.labels_at("coarse").tolist() == [1, 0, 1]
    (tmp_path / "trukc").mkdir()
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "trukc" / "a.png")
    with pytest.raises(ValueError, match="folder 'trukc' is not a class.*did you mean 'truck'"):
        load_image_folder(tmp_path, hierarchy="cifar10")


def test_image_folder_bad_input(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(FileNotFoundError):
        load_image_folder(tmp_path / "none")
    (tmp_path / "loose.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"no class folders.*found loose\.png"):
        load_image_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"class folders \['empty'\] hold no images"):
        load_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match="broken.png cannot be read as an image"):
        load_image_folder(tmp_path)
    (tmp_path / "empty" / "broken.png").unlink()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "empty" / "ok.png")
    with caplog.at_level(logging.WARNING):
        assert len(load_image_folder(tmp_path)) == 1
    assert "ignored" in caplog.text
    assert ".png" in IMAGE_EXTENSIONS


# =============================================================================== npz


@pytest.mark.parametrize("layout", ["nhw", "nhwc", "nchw"])
def test_npz_layouts_round_trip(tmp_path: Path, layout: str) -> None:
    rng = np.random.default_rng(0)
    nchw = rng.integers(0, 256, size=(5, 1 if layout == "nhw" else 3, 6, 7), dtype=np.uint8)
    stored = {"nhw": nchw[:, 0], "nhwc": np.transpose(nchw, (0, 2, 3, 1)), "nchw": nchw}[layout]
    labels = np.array([0, 1, 2, 1, 0])
    np.savez(tmp_path / "d.npz", images=stored, labels=labels)
    for given in ("auto", layout):
        ds = load_npz(tmp_path / "d.npz", layout=given)  # type: ignore[arg-type]
        np.testing.assert_array_equal(ds.images, nchw / np.float32(255))
        np.testing.assert_array_equal(ds.labels, labels)
        assert ds.hierarchy.class_names == ("0", "1", "2") and ds.name == "d"


def test_npz_names_coarse_labels_and_floats(tmp_path: Path) -> None:
    images = np.random.default_rng(1).random((4, 2, 2)).astype(np.float32)
    np.savez(
        tmp_path / "f.npz",
        images=images,
        labels=[0, 1, 2, 2],
        class_names=np.array(["ant", "bee", "cow"]),
        coarse_labels=[0, 0, 1, 1],
        coarse_names=np.array(["insect", "mammal"]),
    )
    ds = load_npz(tmp_path / "f.npz")
    np.testing.assert_array_equal(ds.images[:, 0], images)
    assert ds.hierarchy.class_names == ("ant", "bee", "cow")
    assert ds.hierarchy.names("coarse") == ("insect", "mammal")
    assert ds.labels_at("coarse").tolist() == [0, 0, 1, 1]
    over = load_npz(tmp_path / "f.npz", hierarchy=flat_hierarchy(["x", "y", "z"]))
    assert over.hierarchy.class_names == ("x", "y", "z")
    np.savez(tmp_path / "i.npz", images=np.array([[[0, 128]], [[255, 7]]]), labels=[0, 0])
    np.testing.assert_array_equal(
        load_npz(tmp_path / "i.npz").images[1, 0, 0], [1.0, np.float32(7) / 255]
    )


def test_npz_bad_input(tmp_path: Path) -> None:
    f = tmp_path / "x.npz"
    np.savez(f, images=np.zeros((3, 4, 4), np.uint8), labels=[0, 1])
    with pytest.raises(ValueError, match="'labels' has shape \\(2,\\) but there are 3 images"):
        load_npz(f)
    np.savez(f, pixels=np.zeros((3, 4, 4), np.uint8), labels=[0, 1, 2])
    with pytest.raises(ValueError, match=r"no 'images' array \(it has \['labels', 'pixels'\]\)"):
        load_npz(f)
    np.savez(f, images=np.zeros((0, 4, 4), np.uint8), labels=np.zeros(0, int))
    with pytest.raises(ValueError, match="empty"):
        load_npz(f)
    np.savez(f, images=np.zeros((2, 3, 5, 3), np.uint8), labels=[0, 1])
    with pytest.raises(ValueError, match="cannot tell the layout.*layout='nchw'"):
        load_npz(f)
    assert load_npz(f, layout="nhwc").image_shape == (3, 3, 5)
    with pytest.raises(ValueError, match="needs a 3-D array"):
        load_npz(f, layout="nhw")
    with pytest.raises(ValueError, match="did you mean 'nhwc'"):
        load_npz(f, layout="nwhc")  # type: ignore[arg-type]
    np.savez(f, images=np.full((2, 4, 4), 2.0), labels=[0, 1])
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\].*divide 0..255 data by 255"):
        load_npz(f)
    np.savez(f, images=np.full((2, 4, 4), 300), labels=[0, 1])
    with pytest.raises(ValueError, match="uint8"):
        load_npz(f)
    np.savez(f, images=np.zeros((2, 4, 4)), labels=[0.0, 1.0])
    with pytest.raises(TypeError, match="must be integers"):
        load_npz(f)
    np.savez(f, images=np.zeros((2, 4, 4)), labels=[0, 3], class_names=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="names only 2 classes"):
        load_npz(f)
    np.savez(f, images=np.zeros((3, 4, 4)), labels=[0, 0, 1], coarse_labels=[0, 1, 1])
    with pytest.raises(ValueError, match="inconsistent: fine class '0'"):
        load_npz(f)
    np.savez(
        f, images=np.zeros((2, 4, 4)), labels=[0, 1], class_names=np.array(["a", "b"], dtype=object)
    )
    with pytest.raises(ValueError, match="string array"):
        load_npz(f)
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match="single array"):
        load_npz(tmp_path / "single.npy")
    f.write_bytes(b"PK\x03\x04 truncated zip")
    with pytest.raises(ValueError, match="not a readable .npz file"):
        load_npz(f)
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")


# ======================================================================= torchvision


class _FakeVisionDataset:
    """Mimics a torchvision dataset: PIL images, int targets, a ``classes`` list."""

    classes = ["zero", "one"]

    def __init__(self, arrays: list[np.ndarray], targets: list[int]) -> None:
        self.arrays, self.targets = arrays, targets

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, i: int):
        return Image.fromarray(self.arrays[i]), self.targets[i]


def test_from_torch_style_datasets() -> None:
    import torch

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8) for _ in range(3)]
    ds = from_torchvision(_FakeVisionDataset(arrays, [1, 0, 1]))
    assert ds.hierarchy.class_names == ("zero", "one") and ds.name == "_fakevisiondataset"
    np.testing.assert_array_equal(
        ds.images, np.stack([a.transpose(2, 0, 1) for a in arrays]) / np.float32(255)
    )
    assert from_torchvision(_FakeVisionDataset(arrays, [1, 0, 1]), limit=2).labels.tolist() == [
        1,
        0,
    ]
    tensors = [(torch.rand(1, 5, 5), torch.tensor(i % 2)) for i in range(4)]
    tds = from_torchvision(tensors, hierarchy=flat_hierarchy(["a", "b"]), name="t")
    np.testing.assert_array_equal(tds.images[2], tensors[2][0].numpy())
    # uint8 tensors (what torchvision's PILToTensor gives) are divided by 255, 2-D ones get a channel
    raw = torch.randint(0, 256, (2, 3, 4), dtype=torch.uint8)
    u8 = from_torchvision([(raw, 0)])
    np.testing.assert_array_equal(u8.images[0], raw.numpy() / np.float32(255))
    assert from_torchvision([(raw[0], 0)]).image_shape == (1, 3, 4)
    # NumPy images follow NumPy's (h, w, c) convention
    hwc = np.random.default_rng(1).integers(0, 256, (3, 4, 2), dtype=np.uint8)
    np.testing.assert_array_equal(
        from_torchvision([(hwc, 0)]).images[0], hwc.transpose(2, 0, 1) / np.float32(255)
    )
    with pytest.raises(ValueError, match="item 1 has shape.*Resize"):
        from_torchvision([(torch.rand(1, 5, 5), 0), (torch.rand(1, 4, 5), 0)])
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        from_torchvision([(torch.full((1, 2, 2), 3.0), 0)])
    with pytest.raises(TypeError, match="not an integer class index"):
        from_torchvision([(torch.rand(1, 2, 2), "cat")])
    with pytest.raises(TypeError, match="expected a PIL image"):
        from_torchvision([("path.png", 0)])
    with pytest.raises(ValueError, match="empty"):
        from_torchvision([])


def test_from_torchvision_fake_data() -> None:
    tv = pytest.importorskip("torchvision")
    fake = tv.datasets.FakeData(
        size=4, image_size=(3, 6, 5), num_classes=3, transform=tv.transforms.PILToTensor()
    )
    ds = from_torchvision(fake)
    assert ds.images.shape == (4, 3, 6, 5)
    np.testing.assert_array_equal(ds.images[1], fake[1][0].numpy() / np.float32(255))
    np.testing.assert_array_equal(ds.labels, [int(fake[i][1]) for i in range(4)])


# ========================================================================== dispatch


def test_load_dataset_dispatch(tmp_path: Path) -> None:
    digits = load_dataset("digits", limit=10)
    assert len(digits) == 10 and digits.image_shape == (1, 8, 8)
    assert load_dataset("digits:x4", split="train", limit=3).image_shape == (1, 32, 32)
    write_cifar10(tmp_path / "c10")
    assert load_dataset(tmp_path / "c10").name == "cifar10/test"
    assert len(load_dataset(str(tmp_path / "c10"), split="train", limit=2)) == 2
    write_cifar100(tmp_path / "c100")
    assert load_dataset(tmp_path / "c100").name == "cifar100/test"
    write_image_folder(tmp_path / "folder")
    assert load_dataset(tmp_path / "folder").hierarchy.class_names == ("ant", "bee", "cat")
    write_image_folder(tmp_path / "split" / "train", seed=1)
    write_image_folder(tmp_path / "split" / "test", seed=2)
    part = load_dataset(tmp_path / "split", split="train", size=2)
    assert part.name == "split/train" and part.image_shape == (3, 2, 2)
    np.savez(tmp_path / "a.npz", images=np.zeros((3, 2, 2), np.uint8), labels=[0, 1, 0])
    assert len(load_dataset(tmp_path / "a.npz", limit=2)) == 2


def test_load_dataset_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither a known dataset name"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="digits:x<k>"):
        load_dataset("digits:4")
    with pytest.raises(ValueError, match="at least 1"):
        load_dataset("digits:x0")
    with pytest.raises(ValueError, match="limit"):
        load_dataset("digits", limit=0)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="cannot load a .txt file"):
        load_dataset(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"not a dataset directory.*found notes\.txt"):
        load_dataset(tmp_path)


def test_digits_spec_applies_limit_before_upsampling() -> None:
    """'digits:x<k>' upsamples only the images it keeps: same pixels, ids, name and
    fingerprint as upsampling everything first and then taking the first ``limit``."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits as sk_digits

    for spec, k, split, limit in (("digits:x4", 4, "test", 7), ("digits:x3", 3, "train", 5)):
        got = load_dataset(spec, split=split, limit=limit)
        full = getattr(load_digits(upsample=k), split)
        ref = full.subset(np.arange(limit))
        np.testing.assert_array_equal(got.images, ref.images)
        np.testing.assert_array_equal(got.sample_ids, ref.sample_ids)
        assert got.name == ref.name == f"digitsx{k}/{split}"
        assert got.fingerprint == ref.fingerprint
    # a factor whose full upsampling would not fit is fine for two images; pixels checked
    # against torch's interpolation of scikit-learn's raw digits
    big = load_dataset("digits:x100", limit=2)
    assert big.image_shape == (1, 800, 800)
    raw = sk_digits().images.astype(np.float32)[big.sample_ids, None] / 16.0
    expected = F.interpolate(
        torch.from_numpy(raw), scale_factor=100, mode="bilinear", align_corners=False
    ).numpy()
    np.testing.assert_array_equal(big.images, expected)


def test_digits_upsampling_over_the_memory_budget_is_refused() -> None:
    # 540 test images of 8000 x 8000 float32 pixels: 540 * 8000**2 * 4 bytes = 128.7 GiB
    with pytest.raises(ValueError, match=r"'digits:x1000'.*would need 128\.7 GiB.*limit="):
        load_dataset("digits:x1000")
    with pytest.raises(ValueError, match=r"1797 digits x1000.*428\.4 GiB"):
        load_digits(upsample=1000)
    with pytest.raises(ValueError, match="positive integer"):
        load_digits(upsample=True)  # type: ignore[arg-type]


def test_containers_reject_bad_shapes() -> None:
    """The loaders rely on ImageDataset's own checks for the last line of defence."""
    h = flat_hierarchy(["a"])
    with pytest.raises(ValueError, match="empty"):
        ImageDataset(images=np.zeros((0, 1, 2, 2)), labels=np.zeros(0, int), hierarchy=h)
    with pytest.raises(ValueError, match="one label per image"):
        ImageDataset(images=np.zeros((2, 1, 2, 2)), labels=np.zeros(3, int), hierarchy=h)
    assert isinstance(h, ClassHierarchy)
