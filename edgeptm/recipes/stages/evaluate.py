"""``evaluate``: accuracy and macro-F1 per language through each artifact's own runner."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeptm.fsutil import write_json
from edgeptm.manifest import TRANSFORMER
from edgeptm.measure.coverage import DEFAULT_MAX_UNK_RATE
from edgeptm.recipes.stages._shared import MeasureOptions, split_errors
from edgeptm.report.tables import markdown_table
from edgeptm.stage import RunContext, StageKind, StageResult


class EvaluateStage(MeasureOptions):
    stage: Literal["evaluate"]
    max_unk_rate: float = Field(
        DEFAULT_MAX_UNK_RATE, ge=0, le=1, description="warn when a language has a larger share of unknown tokens"
    )
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
        coverages: dict = {}
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
                coverage_cache=coverages,
                max_unk_rate=stage.max_unk_rate,
            )
            results.append({"name": name, **r})
        for coverage in coverages.values():
            if warning := coverage.warning(
                ", ".join(str(r["name"]) for r in results if r.get("coverage") == coverage.to_json())
            ):
                ctx.log(f"  {warning}")
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
        md += baseline_lines(result["evaluations"])
        for r in result["evaluations"]:
            if not r.get("transfer", {}).get("zero_shot"):
                continue  # every language was trained on: the table above says it all
            for group, label in (("in_language", "in-language"), ("zero_shot", "zero-shot")):
                block = r["transfer"].get(group)
                if block:
                    o, langs = block["overall"], ", ".join(block["per_language"])
                    md += [f"- {r['name']}: {label} macro-F1 {100 * o['macro_f1']:.2f} on {o['n']} examples ({langs})"]
        return md + [""]

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"evaluation": result["evaluations"]}


def baseline_lines(evaluations: list[dict]) -> list[str]:
    """One line per baseline: where it beats the best model, per language, so a linear model that wins is
    never missed (the figures are in the table above)."""
    models = [r for r in evaluations if r.get("kind", TRANSFORMER) == TRANSFORMER]
    lines: list[str] = []
    for b in (r for r in evaluations if r.get("kind", TRANSFORMER) != TRANSFORMER):
        if not models:
            continue
        best = max(models, key=lambda r: r["overall"]["macro_f1"])
        langs = sorted(b["per_language"])
        wins = [
            lang
            for lang in langs
            if b["per_language"][lang]["macro_f1"]
            > max(m["per_language"].get(lang, {"macro_f1": -1.0})["macro_f1"] for m in models)
        ]
        verdict = "beats" if b["overall"]["macro_f1"] > best["overall"]["macro_f1"] else "trails"
        lines += [
            f"- {b['name']} ({b.get('kind')}) {verdict} the best model overall: macro-F1 "
            f"{100 * b['overall']['macro_f1']:.1f} vs {100 * best['overall']['macro_f1']:.1f} ({best['name']}); "
            f"it is ahead of every model in {len(wins)} of {len(langs)} languages"
            + (f" ({', '.join(wins)})" if wins else "")
        ]
    return lines + ([""] if lines else [])


KIND = Evaluate()
