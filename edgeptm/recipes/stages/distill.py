"""``distill``: a shallower student of a fine-tuned teacher (an earlier artifact, or a folder), on
``data.train`` plus optional unlabelled text; later stages export and evaluate it like any model."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edgeptm.recipes.stages.finetune import selection_data, split_rows
from edgeptm.report.tables import markdown_table
from edgeptm.stage import NAME_PATTERN, TORCH, RunContext, StageKind, StageOptions, StageResult
from edgeptm.train.distill import DistillOptions


class DistillStage(DistillOptions, StageOptions):
    stage: Literal["distill"]
    name: str = Field("student", pattern=NAME_PATTERN)
    from_: str | None = Field(None, alias="from", description="the teacher: an earlier fine-tuned model artifact")
    teacher: str | None = Field(None, description="the teacher: a fine-tuned model folder (relative to the recipe)")
    unlabelled: list[str] = Field(
        default_factory=list, description="[LANG=]PATH specs of unlabelled text, relative to the recipe file"
    )
    data_splits = ("train", "eval", "test")

    @model_validator(mode="after")
    def _one_teacher(self) -> DistillStage:
        if bool(self.from_) == bool(self.teacher):
            raise ValueError("give the teacher as `from` (an earlier artifact) or `teacher` (a folder), exactly one")
        return self

    def files(self) -> list[str]:
        from edgeptm.data.corpus import spec_paths

        return [str(p) for p in spec_paths(self.unlabelled)] + ([self.teacher] if self.teacher else [])


class Distill(StageKind):
    kind = "distill"
    Options = DistillStage
    makes = "classifier"

    def check(self, where, stage, recipe, plugins, known):
        errors = [
            f"data.{key}: required by the distill stage"
            for key in ("train", "eval")
            if getattr(recipe.data, key) is None
        ]
        source = known.get(stage.from_) if stage.from_ else None
        if source is not None and source != TORCH:
            errors.append(
                f"{where}.from: {stage.from_!r} is a {source} artifact; distill needs a fine-tuned torch model folder "
                "(a finetune stage's model), so place it before export"
            )
        return errors + super().check(where, stage, recipe, plugins, known)

    def run(self, ctx: RunContext, stage: DistillStage, out: Path) -> StageResult:
        from edgeptm.data.corpus import read_corpus
        from edgeptm.train.distill import distill

        options = DistillOptions.model_validate(stage.model_dump(include=set(DistillOptions.model_fields)))
        teacher = str(ctx.artifacts[stage.from_]) if stage.from_ else ctx.path(stage.teacher or "")
        unlabelled = (
            read_corpus([ctx.spec(s) for s in stage.unlabelled], role="unlabelled") if stage.unlabelled else None
        )
        result = distill(
            teacher,
            ctx.dataset("train"),
            selection_data(ctx),
            out,
            options,
            unlabelled=unlabelled,
            test=ctx.dataset("test") if ctx.recipe.data.test else None,
            resume=True,
            progress=False,
            log=lambda m: ctx.log(f"  {m}"),
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
        )
        return {"metrics": dict(result.metrics)}

    def render(self, name: str, result: StageResult) -> list[str]:
        m = result["metrics"]
        t = m["train"]
        md = [
            f"## Distillation ({name})",
            "",
            f"{m['student_layers']} layers from teacher layers {', '.join(map(str, m['teacher_layers']))}; "
            f"{t['parameters']:,} parameters (teacher {t['teacher_parameters']:,}); {t['examples']} labelled and "
            f"{t['unlabelled']} unlabelled texts, {t['rows_per_epoch']} rows per epoch sampled across "
            f"{len(t['languages'])} languages; {t['steps']} steps, {t['runtime_s']:.1f} s on {t['device']}.",
            "",
        ]
        for split in ("eval", "test"):
            if split in m:
                rows = [["student", *row] for row in split_rows(m[split])]
                rows += [["teacher", *row] for row in split_rows(m[f"teacher_{split}"])]
                md += [
                    f"**{split}**",
                    "",
                    markdown_table(["model", "language", "n", "accuracy", "macro-F1"], rows),
                    "",
                ]
        return md

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"distill": {name: result["metrics"]}}


KIND = Distill()
