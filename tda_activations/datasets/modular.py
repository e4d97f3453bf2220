"""Modular addition ``(a + b) mod p`` as token sequences, and the Fourier basis of the residues.

Every pair ``(a, b)`` with ``0 <= a, b < p`` is a sequence of three tokens ``a, b, =``
(the ``=`` token has id ``p``), labelled ``(a + b) mod p``.  Transformers trained on it
learn Fourier features: the embeddings of the residues lie on circles, one per key
frequency (Nanda et al. 2023, "Progress measures for grokking via mechanistic
interpretability").  :func:`key_frequencies` and :func:`frequency_plane` find those
circles in an embedding matrix.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .hierarchy import flat_hierarchy
from .tokens import TokenDataset

__all__ = [
    "ModularDataset",
    "ModularSplit",
    "fourier_basis",
    "frequency_plane",
    "frequency_power",
    "key_frequencies",
    "load_modular_addition",
    "modular_pairs",
]


@dataclass(frozen=True, eq=False)
class ModularDataset(TokenDataset):
    """Token sequences ``a, b, =`` with labels ``(a + b) mod p``.

    A :class:`~tda_activations.datasets.TokenDataset` (every sequence has three tokens and
    no padding), so :func:`~tda_activations.extract.extract` and the batch runner take it
    as it is; a :class:`~tda_activations.models.ModularTransformer` reads its
    ``input_ids``.

    Attributes
    ----------
    input_ids
        Int64 array ``(n, 3)``: ``a``, ``b`` and the ``=`` token (id ``p``).
    attention_mask
        All ones (there is no padding); ``None`` on construction.
    labels
        Int64 array ``(n,)``: ``(a + b) mod p``.
    hierarchy
        One class per residue (``"0"``, ``"1"``, ...); the default when ``None``.
    name
        ``"modular{p}/train"``, ``"modular{p}/test"`` or ``"modular{p}/all"``.
    sample_ids
        Int64 ``a * p + b`` of each pair (stable under subsetting).
    p
        The modulus (vocabulary ``p + 1``: the residues and ``=``).
    """

    name: str = "modular"
    p: int = 0

    def __post_init__(self) -> None:
        p = self.p
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 2:
            raise ValueError(f"{self.name}: p must be an integer modulus >= 2, got {p!r}")
        tokens = np.asarray(self.input_ids)
        if tokens.ndim != 2 or tokens.shape[1] != 3 or tokens.shape[0] == 0:
            raise ValueError(
                f"{self.name}: tokens must have shape (n, 3) with n >= 1, got {tokens.shape}"
            )
        if not np.issubdtype(tokens.dtype, np.integer):
            raise TypeError(f"{self.name}: tokens must be integers, got dtype {tokens.dtype}")
        if tokens[:, :2].min() < 0 or tokens[:, :2].max() >= p or np.any(tokens[:, 2] != p):
            raise ValueError(f"{self.name}: tokens must be (a, b, {p}) with 0 <= a, b < {p}")
        if self.attention_mask is not None and np.any(np.asarray(self.attention_mask) != 1):
            raise ValueError(
                f"{self.name}: modular addition has no padding; leave attention_mask out (all ones)"
            )
        labels = None if self.labels is None else np.asarray(self.labels)
        if (
            labels is None
            or labels.shape != (tokens.shape[0],)
            or np.any(labels != (tokens[:, 0] + tokens[:, 1]) % p)
        ):
            raise ValueError(f"{self.name}: labels must be (a + b) mod {p}, one per sequence")
        if self.sample_ids is None:
            object.__setattr__(self, "sample_ids", tokens[:, 0] * p + tokens[:, 1])
        if self.hierarchy is None:
            object.__setattr__(self, "hierarchy", flat_hierarchy([str(r) for r in range(p)]))
        object.__setattr__(self, "p", int(p))
        super().__post_init__()

    @property
    def tokens(self) -> np.ndarray:
        """The ``(n, 3)`` token ids ``a, b, =`` (the same array as ``input_ids``)."""
        return self.input_ids

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def a(self) -> np.ndarray:
        """First operand of every sequence."""
        return self.tokens[:, 0]

    @property
    def b(self) -> np.ndarray:
        """Second operand of every sequence."""
        return self.tokens[:, 1]

    @functools.cached_property
    def fingerprint(self) -> str:
        """Content hash of the tokens, labels, ids and modulus."""
        from .._hashing import fingerprint_params

        return fingerprint_params(
            {
                "kind": "modular_addition",
                "p": self.p,
                "name": self.name,
                "tokens": self.tokens.tobytes().hex(),
                "ids": np.asarray(self.sample_ids).tobytes().hex(),
            }
        )

    def subset(self, indices: npt.ArrayLike | range, *, name: str | None = None) -> ModularDataset:
        """A new dataset with the sequences at ``indices`` (sample ids are kept)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ModularDataset(
            input_ids=self.tokens[idx],
            labels=np.asarray(self.labels)[idx],
            p=self.p,
            hierarchy=self.hierarchy,
            name=name or self.name,
            sample_ids=np.asarray(self.sample_ids)[idx],
        )


