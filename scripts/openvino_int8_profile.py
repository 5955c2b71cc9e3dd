"""Why OpenVINO int8 is (or is not) faster than fp32 on this CPU: per-operation times and kernels.

Compiles an fp32 and an int8 OpenVINO artifact with performance counters, runs batch 1 x 128 tokens,
and prints, per operation type, the time spent and the kernels (``exec_type``) that ran it, so one
can see which matrix products really run in int8 (``*_I8``/``*_U8`` kernels) and which FakeQuantize
operations were left unfused. Also times each artifact under other thread, stream and precision
settings.

    python scripts/openvino_int8_profile.py FP32_ARTIFACT INT8_ARTIFACT [--threads 2] [--iterations 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def feed(model, tokens: int = 128) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for port in model.inputs:
        name = port.get_any_name()
        out[name] = (
            rng.integers(1000, 5000, (1, tokens))
            if name == "input_ids"
            else np.ones((1, tokens), np.int64)
            if name == "attention_mask"
            else np.zeros((1, tokens), np.int64)
        ).astype(np.int64)
    return out


@dataclass
class OpStats:
    ms: float = 0.0
    kernels: set[str] = field(default_factory=set)
    runs: int = 0


def profile(path: Path, config: dict[str, str], iterations: int) -> tuple[float, dict[str, OpStats]]:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path / "openvino_model.xml")
    compiled = core.compile_model(model, "CPU", {**config, "PERF_COUNT": "YES"})
    request = compiled.create_infer_request()
    inputs = feed(model)
    for _ in range(3):
        request.infer(inputs)
    times = []
    ops: dict[str, OpStats] = defaultdict(OpStats)
    for _ in range(iterations):
        start = time.perf_counter()
        request.infer(inputs)
        times.append(time.perf_counter() - start)
        for info in request.get_profiling_info():
            if info.status == info.Status.EXECUTED:
                entry = ops[info.node_type]
                entry.ms += info.real_time.total_seconds() * 1000 / iterations
                entry.kernels.add(info.exec_type)
                entry.runs += 1
    return statistics.median(times) * 1000, ops


def latency(path: Path, config: dict[str, str], iterations: int) -> float:
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path / "openvino_model.xml")
    request = core.compile_model(model, "CPU", config).create_infer_request()
    inputs = feed(model)
    for _ in range(3):
        request.infer(inputs)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        request.infer(inputs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("fp32", type=Path)
    p.add_argument("int8", type=Path)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=20)
    args = p.parse_args()
    base = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": str(args.threads)}
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, path in (("fp32", args.fp32), ("int8", args.int8)):
        median, ops = profile(path, {**base, "INFERENCE_PRECISION_HINT": "f32"}, args.iterations)
        print(f"\n## {name}: {median:.1f} ms per call (with counters)\n")
        print("| op type | ms per call | nodes | kernels |\n|---|---|---|---|")
        for op, stats in sorted(ops.items(), key=lambda kv: -kv[1].ms)[:14]:
            kernels = ", ".join(sorted(stats.kernels))
            print(f"| {op} | {stats.ms:.2f} | {stats.runs // args.iterations} | {kernels} |")
    print("\n## settings (median ms, batch 1 x 128)\n\n| setting | fp32 | int8 |\n|---|---|---|")
    settings = {
        "LATENCY, f32 hint": {**base, "INFERENCE_PRECISION_HINT": "f32"},
        "LATENCY, no precision hint": base,
        "1 stream, f32": {**base, "NUM_STREAMS": "1", "INFERENCE_PRECISION_HINT": "f32"},
        "1 thread, f32": {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": "1",
            "INFERENCE_PRECISION_HINT": "f32",
        },
    }
    for label, config in settings.items():
        a, b = latency(args.fp32, config, args.iterations), latency(args.int8, config, args.iterations)
        print(f"| {label} | {a:.1f} | {b:.1f} |")
    print(f"\nload average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
