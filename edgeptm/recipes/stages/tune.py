"""``tune``: search deployment variants of a fine-tuned model for a device profile (see :mod:`edgeptm.tune`).

A report stage: it writes ``tune-<index>.json`` and, beside it, a folder with ``tune.md`` and the
chosen artifact (``chosen/``). Builds and evaluations are cached by content across runs, so a
re-run builds only new candidates; latency is always measured again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgeptm.fsutil import atomic_write_text, write_json
from edgeptm.stage import RunContext, StageKind, StageOptions, StageResult
from edgeptm.tune.space import SearchSpace


class TuneStage(StageOptions):
    stage: Literal["tune"]
    from_: str = Field("model", alias="from", description="the fine-tuned torch classifier to start from")
    profile: str = Field(description="a built-in profile name or a profile YAML path (relative to the recipe)")
    set: dict[str, Any] = Field({}, description="profile fields to override, e.g. {latency_ms: 50}")
    space: SearchSpace = SearchSpace()
    budget_minutes: float | None = Field(None, gt=0)
    objective: Literal["latency", "size", "accuracy"] = "latency"
    iterations: int = Field(30, ge=1)
    data_splits = ("train", "eval")

    def files(self) -> list[str]:
        from edgeptm.profiles import BUILTIN

        return (
            [self.profile]
            if Path(self.profile).suffix in (".yaml", ".yml")
            else [str(BUILTIN / f"{self.profile}.yaml")]
        )


class Tune(StageKind):
    kind = "tune"
    Options = TuneStage

    def check(self, where, stage, recipe, plugins, known):
        from edgeptm.errors import EdgeptmError
        from edgeptm.profiles import load_profile
        from edgeptm.stage import TORCH

        errors = super().check(where, stage, recipe, plugins, known)
        if known.get(stage.from_) not in (None, TORCH):
            errors.append(
                f"{where}.from: {stage.from_!r} is a {known[stage.from_]} artifact; tune starts from a torch classifier"
            )
        for split in self.Options.data_splits:
            if getattr(recipe.data, split) is None:
                errors.append(
                    f"{where}: data.{split} is not set (tune calibrates on train and measures accuracy on eval)"
                )
        if not Path(stage.profile).is_absolute() and Path(stage.profile).suffix in (".yaml", ".yml"):
            return errors  # a relative path: checked when the stage runs (relative to the recipe)
        try:
            load_profile(stage.profile, stage.set)
        except EdgeptmError as exc:
            errors.append(f"{where}.profile: {exc}")
        return errors

    def run(self, ctx: RunContext, stage: TuneStage, out: Path) -> StageResult:
        from edgeptm.profiles import load_profile
        from edgeptm.tune.build import BuildCache
        from edgeptm.tune.progress import click_progress
        from edgeptm.tune.render import markdown_report, rejection_lines
        from edgeptm.tune.search import Settings, search

        profile_ref = ctx.path(stage.profile) if Path(stage.profile).suffix in (".yaml", ".yml") else stage.profile
        profile = load_profile(profile_ref, stage.set)
        train, evaluation = ctx.dataset("train"), ctx.dataset("eval")
        cache = BuildCache(ctx.plugins, train, evaluation, log=ctx.log)
        result = search(
            ctx.plugins,
            ctx.artifacts[stage.from_],
            profile,
            stage.space,
            train,
            evaluation,
            Settings(budget_minutes=stage.budget_minutes, objective=stage.objective, iterations=stage.iterations),
            cache=cache,
            log=ctx.log,
            progress=click_progress,
        )
        for line in rejection_lines(result):
            ctx.log(f"  rejected {line}")
        folder = out.with_suffix("")
        chosen = next((c for c in result["candidates"] if c["status"] == "chosen"), None)
        if chosen is not None:
            cache.copy(Path(chosen["artifact"]), folder / "chosen")
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "tune.md", "\n".join(markdown_report(result)) + "\n")
        write_json(out, result)
        return {"tune": result, "folder": str(folder)}

    def render(self, name: str, result: StageResult) -> list[str]:
        from edgeptm.tune.render import markdown_report

        return markdown_report(result["tune"])

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"tune": {result["tune"]["profile"]["name"]: result["tune"]}}


KIND = Tune()
