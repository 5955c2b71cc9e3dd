"""Recipes: schema errors all at once with YAML paths, and the quickstart end to end."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_every_shipped_recipe_validates(cli) -> None:
    for recipe in sorted((ROOT / "recipes").glob("*.yaml")):
        r = CliRunner().invoke(cli, ["recipes", "validate", str(recipe)])
        assert r.exit_code == 0, r.output
        assert r.stdout.startswith(f"{recipe}: ok (")


def test_schema_errors_are_reported_together_with_paths(cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: bad recipe
        output: out
        model: builtin:tiny-multilingual
        colour: blue
        data: {train: builtin:sample, eval: builtin:sample, columns: {txt: x}}
        stages:
          - stage: finetune
            epochs: -1
            learning_rat: 0.1
          - stage: export
            backend: onnx
          - stage: teleport
        """,
    )
    r = CliRunner().invoke(cli, ["recipes", "validate", str(path)])
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {path}: 7 errors\n"
        "  name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]*$'\n"
        "  data.columns.txt: Extra inputs are not permitted\n"
        "  stages[0].epochs: Input should be greater than 0\n"
        "  stages[0].learning_rat: Extra inputs are not permitted\n"
        "  stages[1].name: Field required\n"
        "  stages[2]: Input tag 'teleport' found using 'stage' does not match any of the expected tags: 'finetune', 'export', 'quantize', 'evaluate', 'bench', 'robustness', 'pretrain', 'trim-vocab', 'bundle', 'baseline', 'distill', 'tune'\n"
        "  colour: Extra inputs are not permitted\n"
    )


