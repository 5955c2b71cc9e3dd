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
from edgeptm.encoding import TruncationWarning, run_length_sorted
from edgeptm.errors import DataError
from edgeptm.measure.bootstrap import Interval, intervals
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
    transfer: NotRequired[Transfer]
    agreement: NotRequired[Agreement]
    intervals: NotRequired[dict[str, Interval]]
    """Bootstrap 95% intervals of macro-F1: ``all`` and each language (seeded, see :mod:`~edgeptm.measure.bootstrap`)."""
    name: NotRequired[str]


def predict_logits(runner: Runner, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Logits for ``texts`` in order: tokenized once, run in batches of similar token length, each padded
    only to its own longest item (the device runtime's :func:`~edgeptm_runtime.encoding.run_length_sorted`)."""
    if not texts:
        return np.zeros((0, len(runner.labels)), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return run_length_sorted(runner.encoder, texts, batch_size, runner.predict).astype(np.float32, copy=False)


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
) -> Evaluation:
    """Metrics of one artifact on ``data``; ``reference`` defaults to the manifest's source model.

    With ``train_languages`` the per-language results are also split into in-language and
    zero-shot (languages absent from training) groups. Pass the same ``reference_cache`` when
    evaluating several artifacts of one model on the same data, so the reference runs once.
    """
    artifact = Path(artifact)
    manifest = artifact_manifest(artifact)
    labels = check_labels(artifact, manifest.labels, data)
    gold = labels.encode(data)
    with load_runner(plugins, artifact, device=device, threads=threads) as runner:
        logits = predict_logits(runner, data.texts, batch_size)
    pred = logits.argmax(-1)
    report = classification_report(gold, pred, data.languages, len(labels.names))
    result: Evaluation = {
        "artifact": str(artifact),
        "backend": manifest.backend,
        "precision": manifest.precision,
        "overall": report["overall"],
        "per_language": report["per_language"],
        "intervals": intervals(gold, pred, data.languages, len(labels.names)),
    }
    if train_languages is not None:
        result["transfer"] = transfer_split(gold, pred, data.languages, train_languages, len(labels.names))
    ref_dir = reference or (Path(manifest.source) if manifest.source else None)
    is_reference = manifest.backend == REFERENCE_BACKEND and manifest.precision == "fp32"
    if ref_dir is not None and not (is_reference and reference is None):
        cache = reference_cache if reference_cache is not None else {}
        key = str(Path(ref_dir).resolve())
        if key not in cache:
            with load_runner(plugins, ref_dir, threads=threads) as ref:
                cache[key] = predict_logits(ref, data.texts, batch_size)
        ref_logits = cache[key]
        agreed = agreement(logits, ref_logits, data.languages)
        result["agreement"] = {"reference": str(ref_dir), **agreed}
    return result


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
