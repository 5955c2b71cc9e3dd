"""Check an artifact against the torch fp32 model it came from, on texts it was not calibrated on.

:func:`validate` measures; :class:`QualityGate` decides whether a lossy variant (any ``quantize`` output:
dynamic, static or portable int8, OpenVINO fp16/int8, torch fp16/bf16) is good enough to be written at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeptm.backend import REFERENCE_BACKEND, Runner
from edgeptm.data import Dataset, Example, sample_evenly
from edgeptm.encoding import Encoded, run_length_sorted
from edgeptm.errors import ModelError, QualityError
from edgeptm.manifest import Manifest, Validation, model_manifest
from edgeptm.plugins import Plugins

VALIDATION_SIZE = 256
"""Texts an export or quantization is checked on, sampled evenly across languages."""


MIN_AGREEMENT = 90.0
"""Default gate: least % of validation texts on which a quantized variant predicts what torch fp32 predicts."""
MAX_DROP = 3.0
"""Default gate: most accuracy points a quantized variant may lose against torch fp32 on the labelled
validation texts (measured when the validation data's labels are the model's)."""


@dataclass(frozen=True)
class QualityGate:
    """What a quantized variant must reach before ``quantize`` writes it. Applies to every backend and
    precision; the CLI's ``--min-agreement``/``--max-drop`` and a recipe stage's ``min_agreement``/``max_drop``
    override the documented defaults (:data:`MIN_AGREEMENT`, :data:`MAX_DROP`)."""

    min_agreement: float = MIN_AGREEMENT
    max_drop: float = MAX_DROP

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_agreement <= 100.0:
            raise QualityError(f"min_agreement {self.min_agreement:g}: choose a percentage from 0 to 100")
        if not 0.0 <= self.max_drop <= 100.0:
            raise QualityError(f"max_drop {self.max_drop:g}: choose accuracy points from 0 to 100")

    @classmethod
    def with_defaults(cls, min_agreement: float | None = None, max_drop: float | None = None) -> QualityGate:
        """The gate with the documented defaults where ``None`` is given."""
        return cls(
            MIN_AGREEMENT if min_agreement is None else min_agreement, MAX_DROP if max_drop is None else max_drop
        )

    def check(self, what: str, result: Validation) -> None:
        """Raise :class:`QualityError` with all the figures in one line when ``result`` misses the gate."""
        drop = result.get("accuracy_drop")
        failed = result["agreement_pct"] < self.min_agreement or (drop is not None and drop > self.max_drop)
        if not failed:
            return
        figures = f"agreement with torch fp32 {result['agreement_pct']:.1f}% (min {self.min_agreement:g}%)"
        if drop is not None:
            figures += (
                f", accuracy {result['accuracy_pct']:.1f}% vs {result['reference_accuracy_pct']:.1f}% "
                f"(drop {drop:.1f} points, max {self.max_drop:g})"
            )
        figures += f", max |Δlogit| {result['max_abs_logit_diff']:.3g} on {result['n']} texts"
        raise QualityError(
            f"{what} fails the validation gate: {figures}; nothing was written - try other options or precision, "
            "or accept it with --min-agreement/--max-drop"
        )


def validation_examples(data: Dataset, n: int = VALIDATION_SIZE, *, exclude: Sequence[str] = ()) -> list[Example]:
    """Up to ``n`` examples of ``data`` sampled evenly across languages, none of whose texts is in ``exclude``."""
    excluded = set(exclude)
    pool = data if not excluded else Dataset([e for e in data.examples if e.text not in excluded], data.source)
    return sample_evenly(pool, n)


def validation_texts(data: Dataset, n: int = VALIDATION_SIZE, *, exclude: Sequence[str] = ()) -> list[str]:
    """Up to ``n`` texts of ``data`` sampled evenly across languages, none of them in ``exclude``."""
    return [e.text for e in validation_examples(data, n, exclude=exclude)]


def compare(
    runner: Runner,
    reference: Runner,
    texts: Sequence[str],
    batch_size: int = 16,
    labels: Sequence[str] | None = None,
) -> Validation:
    """Max |Δlogit| and prediction agreement of ``runner`` vs ``reference`` on ``texts``: both run the very
    same encoded batches (the reference's encoder, length-sorted like every edgeptm measurement). With
    ``labels`` (the texts' true labels, all among the model's) also both accuracies and the drop in points."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not texts:
        raise ModelError("no validation texts: agreement can't be measured on nothing")
    width = len(reference.labels)

    def both(batch: Encoded) -> np.ndarray:
        return np.concatenate([runner.predict(batch), reference.predict(batch)], axis=1)

    pairs = run_length_sorted(reference.encoder, texts, batch_size, both)
    a, b = pairs[:, :width], pairs[:, width:]
    result: Validation = {
        "max_abs_logit_diff": float(np.max(np.abs(a - b))),
        "agreement_pct": 100.0 * float(np.mean(a.argmax(-1) == b.argmax(-1))),
        "n": len(texts),
    }
    names = reference.labels
    if labels is not None and len(labels) == len(texts) and set(labels) <= set(names):
        truth = np.array([names.index(label) for label in labels])
        result["accuracy_pct"] = 100.0 * float(np.mean(a.argmax(-1) == truth))
        result["reference_accuracy_pct"] = 100.0 * float(np.mean(b.argmax(-1) == truth))
        result["accuracy_drop"] = result["reference_accuracy_pct"] - result["accuracy_pct"]
    return result


def validate(
    plugins: Plugins,
    artifact: Path,
    manifest: Manifest,
    texts: Sequence[str],
    labels: Sequence[str] | None = None,
) -> Validation:
    """Compare ``artifact`` with its torch source; fail when a lossless precision is off tolerance."""
    backend = plugins.backend(manifest.backend)
    tolerance = backend.tolerance(manifest.precision)
    if not manifest.source:
        raise ModelError(f"{artifact}: manifest has no source model to validate against")
    reference_dir = Path(manifest.source)
    ref = plugins.available_backend(REFERENCE_BACKEND)
    with (
        ref.load(reference_dir, model_manifest(reference_dir, manifest.max_length)) as reference,
        backend.load(artifact, manifest) as runner,
    ):
        result: Validation = {**compare(runner, reference, texts, labels=labels), "tolerance": tolerance}
    if tolerance is not None and result["max_abs_logit_diff"] > tolerance:
        raise ModelError(
            f"{manifest.backend} {manifest.precision} artifact disagrees with the torch reference: "
            f"max |Δlogit| {result['max_abs_logit_diff']:.3g} > tolerance {tolerance:g} "
            f"on {len(texts)} texts; nothing was written"
        )
    return result