def test_cross_checks_backends_options_and_references(cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: refs
        output: out
        model: builtin:tiny-multilingual
        data: {train: builtin:sample}
        stages:
          - stage: finetune
          - stage: export
            name: a
            backend: onnx
            options: {per_channel: "maybe", colour: 1}
          - stage: export
            name: b
            backend: coreml
          - stage: quantize
            name: c
            from: a
            precision: int4
          - stage: quantize
            name: d
            from: zzz
            precision: int8
          - stage: evaluate
            artifacts: [a, nope]
        """,
    )
    r = CliRunner().invoke(cli, ["recipes", "validate", str(path)])
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {path}: 8 errors\n"
        "  data.eval: required by the finetune stage\n"
        "  stages[1].options.per_channel: Input should be a valid boolean, unable to interpret input\n"
        "  stages[1].options.colour: Extra inputs are not permitted\n"
        "  stages[2].backend: unknown backend 'coreml' (registered: " + ", ".join(_backends()) + ")\n"
        "  stages[3].precision: backend 'onnx' does not support 'int4' (supported: fp32, int8, int8-static, int8-portable)\n"
        "  stages[4].from: no earlier artifact 'zzz' (known: model, a, b, c)\n"
        "  stages[5].artifacts[1]: no earlier artifact 'nope' (known: model, a, b, c, d)\n"
        "  stages[5].split: data.test is not set\n"
    )


def _backends() -> list[str]:
    from edgeptm.plugins import load_plugins

    return list(load_plugins().backends())


def test_bad_yaml_and_missing_file(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nstages: [\n")
    r = CliRunner().invoke(cli, ["recipes", "validate", str(path)])
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: {path}:3:1: invalid YAML (")
    r = CliRunner().invoke(cli, ["run", str(tmp_path / "none.yaml")])
    assert r.exit_code == 1 and r.stderr == f"Error: {tmp_path / 'none.yaml'}: no such recipe file\n"


@pytest.mark.slow
def test_quickstart_end_to_end_and_skips_unchanged_stages(cli, tmp_path: Path) -> None:
    """The shipped quickstart with fewer epochs and iterations, run twice."""
    import yaml

    recipe = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())
    recipe["output"] = "out"
    recipe["stages"][0].update(epochs=3)
    for stage in recipe["stages"]:
        if stage["stage"] == "bench":
            stage.update(iterations=3, warmup=1, batch_sizes=[1])
        if stage["stage"] == "robustness":
            stage["artifacts"] = stage.get("artifacts")
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(recipe))
    r = CliRunner().invoke(cli, ["run", str(path)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    ran = [line for line in r.stderr.splitlines() if line.startswith(("run ", "skip "))]
    assert ran[:4] == [
        "run finetune model",
        "run export onnx-fp32",
        "run quantize onnx-int8",
        "run quantize onnx-int8-static",
    ]
    summary = json.loads((out / "summary.json").read_text())
    names = ["model", "onnx-fp32", "onnx-int8", "onnx-int8-static", "baseline"]
    assert [a["name"] for a in summary["artifacts"]] == names
    assert summary["artifacts"][-1]["kind"] == "tfidf-linear" and summary["baselines"]["baseline"]["features"] > 0
    assert summary["artifacts"][1]["max_abs_logit_diff"] < 1e-4
    evaluations = {e["name"]: e for e in summary["evaluation"]}
    assert sorted(evaluations["onnx-int8"]["per_language"]) == ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]
    assert evaluations["onnx-int8"]["agreement"]["overall"]["agreement_pct"] >= 80
    assert {b["name"] for b in summary["bench"]} == set(names)
    md = (out / "summary.md").read_text()
    # The baseline row, scored through the same metrics, beside every model per language.
    assert evaluations["baseline"]["kind"] == "tfidf-linear" and len(evaluations["baseline"]["per_language"]) == 8
    table = md.split("Every row of every artifact is in summary.json.")[1].split("\n\n")[1].splitlines()
    assert table[0].startswith("| language | n | model (= onnx-fp32") and table[0].endswith(
        "| baseline macro-F1 [95% CI] |"
    )
    assert len(table) == 2 + 1 + 8 and table[2].startswith("| all | 144 |")
    assert re.search(r"^- baseline \(tfidf-linear\) (beats|trails) the best model overall: macro-F1 ", md, re.M)
    assert "## Evaluation (through each backend's runner)" in md and "## Benchmark" in md and "## Bundle" in md
    # the tokenizer's coverage of each language, beside its scores (fine-tuning and evaluation tables)
    assert "| language | n | accuracy | macro-F1 | tokenizer coverage |" in md
    assert re.search(r"\| hi \| 18 \| [\d.]+ \| [\d.]+ \| [\d.]+% unk, [\d.]+ tok/word \|", md)
    assert re.search(r"\| zh \| 18 \| [\d.]+ \| [\d.]+ \| [\d.]+% unk, [\d.]+ tok/char", md)
    # third-party warnings: at most one line on stderr, every one of them in run.log with the progress lines
    log = (out / "run.log").read_text()
    assert "run finetune model" in log and "summary: " in log
    hidden = [line for line in r.stderr.splitlines() if "third-party warning" in line]
    assert len(hidden) <= 1 and all(f"see {out / 'run.log'}" in line for line in hidden)
    assert sum(line.startswith("[") for line in log.splitlines()) == (int(hidden[0].split()[0]) if hidden else 0)
    import edgeptm_runtime

    archive = out / "bundles" / "quickstart-onnx-int8.tar.gz"
    assert list(summary["bundles"]) == ["bundles/quickstart-onnx-int8.tar.gz"]
    with edgeptm_runtime.load(archive) as clf:
        assert clf.metadata["precision"] == "int8" and clf.labels == ["negative", "neutral", "positive"]
        card = (clf.path / "README.md").read_text()
    assert "## Accuracy of this bundle, per language" in card and "## Speed and memory" in card
    assert "## Robustness" in card and "## Recipe" in card
    assert r.stdout == md + "\n"

    again = CliRunner().invoke(cli, ["run", str(path)])
    assert again.exit_code == 0, again.output
    skipped = [line for line in again.stderr.splitlines() if line.startswith(("run ", "skip "))]
    assert skipped and all(line.startswith("skip ") and line.endswith(": inputs unchanged") for line in skipped)

    recipe["stages"][1]["options"] = {"optimize": False}
    path.write_text(yaml.safe_dump(recipe))
    third = CliRunner().invoke(cli, ["run", str(path)])
    lines = [line for line in third.stderr.splitlines() if line.startswith(("run ", "skip "))]
    assert lines[:4] == [
        "skip finetune model: inputs unchanged",
        "run export onnx-fp32: its options changed",
        "run quantize onnx-int8: the content of onnx-fp32 changed",
        "run quantize onnx-int8-static: the content of onnx-fp32 changed",
    ]
    assert not list(out.glob(".*tmp*")), "no temp folders are left behind"
    shutil.rmtree(out)
