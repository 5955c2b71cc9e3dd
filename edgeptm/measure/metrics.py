"""Accuracy and macro-F1, overall and per language, and agreement between two models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def macro_f1(gold: Sequence[int], pred: Sequence[int], num_labels: int) -> float:
    """Unweighted mean of per-class F1 over the classes present in gold or pred."""
    gold_a, pred_a = np.asarray(gold), np.asarray(pred)
    scores = []
    for c in range(num_labels):
        tp = int(np.sum((pred_a == c) & (gold_a == c)))
        fp = int(np.sum((pred_a == c) & (gold_a != c)))
        fn = int(np.sum((pred_a != c) & (gold_a == c)))
        if tp + fp + fn == 0:
            continue
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def accuracy(gold: Sequence[int], pred: Sequence[int]) -> float:
    gold_a, pred_a = np.asarray(gold), np.asarray(pred)
    return float(np.mean(gold_a == pred_a)) if len(gold_a) else 0.0


def classification_report(gold: Sequence[int], pred: Sequence[int], languages: Sequence[str], num_labels: int) -> dict:
    """``{"overall": {...}, "per_language": {lang: {...}}}`` with accuracy, macro_f1, n."""

    def block(idx: np.ndarray) -> dict:
        g, p = np.asarray(gold)[idx], np.asarray(pred)[idx]
        return {"accuracy": accuracy(g, p), "macro_f1": macro_f1(g, p, num_labels), "n": int(len(idx))}

    langs = np.asarray(languages)
    report = {"overall": block(np.arange(len(gold))), "per_language": {}}
    for lang in sorted(set(languages)):
        report["per_language"][lang] = block(np.flatnonzero(langs == lang))
    return report


def agreement(logits: np.ndarray, reference: np.ndarray, languages: Sequence[str]) -> dict:
    """Share of predictions unchanged vs the reference and max |Δlogit|, overall and per language."""

    def block(idx: np.ndarray) -> dict:
        a, b = logits[idx], reference[idx]
        same = float(np.mean(a.argmax(-1) == b.argmax(-1))) if len(idx) else 1.0
        diff = float(np.max(np.abs(a - b))) if len(idx) else 0.0
        return {"agreement_pct": 100.0 * same, "max_abs_logit_diff": diff, "n": int(len(idx))}

    langs = np.asarray(languages)
    out = {"overall": block(np.arange(len(logits))), "per_language": {}}
    for lang in sorted(set(languages)):
        out["per_language"][lang] = block(np.flatnonzero(langs == lang))
    return out
