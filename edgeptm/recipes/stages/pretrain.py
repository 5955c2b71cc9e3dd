"""``pretrain``: masked-LM pre-training on raw text, from scratch or continued from ``from``/``model``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edgeptm.recipes.stages._model import torch_source_errors
from edgeptm.report.tables import markdown_table
from edgeptm.stage import NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult
from edgeptm.train.pretrain import PretrainOptions


class PretrainStage(PretrainOptions, StageOptions):
    """Masked-LM pre-training on raw text: from scratch, or continued from ``from``/``model``."""

    stage: Literal["pretrain"]
    name: str = Field("pretrained", pattern=NAME_PATTERN)
    corpus: list[str] = Field(min_length=1, description="[LANG=]PATH specs, relative to the recipe file")
    from_: str | None = Field(None, alias="from", description="continue from an earlier model artifact")
    model: str | None = Field(
        None, description="continue from this checkpoint (path relative to the recipe, or hub id)"
    )

    @model_validator(mode="after")
    def _one_start(self) -> PretrainStage:
        if self.from_ and self.model:
            raise ValueError("give `from` (an earlier artifact) or `model` (a checkpoint), not both")
        return self

    def files(self) -> list[str]:
        from edgeptm.data.corpus import spec_paths

        return [str(p) for p in spec_paths(self.corpus)] + ([self.model] if self.model else [])


class Pretrain(StageKind):
    kind = "pretrain"
    Options = PretrainStage
    makes = "mlm"
    needs_classifier = False

    def check(self, where, stage, recipe, plugins, known):
        errors = torch_source_errors(where, stage, known)
        return errors + super().check(where, stage, recipe, plugins, known)

    def run(self, ctx: RunContext, stage: PretrainStage, out: Path) -> StageResult:
        from edgeptm.data.corpus import read_corpus
        from edgeptm.train.pretrain import pretrain

        options = PretrainOptions.model_validate(stage.model_dump(include=set(PretrainOptions.model_fields)))
        corpus = read_corpus([ctx.spec(s) for s in stage.corpus])
        model = str(ctx.artifacts[stage.from_]) if stage.from_ else stage.model
        if stage.model and Path(ctx.path(stage.model)).exists():
            model = ctx.path(stage.model)  # a folder relative to the recipe; otherwise a hub id or builtin:
        metrics = pretrain(
            corpus,
            out,
            options,
            model=model,
            resume=True,
            on_change="restart",  # checkpoints of other options or inputs: start over, saying so
            progress=False,
            log=lambda m: ctx.log(f"  {m}"),
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
        )
        return {"pretrain": metrics}

    def render(self, name: str, result: StageResult) -> list[str]:
        from edgeptm.train.pretrain import perplexity_rows

        m = result["pretrain"]
        t = m["train"]
        return [
            f"## Pre-training ({name})",
            "",
            f"{m['model']['init']} {m['model']['size'] or ''}: {t['steps']} steps, "
            f"{t['runtime_s']:.1f} s on {t['device']}, {t['parameters']:,} parameters.",
            "",
            "**held-out perplexity**",
            "",
            markdown_table(*perplexity_rows(m)),
            "",
        ]

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"pretrain": {name: result["pretrain"]}}


KIND = Pretrain()
