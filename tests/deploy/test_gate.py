"""The one validation gate every quantized variant passes (edgeptm.deploy.validate.QualityGate), with real
quantizations: what a pass records, and that the thresholds given on the CLI and in recipes are the ones used."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm import deploy
from edgeptm.deploy.validate import MAX_DROP, MIN_AGREEMENT, QualityGate
from edgeptm.errors import QualityError
from edgeptm.manifest import read_manifest


def test_a_pass_records_the_figures_and_the_gate(tmp_path: Path, plugins, onnx_fp32: Path, sample) -> None:
    texts = deploy.quantize_texts(sample["train"], sample["eval"], calibration_size=32)
    m = deploy.quantize(plugins, onnx_fp32, tmp_path / "q", precision="int8", texts=texts)
    v = read_manifest(tmp_path / "q").validation
    assert v == m.validation
    assert v["gate"] == {"min_agreement": MIN_AGREEMENT, "max_drop": MAX_DROP}
    assert v["agreement_pct"] >= MIN_AGREEMENT and v["accuracy_drop"] <= MAX_DROP
    assert v["accuracy_drop"] == pytest.approx(v["reference_accuracy_pct"] - v["accuracy_pct"])
    assert v["n"] == len(texts.validation) == len(texts.validation_labels)


@pytest.mark.parametrize(
    ("figures", "gate", "message"),
    [
        (
            {"agreement_pct": 25.0, "max_abs_logit_diff": 9.25, "n": 256},
            QualityGate(),
            "x fails the validation gate: agreement with torch fp32 25.0% (min 90%), max |Δlogit| 9.25 on 256 texts",
        ),
        (
            {
                "agreement_pct": 95.0,
                "max_abs_logit_diff": 1.5,
                "n": 40,
                "accuracy_pct": 70.0,
                "reference_accuracy_pct": 75.0,
                "accuracy_drop": 5.0,
            },
            QualityGate(),
            "x fails the validation gate: agreement with torch fp32 95.0% (min 90%), accuracy 70.0% vs 75.0% "
            "(drop 5.0 points, max 3), max |Δlogit| 1.5 on 40 texts",
        ),
        (
            {"agreement_pct": 97.0, "max_abs_logit_diff": 0.5, "n": 40},
            QualityGate(min_agreement=99.0),
            "x fails the validation gate: agreement with torch fp32 97.0% (min 99%), max |Δlogit| 0.5 on 40 texts",
        ),
    ],
)
def test_a_miss_names_every_figure_in_one_line(figures, gate, message) -> None:
    with pytest.raises(QualityError) as err:
        gate.check("x", figures)
    assert str(err.value).startswith(message + "; nothing was written")
    assert "\n" not in str(err.value)


def test_on_the_line_passes_and_a_drop_is_judged_only_when_measured() -> None:
    QualityGate().check("x", {"agreement_pct": 90.0, "max_abs_logit_diff": 1.0, "n": 10})
    QualityGate().check("x", {"agreement_pct": 99.0, "max_abs_logit_diff": 1.0, "n": 10, "accuracy_drop": 3.0})
    with pytest.raises(QualityError):
        QualityGate(min_agreement=101)


def test_cli_thresholds_reach_the_gate(tmp_path: Path, cli, onnx_fp32: Path, monkeypatch) -> None:
    seen = []
    real = QualityGate.check

    def spy(self, what, result):
        seen.append((self.min_agreement, self.max_drop))
        return real(self, what, result)

    monkeypatch.setattr(QualityGate, "check", spy)
    argv = ["quantize", "--artifact", str(onnx_fp32), "--precision", "int8", "--calibration-size", "8"]
    result = CliRunner().invoke(cli, [*argv, "--out", str(tmp_path / "q"), "--min-agreement", "50", "--max-drop", "40"])
    assert result.exit_code == 0, result.output
    assert seen == [(50.0, 40.0)]


def test_recipe_stage_takes_the_gate_options(tmp_path: Path, plugins) -> None:
    from edgeptm.errors import RecipeError
    from edgeptm.recipes.schema import check_recipe, load_recipe

    head = "name: r\noutput: out\nmodel: m\ndata: {train: builtin:sample, eval: builtin:sample}\nstages:\n"
    head += "  - {stage: export, name: onnx, backend: onnx}\n"
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(
        head + "  - {stage: quantize, name: q, from: onnx, precision: int8, min_agreement: 95, max_drop: 1}\n"
    )
    bad.write_text(head + "  - {stage: quantize, name: q, from: onnx, precision: int8, min_agreement: 150}\n")
    recipe = load_recipe(good)
    assert check_recipe(recipe, plugins) == []
    assert (recipe.stages[1].min_agreement, recipe.stages[1].max_drop) == (95.0, 1.0)
    with pytest.raises(RecipeError, match=r"r?bad.yaml: stages\[1\].min_agreement: Input should be less than or equal"):
        load_recipe(bad)
