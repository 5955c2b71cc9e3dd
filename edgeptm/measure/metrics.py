"""Accuracy and macro-F1, overall and per language, and agreement between two models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from typing_extensions import NotRequired, TypedDict


class Scores(TypedDict):
    """Accuracy and macro-F1 (0–1) on ``n`` examples."""

    accuracy: float
    macro_f1: float
    n: int


class Report(TypedDict):
    """Scores overall and per language: every accuracy figure comes with its per-language view."""

    overall: Scores
    per_language: dict[str, Scores]


class AgreementScores(TypedDict):
    """Share of predictions unchanged against a reference (percent) and the largest |Δlogit|."""

    agreement_pct: float
    max_abs_logit_diff: float
    n: int


class Agreement(TypedDict):
    overall: AgreementScores
    per_language: dict[str, AgreementScores]
    reference: NotRequired[str]
    """The reference model folder (set by :func:`edgeptm.measure.evaluate.evaluate`)."""


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


def classification_report(
    gold: Sequence[int], pred: Sequence[int], languages: Sequence[str], num_labels: int
) -> Report:
    """Accuracy, macro-F1 and n overall and per language."""

    def block(idx: np.ndarray) -> Scores:
        g, p = np.asarray(gold)[idx], np.asarray(pred)[idx]
        return {"accuracy": accuracy(g, p), "macro_f1": macro_f1(g, p, num_labels), "n": int(len(idx))}

    langs = np.asarray(languages)
    report: Report = {"overall": block(np.arange(len(gold))), "per_language": {}}
    for lang in sorted(set(languages)):
        report["per_language"][lang] = block(np.flatnonzero(langs == lang))
    return report


def agreement(logits: np.ndarray, reference: np.ndarray, languages: Sequence[str]) -> Agreement:
    """Share of predictions unchanged vs the reference and max |Δlogit|, overall and per language."""

    def block(idx: np.ndarray) -> AgreementScores:
        a, b = logits[idx], reference[idx]
        same = float(np.mean(a.argmax(-1) == b.argmax(-1))) if len(idx) else 1.0
        diff = float(np.max(np.abs(a - b))) if len(idx) else 0.0
        return {"agreement_pct": 100.0 * same, "max_abs_logit_diff": diff, "n": int(len(idx))}

    langs = np.asarray(languages)
    out: Agreement = {"overall": block(np.arange(len(logits))), "per_language": {}}
    for lang in sorted(set(languages)):
        out["per_language"][lang] = block(np.flatnonzero(langs == lang))
    return out
