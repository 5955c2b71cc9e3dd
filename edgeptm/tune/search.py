"""The search: candidates from the space, accuracy first, then latency and RSS for the accurate ones,
then the front and the choice.

Order of the checks, cheapest first: build (cached), macro-F1 overall and per language on the eval
data (cached) against the profile's drop limits, size against storage; only then a fresh-process
benchmark on this machine with the profile's threads, against the latency and RAM budgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeptm.data import Dataset
from edgeptm.errors import EdgeptmError
from edgeptm.fsutil import dir_size, fingerprint
from edgeptm.measure.evaluate import Evaluation
from edgeptm.plugins import Plugins
from edgeptm.profiles import DeviceProfile
from edgeptm.tune.build import BuildCache
from edgeptm.tune.pareto import Objective, choose, front
from edgeptm.tune.result import (
    Accuracy,
    CandidateResult,
    LanguageScore,
    Reference,
    SeqUnit,
    Timing,
    TuneResult,
    timed_input,
)
from edgeptm.tune.space import Candidate, SearchSpace, candidates

Progress = Callable[[list[Any], str], AbstractContextManager[Iterable[Any]]]
"""``progress(items, label)``: a context manager yielding ``items`` while showing progress (a click
progress bar on stderr in the CLI)."""


def no_progress(items: list[Any], label: str) -> AbstractContextManager[Iterable[Any]]:
    return nullcontext(items)


@dataclass(frozen=True)
class Settings:
    budget_minutes: float | None = None
    """Stop starting new candidates after this long (those left are listed as not tried)."""
    objective: Objective = "latency"
    warmup: int = 5
    iterations: int = 30


def accuracy_of(evaluation: Evaluation, reference: Accuracy | None) -> Accuracy:
    """Macro-F1 overall and per language with drops (points) against ``reference``."""
    intervals = evaluation.get("intervals", {})

    def score(lang: str, block: Any) -> LanguageScore:
        base: Any = None
        if reference is not None:
            base = reference["overall"] if lang == "all" else reference["per_language"].get(lang)
        out: LanguageScore = {
            "macro_f1": block["macro_f1"],
            "drop": 100 * (base["macro_f1"] - block["macro_f1"]) if base else 0.0,
            "n": block["n"],
        }
        if lang in intervals:
            out["interval"] = intervals[lang]
        return out

    per = {lang: score(lang, b) for lang, b in evaluation["per_language"].items()}
    worst = max(per, key=lambda lang: (round(per[lang]["drop"], 9), -per[lang]["macro_f1"]))
    return {"overall": score("all", evaluation["overall"]), "per_language": per, "worst_language": worst}


def accuracy_problem(acc: Accuracy, profile: DeviceProfile) -> str | None:
    """Why ``acc`` breaks the profile's drop limits (worst language first), or ``None``."""
    worst = acc["per_language"][acc["worst_language"]]
    if worst["drop"] > profile.max_language_drop:
        return (
            f"worst-language drop {worst['drop']:.1f} > {profile.max_language_drop:g} ({acc['worst_language']}, "
            f"n={worst['n']})"
        )
    if acc["overall"]["drop"] > profile.max_drop:
        return f"overall drop {acc['overall']['drop']:.1f} > {profile.max_drop:g}"
    return None


def timing_problem(timing: Timing, profile: DeviceProfile) -> str | None:
    if timing["p50_ms"] > profile.latency_ms:
        return (
            f"p50 {timing['p50_ms']:.1f} ms > {profile.latency_ms:g} ms (batch {timing['batch_size']} x "
            f"{timed_input(timing)}, {timing['threads']} threads, measured on this machine)"
        )
    if timing["peak_rss_mb"] > profile.ram_mb:
        return f"peak RSS {timing['peak_rss_mb']:.0f} MB > {profile.ram_mb:g} MB RAM budget"
    return None


def timed_length(artifact: Path, model: Path, profile: DeviceProfile) -> tuple[int, SeqUnit, int]:
    """The input length ``artifact`` is timed at, its unit, and the profile's length in tokens it stands for.

    A transformer reads the profile's ``seq_length`` tokens (at most its max_length). A model that reads
    raw text (the baseline) reads the same benchmark text the source ``model`` reads at that many tokens,
    measured in characters with the model's tokenizer (at most its own max_length characters), so their
    latencies compare like for like."""
    from edgeptm.deploy import artifact_manifest
    from edgeptm.measure.bench import text_characters

    manifest = artifact_manifest(artifact)
    if not manifest.text_input:
        tokens = min(profile.seq_length, manifest.max_length)
        return tokens, "tokens", tokens
    tokens = min(profile.seq_length, artifact_manifest(model).max_length)
    return min(text_characters(model, tokens), manifest.max_length), "characters", tokens


def time_artifact(
    path: Path, device: str | None, profile: DeviceProfile, settings: Settings, length: tuple[int, SeqUnit, int]
) -> Timing:
    """p50/p90/p99 and peak RSS in a fresh process, with the profile's threads and batch size, at ``length``
    (:func:`timed_length`)."""
    from edgeptm.measure.bench import BenchOptions, bench

    seq, unit, tokens = length
    options = BenchOptions(
        batch_sizes=[profile.batch_size],
        seq_lengths=[seq],
        threads=profile.threads,
        warmup=settings.warmup,
        iterations=settings.iterations,
        device=device,
    )
    r = bench([(path.name, path)], options)[0]
    m = r["measurements"][0]
    timing: Timing = {
        "batch_size": m["batch_size"],
        "seq_length": m["seq_length"],
        "seq_unit": unit,
        "threads": profile.threads,
        "p50_ms": m["p50_ms"],
        "p90_ms": m["p90_ms"],
        "p99_ms": m["p99_ms"],
        "peak_rss_mb": r["peak_rss_mb"],
        "load_s": r["load_s"],
    }
    if unit == "characters":
        timing["text_of_tokens"] = tokens
    return timing


