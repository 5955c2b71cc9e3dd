"""``scripts/bench_vs_optimum.py --quick`` end to end on the tiny model: every setting's table, the
machine lines, the fidelity columns, and the Optimum baseline when optimum is installed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_vs_optimum.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_vs_optimum", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def table_rows(out: str, setting: str) -> dict[str, list[str]]:
    block = out.split(f"### {setting}\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in block.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def one_layer_student(teacher: Path, out: Path) -> Path:
    """The teacher's embeddings, top layer and head (``edgeptm distill``'s starting point), untrained."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from edgeptm.train.distill import make_student, student_layers

    net = AutoModelForSequenceClassification.from_pretrained(teacher)
    student = make_student(net, student_layers(net.config.num_hidden_layers, 1))
    student.save_pretrained(out)
    AutoTokenizer.from_pretrained(teacher).save_pretrained(out)
    return out


def test_quick_run_prints_every_setting_with_ratios_and_fidelity(finetuned: Path, tmp_path: Path, capsys) -> None:
    bench = load_script()
    student = one_layer_student(finetuned, tmp_path / "student")
    have_optimum = importlib.util.find_spec("optimum.onnxruntime") is not None
    code = bench.main(
        [
            "--quick",
            "--model",
            str(finetuned),
            "--work",
            str(tmp_path / "work"),
            "--data",
            str(tmp_path / "none"),
            "--json",
            str(tmp_path / "figures.json"),
            "--student",
            str(student),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "CPU flags: AVX2 " in out and " VNNI " in out and " AMX " in out
    assert "load average (1/5/15 min): before " in out and ", after " in out
    assert "length-sorted vs" in out and "less padding" in out
    for setting in ("b1x128", "b8x128", "real-text"):
        rows = table_rows(out, setting)
        for engine in ("torch fp32", "edgeptm onnx fp32", "edgeptm onnx int8"):
            assert engine in rows, (setting, sorted(rows))
            median, spread = float(rows[engine][0]), rows[engine][1]
            low, high = (float(x) for x in spread.split("–"))
            assert 0 < low <= median <= high
        assert rows["torch fp32"][4] == "0" and rows["torch fp32"][5] == "100.0%"  # torch vs itself
        assert float(rows["edgeptm onnx fp32"][4]) < 1e-3  # fp32 export matches torch
        assert ("edgeptm onnx int8 (unsorted)" in rows) == (setting == "real-text")
        # the student is timed beside the rest and compared with the teacher's torch fp32: it lost a layer,
        # so its logits differ from the teacher's (while the teacher's own fp32 export matches torch)
        for engine in ("edgeptm onnx fp32 · student 1L", "edgeptm onnx int8 · student 1L"):
            assert float(rows[engine][0]) > 0 and float(rows[engine][4]) > 1e-3, (setting, rows[engine])
        assert "edgeptm onnx int8 (unsorted) · student 1L" not in rows
        if have_optimum:
            assert rows["optimum onnx int8"][2] == "1.00×" and rows["optimum onnx int8"][3] == "1.00×"
            assert float(rows["edgeptm onnx int8"][2].rstrip("×")) > 0
        else:
            assert "optimum onnx int8" not in rows and rows["edgeptm onnx int8"][2] == "–"
    if not have_optimum:
        assert "skipped: Optimum: not installed" in out
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["setup"]["flags"].keys() == {"avx2", "avx512", "vnni", "amx"}
    assert figures["padded_tokens"]["sorted"] <= figures["padded_tokens"]["in_order"]
    assert "weights" in figures["variants"]["edgeptm onnx int8"]
    assert "weights" in figures["variants"]["edgeptm onnx int8 · student 1L"]
    # the fine-tuned model's labels match the data's: the real-text table reports the macro-F1 drops
    real = table_rows(out, "real-text")
    assert real["torch fp32"][6] == "+0.00" and "(" in real["edgeptm onnx int8"][7]


def test_a_folder_without_a_model_is_refused_in_one_line(tmp_path: Path, capsys) -> None:
    bench = load_script()
    assert bench.main(["--quick", "--model", str(tmp_path), "--work", str(tmp_path / "w")]) == 2
    assert capsys.readouterr().err.strip().startswith("Error: ")
