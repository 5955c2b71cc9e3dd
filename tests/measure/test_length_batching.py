"""Length-aware batching everywhere edgeptm runs batches: sorted by token length, each batch padded to its
own longest item, rows back in the caller's order: same results as plain batches, less padding."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from edgeptm import deploy
from edgeptm.backend import Runner
from edgeptm.deploy.validate import compare
from edgeptm.encoding import Encoded, Encoder, in_order_batches, length_batches, padded_positions
from edgeptm.manifest import model_manifest


class Probe(Runner):
    """A runner whose 'logits' are [first token id, attended length], recording each batch's width."""

    def __init__(self, model: Path) -> None:
        manifest = model_manifest(model)
        super().__init__(manifest.model_copy(update={"labels": ["id", "length"]}), Encoder.from_dir(model, 64))
        self.widths: list[int] = []

    def run(self, encoded: Encoded) -> np.ndarray:
        self.widths.append(encoded["input_ids"].shape[1])
        mask = encoded["attention_mask"]
        assert (mask.sum(axis=1).max()) == mask.shape[1], "a batch is padded past its longest item"
        return np.stack([encoded["input_ids"][:, 1], mask.sum(axis=1)], axis=1).astype(np.float32)


def test_runner_logits_sorts_pads_per_batch_and_restores_order(finetuned: Path, sample) -> None:
    texts = sample["test"].texts[:40]
    probe = Probe(finetuned)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = probe.logits(texts, batch_size=8)
        plain = probe.encoder(texts)
    assert got[:, 0].tolist() == plain["input_ids"][:, 1].tolist()  # row i is text i
    assert got[:, 1].tolist() == plain["attention_mask"].sum(axis=1).tolist()
    assert len(probe.widths) == 5 and probe.widths == sorted(probe.widths, reverse=True)
    assert probe.logits([], 8).shape == (0, 2)


def test_compare_runs_both_runners_on_the_same_sorted_batches(finetuned: Path, sample) -> None:
    texts = sample["test"].texts[:24]
    a, b = Probe(finetuned), Probe(finetuned)
    result = compare(a, b, texts, batch_size=8)
    assert result == {"max_abs_logit_diff": 0.0, "agreement_pct": 100.0, "n": 24}
    assert a.widths == b.widths and a.widths == sorted(a.widths, reverse=True)


def test_sorted_batches_give_the_plain_batches_results_with_less_padding(plugins, onnx_fp32: Path, sample) -> None:
    texts = sample["test"].texts
    with deploy.load_runner(plugins, onnx_fp32) as runner:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain = np.concatenate([runner.predict(texts[i : i + 8]) for i in range(0, len(texts), 8)])
            sorted_ = runner.logits(texts, batch_size=8)
        lengths = [len(e.ids) for e in runner.encoder.tokenize(texts)]
    np.testing.assert_allclose(sorted_, plain, atol=1e-4)
    assert (sorted_.argmax(-1) == plain.argmax(-1)).all()
    less, more = (
        padded_positions(lengths, length_batches(lengths, 8)),
        padded_positions(lengths, in_order_batches(len(lengths), 8)),
    )
    assert sum(lengths) <= less < more


def test_padded_positions_counts_each_batch_at_its_longest() -> None:
    lengths = [3, 9, 1, 9, 5]
    assert padded_positions(lengths, in_order_batches(5, 2)) == 2 * 9 + 2 * 9 + 1 * 5
    assert padded_positions(lengths, length_batches(lengths, 2)) == 2 * 9 + 2 * 5 + 1 * 1
