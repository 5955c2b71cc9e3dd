"""Robustness of deployed artifacts to text perturbations, measured through each backend's runner.

For every artifact, perturbation and language: accuracy and macro-F1 on the perturbed texts, the
drop from clean, and the flip rate (the share of predictions that change versus clean on the same
example). With several artifacts, the first is the baseline and the others are compared with it
cell by cell.

What a figure means depends on what the perturbation did, so each cell also says how many texts it
altered (``changed``) and how many of those the artifact's own tokenizer turned into different token
ids (``tokens_changed``): a tokenizer that strips zero-width characters or accents sees the clean text
again. A cell whose texts were all left as they were is ``not applicable`` (no figures: nothing was
tested); one whose texts changed but whose token ids did not is ``no effect after tokenization`` (its
figures are the clean ones, by construction). Only texts whose token ids changed are run again.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from typing_extensions import TypedDict

from edgeptm.data import Dataset
from edgeptm.data.languages import canonical_language, language_scripts
from edgeptm.deploy import artifact_manifest, load_runner
from edgeptm.errors import DataError, PerturbationError
from edgeptm.measure.evaluate import check_labels, predict_logits
from edgeptm.measure.metrics import Report, Scores, accuracy, macro_f1
from edgeptm.perturb import Context, Spec, example_rng
from edgeptm.perturb.text import split_units
from edgeptm.plugins import Plugins

TOP_K = 5
MAX_DONOR_WORDS = 1000
MEASURED = "measured"
NO_EFFECT = "no effect after tokenization"
NOT_APPLICABLE = "not applicable"
Status = Literal["measured", "no effect after tokenization", "not applicable"]


@dataclass(frozen=True)
class Perturbed:
    """One spec applied to the data: the texts, which changed, and the languages it applies to."""

    spec: Spec
    texts: list[str]
    changed: np.ndarray
    languages: list[str]


def subsample(data: Dataset, per_language: int | None, seed: int = 0) -> Dataset:
    """At most ``per_language`` examples of each language, drawn with ``seed``, in their original order."""
    if per_language is None:
        return data
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(data.examples):
        by_lang[e.language].append(i)
    rng = random.Random(seed)
    keep = sorted(
        i for lang in sorted(by_lang) for i in rng.sample(by_lang[lang], min(per_language, len(by_lang[lang])))
    )
    return Dataset([data.examples[i] for i in keep], data.source, [data.locations[i] for i in keep])


def donor_words(data: Dataset, seed: int = 0) -> dict[str, list[str]]:
    """Up to ``MAX_DONOR_WORDS`` distinct words of each language (no mentions, hashtags or URLs)."""
    out = {}
    for lang in data.language_set():
        seen: dict[str, None] = {}
        for e in data.examples:
            if e.language != lang:
                continue
            for word, _ in split_units(e.text)[1]:
                word = word.strip(".,;:!?¿¡\"'()[]«»“”„…،؟。，！？")
                if word and word[0] not in "@#" and "://" not in word and any(ch.isalpha() for ch in word):
                    seen.setdefault(word, None)
        words = list(seen)
        out[lang] = sorted(random.Random(seed).sample(words, min(len(words), MAX_DONOR_WORDS)))
    return out


def data_scripts(data: Dataset) -> dict[str, list[str]]:
    """Each language's scripts, read from its texts."""
    return language_scripts(
        {lang: [e.text for e in data.examples if e.language == lang] for lang in data.language_set()}
    )


def perturb(data: Dataset, specs: Sequence[Spec], seed: int = 0) -> tuple[list[Perturbed], list[dict[str, Any]]]:
    """Apply each spec to the languages it applies to; also return those it applies to none of."""
    scripts = data_scripts(data)
    present = list(scripts)
    donors = donor_words(data, seed)
    done, skipped = [], []
    for spec in specs:
        p = spec.perturbation
        langs = [lang for lang in present if p.applies_to(lang, scripts[lang], present)]
        if not langs:
            where = ", ".join(f"{lang} ({'/'.join(scripts[lang]) or 'no letters'})" for lang in present)
            skipped.append(
                {
                    "label": spec.label,
                    "message": f"perturbation {spec.label!r} applies to none of the languages present: {where}; "
                    f"it applies to {p.where()}",
                }
            )
            continue
        texts, changed = [], []
        for e, location in zip(data.examples, data.locations):
            new = e.text
            if e.language in langs:
                try:
                    new = p.fn(e.text, spec.strength, example_rng(seed, p.name, e.text), Context(e.language, donors))
                except Exception as exc:  # a plugin's bug, reported against the example that shows it
                    raise PerturbationError(
                        f"perturbation {spec.label!r} failed on {location}: {type(exc).__name__}: {exc}"
                    ) from None
            texts.append(new)
            changed.append(new != e.text)
        done.append(Perturbed(spec, texts, np.asarray(changed), langs))
    return done, skipped


