"""A recipe run survives kill -9 at any stage, refuses a second run into its folder, and notices tampering.

One uninterrupted run of a tiny recipe (in its own process) is the reference: a killed-and-rerun trial must
end with its figures and exactly its files; a run started beside it is refused with one line; artifacts
tampered with (a flipped byte, reordered labels, a deleted file, a path out of the folder) are refused at
load by the CLI and re-made by the recipe, which says why. ``scripts/kill_trials.py`` runs many trials.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm.testing import recovery

pytestmark = pytest.mark.slow


@dataclass
class Reference:
    recipe: Path
    out: Path
    run: recovery.Baseline
    intruder: subprocess.CompletedProcess[str]


def _recipe(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tiny.yaml"
    path.write_text(recovery.TINY_RECIPE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The uninterrupted run, with a second run started into its folder while it works."""
    from edgeptm.train.hf import resolve_model
    from edgeptm.train.tinymodel import BUILTIN_MODEL

    resolve_model(BUILTIN_MODEL)  # built once here, not raced by the runs below
    recipe = _recipe(tmp_path_factory.mktemp("reference"))
    out = recipe.parent / "out"
    first = subprocess.Popen(recovery.run_command(recipe), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lock = out / ".edgeptm-lock"
    deadline = time.monotonic() + 300
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    intruder = subprocess.run(recovery.run_command(recipe), capture_output=True, text=True)
    _, stderr = first.communicate()
    assert first.returncode == 0, stderr
    return Reference(recipe, out, recovery.measure(out), intruder)


def test_a_second_run_into_the_same_folder_is_refused(reference: Reference) -> None:
    r = reference.intruder
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"Error: {reference.out}: another edgeptm run (pid ") and r.stderr.count("\n") == 1
    assert r.stderr.rstrip().endswith("is writing this folder; wait for it, or use another output")
    assert {"summary.json", "model", "artifacts/onnx-int8"} <= reference.run.files, "the first run completed"
    assert ".edgeptm-lock" not in reference.run.files


@pytest.mark.parametrize("seed", [2, 7])  # a kill during fine-tuning, then one during quantization
def test_a_killed_run_recovers_with_the_same_figures_and_no_debris(
    reference: Reference, tmp_path: Path, seed: int
) -> None:
    trial = recovery.kill_trial(_recipe(tmp_path), tmp_path / "out", reference.run, seed)
    assert trial.target == {2: "finetune", 7: "quantize"}[seed]
    assert trial.rerun_exit == 0, trial.log
    assert trial.debris == [] and trial.missing == [], trial.log
    assert trial.same_figures, trial.log


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_manifest(folder: Path, **changes) -> None:
    manifest = json.loads((folder / "edgeptm.json").read_text())
    for key, change in changes.items():
        manifest[key] = change(manifest[key])
    (folder / "edgeptm.json").write_text(json.dumps(manifest))


def test_tampering_is_refused_at_load_and_redone_by_the_recipe(reference: Reference, tmp_path: Path, cli, plugins):
    from edgeptm.recipes.pipeline import run_recipe

    shutil.copytree(reference.recipe.parent, tmp_path / "run")
    recipe, out = tmp_path / "run" / reference.recipe.name, tmp_path / "run" / "out"
    model, fp32, int8 = out / "model", out / "artifacts" / "onnx-fp32", out / "artifacts" / "onnx-int8"

    def refused(folder: Path, needle: str) -> None:
        r = CliRunner().invoke(cli, ["evaluate", "--artifact", str(folder), "--data", "builtin:sample"])
        assert r.exit_code == 1 and r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.output
        assert needle in r.stderr and "Traceback" not in r.output

    (model / "tokenizer.json").unlink()
    _flip_byte(fp32 / "model.onnx")
    _edit_manifest(int8, labels=lambda labels: labels[::-1])
    refused(model, "tokenizer.json: missing, though edgeptm.json lists it")
    refused(fp32, "model.onnx: its content changed since edgeptm wrote it")
    refused(int8, "differ from the model's own")
    logs: list[str] = []
    run_recipe(recipe, plugins, log=logs.append)
    ran = [line for line in logs if line.startswith(("run ", "skip "))]
    assert ran == [
        f"run finetune model: {model / 'tokenizer.json'}: missing, though edgeptm.json lists it; "
        "the artifact is incomplete, make it again",
        f"run export onnx-fp32: {fp32 / 'model.onnx'}: its content changed since edgeptm wrote it "
        "(sha256 differs from edgeptm.json); make the artifact again",
        f"run quantize onnx-int8: {int8 / 'edgeptm.json'}: labels ['positive', 'neutral', 'negative'] differ "
        "from the model's own ['negative', 'neutral', 'positive'] (config.json); make the artifact again",
        # the three were re-made bit for bit, so what was measured on them still holds
        "skip evaluate 3: inputs unchanged",
    ]
    assert recovery.figures(out) == reference.run.figures and recovery.files(out) == reference.run.files

    _edit_manifest(int8, files=lambda files: ["../../etc/passwd"])
    refused(int8, "is not a path inside the artifact folder")
    (out / "evaluate-3.json").unlink()
    logs.clear()
    run_recipe(recipe, plugins, log=logs.append)
    ran = [line for line in logs if line.startswith(("run ", "skip "))]
    assert ran[:2] == ["skip finetune model: inputs unchanged", "skip export onnx-fp32: inputs unchanged"]
    assert ran[2] == (
        f"run quantize onnx-int8: {int8 / 'edgeptm.json'}: invalid manifest (files: Value error, "
        "'../../etc/passwd' is not a path inside the artifact folder); make the artifact again"
    )
    assert ran[3] == f"run evaluate 3: {out / 'evaluate-3.json'}: missing"
    assert recovery.figures(out) == reference.run.figures and recovery.files(out) == reference.run.files