@dataclass(frozen=True)
class ModularSplit:
    """A train/test pair of :class:`ModularDataset` (all ``p**2`` pairs between them)."""

    train: ModularDataset
    test: ModularDataset

    @property
    def p(self) -> int:
        """The modulus."""
        return self.train.p

    @property
    def all_pairs(self) -> ModularDataset:
        """Every pair ``(a, b)`` in ``a * p + b`` order."""
        return modular_pairs(self.p)


def _all_tokens(p: int) -> np.ndarray:
    a, b = np.divmod(np.arange(p * p, dtype=np.int64), p)
    return np.stack([a, b, np.full_like(a, p)], axis=1)


def _all_labels(p: int) -> np.ndarray:
    a, b = np.divmod(np.arange(p * p, dtype=np.int64), p)
    return (a + b) % p


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def load_modular_addition(
    p: int = 59, *, train_fraction: float = 0.4, seed: int = 0
) -> ModularSplit:
    """All ``p**2`` sequences ``a, b, =`` split at random into train and test.

    Parameters
    ----------
    p
        A prime modulus (59 by default; Nanda et al. use 113).
    train_fraction
        Fraction of the pairs used for training, in (0, 1).
    seed
        Seed of the split.

    Returns
    -------
    ModularSplit
        ``train`` and ``test`` :class:`ModularDataset`, each in ``a * p + b`` order.

    Raises
    ------
    ValueError
        ``p`` is not a prime >= 3 or ``train_fraction`` is outside (0, 1).
    """
    _check_modulus(p)
    if not (isinstance(train_fraction, (int, float)) and 0.0 < train_fraction < 1.0):
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}")
    p = int(p)
    n = p * p
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(train_fraction * n)
    if not 0 < n_train < n:
        raise ValueError(f"train_fraction {train_fraction} leaves an empty split of {n} pairs")
    tokens, labels = _all_tokens(p), _all_labels(p)
    hierarchy = flat_hierarchy([str(r) for r in range(p)])

    def make(idx: np.ndarray, part: str) -> ModularDataset:
        idx = np.sort(idx)
        return ModularDataset(
            input_ids=tokens[idx],
            labels=labels[idx],
            p=p,
            hierarchy=hierarchy,
            name=f"modular{p}/{part}",
        )

    return ModularSplit(train=make(order[:n_train], "train"), test=make(order[n_train:], "test"))


def modular_pairs(p: int = 59) -> ModularDataset:
    """All ``p**2`` sequences ``a, b, =`` in ``a * p + b`` order (the data of a batch run).

    This is the data a run config names as ``[data] dataset = "modular:59"``: every
    model sees the same sequences, whatever its seed's train/test split.

    Parameters
    ----------
    p
        A prime modulus >= 3.

    Returns
    -------
    ModularDataset
        Named ``"modular{p}/all"``, labels ``(a + b) mod p``, sample ids ``a * p + b``.

    Raises
    ------
    ValueError
        ``p`` is not a prime >= 3.
    """
    _check_modulus(p)
    p = int(p)
    return ModularDataset(
        input_ids=_all_tokens(p),
        labels=_all_labels(p),
        p=p,
        hierarchy=flat_hierarchy([str(r) for r in range(p)]),
        name=f"modular{p}/all",
    )