class Cell(TypedDict):
    """One perturbation on one group of examples: metrics under it, their drop from clean, the flip rate.

    The metrics are ``None`` when the status is ``not applicable`` (no text was altered)."""

    n: int
    status: Status
    changed: float
    """Share of the texts the perturbation altered (characters)."""
    tokens_changed: float
    """Share of the texts whose token ids (the artifact's tokenizer, as the model sees them) changed."""
    accuracy: float | None
    macro_f1: float | None
    accuracy_drop: float | None
    macro_f1_drop: float | None
    flip_rate: float | None
    """Share of predictions that differ from the clean prediction on the same example."""


class CellReport(TypedDict):
    overall: Cell
    per_language: dict[str, Cell]


class Damage(TypedDict):
    perturbation: str
    macro_f1_drop: float
    flip_rate: float
    changed: float


class ArtifactRobustness(TypedDict):
    name: str
    artifact: str
    backend: str
    precision: str
    clean: Report
    perturbations: dict[str, CellReport]
    most_damaging: dict[str, list[Damage]]


class RobustnessResult(TypedDict):
    """The report of :func:`run_robustness`: the data, the perturbations run or skipped, each artifact,
    and each artifact's differences from the first (``differences``: see :func:`differences`)."""

    data: dict[str, Any]
    seed: int
    perturbations: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    artifacts: list[ArtifactRobustness]
    differences: list[dict[str, Any]]


def _labels(artifacts: Sequence[tuple[str, Path]], data: Dataset) -> list[str]:
    """The shared label list; a clear error when the data or the artifacts disagree."""
    first_name, first_labels = None, None
    for name, path in artifacts:
        labels = artifact_manifest(path).labels
        check_labels(path, labels, data)
        if first_labels is None:
            first_name, first_labels = name, labels
        elif labels != first_labels:
            raise DataError(
                f"{path}: labels ({', '.join(labels)}) differ from those of {first_name} ({', '.join(first_labels)}); "
                "compare artifacts of the same fine-tuned model"
            )
    return list(first_labels or [])


def _cell(
    gold: np.ndarray,
    clean: np.ndarray,
    pred: np.ndarray,
    changed: np.ndarray,
    tokens: np.ndarray,
    idx: np.ndarray,
    k: int,
) -> Cell:
    g, c, p = gold[idx], clean[idx], pred[idx]
    altered, retokenized = float(np.mean(changed[idx])), float(np.mean(tokens[idx]))
    if altered == 0:
        return {
            "n": int(len(idx)),
            "status": "not applicable",
            "changed": 0.0,
            "tokens_changed": 0.0,
            "accuracy": None,
            "macro_f1": None,
            "accuracy_drop": None,
            "macro_f1_drop": None,
            "flip_rate": None,
        }
    acc, f1 = accuracy(g, p), macro_f1(g, p, k)
    return {
        "n": int(len(idx)),
        "status": "measured" if retokenized > 0 else "no effect after tokenization",
        "changed": altered,
        "tokens_changed": retokenized,
        "accuracy": acc,
        "macro_f1": f1,
        "accuracy_drop": accuracy(g, c) - acc,
        "macro_f1_drop": macro_f1(g, c, k) - f1,
        "flip_rate": float(np.mean(c != p)),
    }


def _block(gold: np.ndarray, pred: np.ndarray, idx: np.ndarray, k: int) -> Scores:
    return {
        "n": int(len(idx)),
        "accuracy": accuracy(gold[idx], pred[idx]),
        "macro_f1": macro_f1(gold[idx], pred[idx], k),
    }


