"""Evaluate any artifact through its backend's runner: accuracy and macro-F1 overall and per
language, and agreement with the fp32 reference (predictions unchanged, max |Δlogit|)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from typing_extensions import NotRequired, TypedDict

from edgeptm.backend import REFERENCE_BACKEND, Runner
from edgeptm.data import Dataset, LabelMap
from edgeptm.data.languages import canonical_language
from edgeptm.deploy import artifact_manifest, load_runner
from edgeptm.encoding import TruncationWarning
from edgeptm.errors import DataError, ModelError
from edgeptm.measure.bootstrap import Interval, intervals
from edgeptm.measure.coverage import DEFAULT_MAX_UNK_RATE, Coverage, CoverageJSON, by_language, measure_coverage
from edgeptm.measure.metrics import Agreement, Report, agreement, classification_report
from edgeptm.plugins import Plugins


class Transfer(TypedDict):
    """Results on the training languages and, apart, zero-shot on the others."""

    train_languages: list[str]
    in_language: NotRequired[Report]
    zero_shot: NotRequired[Report]


class Evaluation(Report):
    """One artifact's metrics on a dataset (plus ``name`` when a command or stage lists several)."""

    artifact: str
    backend: str
    precision: str
    kind: NotRequired[str]
    """What the model is (manifest ``kind``): ``transformer``, or ``tfidf-linear`` for the baseline."""
    transfer: NotRequired[Transfer]
    agreement: NotRequired[Agreement]
    coverage: NotRequired[CoverageJSON]
    """The artifact's tokenizer on the data, per language (unknown tokens, tokens per word)."""
    intervals: NotRequired[dict[str, Interval]]
    """Bootstrap 95% intervals of macro-F1: ``all`` and each language (seeded, see :mod:`~edgeptm.measure.bootstrap`)."""
    name: NotRequired[str]


def predict_logits(runner: Runner, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Logits for ``texts`` in order, in length-sorted batches (:meth:`Runner.logits`), truncation warnings
    silenced (a measurement truncates like the device does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return runner.logits(texts, batch_size)


def check_labels(artifact: Path, labels: list[str], data: Dataset) -> LabelMap:
    """The artifact's label map; a clear error when the data has labels it lacks."""
    unknown = sorted(set(data.labels) - set(labels))
    if unknown:
        raise DataError(
            f"{data.source}: label(s) {', '.join(unknown)} are not among the labels of {artifact} "
            f"({', '.join(labels)}); evaluate with data labelled like the training set"
        )
    return LabelMap(labels)


def evaluate(
    plugins: Plugins,
    artifact: Path,
    data: Dataset,
    *,
    reference: Path | None = None,
    batch_size: int = 32,
    threads: int | None = None,
    device: str | None = None,
    train_languages: Sequence[str] | None = None,
    reference_cache: dict[str, np.ndarray] | None = None,
    max_unk_rate: float = DEFAULT_MAX_UNK_RATE,
    coverage_cache: dict[str, Coverage] | None = None,
) -> Evaluation:
    """Metrics of one artifact on ``data``; ``reference`` defaults to the manifest's source model.

    With ``train_languages`` the per-language results are also split into in-language and
    zero-shot (languages absent from training) groups. Pass the same ``reference_cache`` when
    evaluating several artifacts of one model on the same data, so the reference runs once, and the same
    ``coverage_cache`` so each distinct tokenizer is measured once (see :func:`artifact_coverage`).
    """
    artifact = Path(artifact)
    manifest = artifact_manifest(artifact)
    labels = check_labels(artifact, manifest.labels, data)
    gold = labels.encode(data)
    with load_runner(plugins, artifact, device=device, threads=threads) as runner:
        logits = predict_logits(runner, data.texts, batch_size)
        coverage = artifact_coverage(runner, data, max_unk_rate, coverage_cache)
    pred = logits.argmax(-1)
    report = classification_report(gold, pred, data.languages, len(labels.names))
    result: Evaluation = {
        "artifact": str(artifact),
        "backend": manifest.backend,
        "precision": manifest.precision,
        "kind": manifest.kind,
        "overall": report["overall"],
        "per_language": report["per_language"],
        "intervals": intervals(gold, pred, data.languages, len(labels.names)),
    }
    if coverage is not None:
        result["coverage"] = coverage.to_json()
    if train_languages is not None:
        result["transfer"] = transfer_split(gold, pred, data.languages, train_languages, len(labels.names))
    ref_dir = reference or (Path(manifest.source) if manifest.source else None)
    is_reference = manifest.backend == REFERENCE_BACKEND and manifest.precision == "fp32"
    if ref_dir is not None and not (is_reference and reference is None):
        cache = reference_cache if reference_cache is not None else {}
        key = str(Path(ref_dir).resolve())
        if reference is None and not Path(ref_dir).is_dir():
            raise ModelError(
                f"{artifact}: its source model {ref_dir} (edgeptm.json's source) is gone; "
                "pass --reference FP32_MODEL to measure agreement"
            )
        if key not in cache:
            with load_runner(plugins, ref_dir, threads=threads) as ref:
                cache[key] = predict_logits(ref, data.texts, batch_size)
        ref_logits = cache[key]
        agreed = agreement(logits, ref_logits, data.languages)
        result["agreement"] = {"reference": str(ref_dir), **agreed}
    return result


def artifact_coverage(
    runner: Runner, data: Dataset, max_unk_rate: float, cache: dict[str, Coverage] | None = None
) -> Coverage | None:
    """The coverage of the runner's tokenizer on ``data`` per language, memoised in ``cache`` by the tokenizer;
    ``None`` for a model that reads raw text (the TF-IDF baseline has no tokens to miss)."""
    tokenizer = getattr(runner.encoder, "tokenizer", None)
    if tokenizer is None:
        return None
    key = tokenizer.to_str()
    cache = cache if cache is not None else {}
    if key not in cache:
        cache[key] = measure_coverage(tokenizer, by_language(data.texts, data.languages), max_unk_rate)
    return cache[key]


def transfer_split(
    gold: Sequence[int], pred: Sequence[int], languages: Sequence[str], train_languages: Sequence[str], num_labels: int
) -> Transfer:
    """Results on the training languages and, separately, zero-shot on the others.

    Languages match by code or English name (``en`` is ``english``).
    """
    seen = {canonical_language(lang) for lang in train_languages}
    out: Transfer = {"train_languages": sorted(set(train_languages))}
    for group, keep in (("in_language", True), ("zero_shot", False)):
        idx = [i for i, lang in enumerate(languages) if (canonical_language(lang) in seen) == keep]
        if idx:
            out[group] = classification_report(  # type: ignore[literal-required]
                [gold[i] for i in idx], [pred[i] for i in idx], [languages[i] for i in idx], num_labels
            )
    return out
