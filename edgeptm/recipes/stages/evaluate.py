"""``evaluate``: accuracy and macro-F1 per language through each artifact's own runner."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from edgeptm.fsutil import write_json
from edgeptm.recipes.stages._shared import MeasureOptions, split_errors
from edgeptm.report.tables import markdown_table
from edgeptm.stage import RunContext, StageKind, StageResult


class EvaluateStage(MeasureOptions):
    stage: Literal["evaluate"]
    data_splits = ("train", "eval", "test")


class Evaluate(StageKind):
    kind = "evaluate"
    Options = EvaluateStage

    def check(self, where, stage, recipe, plugins, known):
        return super().check(where, stage, recipe, plugins, known) + split_errors(where, stage, recipe)

    def run(self, ctx: RunContext, stage: EvaluateStage, out: Path) -> StageResult:
        from edgeptm.measure.evaluate import evaluate

        names = stage.inputs(ctx.deployable())
        dataset = ctx.dataset(stage.split)
        train_langs = ctx.dataset("train").language_set() if ctx.recipe.data.train else None
        results = []
        references: dict = {}
        for name in names:
            ctx.log(f"  evaluating {name} on {stage.split} ({len(dataset)} examples)")
            r = evaluate(
                ctx.plugins,
                ctx.artifacts[name],
                dataset,
                batch_size=stage.batch_size,
                threads=stage.threads,
                train_languages=train_langs,
                reference_cache=references,
            )
            results.append({"name": name, **r})
        write_json(out, results)
        return {"evaluations": results}

    def render(self, name: str, result: StageResult) -> list[str]:
        from edgeptm.report.compact import agreement_lines, language_table

        md = [
            "## Evaluation (through each backend's runner)",
            "",
            "Macro-F1 per language with its bootstrap 95% interval; an artifact that scores exactly like an "
            "earlier one shares its column. Every row of every artifact is in summary.json.",
            "",
            markdown_table(*language_table(result["evaluations"])),
            "",
            *agreement_lines(result["evaluations"]),
        ]
        for r in result["evaluations"]:
            for group, label in (("in_language", "in-language"), ("zero_shot", "zero-shot")):
                block = r.get("transfer", {}).get(group)
                if block:
                    o, langs = block["overall"], ", ".join(block["per_language"])
                    md += [f"- {r['name']}: {label} macro-F1 {100 * o['macro_f1']:.2f} on {o['n']} examples ({langs})"]
        return md + [""]

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"evaluation": result["evaluations"]}


KIND = Evaluate()
