"""``finetune``: fine-tune the recipe's model (or an earlier artifact) on ``data.train``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeptm import data
from edgeptm.measure.coverage import coverage_column
from edgeptm.report.tables import markdown_table
from edgeptm.stage import NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult
from edgeptm.train.finetune import FinetuneOptions


class FinetuneStage(FinetuneOptions, StageOptions):
    stage: Literal["finetune"]
    name: str = Field("model", pattern=NAME_PATTERN)
    from_: str | None = Field(None, alias="from", description="an earlier model artifact (default: the recipe's model)")
    data_splits = ("train", "eval", "test")

    def uses_recipe_model(self) -> bool:
        return self.from_ is None


def selection_data(ctx: RunContext) -> data.Dataset:
    """The eval data that picks the best checkpoint: with ``data.train_languages``, only those
    languages, so zero-shot results on the others never saw their labels."""
    return ctx.recipe.data.selection("eval").selection_data(ctx.dataset("eval"), ctx.log)


def unk_threshold(coverage: dict | None) -> float:
    """The unknown-token threshold a coverage block was judged by."""
    return float((coverage or {}).get("max_unk_rate", 1.0))


def split_rows(m: dict, coverage: dict | None = None) -> list[list]:
    """Overall and per-language rows of one split's metrics: language, n, accuracy, macro-F1 (in %), and the
    tokenizer's coverage of the language (unknown tokens, tokens per word)."""
    rows = [["all", m["overall"]["n"], 100 * m["overall"]["accuracy"], 100 * m["overall"]["macro_f1"], ""]]
    rows += [
        [k, v["n"], 100 * v["accuracy"], 100 * v["macro_f1"], coverage_column(coverage, k)]
        for k, v in m["per_language"].items()
    ]
    return rows


class Finetune(StageKind):
    kind = "finetune"
    Options = FinetuneStage
    makes = "classifier"
    top_level = True

    def check(self, where, stage, recipe, plugins, known):
        errors = [
            f"data.{key}: required by the finetune stage"
            for key in ("train", "eval")
            if getattr(recipe.data, key) is None
        ]
        return errors + super().check(where, stage, recipe, plugins, known)

    needs_classifier = False

    def run(self, ctx: RunContext, stage: FinetuneStage, out: Path) -> StageResult:
        from edgeptm.train.finetune import finetune

        options = FinetuneOptions.model_validate(stage.model_dump(include=set(FinetuneOptions.model_fields)))
        test = ctx.dataset("test") if ctx.recipe.data.test else None
        if stage.from_:
            model = str(ctx.artifacts[stage.from_])
        else:
            local = Path(ctx.path(ctx.recipe.model))
            model = str(local) if local.exists() else ctx.recipe.model
        metrics = finetune(
            model,
            ctx.dataset("train"),
            selection_data(ctx),
            out,
            options,
            test=test,
            resume=True,
            on_change="restart",  # checkpoints of other options or data: start over, saying so
            progress=False,
            log=ctx.log,
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
        )
        return {"metrics": metrics}

    def render(self, name: str, result: StageResult) -> list[str]:
        metrics = result["metrics"]
        t = metrics["train"]
        md = [
            f"## Fine-tuning ({name})",
            "",
            f"{t['examples']} training examples in {len(t['languages'])} languages; "
            f"{t['epochs']:.0f} epochs, {t['steps']} steps, {t['runtime_s']:.1f} s on {t['device']}.",
            "",
        ]
        coverage = metrics.get("coverage")
        poor = [
            lang
            for lang, c in (coverage or {}).get("per_language", {}).items()
            if c["unk_rate"] > unk_threshold(coverage)
        ]
        if poor:
            md += [
                f"**Over {100 * unk_threshold(coverage):g}% of the tokens are unknown in {', '.join(poor)}**: "
                "the model can't read those words, so the figures there measure little; see `edgeptm pretrain` "
                "or `edgeptm trim-vocab`.",
                "",
            ]
        for split in ("eval", "test"):
            if split in metrics:
                md += [
                    f"**{split}**",
                    "",
                    markdown_table(
                        ["language", "n", "accuracy", "macro-F1", "tokenizer coverage"],
                        split_rows(metrics[split], metrics.get("coverage")),
                    ),
                    "",
                ]
        return md

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"finetune": result["metrics"]}


KIND = Finetune()
