"""``export``: an artifact for a backend, validated against the torch model on ``data.eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgeptm.recipes.stages._shared import option_errors
from edgeptm.stage import NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult


class ExportStage(StageOptions):
    stage: Literal["export"]
    name: str = Field(pattern=NAME_PATTERN)
    backend: str
    from_: str = Field("model", alias="from")
    options: dict[str, Any] = {}
    max_length: int | None = Field(None, ge=8)
    data_splits = ("eval",)


class Export(StageKind):
    kind = "export"
    Options = ExportStage
    makes = "classifier"

    def check(self, where, stage, recipe, plugins, known):
        errors = super().check(where, stage, recipe, plugins, known)
        backends = plugins.backends()
        backend = backends.get(stage.backend)
        if backend is None:
            errors.append(f"{where}.backend: unknown backend {stage.backend!r} (registered: {', '.join(backends)})")
        else:
            errors += option_errors(where, backend, stage.options)
        return errors

    def artifact_kind(self, stage, known):
        return stage.backend

    def run(self, ctx: RunContext, stage: ExportStage, out: Path) -> StageResult:
        from edgeptm import deploy

        manifest = deploy.export(
            ctx.plugins,
            stage.backend,
            ctx.artifacts[stage.from_],
            out,
            options=stage.options,
            max_length=stage.max_length,
            validation_texts=deploy.validation_texts(ctx.dataset("eval")),
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
        )
        return {"manifest": manifest.model_dump(mode="json")}


KIND = Export()
