"""Quantize an exported artifact: the one path the CLI and recipes share.

Where the texts come from is documented and the same everywhere:

* **calibration**: ``calibration_size`` texts of the *calibration data* (the CLI's ``--calibration``,
  default ``builtin:sample``, train split; a recipe's ``data.train``), sampled evenly across languages;
* **validation**: up to 256 texts of the *validation data* (the CLI's ``--validate-on``, default
  ``builtin:sample``, eval split; a recipe's ``data.eval``), sampled evenly across languages, never one
  of the calibration texts, so agreement is measured on text the quantizer did not see.

The manifest's ``validation`` records both sources and counts, and the CLI prints them.

**The gate**: every variant, whatever its backend and precision, is compared with torch fp32 on the
validation texts and must agree on at least ``min_agreement`` % of them (default 90) and, when the
validation data's labels are the model's, lose at most ``max_drop`` accuracy points (default 3). A
variant that misses writes nothing and fails with all the figures in one line
(:class:`~edgeptm.deploy.validate.QualityGate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeptm.backend import QuantizeRequest
from edgeptm.data import Dataset, sample_evenly
from edgeptm.deploy.runners import artifact_manifest
from edgeptm.deploy.validate import VALIDATION_SIZE, QualityGate, validate, validation_examples
from edgeptm.errors import BackendError, DataError
from edgeptm.fsutil import atomic_dir, check_output
from edgeptm.manifest import Manifest
from edgeptm.plugins import Plugins

CALIBRATION_SIZE = 256


@dataclass(frozen=True)
class QuantizeTexts:
    """The calibration and validation texts of one quantization, and where they came from."""

    calibration: list[str]
    validation: list[str]
    calibration_source: str
    validation_source: str
    validation_labels: list[str] | None = None
    """The validation texts' labels: the accuracy drop is measured when they are the model's."""

    def describe(self, used: int | None = None) -> str:
        """What was used; ``used`` is how many calibration texts the backend took (0: a dynamic scheme)."""
        used = len(self.calibration) if used is None else used
        calibrated = (
            f"calibrated on {used} texts of {self.calibration_source}"
            if used
            else "no calibration (activations are quantized at run time)"
        )
        return f"{calibrated}; validated on {len(self.validation)} other texts of {self.validation_source}"


def quantize_texts(
    calibration: Dataset,
    validation: Dataset,
    *,
    calibration_size: int = CALIBRATION_SIZE,
    validation_size: int = VALIDATION_SIZE,
) -> QuantizeTexts:
    """Pick calibration texts from ``calibration`` and validation texts from ``validation``, disjoint."""
    calib = [e.text for e in sample_evenly(calibration, calibration_size)]
    valid = validation_examples(validation, validation_size, exclude=calib)
    if not valid:
        raise DataError(
            f"{validation.source}: no validation texts left once the {len(calib)} calibration texts are set aside; "
            "validate on other data"
        )
    return QuantizeTexts(
        calib, [e.text for e in valid], calibration.source, validation.source, [e.label for e in valid]
    )


def quantize_notes(manifest: Manifest) -> list[str]:
    """What the backend said about the variant it made, one line each: its ``export_info["notes"]`` (e.g. which
    int8 weights it chose and why) and ``export_info["warnings"]`` (e.g. int8 cannot be faster on this CPU)."""
    info = manifest.export_info
    return [str(n) for n in info.get("notes", [])] + [f"Warning: {w}" for w in info.get("warnings", [])]


def quantize(
    plugins: Plugins,
    artifact: Path,
    out: Path,
    *,
    precision: str,
    options: Mapping[str, Any] | None = None,
    texts: QuantizeTexts | None = None,
    evaluation: Dataset | None = None,
    calibration: Sequence[str] = (),
    validation_texts: Sequence[str] = (),
    gate: QualityGate | None = None,
    force: bool = False,
) -> Manifest:
    """Make a ``precision`` variant of an exported artifact with the backend that owns it.

    Give ``texts`` (from :func:`quantize_texts`), or the bare ``calibration`` and ``validation_texts``
    lists. ``evaluation`` (labelled eval data) reaches the backend only for the precisions it lists in
    ``eval_data_precisions``; those fail clearly without it. The variant is written only when it passes
    ``gate`` (default :class:`QualityGate`: the documented defaults) on the validation texts. Without
    validation texts (a bare API call; the CLI and recipes always pass them) nothing is compared, and the
    manifest's ``validation`` stays ``None`` to say so.
    """
    gate = gate or QualityGate()
    labels = None
    if texts is not None:
        calibration, validation_texts, labels = texts.calibration, texts.validation, texts.validation_labels
    artifact = Path(artifact)
    check_output(Path(out), "artifact", force=force, inputs=(artifact,))
    source = artifact_manifest(artifact)
    if source.text_input:
        raise BackendError(
            f"{artifact}: a {source.kind} baseline is not quantized (its weights are a sparse linear layer, a few MB "
            "at fp32); bundle it as it is"
        )
    backend = plugins.available_backend(source.backend)
    backend.check_precision(precision)
    opts = backend.parse_options(options)
    needs_eval = precision in backend.eval_data_precisions
    if needs_eval and (evaluation is None or len(evaluation) == 0):
        raise BackendError(
            f"precision {precision!r} of backend {backend.name!r} measures accuracy while quantizing: "
            "give it labelled eval data (--eval-data, or data.eval in a recipe)"
        )
    with atomic_dir(Path(out), kind="artifact", inputs=(artifact,)) as tmp:
        request = QuantizeRequest(
            artifact=artifact,
            out=tmp,
            precision=precision,
            options=opts,
            manifest=source,
            calibration=list(calibration),
            evaluation=evaluation if needs_eval else None,
        )
        result = backend.quantize(request)
        manifest = source.model_copy(
            update={
                "precision": precision,
                "files": result.files,
                "options": opts.model_dump(mode="json"),
                "export_info": {**source.export_info, **(result.info or {})},
                "validation": None,
            }
        )
        if validation_texts:
            manifest.validation = validate(plugins, tmp, manifest, validation_texts, labels)
            gate.check(f"{artifact} -> {source.backend} {precision}", manifest.validation)
            manifest.validation["gate"] = {"min_agreement": gate.min_agreement, "max_drop": gate.max_drop}
            if texts is not None:
                manifest.validation["source"] = texts.validation_source
                used = int(manifest.export_info.get("calibration_texts", len(texts.calibration)))
                if used:
                    manifest.validation["calibration"] = {"source": texts.calibration_source, "n": used}
        manifest.save(tmp)
    return manifest
