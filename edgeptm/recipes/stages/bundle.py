"""``bundle``: package an artifact for a device with ``edgeptm-runtime`` (see :mod:`edgeptm.deploy.bundle`).

Its model card takes the figures the recipe measured on that artifact: the evaluation per language, the
benchmark (with the machine it ran on), the robustness summary, and the recipe itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgeptm.fsutil import write_json
from edgeptm.stage import NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult


class BundleStage(StageOptions):
    stage: Literal["bundle"]
    from_: str = Field(alias="from", description="the artifact to bundle (an onnx or openvino export)")
    name: str | None = Field(None, pattern=NAME_PATTERN, description="bundle name (default: <recipe>-<from>)")
    archive: bool = Field(False, description="write bundles/<name>.tar.gz instead of a folder")

    def produces(self) -> str | None:
        return None  # a bundle leaves the pipeline: later stages read artifacts, not bundles

    def inputs(self, known: list[str]) -> list[str]:
        return [self.from_]


def _figures(ctx: RunContext, name: str) -> dict[str, Any]:
    """This artifact's evaluation, benchmark and robustness results from the stages that ran before."""
    found: dict[str, Any] = {}
    for result in ctx.results.values():
        for evaluation in result.get("evaluations", []):
            if evaluation.get("name") == name:
                found["evaluation"] = evaluation
        for measured in result.get("bench", []):
            if measured.get("name") == name:
                found["bench"] = measured
        robustness = result.get("robustness")
        if robustness:
            for artifact in robustness.get("artifacts", []):
                if artifact["name"] == name:
                    found["robustness"] = artifact
    return found


def _robustness_lines(artifact: dict[str, Any]) -> list[str]:
    lines = []
    for lang, damage in artifact["most_damaging"].items():
        worst = ", ".join(f"{d['perturbation']} {100 * d['macro_f1_drop']:+.1f}" for d in damage)
        if worst:
            lines.append(f"- {lang}: most damaging (macro-F1 drop, points): {worst}")
    return lines


class Bundle(StageKind):
    kind = "bundle"
    Options = BundleStage

    def check(self, where, stage, recipe, plugins, known):
        errors = super().check(where, stage, recipe, plugins, known)
        made_by = known.get(stage.from_)
        backend = plugins.backends().get(made_by or "")
        if made_by is not None and (backend is None or backend.bundle_engine is None):
            errors.append(
                f"{where}.from: {stage.from_!r} is a {made_by} artifact, which needs torch; bundle an onnx or openvino export"
            )
        return errors

    def run(self, ctx: RunContext, stage: BundleStage, out: Path) -> StageResult:
        from edgeptm.deploy.bundle import ARCHIVE_SUFFIX, bundle
        from edgeptm.measure.machine import describe_machine
        from edgeptm.report.card import CardInputs

        name = stage.name or f"{ctx.recipe.name}-{stage.from_}"
        figures = _figures(ctx, stage.from_)
        recipe_text = ctx.recipe_text()
        card = CardInputs(
            evaluation=figures.get("evaluation"),
            bench=figures.get("bench"),
            machine=describe_machine(figures["bench"].get("threads")) if "bench" in figures else None,
            robustness=_robustness_lines(figures["robustness"]) if "robustness" in figures else (),
            recipe=recipe_text,
        )
        target = ctx.out / "bundles" / (name + (ARCHIVE_SUFFIX if stage.archive else ""))
        result = bundle(
            ctx.plugins, ctx.artifacts[stage.from_], target, name=name, archive=stage.archive, force=True, card=card
        )
        ctx.log(f"  {result.engine} bundle {target.relative_to(ctx.out)}: {len(result.files)} files")
        record = {
            "bundle": str(target.relative_to(ctx.out)),
            "engine": result.engine,
            "files": result.files,
            "size_bytes": result.size_bytes,
        }
        write_json(out, record)
        return record

    def outputs(self, stage: BundleStage, out: Path, result: StageResult) -> list[Path]:
        return [out, out.parent / result["bundle"]]

    def render(self, name: str, result: StageResult) -> list[str]:
        return [
            "## Bundle",
            "",
            f"`{result['bundle']}`: {result['engine']} engine, {len(result['files'])} files, "
            f"{result['size_bytes'] / 2**20:.2f} MB, every file sha256-checked by `edgeptm-runtime` on load.",
            "",
        ]

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"bundles": {result["bundle"]: result}}


KIND = Bundle()