def _size_mb(path: Path) -> float:
    from edgeptm.deploy import artifact_manifest

    return dir_size(path, artifact_manifest(path).files) / 2**20


def search(
    plugins: Plugins,
    model: Path,
    profile: DeviceProfile,
    space: SearchSpace,
    train: Dataset,
    evaluation: Dataset,
    settings: Settings = Settings(),
    *,
    cache: BuildCache | None = None,
    log: Callable[[str], None] = print,
    progress: Progress = no_progress,
) -> TuneResult:
    """Search ``space`` for ``profile`` starting from the fine-tuned torch classifier ``model``."""
    from edgeptm.measure.machine import describe_machine, machine

    started = time.monotonic()
    deadline = started + settings.budget_minutes * 60 if settings.budget_minutes else None
    cache = cache or BuildCache(plugins, train, evaluation, log=log)
    model = Path(model)
    model_key = fingerprint("model", model)
    todo, unavailable = candidates(space, profile, plugins.backends())
    results: list[CandidateResult] = [
        {"name": u.name, "spec": {"name": u.name}, "status": "unavailable", "reason": u.reason} for u in unavailable
    ]
    if not todo:
        raise EdgeptmError(
            f"profile {profile.name}: no candidate can run here ({'; '.join(u.reason for u in unavailable) or 'empty space'})"
        )
    log(
        f"tune: {len(todo)} candidates for {profile.name}; accuracy on {len(evaluation)} examples of {evaluation.source}"
    )
    ref_eval, _ = cache.evaluation(model_key, model, device=None, threads=profile.threads)
    ref_acc = accuracy_of(ref_eval, None)
    reference: Reference = {
        "name": "fp32 (torch)",
        "artifact": str(model),
        "size_mb": _size_mb(model),
        "accuracy": ref_acc,
    }
    built_steps = cached_evals = 0
    accurate: list[tuple[Candidate, CandidateResult]] = []

    def over_budget() -> bool:
        return deadline is not None and time.monotonic() > deadline

    with progress(todo, "build + evaluate") as bar:
        for cand in bar:
            result: CandidateResult = {"name": cand.name, "spec": cand.to_dict(), "status": "rejected"}
            results.append(result)
            if over_budget():
                result["status"], result["reason"] = (
                    "not-tried",
                    f"the {settings.budget_minutes:g}-minute budget ran out",
                )
                continue
            try:
                built = cache.artifact(cand, model, model_key)
                ev, fresh = cache.evaluation(built.key, built.path, device=cand.device, threads=profile.threads)
            except EdgeptmError as exc:
                result["reason"] = f"build failed: {exc}"
                continue
            built_steps += built.steps_built
            cached_evals += not fresh
            acc = accuracy_of(ev, ref_acc)
            size = _size_mb(built.path)
            result["key"] = built.key
            result["artifact"] = str(built.path)
            result["size_mb"] = size
            result["built_steps"] = built.steps_built
            result["evaluated"] = fresh
            result["accuracy"] = acc
            problem = accuracy_problem(acc, profile)
            if problem is None and size > profile.storage_mb:
                problem = f"size {size:.1f} MB > {profile.storage_mb:g} MB storage budget"
            if problem:
                result["reason"] = problem
                continue
            accurate.append((cand, result))
    timed: list[CandidateResult] = []
    with progress([None, *accurate], "time on this machine") as bar:
        for item in bar:
            if item is None:
                reference["timing"] = time_artifact(model, None, profile, settings, timed_length(model, model, profile))
                continue
            cand, result = item
            if over_budget():
                result["status"] = "not-tried"
                result["reason"] = f"the {settings.budget_minutes:g}-minute budget ran out before timing"
                continue
            path = Path(result["artifact"])
            try:
                result["timing"] = time_artifact(
                    path, cand.device, profile, settings, timed_length(path, model, profile)
                )
            except EdgeptmError as exc:
                result["reason"] = f"timing failed: {exc}"
                continue
            timed.append(result)
            problem = timing_problem(result["timing"], profile)
            result["status"] = "over-limit" if problem else "fits"
            if problem:
                result["reason"] = problem
    names = front(timed)
    for r in timed:
        r["on_front"] = r["name"] in names
    chosen = choose([r for r in timed if r["status"] == "fits"], settings.objective)
    if chosen is not None:
        chosen["status"] = "chosen"
    here = machine()
    return {
        "profile": profile.model_dump(mode="json"),
        "machine": describe_machine(profile.threads),
        "measured_elsewhere": profile.differs_from_here(),
        "objective": settings.objective,
        "eval_source": evaluation.source,
        "eval_n": len(evaluation),
        "reference": reference,
        "candidates": results,
        "front": names,
        "chosen": chosen["name"] if chosen else None,
        "built_steps": built_steps,
        "cached_evaluations": cached_evals,
        "seconds": round(time.monotonic() - started, 1),
        "budget_minutes": settings.budget_minutes,
        "load_1min": here.load_1min,
    }
