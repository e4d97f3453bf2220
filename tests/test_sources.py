"""Data sources: every accepted kind of data streams the same batches, ids and labels; memory
holds one batch; token data from files; each bad input is one clear error."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

from tda_activations.datasets import (
    Batch,
    DataSource,
    TokenDataset,
    as_source,
    flat_hierarchy,
    load_dataset,
    load_digits,
    load_hierarchy,
    load_token_npz,
)
from tda_activations.types import ImageDataset

DIGITS = load_digits().test


def _concat(source: DataSource, batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, ids = [], [], []
    expected_start = 0
    for b in source.batches(batch_size):
        assert isinstance(b, Batch) and b.start == expected_start
        expected_start += len(b)
        xs.append(b.inputs.numpy() if isinstance(b.inputs, torch.Tensor) else b.inputs)
        ys.append(b.labels)
        ids.append(b.sample_ids)
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ids)


# ------------------------------------------------------------------------ in-memory data


def test_image_dataset_batches_are_its_rows_with_ids_and_labels() -> None:
    src = as_source(DIGITS)
    assert (src.name, src.kind, src.n, src.hierarchy) == (
        "digits/test",
        "images",
        len(DIGITS),
        DIGITS.hierarchy,
    )
    assert src.fingerprint == DIGITS.fingerprint and src.fingerprint_complete
    batches = list(src.batches(100))
    assert [len(b) for b in batches] == [100] * 5 + [40]
    assert all(b.inputs.dtype == torch.float32 and b.inputs.device.type == "cpu" for b in batches)
    x, y, ids = _concat(src, 100)
    np.testing.assert_array_equal(x, DIGITS.images)
    np.testing.assert_array_equal(y, DIGITS.labels)
    np.testing.assert_array_equal(ids, DIGITS.sample_ids)
    assert y.dtype == np.int64 and ids.dtype == np.int64
    np.testing.assert_array_equal(src.example().numpy(), DIGITS.images[:1])


def test_ids_are_stable_across_reads_and_batch_sizes() -> None:
    part = DIGITS.subset([5, 3, 40, 7, 100])
    src = as_source(part)
    _, _, a = _concat(src, 2)
    _, _, b = _concat(src, 64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, DIGITS.sample_ids[[5, 3, 40, 7, 100]])


def test_a_model_writing_into_its_input_does_not_alter_the_dataset() -> None:
    before = np.array(DIGITS.images[:4])
    batch = next(as_source(DIGITS).batches(4))
    batch.inputs.mul_(0).add_(7)  # an in-place model op on its input
    np.testing.assert_array_equal(DIGITS.images[:4], before)


def test_transform_applies_per_batch_and_is_part_of_the_fingerprint() -> None:
    def normaliser(mean: float, std: float):
        return lambda x: (x - mean) / std

    src = as_source(DIGITS, transform=normaliser(0.3, 0.2))
    x, _, _ = _concat(src, 64)
    np.testing.assert_allclose(x, (DIGITS.images - np.float32(0.3)) / np.float32(0.2), rtol=1e-6)
    same = as_source(DIGITS, transform=normaliser(0.3, 0.2)).fingerprint
    other = as_source(DIGITS, transform=normaliser(0.3, 0.25)).fingerprint
    assert src.fingerprint == same != other != DIGITS.fingerprint
    torch_norm = torch.nn.Identity()
    assert as_source(DIGITS, transform=torch_norm).fingerprint not in (src.fingerprint, other)


def test_transform_must_keep_the_batch() -> None:
    with pytest.raises(ValueError, match="changed the batch size from 8 to 1"):
        next(as_source(DIGITS, transform=lambda x: x[:1]).batches(8))
    with pytest.raises(TypeError, match="transform= returned something unusable"):
        next(as_source(DIGITS, transform=lambda x: "oops").batches(8))
    with pytest.raises(TypeError, match="transform must be callable"):
        as_source(DIGITS, transform=3)  # type: ignore[arg-type]


def test_tensor_dataset_is_sliced_and_fully_hashed() -> None:
    x, y = torch.randn(10, 3), torch.arange(10) % 3
    src = as_source(TensorDataset(x, y), hierarchy=flat_hierarchy("abc"))
    assert src.kind == "tensors" and src.n == 10 and src.fingerprint_complete
    assert src.hierarchy is not None and src.hierarchy.class_names == ("a", "b", "c")
    got_x, got_y, ids = _concat(src, 4)
    np.testing.assert_array_equal(got_x, x.numpy())
    np.testing.assert_array_equal(got_y, y.numpy())
    np.testing.assert_array_equal(ids, np.arange(10))
    x2 = x.clone()
    x2[5, 1] += 1.0  # one value in the middle changes the fingerprint
    assert as_source(TensorDataset(x2, y)).fingerprint != as_source(TensorDataset(x, y)).fingerprint
    unlabelled = next(as_source(TensorDataset(x)).batches(3))
    assert unlabelled.labels is None


# ------------------------------------------------------------------------ torch datasets


class DictDataset(Dataset):
    """Hugging Face style items: a dict of tensors with a 'labels' entry, and its own ids."""

    def __init__(self, n: int, seq: int = 4) -> None:
        self.n, self.seq = n, seq
        self.sample_ids = np.arange(n) * 10 + 1
        self.hierarchy = flat_hierarchy(["neg", "pos"])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        return {
            "input_ids": torch.arange(self.seq) + i,
            "attention_mask": torch.ones(self.seq, dtype=torch.long),
            "labels": i % 2,
        }


def test_map_dataset_of_dict_items_collates_keyword_inputs() -> None:
    ds = DictDataset(7)
    src = as_source(ds)
    assert src.kind == "dataset" and src.n == 7 and src.hierarchy is ds.hierarchy
    assert not src.fingerprint_complete
    batches = list(src.batches(3))
    assert [len(b) for b in batches] == [3, 3, 1]
    first = batches[0]
    assert isinstance(first.inputs, dict) and set(first.inputs) == {"input_ids", "attention_mask"}
    np.testing.assert_array_equal(
        first.inputs["input_ids"].numpy(), np.arange(4)[None, :] + np.arange(3)[:, None]
    )
    np.testing.assert_array_equal(np.concatenate([b.labels for b in batches]), np.arange(7) % 2)
    np.testing.assert_array_equal(
        np.concatenate([b.sample_ids for b in batches]), ds.sample_ids
    )  # the dataset's own ids, not row numbers
    example = src.example()
    assert {k: tuple(v.shape) for k, v in example.items()} == {
        "input_ids": (1, 4),
        "attention_mask": (1, 4),
    }


class TripleDataset(Dataset):
    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return torch.full((2,), float(i)), i % 2, 100 - i


def test_items_may_carry_their_ids() -> None:
    _, y, ids = _concat(as_source(TripleDataset()), 2)
    np.testing.assert_array_equal(ids, 100 - np.arange(5))
    np.testing.assert_array_equal(y, np.arange(5) % 2)


class CountingDataset(Dataset):
    """Generates samples lazily and counts how many are alive at once."""

    def __init__(self, n: int) -> None:
        self.n, self.alive, self.peak, self.made = n, 0, 0, 0

    def __len__(self) -> int:
        return self.n

    def _gone(self) -> None:
        self.alive -= 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = torch.full((3, 4, 4), float(i))
        self.alive += 1
        self.made += 1
        self.peak = max(self.peak, self.alive)
        weakref.finalize(x, self._gone)
        return x, i % 10


@pytest.mark.parametrize("wrap", ["dataset", "loader"])
def test_streaming_holds_at_most_one_batch_of_samples(wrap: str) -> None:
    ds = CountingDataset(1000)
    data = ds if wrap == "dataset" else DataLoader(ds, batch_size=16)
    src = as_source(data)
    assert src.n == 1000
    seen = 0
    for batch in src.batches(16):
        assert ds.alive <= 16
        seen += len(batch)
        assert float(batch.inputs[-1, 0, 0, 0]) == seen - 1
    assert seen == 1000 and ds.made == 1000  # each sample read once
    assert ds.peak <= 16


def test_dataloader_keeps_its_batches_and_order() -> None:
    x, y = torch.randn(10, 2), torch.arange(10) % 2
    ds = TensorDataset(x, y)
    src = as_source(DataLoader(ds, batch_size=4))
    assert src.kind == "loader" and src.own_batches and src.n == 10
    assert [len(b) for b in src.batches(256)] == [4, 4, 2]
    got_x, got_y, ids = _concat(src, 1)
    np.testing.assert_array_equal(got_x, x.numpy())
    np.testing.assert_array_equal(got_y, y.numpy())
    np.testing.assert_array_equal(ids, np.arange(10))
    np.testing.assert_array_equal(src.example().numpy(), x[:1].numpy())


def _pad_collate(items: list[tuple[torch.Tensor, int]]) -> tuple[dict[str, torch.Tensor], list]:
    width = max(len(x) for x, _ in items)
    ids = torch.zeros(len(items), width, dtype=torch.long)
    mask = torch.zeros(len(items), width, dtype=torch.long)
    for row, (x, _) in enumerate(items):
        ids[row, : len(x)], mask[row, : len(x)] = x, 1
    return {"input_ids": ids, "attention_mask": mask}, [y for _, y in items]


def test_loader_with_a_padding_collate_streams_and_hashes_ragged_items() -> None:
    src = as_source(DataLoader(Ragged(), batch_size=2, collate_fn=_pad_collate))
    first, last = list(src.batches())
    np.testing.assert_array_equal(first.inputs["input_ids"].numpy(), [[0, 0], [0, 1]])
    np.testing.assert_array_equal(first.inputs["attention_mask"].numpy(), [[1, 0], [1, 1]])
    assert last.inputs["input_ids"].shape == (1, 3) and list(last.sample_ids) == [2]
    assert (
        src.fingerprint
        == as_source(DataLoader(Ragged(), batch_size=3, collate_fn=_pad_collate)).fingerprint
    )


def test_shuffling_loader_is_refused_unless_batches_carry_ids() -> None:
    x, y = torch.randn(6, 2), torch.arange(6) % 2
    src = as_source(DataLoader(TensorDataset(x, y), batch_size=2, shuffle=True))
    with pytest.raises(ValueError, match="out of order.*shuffle=False"):
        next(src.batches())
    with_ids = TensorDataset(x, y, torch.arange(6) + 50)
    loader = DataLoader(
        with_ids, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    got_x, _, ids = _concat(as_source(loader), 2)
    np.testing.assert_array_equal(got_x, x.numpy()[ids - 50])  # ids follow the samples


class Stream(IterableDataset):
    def __iter__(self):
        for i in range(7):
            yield torch.tensor([float(i), 1.0]), i % 3


def test_iterable_dataset_is_batched_in_order() -> None:
    src = as_source(Stream(), name="stream")
    assert src.n is None and src.kind == "iterable-dataset" and src.name == "stream"
    assert [len(b) for b in src.batches(3)] == [3, 3, 1]
    x, y, ids = _concat(src, 3)
    np.testing.assert_array_equal(x[:, 0], np.arange(7))
    np.testing.assert_array_equal(ids, np.arange(7))
    np.testing.assert_array_equal(y, np.arange(7) % 3)


def test_list_of_batches_and_one_shot_generator() -> None:
    batches = [(torch.randn(3, 2), torch.tensor([0, 1, 0])), (torch.randn(2, 2), [1, 1])]
    src = as_source(batches)
    assert src.n == 5 and src.fingerprint_complete
    _, y, ids = _concat(src, 1)
    np.testing.assert_array_equal(y, [0, 1, 0, 1, 1])
    np.testing.assert_array_equal(ids, np.arange(5))
    assert _concat(src, 1)[2].size == 5  # a list can be read again
    gen = (b for b in batches)
    one = as_source(gen)
    assert one.n is None and not one.fingerprint_complete
    assert one.example().shape == (1, 2)
    fp = one.fingerprint  # neither consumes the generator
    x, _, _ = _concat(one, 1)
    np.testing.assert_array_equal(x, np.concatenate([b[0].numpy() for b in batches]))
    assert isinstance(fp, str)
    with pytest.raises(ValueError, match="one-shot iterator.*read only once"):
        next(one.batches())


@pytest.mark.parametrize("make", [lambda b: (x for x in b), iter])
def test_wrapping_a_one_shot_iterator_twice_loses_nothing(make) -> None:
    batches = [(torch.full((2, 1), float(i)), torch.tensor([0, 1])) for i in range(3)]
    stream = make(batches)
    first = as_source(stream)
    assert first.fingerprint  # a cache key peeks at the first batch ...
    again = as_source(stream)  # ... and the extraction wraps the same iterator again
    assert again is first
    x, _, _ = _concat(again, 1)
    np.testing.assert_array_equal(x[:, 0], [0, 0, 1, 1, 2, 2])
    with pytest.raises(ValueError, match="already wrapped by as_source with other options"):
        as_source(stream, name="other")


# ------------------------------------------------------------------------ token data


def test_token_dataset_batches_are_keyword_inputs() -> None:
    ids = np.array([[5, 6, 7, 0], [8, 9, 0, 0], [1, 2, 3, 4]])
    mask = (ids > 0).astype(np.int64)
    mask[2, 0] = 1
    tok = TokenDataset(
        input_ids=ids,
        attention_mask=mask,
        labels=np.array([1, 0, 1]),
        hierarchy=flat_hierarchy(["neg", "pos"]),
        name="toy",
    )
    src = as_source(tok)
    assert src.kind == "tokens" and src.n == 3 and src.fingerprint == tok.fingerprint
    b = next(src.batches(2))
    assert set(b.inputs) == {"input_ids", "attention_mask"}
    assert b.inputs["input_ids"].dtype == torch.int64
    np.testing.assert_array_equal(b.inputs["attention_mask"].numpy(), mask[:2])
    np.testing.assert_array_equal(b.labels, [1, 0])
    changed = mask.copy()
    changed[0, 3] = 1
    assert (
        TokenDataset(input_ids=ids, attention_mask=changed).fingerprint
        != TokenDataset(input_ids=ids, attention_mask=mask).fingerprint
    )
    sub = tok.subset([2, 0])
    np.testing.assert_array_equal(sub.sample_ids, [2, 0])
    np.testing.assert_array_equal(sub.input_ids, ids[[2, 0]])
    unlabelled = TokenDataset(input_ids=ids)
    assert unlabelled.labels is None and unlabelled.hierarchy is None
    np.testing.assert_array_equal(unlabelled.attention_mask, np.ones_like(ids))


def test_token_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=(6, 5)).astype(np.int32)
    mask = np.ones((6, 5), dtype=bool)
    mask[:3, 3:] = False
    path = tmp_path / "toks.npz"
    np.savez(
        path,
        input_ids=ids,
        attention_mask=mask,
        labels=np.array([0, 1, 2, 0, 1, 2]),
        class_names=np.array(["a", "b", "c"]),
        sample_ids=np.arange(6) + 7,
    )
    tok = load_token_npz(path)
    assert tok.name == "toks" and tok.input_ids.dtype == np.int64
    np.testing.assert_array_equal(tok.input_ids, ids)
    np.testing.assert_array_equal(tok.attention_mask, mask.astype(np.int64))
    assert tok.hierarchy is not None and tok.hierarchy.class_names == ("a", "b", "c")
    np.testing.assert_array_equal(tok.sample_ids, np.arange(6) + 7)
    np.savez(tmp_path / "plain.npz", input_ids=ids)
    plain = load_token_npz(tmp_path / "plain.npz", name="p")
    assert plain.labels is None and plain.name == "p" and int(plain.attention_mask.min()) == 1
    with pytest.raises(ValueError, match="token data.*load_token_npz"):
        load_dataset(path)  # the image loader points to the token loader
    digits = load_hierarchy("digits")
    np.savez(tmp_path / "d.npz", input_ids=ids, labels=np.arange(6))
    assert load_token_npz(tmp_path / "d.npz", hierarchy="digits").hierarchy == digits


def test_bad_token_data_is_refused(tmp_path: Path) -> None:
    ids = np.array([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"\(n, T\)"):
        TokenDataset(input_ids=np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="integers"):
        TokenDataset(input_ids=ids.astype(float))
    with pytest.raises(ValueError, match="negative"):
        TokenDataset(input_ids=-ids)
    with pytest.raises(ValueError, match="attention_mask has shape"):
        TokenDataset(input_ids=ids, attention_mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match="only 0"):
        TokenDataset(input_ids=ids, attention_mask=np.full((2, 2), 2))
    with pytest.raises(ValueError, match="all padding.*row 1"):
        TokenDataset(input_ids=ids, attention_mask=np.array([[1, 0], [0, 0]]))
    with pytest.raises(ValueError, match="one label per image|exactly one label"):
        TokenDataset(input_ids=ids, labels=np.array([0]))
    with pytest.raises(ValueError, match="without labels"):
        TokenDataset(input_ids=ids, hierarchy=flat_hierarchy("ab"))
    with pytest.raises(ValueError, match="names only 2 classes"):
        TokenDataset(input_ids=ids, labels=np.array([0, 2]), hierarchy=flat_hierarchy("ab"))
    with pytest.raises(FileNotFoundError):
        load_token_npz(tmp_path / "missing.npz")
    np.savez(tmp_path / "no_ids.npz", tokens=ids)
    with pytest.raises(ValueError, match="no 'input_ids' array.*tokens"):
        load_token_npz(tmp_path / "no_ids.npz")
    np.save(tmp_path / "single.npy", ids)
    (tmp_path / "single.npz").write_bytes((tmp_path / "single.npy").read_bytes())
    with pytest.raises(ValueError, match="single array"):
        load_token_npz(tmp_path / "single.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable .npz|single array"):
        load_token_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", input_ids=ids, class_names=np.array(["a", None], dtype=object))
    with pytest.raises(ValueError, match="Python objects"):
        load_token_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "nolab.npz", input_ids=ids)
    with pytest.raises(ValueError, match="no 'labels'"):
        load_token_npz(tmp_path / "nolab.npz", hierarchy="digits")


# ------------------------------------------------------------------------ bad input


class Ragged(Dataset):
    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.arange(i + 1), 0


class Items(Dataset):
    def __init__(self, items: list) -> None:  # type: ignore[type-arg]
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def test_unsupported_data_is_a_type_error_saying_what_to_give() -> None:
    for bad, match in (
        (np.zeros((3, 1, 2, 2)), "bare ndarray.*ImageDataset"),
        (torch.zeros(3, 2), "bare Tensor.*TensorDataset"),
        ({"input_ids": torch.zeros(2, 3)}, "bare dict"),
        ("digits", "load_dataset"),
        (Path("data.npz"), "load_token_npz"),
        (42, "cannot read data from a int"),
        (None, "cannot read data from a NoneType"),
    ):
        with pytest.raises(TypeError, match=match):
            as_source(bad)
    with pytest.raises(TypeError, match="ClassHierarchy"):
        as_source(DIGITS, hierarchy="digits")  # type: ignore[arg-type]
    src = as_source(DIGITS)
    assert as_source(src) is src
    with pytest.raises(ValueError, match="already a DataSource"):
        as_source(src, name="x")


def test_bad_batches_and_items_are_one_line_errors() -> None:
    src = as_source(DIGITS)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        src.batches(0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        src.batches(2.5)  # type: ignore[arg-type]
    cases = [
        (Ragged(), ValueError, "cannot be stacked.*TokenDataset"),
        (Items([(torch.zeros(2), 0.5)] * 2), TypeError, "integer class indices"),
        (Items([(torch.zeros(2), True)] * 2), TypeError, "integer class indices"),
        (Items([(torch.zeros(2), 0), (torch.zeros(2), None)]), ValueError, "some samples"),
        (Items([(torch.zeros(2), 0, 1, 2)] * 2), ValueError, "got a tuple of 4"),
        (Items([("text", 0)] * 2), TypeError, "inputs"),
        (
            [(torch.zeros(3, 2), torch.zeros(2, dtype=torch.long))],
            ValueError,
            r"labels have shape \(2,\) for 3 samples",
        ),
        ([(torch.zeros(3, 2), torch.zeros(3))], TypeError, "float32"),
        (
            [({"input_ids": torch.zeros(3, 2), "attention_mask": torch.zeros(2, 2)}, None)],
            ValueError,
            "disagree on the batch size",
        ),
        ([({}, None)], ValueError, "mapping is empty"),
        ([(torch.tensor(1.0), None)], ValueError, "scalar"),
        ([(torch.zeros(2, 2), [0, 1], [1])], ValueError, "sample ids must be 2 integers"),
    ]
    for data, exc, match in cases:
        with pytest.raises(exc, match=match):
            list(as_source(data).batches(2))
    with pytest.raises(ValueError, match="empty"):
        as_source(Items([]))
    with pytest.raises(ValueError, match="iterator is empty"):
        as_source(iter([]))
    odd = DictDataset(3)
    odd.sample_ids = np.arange(2)
    with pytest.raises(ValueError, match="'sample_ids' attribute must hold 3 integers"):
        as_source(odd)


def test_image_dataset_hierarchy_override() -> None:
    coarse = load_hierarchy("digits")
    small = ImageDataset(
        images=np.zeros((2, 1, 2, 2)),
        labels=[0, 1],
        hierarchy=flat_hierarchy([str(i) for i in range(10)]),
    )
    assert as_source(small, hierarchy=coarse).hierarchy == coarse
