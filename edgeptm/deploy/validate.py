"""Check an artifact against the torch fp32 model it came from, on texts it was not calibrated on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeptm.backend import REFERENCE_BACKEND, Runner
from edgeptm.data import Dataset, sample_evenly
from edgeptm.encoding import Encoded, run_length_sorted
from edgeptm.errors import ModelError
from edgeptm.manifest import Comparison, Manifest, Validation, model_manifest
from edgeptm.plugins import Plugins

VALIDATION_SIZE = 256
"""Texts an export or quantization is checked on, sampled evenly across languages."""


def validation_texts(data: Dataset, n: int = VALIDATION_SIZE, *, exclude: Sequence[str] = ()) -> list[str]:
    """Up to ``n`` texts of ``data`` sampled evenly across languages, none of them in ``exclude``."""
    excluded = set(exclude)
    pool = data if not excluded else Dataset([e for e in data.examples if e.text not in excluded], data.source)
    return [e.text for e in sample_evenly(pool, n)]


def compare(runner: Runner, reference: Runner, texts: Sequence[str], batch_size: int = 16) -> Comparison:
    """Max |Δlogit| and prediction agreement of ``runner`` vs ``reference`` on ``texts``: both run the very
    same encoded batches (the reference's encoder, length-sorted like every edgeptm measurement)."""
    width = len(reference.labels)

    def both(batch: Encoded) -> np.ndarray:
        return np.concatenate([runner.predict(batch), reference.predict(batch)], axis=1)

    pairs = run_length_sorted(reference.encoder, texts, batch_size, both)
    a, b = pairs[:, :width], pairs[:, width:]
    return {
        "max_abs_logit_diff": float(np.max(np.abs(a - b))),
        "agreement_pct": 100.0 * float(np.mean(a.argmax(-1) == b.argmax(-1))),
        "n": len(texts),
    }


def validate(plugins: Plugins, artifact: Path, manifest: Manifest, texts: Sequence[str]) -> Validation:
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
        result: Validation = {**compare(runner, reference, texts), "tolerance": tolerance}
    if tolerance is not None and result["max_abs_logit_diff"] > tolerance:
        raise ModelError(
            f"{manifest.backend} {manifest.precision} artifact disagrees with the torch reference: "
            f"max |Δlogit| {result['max_abs_logit_diff']:.3g} > tolerance {tolerance:g} "
            f"on {len(texts)} texts; nothing was written"
        )
    return result
