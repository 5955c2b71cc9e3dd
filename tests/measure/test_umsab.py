"""Opt-in: the real UMSAB tweets (8 languages) through finetune → onnx int8 → evaluate.

Skipped with the reason when ../shared/data/umsab is absent.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from edgeptm import data, deploy
from edgeptm.measure.evaluate import evaluate
from edgeptm.train.finetune import FinetuneOptions, finetune

LANGUAGES = ["arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish"]


@pytest.mark.shared_data
@pytest.mark.slow
def test_umsab_finetune_quantize_evaluate_per_language(umsab: Path, tiny_base: Path, plugins, tmp_path: Path) -> None:
    train = data.load(umsab, split="train")
    eval_data = data.load(umsab, split="eval")
    test = data.load(umsab, split="test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = finetune(
            str(tiny_base),
            train,
            eval_data,
            tmp_path / "model",
            FinetuneOptions(epochs=2, learning_rate=1e-3, batch_size=32, max_length=48),
            progress=False,
            log=lambda m: None,
        )
    assert sorted(metrics["eval"]["per_language"]) == LANGUAGES
    assert metrics["labels"] == ["0", "1", "2"]
    deploy.export(plugins, "onnx", tmp_path / "model", tmp_path / "onnx", validation_texts=eval_data.texts[:200])
    deploy.quantize(
        plugins, tmp_path / "onnx", tmp_path / "int8", precision="int8", validation_texts=eval_data.texts[:200]
    )
    result = evaluate(plugins, tmp_path / "int8", test, train_languages=["english"])
    assert result["overall"]["n"] == len(test) == sum(r["n"] for r in result["per_language"].values())
    assert sorted(result["per_language"]) == LANGUAGES
    assert result["agreement"]["overall"]["agreement_pct"] > 90
    assert result["transfer"]["zero_shot"]["overall"]["n"] == len(test) - result["per_language"]["english"]["n"]
    # Two epochs from random init (one is on the edge of learning anything at all): better than always
    # predicting one class (macro-F1 <= 0.17 here).
    assert result["overall"]["macro_f1"] > 0.2
