"""A recipe's headline compares latencies only when both were timed on the same kind of input."""

from __future__ import annotations

from typing import Any

from edgeptm.report.headline import from_run


def _eval(name: str, backend: str, f1: float) -> dict[str, Any]:
    block = {"macro_f1": f1, "accuracy": f1, "n": 10}
    return {"name": name, "backend": backend, "precision": "fp32", "overall": block, "per_language": {"en": block}}


def _bench(name: str, p50: float, unit: str) -> dict[str, Any]:
    return {"name": name, "size_mb": 1.0, "seq_unit": unit,
            "measurements": [{"batch_size": 1, "seq_length": 64, "p50_ms": p50}]}  # fmt: skip


def test_a_baseline_timed_on_characters_gets_no_speedup_against_tokens() -> None:
    evals = [_eval("model", "torch", 0.5), _eval("baseline", "onnx", 0.6), _eval("onnx-int8", "onnx", 0.5)]
    bench = [_bench("model", 8.0, "tokens"), _bench("baseline", 0.1, "characters"), _bench("onnx-int8", 2.0, "tokens")]
    base = from_run(evals, bench, "baseline")
    assert base is not None and base.speedup is None and base.timing is not None
    assert "× 64 characters on" in base.timing
    int8 = from_run(evals, bench, "onnx-int8")
    assert int8 is not None and int8.speedup == 4.0 and "× 64 tokens on" in int8.timing  # type: ignore[operator]
