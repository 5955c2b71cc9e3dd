"""``quantize``: a lower-precision variant of an export, by the backend that made it.

Calibrated on ``data.train``, validated on ``data.eval`` (see :mod:`edgeptm.deploy.quantize`), and
written only when it passes the gate (``min_agreement``, ``max_drop``; defaults as the CLI's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgeptm.recipes.stages._shared import option_errors
from edgeptm.stage import MLM, NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult


class QuantizeStage(StageOptions):
    stage: Literal["quantize"]
    name: str = Field(pattern=NAME_PATTERN)
    from_: str = Field(alias="from")
    precision: str
    options: dict[str, Any] = {}
    calibration_size: int = Field(256, ge=1)
    min_agreement: float | None = Field(None, ge=0, le=100)
    """Gate: least % agreement with torch fp32 on data.eval (default ``deploy.validate.MIN_AGREEMENT``)."""
    max_drop: float | None = Field(None, ge=0, le=100)
    """Gate: most accuracy points lost against torch fp32 on data.eval (default ``deploy.validate.MAX_DROP``)."""
    data_splits = ("train", "eval")


class Quantize(StageKind):
    kind = "quantize"
    Options = QuantizeStage
    makes = "same"

    def check(self, where, stage, recipe, plugins, known):
        source = known.get(stage.from_)
        errors = super().check(where, stage, recipe, plugins, known)
        backend = plugins.backends().get(source or "")
        if backend is not None:
            if stage.precision not in backend.precisions():
                errors.append(
                    f"{where}.precision: backend {backend.name!r} does not support {stage.precision!r} "
                    f"(supported: {', '.join(backend.precisions())})"
                )
            errors += option_errors(where, backend, stage.options)
        elif source is not None and source != MLM:
            errors.append(f"{where}.from: {stage.from_!r} is not an exported artifact; quantize an export")
        return errors

    def run(self, ctx: RunContext, stage: QuantizeStage, out: Path) -> StageResult:
        from edgeptm import deploy

        texts = deploy.quantize_texts(
            ctx.dataset("train"), ctx.dataset("eval"), calibration_size=stage.calibration_size
        )
        manifest = deploy.quantize(
            ctx.plugins,
            ctx.artifacts[stage.from_],
            out,
            precision=stage.precision,
            options=stage.options,
            texts=texts,
            evaluation=ctx.dataset("eval"),
            gate=deploy.QualityGate.with_defaults(stage.min_agreement, stage.max_drop),
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
        )
        ctx.log(f"  {texts.describe(manifest.export_info.get('calibration_texts'))}")
        for line in deploy.quantize_notes(manifest):
            ctx.log(f"  {line}")
        return {"manifest": manifest.model_dump(mode="json")}


KIND = Quantize()
