"""Run a recipe's stages in order into one output folder, skipping stages whose inputs are the same content
as last time and whose outputs are intact (see :mod:`edgeptm.recipes.cache`).

The pipeline knows no stage kind by name: each stage's :class:`~edgeptm.stage.StageKind` plans,
runs and renders it.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeptm import __version__
from edgeptm.capture import log_file
from edgeptm.errors import OutputError
from edgeptm.fsutil import OUTPUT_MARKER, fingerprint, output_kind, run_lock, write_json
from edgeptm.plugins import Plugins
from edgeptm.recipes.cache import KeyParts, key, output_digests, output_problem, rerun_reason
from edgeptm.recipes.context import Context
from edgeptm.recipes.schema import artifact_kinds, validate_recipe
from edgeptm.recipes.summary import write_summary
from edgeptm.stage import StageKind

STATE_FILE = "state.json"
LOG_FILE = "run.log"
"""Every run appends its progress lines and, in full, every third-party warning (see :mod:`edgeptm.capture`)."""


def _stage_plan(ctx: Context, kind: StageKind, index: int, stage: Any) -> tuple[str, Path, KeyParts]:
    """Stage id, output path, and what its cache key is made of (see :mod:`edgeptm.recipes.cache`)."""
    parts: KeyParts = {
        "version": __version__,
        "options": fingerprint(stage.model_dump(mode="json", by_alias=True)),
        "inputs": {n: ctx.fingerprints[n] for n in stage.inputs(ctx.deployable())},
        "model": ctx.model_fingerprint() if stage.uses_recipe_model() else None,
        "data": ctx.data_fingerprint(*stage.data_splits),
        "files": fingerprint(*[Path(ctx.path(f)) for f in stage.files()]),
    }
    produced = stage.produces()
    if produced is None:
        return f"{stage.stage}:{index}", ctx.out / f"{stage.stage}-{index}.json", parts
    folder = ctx.out if kind.top_level else ctx.out / "artifacts"
    return f"{stage.stage}:{produced}", folder / produced, parts


def run_recipe(
    path: Path, plugins: Plugins, *, output: Path | None = None, force: bool = False, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run every stage of the recipe at ``path``; return the summary."""
    path = Path(path)
    recipe = validate_recipe(path, plugins)
    root = path.resolve().parent
    out = Path(output) if output else root / recipe.output
    if out.is_dir() and any(out.iterdir()) and output_kind(out) is None:
        raise OutputError(
            f"{out}: exists and is not an edgeptm run folder; choose another output (nothing was changed)"
        )
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is a file; choose another output folder (nothing was changed)")
    out.mkdir(parents=True, exist_ok=True)
    if not (out / OUTPUT_MARKER).is_file():
        (out / OUTPUT_MARKER).write_text(json.dumps({"kind": "run"}) + "\n", encoding="utf-8")
    with run_lock(out), log_file(out / LOG_FILE) as write:
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        write(f"# edgeptm {__version__}: {path} ({started}); third-party warnings are in [brackets]")

        def both(message: str) -> None:
            write(message)
            log(message)

        return _run(recipe, root, out, plugins, path=path, force=force, log=both)


def _run(
    recipe: Any, root: Path, out: Path, plugins: Plugins, *, path: Path, force: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    state_path = out / STATE_FILE
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.is_file() and not force else {}
    kinds = plugins.stage_kinds()
    ctx = Context(recipe, root, out, plugins, log, kinds=artifact_kinds(recipe, plugins)[0], recipe_path=path)
    if not any(s.produces() == "model" for s in recipe.stages):
        model = Path(ctx.path(recipe.model))
        ctx.artifacts["model"] = model
        ctx.fingerprints["model"] = ctx.model_fingerprint()
    timings: dict[str, float] = {}
    for index, stage in enumerate(recipe.stages):
        kind = kinds[stage.stage]
        stage_id, stage_out, parts = _stage_plan(ctx, kind, index, stage)
        previous = state.get(stage_id)
        label = stage_id.replace(":", " ")
        why = rerun_reason(previous, parts)
        if previous and why is None:
            why = output_problem(previous.get("outputs"), out)
        if previous and why is None:
            log(f"skip {label}: inputs unchanged")
            result = previous["result"]
        else:
            log(f"run {label}: {why}" if why else f"run {label}")
            started = time.perf_counter()
            result = kind.run(ctx, stage, stage_out)
            timings[stage_id] = round(time.perf_counter() - started, 2)
            state[stage_id] = {
                "fingerprint": key(parts),
                "parts": parts,
                "outputs": output_digests(kind.outputs(stage, stage_out, result), out),
                "result": result,
                "seconds": timings[stage_id],
            }
            write_json(state_path, state)
        produced = stage.produces()
        if produced is not None:
            ctx.artifacts[produced] = stage_out
            ctx.fingerprints[produced] = state[stage_id]["outputs"][str(stage_out.relative_to(out))]
        ctx.results[stage_id] = {**result, "seconds": state[stage_id].get("seconds")}
    summary = write_summary(out, recipe, kinds, ctx.artifacts, ctx.results)
    log(f"summary: {out / 'summary.md'}")
    return summary
