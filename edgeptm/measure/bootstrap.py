"""Bootstrap 95% intervals of macro-F1, overall and per language.

Per-language figures often rest on a few dozen examples; an interval says how much they can move.
Percentile bootstrap over examples (within each language), vectorised, with a fixed seed so the
same predictions always give the same interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from typing_extensions import TypedDict

RESAMPLES = 1000


class Interval(TypedDict):
    """A percentile bootstrap interval of macro-F1 (0–1)."""

    low: float
    high: float
    level: float
    resamples: int
    seed: int


def _macro_f1_rows(gold: np.ndarray, pred: np.ndarray, num_labels: int) -> np.ndarray:
    """Macro-F1 of each row of ``gold``/``pred`` (resamples × n), over the classes present in the row."""
    scores = np.zeros(gold.shape[0])
    present = np.zeros(gold.shape[0])
    for c in range(num_labels):
        tp = np.sum((pred == c) & (gold == c), axis=1)
        fp = np.sum((pred == c) & (gold != c), axis=1)
        fn = np.sum((pred != c) & (gold == c), axis=1)
        denom = 2 * tp + fp + fn
        has = denom > 0
        scores += np.where(has, 2 * tp / np.maximum(denom, 1), 0.0)
        present += has
    return scores / np.maximum(present, 1)


def macro_f1_interval(
    gold: Sequence[int] | np.ndarray,
    pred: Sequence[int] | np.ndarray,
    num_labels: int,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> Interval:
    """The 95% percentile interval of macro-F1 over ``resamples`` resamples of the examples."""
    g, p = np.asarray(gold), np.asarray(pred)
    if len(g) == 0:
        return {"low": 0.0, "high": 0.0, "level": 0.95, "resamples": 0, "seed": seed}
    idx = np.random.default_rng(seed).integers(0, len(g), size=(resamples, len(g)))
    scores = _macro_f1_rows(g[idx], p[idx], num_labels)
    low, high = np.percentile(scores, [2.5, 97.5])
    return {"low": float(low), "high": float(high), "level": 0.95, "resamples": resamples, "seed": seed}


def intervals(
    gold: Sequence[int], pred: Sequence[int], languages: Sequence[str], num_labels: int, *, seed: int = 0
) -> dict[str, Interval]:
    """``all`` and each language's interval (each language resampled within itself)."""
    g, p, langs = np.asarray(gold), np.asarray(pred), np.asarray(languages)
    out = {"all": macro_f1_interval(g, p, num_labels, seed=seed)}
    for lang in sorted(set(languages)):
        idx = np.flatnonzero(langs == lang)
        out[lang] = macro_f1_interval(g[idx], p[idx], num_labels, seed=seed)
    return out
