"""``edgeptm distill`` on the command line: tables with n per language, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner


def test_distill_prints_student_and_teacher_per_language(cli, tmp_path: Path, finetuned: Path) -> None:
    (tmp_path / "de.txt").write_text("Ein Satz ohne Label.\nNoch einer.\n")
    args = ["distill", "--teacher", str(finetuned), "--layers", "1", "--train", "builtin:sample"]
    args += ["--eval", "builtin:sample", "--unlabelled", str(tmp_path / "de.txt"), "--out", str(tmp_path / "s")]
    args += ["--epochs", "1", "--lr", "1e-3", "--batch-size", "32", "--max-length", "32", "--no-progress"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    assert "unlabelled: 2 lines in 1 languages: de 2" in r.stderr
    assert r.stdout.startswith("student: 1 layers (teacher layers 1), ")
    assert "\neval:\n" in r.stdout and "\nteacher eval:\n" in r.stdout
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["train"]["unlabelled"] == 2 and metrics["eval"]["overall"]["n"] == 120


def test_distill_errors_are_one_line(cli, tmp_path: Path, finetuned: Path) -> None:
    base = ["distill", "--teacher", str(finetuned), "--train", "builtin:sample", "--eval", "builtin:sample"]
    r = CliRunner().invoke(cli, [*base, "--layers", "2", "--out", str(tmp_path / "a")])
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1] == "Error: --layers 2: the teacher has 2 encoder layers; a student needs 1 to 1"
    assert "Traceback" not in r.stderr
    r = CliRunner().invoke(cli, [*base, "--layers", "1", "--teacher-layers", "x", "--out", str(tmp_path / "b")])
    assert (
        r.exit_code == 2
        and "Invalid value for '--teacher-layers': 'x': expected comma-separated layer numbers" in r.stderr
    )
    r = CliRunner().invoke(cli, [*base, "--layers", "1", "--kd-weight", "2", "--out", str(tmp_path / "c")])
    assert r.exit_code == 2 and "Invalid value for '--kd-weight'" in r.stderr
    r = CliRunner().invoke(
        cli, [*base, "--layers", "1", "--unlabelled", str(tmp_path / "none.txt"), "--out", str(tmp_path / "d")]
    )
    assert r.exit_code == 1 and r.stderr == f"Error: unlabelled {tmp_path / 'none.txt'}: no such file or folder\n"
    assert not any(tmp_path.iterdir())
