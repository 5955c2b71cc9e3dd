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
    PretrainStage,
    QuantizeStage,
    Recipe,
    RobustnessStage,
    StageBase,
    TrimVocabStage,
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

    def deployable(self) -> list[str]:
        """Artifacts that classify (the default of evaluate, bench, robustness): all but pre-trained MLMs."""
        pretrained: set[str] = set()
        for s in self.recipe.stages:
            if isinstance(s, PretrainStage) or (isinstance(s, TrimVocabStage) and s.from_ in pretrained):
                pretrained.add(s.name)
        return [n for n in self.artifacts if n not in pretrained]

    def spec(self, value: str) -> str:
        """A ``[LANG=]PATH`` corpus spec with PATH relative to the recipe file."""
        from edgeptm.corpus import parse_spec

        lang, path = parse_spec(value)
        return f"{lang}={self.path(str(path))}" if lang else self.path(str(path))

    def model_fingerprint(self) -> str:
        model = self.recipe.model
        local = Path(self.path(model))
        return fingerprint(model, local) if local.exists() else fingerprint(model)


def _selection_data(ctx: Context) -> data.Dataset:
    """The eval data that picks the best checkpoint: with ``data.train_languages``, only those
    languages, so zero-shot results on the others never saw their labels."""
    eval_data = ctx.dataset("eval")
    train_langs = ctx.recipe.data.train_languages
    if not train_langs:
        return eval_data
    from edgeptm.languages import canonical_language

    wanted = {canonical_language(lang) for lang in train_langs}
    keep = [lang for lang in eval_data.language_set() if canonical_language(lang) in wanted]
    if not keep:
        ctx.log(f"  no eval examples in the training languages ({', '.join(train_langs)}); selecting on all of data.eval")
        return eval_data
    ctx.log(f"  selecting the checkpoint on the eval examples in {', '.join(keep)} (the training languages)")
    return eval_data.filter_languages(keep)


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
        _selection_data(ctx),
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
        calibration=calibration, validation_texts=validation, evaluation=ctx.dataset("eval"),
    )
    return {"manifest": manifest.model_dump(mode="json")}


def _evaluate(ctx: Context, stage: EvaluateStage, out: Path) -> dict[str, Any]:
    from edgeptm.evaluate import evaluate

    names = stage.inputs(ctx.deployable())
    dataset = ctx.dataset(stage.split)
    train_langs = ctx.dataset("train").language_set() if ctx.recipe.data.train else None
    results = []
    references: dict = {}
    for name in names:
        ctx.log(f"  evaluating {name} on {stage.split} ({len(dataset)} examples)")
        r = evaluate(
            ctx.plugins, ctx.artifacts[name], dataset, batch_size=stage.batch_size, threads=stage.threads,
            train_languages=train_langs, reference_cache=references,
        )
        results.append({"name": name, **r})
    write_json(out, results)
    return {"evaluations": results}


def _bench(ctx: Context, stage: BenchStage, out: Path) -> dict[str, Any]:
    from edgeptm.bench import BenchOptions, bench

    names = stage.inputs(ctx.deployable())
    options = BenchOptions.model_validate(stage.model_dump(include=set(BenchOptions.model_fields)))
    results = bench([(n, ctx.artifacts[n]) for n in names], options)
    write_json(out, results)
    return {"bench": results}


def _robustness(ctx: Context, stage: RobustnessStage, out: Path) -> dict[str, Any]:
    """Writes ``out`` (the JSON) and, beside it, a folder with report.md and the heatmaps."""
    from edgeptm.perturb import resolve_specs
    from edgeptm.robustness import run_robustness, subsample
    from edgeptm.robustness_report import write_report

    names = stage.inputs(ctx.deployable())
    specs = resolve_specs(ctx.plugins.perturbations(), stage.perturbations)
    dataset = subsample(ctx.dataset(stage.split), stage.max_per_language, stage.seed)
    result = run_robustness(
        ctx.plugins, [(n, ctx.artifacts[n]) for n in names], dataset, specs, seed=stage.seed,
        batch_size=stage.batch_size, threads=stage.threads, log=lambda m: ctx.log(f"  {m}"),
    )
    for skipped in result["skipped"]:
        ctx.log(f"  warning: {skipped['message']}; skipped")
    report = out.with_suffix("")
    write_report(report, result)
    write_json(out, result)
    return {"robustness": result, "report": str(report)}


def _pretrain(ctx: Context, stage: PretrainStage, out: Path) -> dict[str, Any]:
    from edgeptm.corpus import read_corpus
    from edgeptm.pretrain import PretrainOptions, can_resume, pretrain

    options = PretrainOptions.model_validate(stage.model_dump(include=set(PretrainOptions.model_fields)))
    corpus = read_corpus([ctx.spec(s) for s in stage.corpus])
    model = str(ctx.artifacts[stage.from_]) if stage.from_ else stage.model
    if stage.model and Path(ctx.path(stage.model)).exists():
        model = ctx.path(stage.model)  # a folder relative to the recipe; otherwise a hub id or builtin:
    metrics = pretrain(
        corpus, out, options, model=model, resume=can_resume(out, corpus, options, model), progress=False,
        log=lambda m: ctx.log(f"  {m}"),
    )
    return {"pretrain": metrics}


def _trim_vocab(ctx: Context, stage: TrimVocabStage, out: Path) -> dict[str, Any]:
    from edgeptm.corpus import from_dataset, read_corpus
    from edgeptm.trim import trim_vocab

    corpus = read_corpus([ctx.spec(s) for s in stage.corpus]) if stage.corpus else from_dataset(ctx.dataset("train"))
    if stage.oov_text:
        oov = read_corpus([ctx.spec(s) for s in stage.oov_text], role="oov text")
    else:
        oov = from_dataset(ctx.dataset("eval")) if ctx.recipe.data.eval else None
    report = trim_vocab(
        ctx.artifacts[stage.from_], corpus, out, top_k=stage.top_k, keep_scripts=stage.keep_scripts, oov_texts=oov,
        max_unk_rate=stage.max_unk_rate, verify_texts=stage.verify_texts, log=lambda m: ctx.log(f"  {m}"),
    )
    return {"trim_vocab": report}


def _stage_plan(ctx: Context, index: int, stage: StageBase) -> tuple[str, Path, str]:
    """Stage id, output path, and the fingerprint of its config and inputs."""
    config = stage.model_dump(mode="json", by_alias=True)
    produced = stage.produces()
    inputs = [ctx.fingerprints[n] for n in stage.inputs(ctx.deployable())]
    model = [ctx.model_fingerprint()] if stage.uses_recipe_model() else []
    files = [Path(ctx.path(f)) for f in stage.files()]
    fp = fingerprint(__version__, config, inputs, *model, ctx.data_fingerprint(*stage.data_splits), *files)
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
    RobustnessStage: _robustness,
    PretrainStage: _pretrain,
    TrimVocabStage: _trim_vocab,
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
