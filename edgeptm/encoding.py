"""Text to model inputs with the fast tokenizer's ``tokenizer.json`` (no torch, no transformers)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeptm.errors import ModelError

Encoded = dict[str, np.ndarray]
"""``input_ids``, ``attention_mask`` and ``token_type_ids`` as int64 ``[batch, seq]``."""


class TruncationWarning(UserWarning):
    """Input longer than the model's max length was truncated."""


class Encoder:
    """Tokenize a batch of texts into padded numpy arrays."""

    def __init__(self, tokenizer_file: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        path = Path(tokenizer_file)
        if not path.is_file():
            raise ModelError(f"{path.parent}: no tokenizer.json; edgeptm needs a fast tokenizer saved with the model")
        self.tokenizer = Tokenizer.from_file(str(path))
        self.max_length = max_length
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        self.pad_id = self._pad_id()

    def _pad_id(self) -> int:
        for token in ("[PAD]", "<pad>", "<PAD>"):
            idx = self.tokenizer.token_to_id(token)
            if idx is not None:
                return idx
        return 0

    @classmethod
    def from_dir(cls, folder: Path, max_length: int) -> Encoder:
        return cls(Path(folder) / "tokenizer.json", max_length)

    def __call__(self, texts: Sequence[str], *, pad_to: int | None = None) -> Encoded:
        """Encode ``texts``; pad to the longest (or to ``pad_to``), truncate to max length."""
        encodings = self.tokenizer.encode_batch(list(texts))
        longest = max((len(e.ids) for e in encodings), default=0)
        n = sum(bool(e.overflowing) for e in encodings)
        if n:
            warnings.warn(
                f"{n} input(s) longer than max_length {self.max_length} tokens were truncated",
                TruncationWarning,
                stacklevel=2,
            )
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
