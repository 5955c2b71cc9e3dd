"""The timing loop: every timed batch is exactly the sequence length asked for, in the encoder's units."""

from __future__ import annotations

from typing import Any

from tinymodels import MAX_LENGTH, TinyBundle

from edgeptm_runtime.bench import latencies
from edgeptm_runtime.encoding import Encoder
from edgeptm_runtime.text import TextEncoder


def _timed_batches(encoder: Any, max_length: int, seq_lengths: list[int]) -> list[Any]:
    seen: list[Any] = []
    latencies(
        encoder,
        seen.append,
        max_length=max_length,
        seq_lengths=seq_lengths,
        batch_sizes=[2],
        warmup=0,
        iterations=1,
    )
    return seen


def test_token_batches_are_seq_tokens_wide_below_max_length(tiny: TinyBundle) -> None:
    # the benchmark text is longer than max_length: cut to seq, not only to max_length
    batches = _timed_batches(Encoder.from_dir(tiny.path, MAX_LENGTH), MAX_LENGTH, [4, MAX_LENGTH])
    assert [b["input_ids"].shape for b in batches] == [(2, 4), (2, MAX_LENGTH)]
    assert all(b["attention_mask"].all() for b in batches)  # real text all the way, no padding


def test_text_batches_are_seq_characters_long() -> None:
    batches = _timed_batches(TextEncoder(1024, ["collapse_whitespace", "lowercase"]), 1024, [50, 300])
    assert [[len(t) for t in b["text"].ravel()] for b in batches] == [[50, 50], [300, 300]]
