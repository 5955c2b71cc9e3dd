"""``robustness``: perturbation suites through each artifact's runner; the first artifact is the baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeptm.fsutil import write_json
from edgeptm.recipes.stages._shared import MeasureOptions, split_errors
from edgeptm.stage import RunContext, StageKind, StageResult


class RobustnessStage(MeasureOptions):
    """Perturbation suites through each artifact's runner; the first artifact is the baseline."""

    stage: Literal["robustness"]
    perturbations: list[str] | None = Field(None, description="NAME or NAME:STRENGTH (default: the whole suite)")
    seed: int = 0
    max_per_language: int | None = Field(None, ge=1)
    data_splits = ("eval", "test")


class Robustness(StageKind):
    kind = "robustness"
    Options = RobustnessStage

    def check(self, where, stage, recipe, plugins, known):
        from edgeptm.errors import PerturbationError
        from edgeptm.perturb import resolve_specs

        errors = super().check(where, stage, recipe, plugins, known) + split_errors(where, stage, recipe)
        for j, spec in enumerate(stage.perturbations or []):
            try:
                resolve_specs(plugins.perturbations(), [spec])
            except PerturbationError as exc:
                errors.append(f"{where}.perturbations[{j}]: {exc}")
        return errors

    def run(self, ctx: RunContext, stage: RobustnessStage, out: Path) -> StageResult:
        """Writes ``out`` (the JSON) and, beside it, a folder with report.md and the heatmaps."""
        from edgeptm.measure.robustness import run_robustness, subsample
        from edgeptm.perturb import resolve_specs
        from edgeptm.report.robustness import write_report

        names = stage.inputs(ctx.deployable())
        specs = resolve_specs(ctx.plugins.perturbations(), stage.perturbations)
        dataset = subsample(ctx.dataset(stage.split), stage.max_per_language, stage.seed)
        result = run_robustness(
            ctx.plugins,
            [(n, ctx.artifacts[n]) for n in names],
            dataset,
            specs,
            seed=stage.seed,
            batch_size=stage.batch_size,
            threads=stage.threads,
            log=lambda m: ctx.log(f"  {m}"),
            train_languages=ctx.dataset("train").language_set() if ctx.recipe.data.train else None,
        )
        for skipped in result["skipped"]:
            ctx.log(f"  warning: {skipped['message']}; skipped")
        report = out.with_suffix("")
        write_report(report, result)
        write_json(out, result)
        return {"robustness": result, "report": str(report)}

    def outputs(self, stage: RobustnessStage, out: Path, result: StageResult) -> list[Path]:
        return [out, out.with_suffix("")]

    def render(self, name: str, result: StageResult) -> list[str]:
        from edgeptm.report.robustness import summary_markdown

        return [
            *summary_markdown(result["robustness"]),
            f"Full report and heatmaps: `{Path(result['report']).name}/report.md`.",
            "",
        ]

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"robustness": result["robustness"]}


KIND = Robustness()
