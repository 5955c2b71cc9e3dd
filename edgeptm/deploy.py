"""Export, quantize, validate and load artifacts through whichever backend owns them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeptm.artifacts import model_manifest
from edgeptm.backend import Runner
from edgeptm.data import Dataset
from edgeptm.errors import BackendError, ModelError
from edgeptm.fsutil import atomic_dir
from edgeptm.manifest import Manifest, has_manifest, read_manifest
from edgeptm.plugins import Plugins

REFERENCE_BACKEND = "torch"


def artifact_manifest(path: Path) -> Manifest:
    """The manifest of an artifact or of a plain fine-tuned model folder."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such artifact folder")
    return read_manifest(path) if has_manifest(path) else model_manifest(path)


def load_runner(
    plugins: Plugins, artifact: Path, *, device: str | None = None, threads: int | None = None
) -> Runner:
    """Load any artifact through its backend's runner (on the backend's default device when ``None``)."""
    manifest = artifact_manifest(artifact)
    backend = plugins.available_backend(manifest.backend)
    if device is None:
        return backend.load(Path(artifact), manifest, threads=threads)
    return backend.load(Path(artifact), manifest, device=device, threads=threads)


def compare(runner: Runner, reference: Runner, texts: Sequence[str], batch_size: int = 16) -> dict[str, Any]:
    """Max |Δlogit| and prediction agreement of ``runner`` vs ``reference`` on ``texts``."""
    got, want = [], []
    for i in range(0, len(texts), batch_size):
        batch = reference.encode(texts[i : i + batch_size])
        got.append(runner.predict(batch))
        want.append(reference.predict(batch))
    a, b = np.concatenate(got), np.concatenate(want)
    return {
        "max_abs_logit_diff": float(np.max(np.abs(a - b))),
        "agreement_pct": 100.0 * float(np.mean(a.argmax(-1) == b.argmax(-1))),
        "n": len(texts),
    }


def _validate(plugins: Plugins, artifact: Path, manifest: Manifest, texts: Sequence[str]) -> dict[str, Any]:
    backend = plugins.backend(manifest.backend)
    tolerance = backend.tolerance(manifest.precision)
    if not manifest.source:
        raise ModelError(f"{artifact}: manifest has no source model to validate against")
    reference_dir = Path(manifest.source)
    ref = plugins.available_backend(REFERENCE_BACKEND)
    with ref.load(reference_dir, model_manifest(reference_dir, manifest.max_length)) as reference, backend.load(
        artifact, manifest
    ) as runner:
        result = compare(runner, reference, texts)
    result["tolerance"] = tolerance
    if tolerance is not None and result["max_abs_logit_diff"] > tolerance:
        raise ModelError(
            f"{manifest.backend} {manifest.precision} artifact disagrees with the torch reference: "
            f"max |Δlogit| {result['max_abs_logit_diff']:.3g} > tolerance {tolerance:g} "
            f"on {len(texts)} texts; nothing was written"
        )
    return result


def export(
    plugins: Plugins,
    backend_name: str,
    model_dir: Path,
    out: Path,
    *,
    options: Mapping[str, Any] | None = None,
    max_length: int | None = None,
    validation_texts: Sequence[str] = (),
) -> Manifest:
    """Export the fine-tuned ``model_dir`` with a backend into ``out``, validated against torch."""
    model_dir = Path(model_dir)
    backend = plugins.available_backend(backend_name)
    source = model_manifest(model_dir, max_length)
    opts = backend.parse_options(options)
    with atomic_dir(Path(out)) as tmp:
        result = backend.export(model_dir, tmp, options=opts, max_length=source.max_length)
        manifest = Manifest(
            backend=backend.name,
            precision=backend.export_precision,
            labels=source.labels,
            max_length=source.max_length,
            files=result.files,
            source=source.source or str(model_dir.resolve()),
            options={**opts.model_dump(mode="json"), **(result.info or {})},
        )
        if validation_texts and backend.name != REFERENCE_BACKEND:
            manifest.validation = _validate(plugins, tmp, manifest, validation_texts)
        manifest.save(tmp)
    return manifest


def quantize(
    plugins: Plugins,
    artifact: Path,
    out: Path,
    *,
    precision: str,
    options: Mapping[str, Any] | None = None,
    calibration: Sequence[str] = (),
    validation_texts: Sequence[str] = (),
    evaluation: Dataset | None = None,
) -> Manifest:
    """Make a ``precision`` variant of an exported artifact with the backend that owns it.

    ``evaluation`` (labelled eval data) reaches the backend only for the precisions it lists
    in ``eval_data_precisions``; those fail clearly without it.
    """
    artifact = Path(artifact)
    source = artifact_manifest(artifact)
    backend = plugins.available_backend(source.backend)
    backend.check_precision(precision)
    opts = backend.parse_options(options)
    extra: dict[str, Any] = {}
    if precision in backend.eval_data_precisions:
        if evaluation is None or len(evaluation) == 0:
            raise BackendError(
                f"precision {precision!r} of backend {backend.name!r} measures accuracy while quantizing: "
                "give it labelled eval data (--eval-data, or data.eval in a recipe)"
            )
        extra["evaluation"] = evaluation
    with atomic_dir(Path(out)) as tmp:
        result = backend.quantize(
            artifact, tmp, precision=precision, options=opts, calibration=list(calibration), manifest=source, **extra
        )
        manifest = source.model_copy(
            update={
                "precision": precision,
                "files": result.files,
                "options": {**opts.model_dump(mode="json"), **(result.info or {})},
                "validation": None,
            }
        )
        if validation_texts:
            manifest.validation = _validate(plugins, tmp, manifest, validation_texts)
        manifest.save(tmp)
    return manifest
