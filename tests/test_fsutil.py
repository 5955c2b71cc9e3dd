"""Outputs never replace what edgeptm did not make; a run folder holds a lock; debris is cleaned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm import deploy
from edgeptm.errors import OutputError
from edgeptm.fsutil import LOCK_FILE, OUTPUT_MARKER, atomic_dir, check_output, run_lock


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_user_folders_files_and_inputs_are_refused_untouched(cli, tmp_path: Path, finetuned: Path) -> None:
    users = tmp_path / "users"
    users.mkdir()
    (users / "thesis.tex").write_text("years of work")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    before = _snapshot(finetuned)
    cases = [
        (
            ["--out", str(users)],
            f"Error: {users}: exists and was not made by edgeptm; choose another output path (nothing was changed)",
        ),
        (
            ["--out", str(a_file)],
            f"Error: {a_file}: exists and is a file, not a folder edgeptm made; choose another output path (nothing was changed)",
        ),
        (
            ["--out", str(finetuned)],
            f"Error: {finetuned}: writing here would replace the input {finetuned}; choose another output path",
        ),
        (
            ["--out", str(finetuned.parent)],
            f"Error: {finetuned.parent}: writing here would replace the input {finetuned}; choose another output path",
        ),
    ]
    for extra, message in cases:
        r = CliRunner().invoke(cli, ["export", "--model", str(finetuned), "--backend", "onnx", *extra])
        assert (r.exit_code, r.stderr) == (1, message + "\n")
    assert (users / "thesis.tex").read_text() == "years of work" and sorted(p.name for p in users.iterdir()) == [
        "thesis.tex"
    ]
    assert a_file.read_text() == "keep" and _snapshot(finetuned) == before


def test_an_artifact_is_replaced_only_with_force(tmp_path: Path, plugins, onnx_fp32: Path, sample) -> None:
    out = tmp_path / "int8"
    deploy.quantize(plugins, onnx_fp32, out, precision="int8")
    assert json.loads((out / OUTPUT_MARKER).read_text()) == {"kind": "artifact"}
    with pytest.raises(OutputError, match="an edgeptm artifact is already there; pass --force to replace it"):
        deploy.quantize(plugins, onnx_fp32, out, precision="int8")
    deploy.quantize(plugins, onnx_fp32, out, precision="int8", force=True)
    with pytest.raises(OutputError, match="writing here would replace the input"):
        deploy.quantize(plugins, onnx_fp32, onnx_fp32, precision="int8", force=True)
    with pytest.raises(OutputError, match="holds an edgeptm artifact, not a report"):
        check_output(out, "report", force=True)


def test_debris_of_a_killed_run_is_cleaned(tmp_path: Path) -> None:
    dead = _dead_pid()
    debris = [tmp_path / f".out.tmp-{dead}-abc", tmp_path / f".out.old-{dead}"]
    alive = tmp_path / f".out.tmp-{os.getppid()}-xyz"  # a live process's temp folder is left alone
    for folder in (*debris, alive):
        folder.mkdir()
    with atomic_dir(tmp_path / "out", kind="report") as tmp:
        (tmp / "r.json").write_text("{}")
    assert not any(d.exists() for d in debris) and alive.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [OUTPUT_MARKER, "r.json"]


def test_run_lock_refuses_a_live_run_and_takes_over_a_stale_one(tmp_path: Path) -> None:
    with run_lock(tmp_path):
        with pytest.raises(OutputError, match=rf"another edgeptm run \(pid {os.getpid()}\) is writing this folder"):
            with run_lock(tmp_path):
                pass
    assert not (tmp_path / LOCK_FILE).exists()
    import socket

    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    with run_lock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_recipe_never_runs_into_a_users_folder(tmp_path: Path, plugins) -> None:
    from edgeptm.recipes.pipeline import run_recipe

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "data.csv").write_text("a,b\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\noutput: out\nmodel: builtin:tiny-multilingual\ndata: {eval: builtin:sample}\n"
        "stages:\n  - {stage: export, name: onnx, backend: onnx}\n"
    )
    with pytest.raises(OutputError, match="exists and is not an edgeptm run folder"):
        run_recipe(recipe, plugins, log=lambda m: None)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["data.csv"]