def run_robustness(
    plugins: Plugins,
    artifacts: Sequence[tuple[str, Path]],
    data: Dataset,
    specs: Sequence[Spec],
    *,
    seed: int = 0,
    batch_size: int = 32,
    threads: int | None = None,
    device: str | None = None,
    log: Callable[[str], None] = lambda m: None,
    train_languages: Sequence[str] | None = None,
) -> RobustnessResult:
    """The robustness report of ``artifacts`` (name, path) on ``data`` under ``specs``.

    With ``train_languages``, each language of the data says whether it is ``zero_shot`` (absent from them)."""
    if not artifacts:
        raise PerturbationError("no artifacts to evaluate; pass --artifact")
    labels = _labels(artifacts, data)
    gold = np.asarray([labels.index(label) for label in data.labels])
    langs = np.asarray(data.languages)
    present = data.language_set()
    done, skipped = perturb(data, specs, seed)
    if not done:
        raise PerturbationError(
            f"none of the perturbations applies to the languages present ({', '.join(present)}); "
            "`edgeptm robustness --list` shows where each applies"
        )
    by_lang = {lang: np.flatnonzero(langs == lang) for lang in present}
    k = len(labels)
    results: list[ArtifactRobustness] = []
    predictions: dict[str, dict[str, np.ndarray]] = {}
    for name, path in artifacts:
        manifest = artifact_manifest(path)
        log(f"{name}: {manifest.backend} {manifest.precision}, {len(done)} perturbations on {len(data)} examples")
        with load_runner(plugins, Path(path), device=device, threads=threads) as runner:
            clean_logits = predict_logits(runner, data.texts, batch_size)
            clean = clean_logits.argmax(-1)
            clean_ids = token_ids(runner, data.texts)
            preds, retokenized = {}, {}
            for item in done:
                tokens = np.zeros(len(data), dtype=bool)
                idx = np.flatnonzero(item.changed)
                if len(idx):
                    new_ids = token_ids(runner, [item.texts[i] for i in idx])
                    tokens[idx] = [ids != clean_ids[i] for i, ids in zip(idx, new_ids)]
                run = np.flatnonzero(tokens)  # the same token ids give the same logits: only these run again
                pred = clean.copy()
                if len(run):
                    pred[run] = predict_logits(runner, [item.texts[i] for i in run], batch_size).argmax(-1)
                preds[item.spec.label] = pred
                retokenized[item.spec.label] = tokens
        predictions[name] = {"clean": clean, **preds}
        cells: dict[str, CellReport] = {}
        for item in done:
            pred, tokens = preds[item.spec.label], retokenized[item.spec.label]
            applicable = np.flatnonzero(np.isin(langs, item.languages))
            cells[item.spec.label] = {
                "overall": _cell(gold, clean, pred, item.changed, tokens, applicable, k),
                "per_language": {
                    lang: _cell(gold, clean, pred, item.changed, tokens, by_lang[lang], k) for lang in item.languages
                },
            }
        results.append(
            {
                "name": name,
                "artifact": str(path),
                "backend": manifest.backend,
                "precision": manifest.precision,
                "clean": {
                    "overall": _block(gold, clean, np.arange(len(gold)), k),
                    "per_language": {lang: _block(gold, clean, idx, k) for lang, idx in by_lang.items()},
                },
                "perturbations": cells,
                "most_damaging": most_damaging(cells, present),
            }
        )
    scripts = data_scripts(data)
    trained = {canonical_language(lang) for lang in train_languages or ()}
    return {
        "data": {
            "source": data.source,
            "n": len(data),
            "languages": {
                lang: {
                    "n": int(len(idx)),
                    "scripts": scripts[lang],
                    "code": canonical_language(lang),
                    **({"zero_shot": canonical_language(lang) not in trained} if trained else {}),
                }
                for lang, idx in by_lang.items()
            },
            "labels": labels,
        },
        "seed": seed,
        "perturbations": [
            {
                "label": item.spec.label,
                "name": item.spec.perturbation.name,
                "strength": item.spec.strength,
                "strength_unit": item.spec.perturbation.strength_unit,
                "family": item.spec.perturbation.family,
                "description": item.spec.perturbation.description,
                "languages": item.languages,
            }
            for item in done
        ],
        "skipped": skipped,
        "artifacts": results,
        "differences": differences(results, predictions, done, by_lang),
    }


def token_ids(runner: Any, texts: Sequence[str]) -> list[tuple[int, ...]]:
    """The token ids the runner's model sees for each text (truncated to its max length, as when it runs)."""
    import warnings

    from edgeptm.encoding import TruncationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return [tuple(e.ids) for e in runner.encoder.tokenize(list(texts))]


