"""CLI commands end to end with CliRunner, and their exact one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner


def invoke(cli, *args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_finetune_command(cli, tmp_path: Path, tiny_base: Path) -> None:
    out = tmp_path / "m"
    r = invoke(
        cli,
        "finetune",
        "--model",
        tiny_base,
        "--train",
        "builtin:sample",
        "--eval",
        "builtin:sample",
        "--test",
        "builtin:sample",
        "--out",
        out,
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--max-length",
        "32",
        "--train-languages",
        "en,de,zh",
        "--no-progress",
    )
    assert r.exit_code == 0, r.output
    assert (
        "train: 180 examples; languages: de 60, en 60, zh 60; labels: negative 60, neutral 60, positive 60\n"
        in r.stderr
    )
    # the checkpoint is selected on the training languages' eval examples only; the test split has them all
    assert "selecting the checkpoint on the eval examples in de, en, zh (the training languages)" in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "tokenizer coverage:" and lines[1].split()[:4] == ["language", "texts", "unk", "%"]
    coverage = json.loads((out / "metrics.json").read_text())["coverage"]["per_language"]
    assert (
        [line.split()[0] for line in lines[3:11]] == list(coverage) == ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]
    )
    assert coverage["en"]["texts"] == 60 + 15 + 18  # train, eval and test texts pooled
    lines = lines[11:]
    assert lines[0] == "eval:" and lines[1].split() == ["language", "n", "accuracy", "macro_f1"]
    assert [line.split()[0] for line in lines[3:7]] == ["all", "de", "en", "zh"]
    assert lines[-1] == f"saved {out} (metrics.json inside)"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["languages"] == ["de", "en", "zh"]
    assert list(metrics["eval"]["per_language"]) == ["de", "en", "zh"] and metrics["eval"]["overall"]["n"] == 45
    assert list(metrics["test"]["per_language"]) == ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]


def test_export_quantize_evaluate_bench_commands(cli, tmp_path: Path, finetuned: Path) -> None:
    onnx, int8 = tmp_path / "onnx", tmp_path / "int8"
    r = invoke(cli, "export", "--model", finetuned, "--backend", "onnx", "--out", onnx, "--option", "optimize=false")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {onnx}: onnx fp32, ") and "agreement 100.0% on 120 texts" in r.stdout
    r = invoke(
        cli,
        "quantize",
        "--artifact",
        onnx,
        "--precision",
        "int8",
        "--out",
        int8,
        "--option",
        "per_channel=true",
        # the fixture model's logits are nearly tied: its int8 agreement is noise (the gate has its own tests)
        "--min-agreement",
        "0",
        "--max-drop",
        "100",
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {int8}: onnx int8, ")
    # dynamic int8 uses no calibration texts, and says so; validation never reuses calibration texts
    assert (
        "no calibration (activations are quantized at run time); validated on 120 other texts of builtin:sample"
        in r.stderr
    )
    static = tmp_path / "static"
    r = invoke(
        cli, "quantize", "--artifact", onnx, "--precision", "int8-static", "--out", static, "--calibration-size", "40"
    )
    assert r.exit_code == 0, r.output
    assert "calibrated on 40 texts of builtin:sample; validated on 120 other texts of builtin:sample" in r.stderr
    validation = json.loads((static / "edgeptm.json").read_text())["validation"]
    assert validation["calibration"] == {"source": "builtin:sample", "n": 40} and validation["n"] == 120

    r = invoke(cli, "evaluate", "--artifact", int8, "--artifact", finetuned, "--data", "builtin:sample", "--json")
    assert r.exit_code == 0, r.output
    results = json.loads(r.stdout)
    assert [x["precision"] for x in results] == ["int8", "fp32"]
    assert results[0]["agreement"]["reference"] == str(finetuned.resolve())
    assert sorted(results[0]["agreement"]["per_language"]) == ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]
    assert "agreement" not in results[1], "the fp32 reference isn't compared with itself"
    assert results[1]["overall"]["n"] == 144

    r = invoke(cli, "evaluate", "--artifact", int8, "--data", "builtin:sample", "--train-languages", "en,fr")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].split() == [
        "artifact",
        "language",
        "n",
        "accuracy",
        "macro_f1",
        "agree_%",
        "max_dlogit",
        "unk_%",
    ]
    assert f"{int8} in_language: n 36," in r.stdout and f"{int8} zero_shot: n 108," in r.stdout

    r = invoke(
        cli,
        "bench",
        "--artifact",
        finetuned,
        "--artifact",
        int8,
        "--batch-sizes",
        "1,4",
        "--seq-lengths",
        "16",
        "--threads",
        "1",
        "--warmup",
        "1",
        "--iterations",
        "3",
        "--json",
    )
    assert r.exit_code == 0, r.output
    bench = json.loads(r.stdout)
    assert [(b["backend"], b["precision"]) for b in bench] == [("torch", "fp32"), ("onnx", "int8")]
    for b in bench:
        assert [(m["batch_size"], m["seq_length"]) for m in b["measurements"]] == [(1, 16), (4, 16)]
        assert b["peak_rss_mb"] > 10 and b["size_mb"] > 0 and b["load_s"] > 0
        assert all(m["p50_ms"] <= m["p90_ms"] <= m["p99_ms"] for m in b["measurements"])
    assert bench[1]["size_mb"] < bench[0]["size_mb"]
    assert bench[1]["peak_rss_mb"] < bench[0]["peak_rss_mb"], "onnx runs without torch in its own process"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["finetune", "--model", "m", "--train", "nope.csv", "--eval", "nope.csv", "--out", "o"],
            "Error: nope.csv: no such file or folder",
        ),
        (
            ["export", "--model", "{finetuned}", "--backend", "tpu9", "--out", "{tmp}/x"],
            "Error: unknown backend 'tpu9' (registered: {registered}); `edgeptm backends` lists them and their install hints",
        ),
        (
            ["quantize", "--artifact", "{finetuned}", "--precision", "int3", "--out", "{tmp}/x"],
            "Error: backend 'torch' does not support precision 'int3' (supported: fp32, fp16, bf16)",
        ),
        (
            ["export", "--model", "{finetuned}", "--backend", "onnx", "--out", "{tmp}/x", "--option", "fast"],
            "Error: Invalid value for '--option': 'fast': expected KEY=VALUE",
        ),
        (
            ["evaluate", "--artifact", "{tmp}/none", "--data", "builtin:sample"],
            "Error: {tmp}/none: no such artifact folder",
        ),
        (
            ["evaluate", "--artifact", "{finetuned}", "--data", "{tmp}/labels.csv"],
            "Error: {tmp}/labels.csv: label(s) meh are not among the labels of {finetuned} (negative, neutral, positive); evaluate with data labelled like the training set",
        ),
        (
            ["bench", "--artifact", "{finetuned}", "--batch-sizes", "0"],
            "Error: Invalid value for '--batch-sizes': '0': expected positive integers",
        ),
        (
            ["bench", "--artifact", "{finetuned}", "--seq-lengths", "512", "--iterations", "1"],
            "Error: benchmark of {finetuned} failed: error: sequence length 512 exceeds the max length 64 of {finetuned}",
        ),
        (
            [
                "finetune",
                "--model",
                "m",
                "--train",
                "builtin:sample",
                "--eval",
                "builtin:sample",
                "--out",
                "o",
                "--epochs",
                "0",
            ],
            "Error: Invalid value for '--epochs': Input should be greater than 0",
        ),
        (
            ["evaluate", "--artifact", "{finetuned}", "--data", "builtin:sample", "--device", "npu"],
            "Error: device 'npu' is not available to backend 'torch' here (present: cpu)",
        ),
    ],
)
def test_errors_are_one_line(cli, tmp_path: Path, finetuned: Path, args: list[str], error: str) -> None:
    (tmp_path / "labels.csv").write_text("text,label\ngood,positive\nhmm,meh\n")
    from edgeptm.plugins import get_plugins

    fmt = {"tmp": tmp_path, "finetuned": finetuned, "registered": ", ".join(sorted(get_plugins().backends()))}
    r = invoke(cli, *[a.format(**fmt) for a in args])
    assert r.exit_code != 0
    assert r.stderr.strip().splitlines()[-1] == error.format(**fmt)
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["evaluate", "--artifact", "{finetuned}", "--data", "builtin:sample", "--batch-size", "0"],
            "Invalid value for '--batch-size': 0 is not in the range x>=1.",
        ),
        (
            ["evaluate", "--artifact", "{finetuned}", "--data", "builtin:sample", "--threads", "-1"],
            "Invalid value for '--threads': -1 is not in the range x>=1.",
        ),
        (
            ["export", "--model", "{finetuned}", "--backend", "onnx", "--out", "{tmp}/x", "--max-length", "0"],
            "Invalid value for '--max-length': 0 is not in the range x>=1.",
        ),
        (
            ["export", "--model", "{finetuned}", "--backend", "onnx", "--out", "{tmp}/x", "--max-length", "100000"],
            "max_length 100000: {finetuned} reads at most 128 tokens; choose 1 to 128",
        ),
    ],
)
def test_numeric_options_are_checked_at_the_boundary(cli, tmp_path: Path, finetuned: Path, args, message) -> None:
    fill = {"finetuned": str(finetuned), "tmp": str(tmp_path)}
    r = invoke(cli, *[a.format(**fill) for a in args])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert message.format(**fill) in r.stderr and r.stderr.count("\n") <= 4
    assert not (tmp_path / "x").exists()
