"""One module per data format, and one ``.npz`` reader for images and token data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tda_activations.datasets as ds
from tda_activations.datasets import formats
from tda_activations.datasets.formats._npz import read_npz

IMAGES_HOW = "numpy.savez(path, images=..., labels=...)"
TOKENS_HOW = "numpy.savez(path, input_ids=..., attention_mask=..., labels=...)"


def test_the_namespace_offers_the_format_modules_loaders() -> None:
    assert ds.load_npz is formats.npz.load_npz
    assert ds.load_cifar is formats.cifar.load_cifar
    assert ds.load_image_folder is formats.image_folder.load_image_folder
    assert ds.from_torchvision is formats.torch_dataset.from_torchvision
    assert ds.IMAGE_EXTENSIONS is formats.image_folder.IMAGE_EXTENSIONS


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Broken files and the words the error must contain."""
    text = tmp_path / "text.npz"
    text.write_text("not numpy at all")
    single = tmp_path / "single.npz"
    with open(single, "wb") as fh:
        np.save(fh, np.zeros(3))
    objects = tmp_path / "objects.npz"
    np.savez(
        objects,
        images=np.zeros((2, 4, 4)),
        labels=np.array([0, 1]),
        input_ids=np.zeros((2, 3), dtype=np.int64),
        class_names=np.array(["a", None], dtype=object),
    )
    corrupt = tmp_path / "corrupt.npz"
    np.savez(corrupt, images=np.zeros((2, 4, 4)), input_ids=np.zeros((2, 3), dtype=np.int64))
    corrupt.write_bytes(corrupt.read_bytes()[:40])
    return {
        "text": (text, "not a zip archive"),
        "single": (single, "single array"),
        "objects": (objects, "string array"),
        "corrupt": (corrupt, "not a readable .npz"),
    }


@pytest.mark.parametrize("case", ["text", "single", "objects", "corrupt"])
def test_images_and_tokens_get_the_same_one_line_errors(tmp_path: Path, case: str) -> None:
    path, words = bad_files(tmp_path)[case]
    for load, how in ((ds.load_npz, IMAGES_HOW), (ds.load_token_npz, TOKENS_HOW)):
        with pytest.raises(ValueError, match=words) as err:
            load(path)
        msg = str(err.value)
        assert "\n" not in msg and str(path) in msg
        if case != "objects":
            assert how in msg


def test_read_npz_returns_every_array_bit_for_bit(tmp_path: Path) -> None:
    arrays = {
        "a": np.arange(6, dtype=np.int16).reshape(2, 3),
        "b": np.array(["x", "yz"]),
        "c": np.random.default_rng(0).normal(size=4),
    }
    path = tmp_path / "ok.npz"
    np.savez(path, **arrays)
    got = read_npz(path, how="numpy.savez(path, a=...)", what="arrays")
    assert sorted(got) == sorted(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and np.array_equal(got[k], v)
