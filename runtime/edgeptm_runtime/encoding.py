"""Text to model inputs with the fast tokenizer's ``tokenizer.json`` (no torch, no transformers).

This is the one encoder of edgeptm: the core measures its exports with it and bundles run with it,
so what is measured is what ships. Change its behaviour only together with the bundle format.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edgeptm_runtime.errors import TokenizerError

if TYPE_CHECKING:
    from tokenizers import Encoding

Encoded = dict[str, np.ndarray]
"""``input_ids``, ``attention_mask`` and ``token_type_ids`` as int64 ``[batch, seq]``."""

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
"""What :class:`Encoder` produces; an engine feeds the subset its model declares."""

PAD_TOKENS = ("[PAD]", "<pad>", "<PAD>")


class TruncationWarning(UserWarning):
    """Input longer than the model's max length was truncated."""


class BatchEncoder(Protocol):
    """What batching needs of an encoder: :class:`Encoder` (token ids) or
    :class:`~edgeptm_runtime.text.TextEncoder` (raw text, for models that tokenize in their graph)."""

    max_length: int
    pad_id: int
    input_names: tuple[str, ...]

    def tokenize(self, texts: Sequence[str], *, stacklevel: int = 2) -> Sequence[Any]: ...

    def length(self, item: Any) -> int: ...

    def pack(self, items: Sequence[Any], *, pad_to: int | None = None) -> Encoded: ...

    def __call__(self, texts: Sequence[str], *, pad_to: int | None = None) -> Encoded: ...


class Encoder:
    """Tokenize a batch of texts into padded numpy arrays.

    ``pad_id`` overrides the id found in the vocabulary (a bundle records the one it was measured with).
    """

    input_names = INPUT_NAMES

    def __init__(self, tokenizer_file: Path, max_length: int, *, pad_id: int | None = None) -> None:
        from tokenizers import Tokenizer

        path = Path(tokenizer_file)
        if not path.is_file():
            raise TokenizerError(f"{path.parent}: no {path.name}; edgeptm needs a fast tokenizer saved with the model")
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # the Rust side raises a bare Exception with a serde message
            raise TokenizerError(f"{path}: not a tokenizers file ({exc}); save the fast tokenizer again") from None
        self.max_length = max_length
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        self.pad_id = self._pad_id() if pad_id is None else pad_id

    def _pad_id(self) -> int:
        for token in PAD_TOKENS:
            idx = self.tokenizer.token_to_id(token)
            if idx is not None:
                return idx
        return 0

    @classmethod
    def from_dir(cls, folder: Path, max_length: int) -> Encoder:
        return cls(Path(folder) / "tokenizer.json", max_length)

    def __call__(self, texts: Sequence[str], *, pad_to: int | None = None) -> Encoded:
        """Encode ``texts``; pad to the longest (or to ``pad_to``), truncate to max length."""
        return self.pack(self.tokenize(texts, stacklevel=3), pad_to=pad_to)

    def tokenize(self, texts: Sequence[str], *, stacklevel: int = 2) -> list[Encoding]:
        """Token encodings of ``texts``, warning once (:class:`TruncationWarning`) if any were truncated."""
        encodings = self.tokenizer.encode_batch(list(texts))
        n = sum(bool(e.overflowing) for e in encodings)
        if n:
            warnings.warn(
                f"{n} input(s) longer than max_length {self.max_length} tokens were truncated",
                TruncationWarning,
                stacklevel=stacklevel,
            )
        return encodings

    @staticmethod
    def length(encoding: Encoding) -> int:
        """An encoding's length in tokens (what length-sorted batching sorts by)."""
        return len(encoding.ids)

    def pack(self, encodings: Sequence[Encoding], *, pad_to: int | None = None) -> Encoded:
        """Padded int64 arrays of ``encodings``: as wide as the longest (or ``pad_to``), at most max length."""
        longest = max((len(e.ids) for e in encodings), default=0)
        width = min(max(longest, pad_to or 0), self.max_length)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for i, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[i, :n] = enc.ids
            mask[i, :n] = 1
            types[i, :n] = enc.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


def fit_width(encoded: Encoded, width: int, pad_id: int) -> Encoded:
    """Pad ``encoded`` to ``width`` tokens, or truncate it to ``width`` with a warning."""
    current = encoded["input_ids"].shape[1]
    if current == width:
        return encoded
    if current > width:
        kept = encoded["attention_mask"][:, width:].any(axis=1).sum()
        if kept:
            warnings.warn(
                f"{kept} input(s) longer than the model's fixed length {width} tokens were truncated",
                TruncationWarning,
                stacklevel=3,
            )
        return {k: v[:, :width] for k, v in encoded.items()}
    extra = width - current
    return {
        k: np.pad(v, ((0, 0), (0, extra)), constant_values=pad_id if k == "input_ids" else 0)
        for k, v in encoded.items()
    }


def fit_batch(encoded: Encoded, rows: int) -> Encoded:
    """Fill ``encoded`` up to ``rows`` rows with copies of its first (the caller drops their outputs).

    Copies rather than all-padding rows: a row with no attended token is undefined on some runtimes.
    """
    extra = rows - encoded["input_ids"].shape[0]
    if extra <= 0:
        return encoded
    return {k: np.concatenate([v, np.repeat(v[:1], extra, axis=0)]) for k, v in encoded.items()}


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Row indices grouped into batches of similar length, longest batch first.

    Padding every batch only to its own longest item is where the speed comes from; longest first
    makes a batch that does not fit in memory fail at once rather than at the end. The sort is
    stable, so equal-length texts keep their order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def in_order_batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Row indices in consecutive batches of ``batch_size``, in the order given: what plain batching does."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    return [np.arange(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def padded_positions(lengths: Sequence[int], batches: Sequence[np.ndarray]) -> int:
    """Token positions a model computes when each batch is padded to its own longest row: the cost
    that :func:`length_batches` lowers against :func:`in_order_batches`."""
    return int(sum(len(b) * max(lengths[i] for i in b) for b in batches if len(b)))


def run_length_sorted(
    encoder: BatchEncoder,
    texts: Sequence[str],
    batch_size: int,
    run: Callable[[Encoded], np.ndarray],
    *,
    stacklevel: int = 2,
) -> np.ndarray:
    """``run`` over length-sorted batches of ``texts``; rows come back in the order of ``texts``.

    Tokenizes everything once, then calls ``run`` on each batch padded to that batch's longest
    item. With attention masks the outputs equal those of unsorted batches up to float noise.
    ``run`` returns one row per input row (e.g. logits ``[batch, num_labels]``). A truncation
    warning is attributed ``stacklevel`` frames up, as for :func:`warnings.warn`.
    """
    encodings = encoder.tokenize(texts, stacklevel=stacklevel + 1)
    out: np.ndarray | None = None
    for idx in length_batches([encoder.length(e) for e in encodings], batch_size):
        rows = np.asarray(run(encoder.pack([encodings[i] for i in idx])))
        if rows.shape[0] != len(idx):
            raise ValueError(f"run returned {rows.shape[0]} rows for a batch of {len(idx)}")
        if out is None:
            out = np.empty((len(encodings), *rows.shape[1:]), dtype=rows.dtype)
        out[idx] = rows
    if out is None:
        raise ValueError("run_length_sorted needs at least one text")
    return out
