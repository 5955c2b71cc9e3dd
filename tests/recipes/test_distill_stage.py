"""The ``distill`` recipe stage: checked against earlier stages, and a student distilled from a
teacher folder is exported and evaluated by the stages after it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_teacher_must_be_one_torch_classifier(cli, tmp_path: Path) -> None:
    head = textwrap.dedent(
        """
        name: bad-distill
        output: out
        model: builtin:tiny-multilingual
        data: {train: builtin:sample, eval: builtin:sample}
        stages:
          - stage: finetune
          - stage: export
            name: onnx
            backend: onnx
        """
    )
    exported = write(tmp_path, head + "  - {stage: distill, from: onnx, layers: 1}\n")
    r = CliRunner().invoke(cli, ["recipes", "validate", str(exported)])
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {exported}: stages[2].from: 'onnx' is a onnx artifact; distill needs a fine-tuned torch model "
        "folder (a finetune stage's model), so place it before export\n"
    )
    teachers = (
        head + "  - {stage: distill, layers: 1}\n  - {stage: distill, name: s3, from: model, teacher: t, layers: 1}\n"
    )
    r = CliRunner().invoke(cli, ["recipes", "validate", str(write(tmp_path, teachers))])
    assert r.exit_code == 1
    assert r.stderr.count("give the teacher as `from` (an earlier artifact) or `teacher` (a folder), exactly one") == 2


def test_distilled_student_is_exported_and_evaluated(cli, tmp_path: Path, finetuned: Path) -> None:
    path = write(
        tmp_path,
        f"""
        name: distil
        output: out
        model: builtin:tiny-multilingual
        data: {{train: builtin:sample, eval: builtin:sample, test: builtin:sample}}
        stages:
          - stage: distill
            teacher: {finetuned}
            layers: 1
            epochs: 1
            learning_rate: 0.001
            batch_size: 32
            max_length: 32
          - stage: export
            name: student-onnx
            from: student
            backend: onnx
          - stage: evaluate
            artifacts: [student-onnx]
        """,
    )
    r = CliRunner().invoke(cli, ["run", str(path)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    student = out / "artifacts" / "student"
    assert json.loads((student / "config.json").read_text())["num_hidden_layers"] == 1
    summary = json.loads((out / "summary.json").read_text())
    distilled = summary["distill"]["student"]
    assert distilled["teacher_layers"] == [1] and distilled["test"]["overall"]["n"] == 144
    assert sorted(distilled["teacher_test"]["per_language"]) == sorted(distilled["test"]["per_language"])
    (evaluation,) = summary["evaluation"]
    assert evaluation["overall"]["n"] == 144 and len(evaluation["per_language"]) == 8
    assert evaluation["agreement"]["overall"]["agreement_pct"] >= 95, "the export runs the student, not the teacher"
    md = (out / "summary.md").read_text()
    assert "## Distillation (student)" in md and "| teacher | all | 144 |" in md