def most_damaging(cells: dict[str, CellReport], languages: Sequence[str], top: int = TOP_K) -> dict[str, list[Damage]]:
    """Per language, the ``top`` perturbations by macro-F1 drop (then flip rate), among those that changed
    what the model sees."""
    out: dict[str, list[Damage]] = {}
    for lang in languages:
        measured = [
            (label, c["per_language"][lang])
            for label, c in cells.items()
            if lang in c["per_language"] and c["per_language"][lang]["status"] == MEASURED
        ]
        ranked = sorted(
            measured, key=lambda item: (-(item[1]["macro_f1_drop"] or 0), -(item[1]["flip_rate"] or 0), item[0])
        )
        out[lang] = [
            Damage(
                perturbation=label,
                macro_f1_drop=float(c["macro_f1_drop"] or 0),
                flip_rate=float(c["flip_rate"] or 0),
                changed=c["changed"],
            )
            for label, c in ranked[:top]
        ]
    return out


def _mean(cells: dict[str, CellReport], key: str, *, labels: list[str], lang: str) -> float:
    return float(np.mean([cells[label]["per_language"][lang][key] for label in labels]))  # type: ignore[literal-required]


def _delta(base: Cell, other: Cell, key: Literal["macro_f1_drop", "flip_rate"]) -> float:
    """``other − base`` of a figure both cells have (neither is ``not applicable``)."""
    return float(other[key] or 0.0) - float(base[key] or 0.0)


def differences(
    results: Sequence[ArtifactRobustness],
    predictions: dict[str, dict[str, np.ndarray]],
    done: Sequence[Perturbed],
    by_lang: dict[str, np.ndarray],
) -> list[dict[str, Any]]:
    """Each artifact after the first against the first: where it lost (or gained) robustness, per language.

    Deltas are ``artifact − baseline``: a positive ``macro_f1_drop`` delta means the artifact loses more
    under that perturbation. ``disagreement`` is the share of examples whose predictions differ between
    the two artifacts on the same (perturbed) text. ``worst`` is the perturbation with the largest extra
    drop (then flip rate) for the artifact; ``None`` where it lost nothing the baseline didn't.
    """
    if len(results) < 2:
        return []
    base = results[0]
    out = []
    for other in results[1:]:
        a, b = base["perturbations"], other["perturbations"]
        pa, pb = predictions[base["name"]], predictions[other["name"]]
        cells: dict[str, dict[str, Any]] = {}
        for item in done:
            label = item.spec.label
            tested = [lang for lang in item.languages if a[label]["per_language"][lang].get("status") != NOT_APPLICABLE]
            cells[label] = {
                lang: {
                    "macro_f1_drop": _delta(
                        a[label]["per_language"][lang], b[label]["per_language"][lang], "macro_f1_drop"
                    ),
                    "flip_rate": _delta(a[label]["per_language"][lang], b[label]["per_language"][lang], "flip_rate"),
                    "disagreement": float(np.mean(pa[label][by_lang[lang]] != pb[label][by_lang[lang]])),
                }
                for lang in tested
            }
        per_language = {}
        for lang, idx in by_lang.items():
            mine = {label: c[lang] for label, c in cells.items() if lang in c}
            if not mine:
                continue
            worst = max(mine, key=lambda label: (mine[label]["macro_f1_drop"], mine[label]["flip_rate"]))
            mean = partial(_mean, labels=list(mine), lang=lang)
            per_language[lang] = {
                "clean_macro_f1": {
                    base["name"]: base["clean"]["per_language"][lang]["macro_f1"],
                    other["name"]: other["clean"]["per_language"][lang]["macro_f1"],
                },
                "clean_disagreement": float(np.mean(pa["clean"][idx] != pb["clean"][idx])),
                "mean_macro_f1_drop": {base["name"]: mean(a, "macro_f1_drop"), other["name"]: mean(b, "macro_f1_drop")},
                "mean_flip_rate": {base["name"]: mean(a, "flip_rate"), other["name"]: mean(b, "flip_rate")},
                "mean_disagreement": float(np.mean([m["disagreement"] for m in mine.values()])),
                "worst": {"perturbation": worst, **mine[worst]}
                if mine[worst]["macro_f1_drop"] > 0 or mine[worst]["flip_rate"] > 0
                else None,
            }
        out.append(
            {"artifact": other["name"], "baseline": base["name"], "per_language": per_language, "perturbations": cells}
        )
    return out
