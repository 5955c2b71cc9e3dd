"""The encoder: BERT-style ids, padding, truncation, and length-sorted batching that changes nothing."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from tinymodels import MAX_LENGTH, TEXTS, TinyBundle

from edgeptm_runtime.encoding import Encoder, TruncationWarning, fit_batch, fit_width, length_batches, run_length_sorted
from edgeptm_runtime.errors import TokenizerError


@pytest.fixture(scope="module")
def encoder(tiny: TinyBundle) -> Encoder:
    return Encoder.from_dir(tiny.path, MAX_LENGTH)


def test_ids_masks_and_types(encoder: Encoder) -> None:
    vocab = encoder.tokenizer.get_vocab()
    enc = encoder(["I love films", "bad"])
    want = [vocab[t] for t in ["[CLS]", "i", "love", "film", "##s", "[SEP]"]]
    assert enc["input_ids"].dtype == np.int64 and enc["input_ids"].shape == (2, 6)
    assert enc["input_ids"][0].tolist() == want
    assert enc["input_ids"][1].tolist() == [vocab["[CLS]"], vocab["bad"], vocab["[SEP]"], 0, 0, 0]
    assert enc["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    assert not enc["token_type_ids"].any()
    assert encoder.pad_id == vocab["[PAD]"] == 0


def test_pad_to_and_truncation(encoder: Encoder) -> None:
    assert encoder(["good"], pad_to=10)["input_ids"].shape == (1, 10)
    assert encoder(["good"], pad_to=500)["input_ids"].shape == (1, MAX_LENGTH)
    with pytest.warns(TruncationWarning, match=rf"^1 input\(s\) longer than max_length {MAX_LENGTH} tokens"):
        enc = encoder(["very " * 100, "good"])
    assert enc["input_ids"].shape == (2, MAX_LENGTH)
    assert enc["input_ids"][0, -1] == encoder.tokenizer.token_to_id("[SEP]")  # truncation keeps [SEP]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoder(["good"] * 3)  # no warning without truncation


def test_missing_tokenizer_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match=rf"^{tmp_path}: no tokenizer.json;"):
        Encoder.from_dir(tmp_path, 8)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="not a tokenizers file") as info:
        Encoder.from_dir(tmp_path, 8)
    assert "\n" not in str(info.value)


def test_fit_width_and_fit_batch(encoder: Encoder) -> None:
    enc = encoder(["good", "I love this movie"])
    wide = fit_width(enc, 12, pad_id=0)
    assert wide["input_ids"].shape == (2, 12) and not wide["attention_mask"][:, 6:].any()
    with pytest.warns(TruncationWarning, match="^1 input"):
        narrow = fit_width(enc, 4, pad_id=0)
    assert narrow["input_ids"].tolist() == enc["input_ids"][:, :4].tolist()
    full = fit_batch(enc, 5)
    assert full["input_ids"].shape == (5, enc["input_ids"].shape[1])
    assert (full["input_ids"][2:] == enc["input_ids"][0]).all()
    assert fit_batch(enc, 1) is enc


def test_length_batches_sort_longest_first_and_cover_every_row() -> None:
    batches = length_batches([3, 9, 1, 9, 5], 2)
    assert [b.tolist() for b in batches] == [[1, 3], [4, 0], [2]]
    with pytest.raises(ValueError):
        length_batches([1], 0)


def test_run_length_sorted_restores_order_and_pads_per_batch(encoder: Encoder) -> None:
    texts = [t for t in TEXTS if len(t) < 60]
    widths: list[int] = []

    def first_ids_and_length(batch: dict[str, np.ndarray]) -> np.ndarray:
        widths.append(batch["input_ids"].shape[1])
        return np.stack([batch["input_ids"][:, 1], batch["attention_mask"].sum(axis=1)], axis=1)

    got = run_length_sorted(encoder, texts, 3, first_ids_and_length)
    plain = encoder(texts)
    assert got[:, 0].tolist() == plain["input_ids"][:, 1].tolist()  # row i is text i again
    assert got[:, 1].tolist() == plain["attention_mask"].sum(axis=1).tolist()
    assert widths == sorted(widths, reverse=True) and widths[-1] < widths[0]  # each batch as wide as its longest