def _check_modulus(p: object) -> None:
    if (
        isinstance(p, bool)
        or not isinstance(p, (int, np.integer))
        or p < 3
        or not _is_prime(int(p))
    ):
        raise ValueError(f"p must be a prime >= 3 (e.g. 59 or 113), got {p!r}")


# ------------------------------------------------------------------ Fourier basis


def fourier_basis(p: int) -> np.ndarray:
    """The real Fourier basis of functions on the residues, float64 ``(p, p)``, orthonormal rows.

    Row 0 is the constant; rows ``2f - 1`` and ``2f`` are ``cos`` and ``sin`` of
    frequency ``f = 1 .. (p - 1) / 2`` (``2 pi f k / p``), each of unit norm.
    """
    if not isinstance(p, (int, np.integer)) or p < 3 or p % 2 == 0:
        raise ValueError(f"p must be an odd integer >= 3, got {p!r}")
    k = np.arange(p, dtype=np.float64)
    rows = [np.full(p, 1.0 / np.sqrt(p))]
    for f in range(1, (p - 1) // 2 + 1):
        for fn in (np.cos, np.sin):
            v = fn(2.0 * np.pi * f * k / p)
            rows.append(v / np.linalg.norm(v))
    return np.stack(rows)


def _check_embedding(embedding: npt.ArrayLike) -> np.ndarray:
    w = np.asarray(embedding, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] < 3:
        raise ValueError(
            f"embedding must be a (p, d) matrix with one row per residue, got shape {w.shape}"
        )
    if not np.isfinite(w).all():
        raise ValueError("embedding has NaN or infinite entries")
    return w


def frequency_power(embedding: npt.ArrayLike) -> np.ndarray:
    """Squared norm of the embedding along each frequency, float64 ``((p - 1) / 2,)``.

    Entry ``f - 1`` is ``|C_f^T W|^2 + |S_f^T W|^2`` for the unit ``cos``/``sin``
    vectors of frequency ``f`` over the residues (rows of ``W``).
    """
    w = _check_embedding(embedding)
    coeffs = fourier_basis(w.shape[0]) @ w
    sq = (coeffs**2).sum(axis=1)
    return sq[1::2] + sq[2::2]


def key_frequencies(embedding: npt.ArrayLike, *, n: int = 5) -> np.ndarray:
    """The ``n`` frequencies (1 .. (p - 1) / 2) with the most power, strongest first.

    Ties are broken by the lower frequency.
    """
    power = frequency_power(embedding)
    if not 1 <= n <= power.size:
        raise ValueError(f"n must be in [1, {power.size}], got {n}")
    order = np.lexsort((np.arange(power.size), -power))
    return order[:n].astype(np.int64) + 1


def frequency_plane(embedding: npt.ArrayLike, frequency: int) -> np.ndarray:
    """The residues' embedding projected onto the plane of one frequency, float64 ``(p, 2)``.

    The plane is spanned (in embedding space) by ``W^T C_f`` and ``W^T S_f``; the
    projection is the orthogonal projection of each row onto it, written in an
    orthonormal basis of the plane.  An embedding made of that frequency alone gives
    points on an ellipse (a circle when the two directions are orthogonal and of equal norm).
    """
    w = _check_embedding(embedding)
    p = w.shape[0]
    if not 1 <= int(frequency) <= (p - 1) // 2:
        raise ValueError(f"frequency must be in [1, {(p - 1) // 2}], got {frequency}")
    basis = fourier_basis(p)
    f = int(frequency)
    directions = np.stack([basis[2 * f - 1] @ w, basis[2 * f] @ w], axis=1)  # (d, 2)
    centred = w - w.mean(axis=0)
    q, r = np.linalg.qr(directions)
    if abs(r[-1, -1]) <= 1e-9 * np.linalg.norm(centred):
        raise ValueError(
            f"the embedding has no plane at frequency {f} (its power there is ~0 or spans a line)"
        )
    return centred @ q
