"""``scripts/bench_finetune.py`` end to end on the built-in tiny model and sample: both variants train the
same steps on the same data, and the table and results.json carry throughput and per-language macro-F1."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_finetune.py"


def test_both_variants_train_the_same_steps_and_report_per_language(tmp_path: Path, capsys) -> None:
    spec = importlib.util.spec_from_file_location("bench_finetune", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    bench.main(
        ["--work", str(tmp_path / "w"), "--model", "builtin:tiny-multilingual", "--data", "builtin:sample"]
        + ["--train-per-language", "6", "--eval-per-language", "3", "--test-per-language", "4"]
        + ["--max-length", "32", "--batch-size", "8", "--epochs", "1", "--rounds", "1", "--threads", "1"]
    )
    out = capsys.readouterr().out
    result = json.loads((tmp_path / "w" / "results.json").read_text())
    runs = {r["variant"]: r for r in result["runs"]}
    assert runs.keys() == {"edgeptm", "plain"}
    languages = result["summary"]["edgeptm"]["test_per_language"]
    assert runs["edgeptm"]["steps"] == runs["plain"]["steps"] == -(-6 * len(languages) // 8)
    assert all(r["samples_per_s"] > 0 for r in runs.values())
    assert {lang: v["n"] for lang, v in languages.items()} == dict.fromkeys(languages, 4)
    ratio = result["throughput_ratio_edgeptm_over_plain"]
    assert ratio == runs["edgeptm"]["samples_per_s"] / runs["plain"]["samples_per_s"]
    assert f"throughput ratio edgeptm / plain: {ratio:.2f}×" in out
    assert out.count("| edgeptm |") == 1 and out.count("| plain |") == 1
