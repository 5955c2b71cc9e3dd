"""Run a recipe's stages in order into one output folder, skipping stages whose inputs are unchanged."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeptm import __version__, data
from edgeptm.errors import RecipeError
from edgeptm.fsutil import fingerprint, write_json
from edgeptm.plugins import Plugins
from edgeptm.recipe import (
    BenchStage,
    EvaluateStage,
    ExportStage,
    FinetuneStage,
    QuantizeStage,
    Recipe,
    StageBase,
    validate_recipe,
)
from edgeptm.summary import write_summary

STATE_FILE = "state.json"


@dataclass
class Context:
    recipe: Recipe
    root: Path
    out: Path
    plugins: Plugins
    log: Callable[[str], None]
    artifacts: dict[str, Path] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    _datasets: dict[str, data.Dataset] = field(default_factory=dict)

    def path(self, value: str) -> str:
        """Recipe paths are relative to the recipe file; ``builtin:`` and hub ids pass through."""
        if value.startswith(data.BUILTIN_PREFIX):
            return value
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (self.root / p))

    def dataset(self, split: str) -> data.Dataset:
        if split not in self._datasets:
            spec = self.recipe.data
            source = getattr(spec, split)
            if source is None:
                raise RecipeError(f"data.{split} is not set")
            langs = spec.train_languages if split == "train" else spec.eval_languages
            self._datasets[split] = data.load(
                self.path(source),
                split=split,
                columns=data.Columns(spec.columns.text, spec.columns.label, spec.columns.language),
                languages=langs,
            )
        return self._datasets[split]

    def data_fingerprint(self, *splits: str) -> str:
        spec = self.recipe.data
        sources = [getattr(spec, split) for split in splits]
        return fingerprint(spec.model_dump(mode="json"), *[data.resolve(self.path(s)) if s else None for s in sources])

    def model_fingerprint(self) -> str:
        model = self.recipe.model
        local = Path(self.path(model))
        return fingerprint(model, local) if local.exists() else fingerprint(model)


def _finetune(ctx: Context, stage: FinetuneStage, out: Path) -> dict[str, Any]:
    from edgeptm.engine import FinetuneOptions, finetune

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
        ctx.dataset("eval"),
        out,
        options,
        test=test,
        resume=True,
        progress=False,
        log=ctx.log,
    )
    return {"metrics": metrics}


def _export(ctx: Context, stage: ExportStage, out: Path) -> dict[str, Any]:
    from edgeptm import deploy

    texts = [e.text for e in data.sample_evenly(ctx.dataset("eval"), 256)]
    manifest = deploy.export(
        ctx.plugins, stage.backend, ctx.artifacts[stage.from_], out, options=stage.options,
        max_length=stage.max_length, validation_texts=texts,
    )
    return {"manifest": manifest.model_dump(mode="json")}


def _quantize(ctx: Context, stage: QuantizeStage, out: Path) -> dict[str, Any]:
    from edgeptm import deploy

    calibration = [e.text for e in data.sample_evenly(ctx.dataset("train"), stage.calibration_size)]
    validation = [e.text for e in data.sample_evenly(ctx.dataset("eval"), 256)]
    manifest = deploy.quantize(
        ctx.plugins, ctx.artifacts[stage.from_], out, precision=stage.precision, options=stage.options,
        calibration=calibration, validation_texts=validation,
    )
    return {"manifest": manifest.model_dump(mode="json")}


def _evaluate(ctx: Context, stage: EvaluateStage, out: Path) -> dict[str, Any]:
    from edgeptm.evaluate import evaluate

    names = stage.inputs(list(ctx.artifacts))
    dataset = ctx.dataset(stage.split)
    train_langs = ctx.dataset("train").language_set() if ctx.recipe.data.train else None
    results = []
    for name in names:
        ctx.log(f"  evaluating {name} on {stage.split} ({len(dataset)} examples)")
        r = evaluate(
            ctx.plugins, ctx.artifacts[name], dataset, batch_size=stage.batch_size, threads=stage.threads,
            train_languages=train_langs,
        )
        results.append({"name": name, **r})
    write_json(out, results)
    return {"evaluations": results}


def _bench(ctx: Context, stage: BenchStage, out: Path) -> dict[str, Any]:
    from edgeptm.bench import BenchOptions, bench

    names = stage.inputs(list(ctx.artifacts))
    options = BenchOptions.model_validate(stage.model_dump(include=set(BenchOptions.model_fields)))
    results = bench([(n, ctx.artifacts[n]) for n in names], options)
    write_json(out, results)
    return {"bench": results}


def _stage_plan(ctx: Context, index: int, stage: StageBase) -> tuple[str, Path, str]:
    """Stage id, output path, and the fingerprint of its config and inputs."""
    config = stage.model_dump(mode="json", by_alias=True)
    produced = stage.produces()
    inputs = [ctx.fingerprints[n] for n in stage.inputs(list(ctx.artifacts))]
    model = [ctx.model_fingerprint()] if stage.uses_recipe_model() else []
    fp = fingerprint(__version__, config, inputs, *model, ctx.data_fingerprint(*stage.data_splits))
    if produced is None:
        return f"{stage.stage}:{index}", ctx.out / f"{stage.stage}-{index}.json", fp
    folder = ctx.out if isinstance(stage, FinetuneStage) else ctx.out / "artifacts"
    return f"{stage.stage}:{produced}", folder / produced, fp


RUNNERS: dict[type, Callable[[Context, Any, Path], dict[str, Any]]] = {
    FinetuneStage: _finetune,
    ExportStage: _export,
    QuantizeStage: _quantize,
    EvaluateStage: _evaluate,
    BenchStage: _bench,
}


def run_recipe(
    path: Path, plugins: Plugins, *, output: Path | None = None, force: bool = False, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run every stage of the recipe at ``path``; return the summary."""
    path = Path(path)
    recipe = validate_recipe(path, plugins)
    root = path.resolve().parent
    out = Path(output) if output else root / recipe.output
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE_FILE
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.is_file() and not force else {}
    ctx = Context(recipe, root, out, plugins, log)
    if not any(s.produces() == "model" for s in recipe.stages):
        model = Path(ctx.path(recipe.model))
        ctx.artifacts["model"] = model
        ctx.fingerprints["model"] = ctx.model_fingerprint()
    timings: dict[str, float] = {}
    for index, stage in enumerate(recipe.stages):
        stage_id, stage_out, fp = _stage_plan(ctx, index, stage)
        previous = state.get(stage_id)
        label = stage_id.replace(":", " ")
        if previous and previous.get("fingerprint") == fp and stage_out.exists():
            log(f"skip {label}: inputs unchanged")
            result = previous["result"]
        else:
            log(f"run {label}")
            started = time.perf_counter()
            result = RUNNERS[type(stage)](ctx, stage, stage_out)
            timings[stage_id] = round(time.perf_counter() - started, 2)
            state[stage_id] = {"fingerprint": fp, "result": result, "seconds": timings[stage_id]}
            write_json(state_path, state)
        produced = stage.produces()
        if produced is not None:
            ctx.artifacts[produced] = stage_out
            ctx.fingerprints[produced] = fp
        ctx.results[stage_id] = {**result, "seconds": state[stage_id].get("seconds")}
    summary = write_summary(out, recipe, ctx.artifacts, ctx.results)
    log(f"summary: {out / 'summary.md'}")
    return summary
