"""Kill -9 trials: a recipe run killed at a random point must, when run again, finish with the figures of an
uninterrupted run and leave exactly the files that run left (no temp folders, no stale lock).

Used by ``tests/recipes/test_recovery.py`` (a seeded sample) and ``scripts/kill_trials.py`` (many trials).
Each run is ``python -m edgeptm run RECIPE`` in its own process, as a user would start it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGETS = ("finetune", "export", "quantize", "evaluate", "summary")
"""Where a trial kills the run: during the stage of that kind, or (``summary``) as the last stage ends."""

VARYING_KEYS = {
    "seconds",
    "runtime_s",
    "stages",
    "train_loss",
    "resumed_from",
    "path",
    "artifact",
    "report",
    "reference",
}
"""What legitimately differs between two runs of one recipe: wall times, a resumed run's loss over its own
steps, and where the run folder is."""

TINY_RECIPE = """\
name: tiny
output: out
model: builtin:tiny-multilingual
data: {train: builtin:sample, eval: builtin:sample, test: builtin:sample}
stages:
  - {stage: finetune, epochs: 4, learning_rate: 0.002, batch_size: 16, max_length: 32, threads: 1}
  - {stage: export, name: onnx-fp32, backend: onnx}
  - {stage: quantize, name: onnx-int8, from: onnx-fp32, precision: int8, calibration_size: 32}
  - {stage: evaluate, split: test, threads: 1}
"""
"""A recipe with every kind of step a kill can hit (training, export, quantization, measuring, the summary),
small enough for a trial in seconds."""


def run_command(recipe: Path) -> list[str]:
    return [sys.executable, "-m", "edgeptm", "run", str(recipe)]


@dataclass
class Baseline:
    """An uninterrupted run: its figures, the files it left, and how long each stage took."""

    figures: dict[str, Any]
    files: set[str]
    seconds: dict[str, float]
    out: Path | None = None
    """The finished run folder: trials aimed at a later stage start from it, cut before that stage."""


@dataclass
class Trial:
    seed: int
    target: str
    delay_s: float
    killed: bool
    """False when the run had finished before the kill landed (the trial then only checks a plain rerun)."""
    rerun_exit: int
    same_figures: bool
    debris: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.rerun_exit == 0 and self.same_figures and not self.debris and not self.missing


def figures(out: Path) -> dict[str, Any]:
    """The run's figures from ``summary.json``, without timings and locations (see :data:`VARYING_KEYS`)."""
    return _strip(json.loads((out / "summary.json").read_text(encoding="utf-8")))


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VARYING_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def files(out: Path) -> set[str]:
    """Every file and folder under ``out`` (hidden ones included), relative to it."""
    return {str(p.relative_to(out)) for p in out.rglob("*")}


def baseline(recipe: Path, out: Path, env: dict[str, str] | None = None) -> Baseline:
    """Run ``recipe`` (output ``out``) once, uninterrupted, in its own process."""
    proc = subprocess.run(run_command(recipe), capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"the uninterrupted run failed:\n{proc.stderr}")
    return measure(out)


def measure(out: Path) -> Baseline:
    """What a finished run in ``out`` left: figures, files, and seconds per kind of stage."""
    state = json.loads((out / "state.json").read_text(encoding="utf-8"))
    seconds: dict[str, float] = {}
    for stage_id, entry in state.items():
        kind = stage_id.split(":", 1)[0]
        seconds[kind] = seconds.get(kind, 0.0) + float(entry.get("seconds") or 0.0)
    return Baseline(figures(out), files(out), seconds, out)


def cut_before(done: Path, out: Path, kind: str) -> None:
    """Make ``out`` what a run of the recipe holds just before its first ``kind`` stage starts: a copy of the
    finished run ``done`` without that stage, the ones after it, and the summary. A trial aimed at a late
    stage then costs that stage, not the whole recipe; what the rerun finds is the same."""
    shutil.copytree(done, out, symlinks=True)
    state = json.loads((out / "state.json").read_text(encoding="utf-8"))
    kept: dict[str, Any] = {}
    dropping = False
    for stage_id, entry in state.items():  # recipe order
        dropping = dropping or stage_id.split(":", 1)[0] == kind
        if not dropping:
            kept[stage_id] = entry
            continue
        for name in entry.get("outputs", {}):
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    for name in ("summary.json", "summary.md"):
        (out / name).unlink(missing_ok=True)
    (out / "state.json").write_text(json.dumps(kept, indent=2), encoding="utf-8")


def kill_trial(recipe: Path, out: Path, reference: Baseline, seed: int, env: dict[str, str] | None = None) -> Trial:
    """Start the recipe, kill it with SIGKILL at a point drawn from ``seed``, run it again, and compare.

    ``out`` must be absent first. The kill lands a random fraction into a random stage (its duration taken
    from ``reference``), counted from the line ``run <stage>`` the pipeline prints; the run starts from the
    reference cut before that stage (:func:`cut_before`).
    """
    rng = random.Random(seed)
    target = rng.choice(TARGETS)
    last = "evaluate"
    if target == "summary":
        wait_for, delay = last, reference.seconds.get(last, 1.0) * rng.uniform(0.9, 1.2)
    else:
        wait_for, delay = target, reference.seconds.get(target, 1.0) * rng.random()
    if reference.out is not None:
        cut_before(reference.out, out, wait_for)
    proc = subprocess.Popen(run_command(recipe), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen = threading.Event()
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if line.startswith(f"run {wait_for}"):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while not seen.wait(0.05) and proc.poll() is None:
        pass
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reader.join(5)
    rerun = subprocess.run(run_command(recipe), capture_output=True, text=True, env=env)
    now = files(out) if out.is_dir() else set()
    same = rerun.returncode == 0 and figures(out) == reference.figures
    return Trial(
        seed=seed,
        target=target,
        delay_s=round(delay, 2),
        killed=killed,
        rerun_exit=rerun.returncode,
        same_figures=same,
        debris=sorted(now - reference.files),
        missing=sorted(reference.files - now),
        log="".join(lines) + "--- rerun ---\n" + rerun.stderr,
    )
