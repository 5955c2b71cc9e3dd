"""Where an ONNX artifact spends its time: onnxruntime's profiler, summed per operator type.

Runs batch x 128 tokens of real-looking text (``--batch``, default 1) ``--iterations`` times with the
same session settings as edgeptm's runner (intra-op ``--threads``, all graph optimizations) and prints
a Markdown table of each operator type's share, with the kernels' input types, so one can see what
bounds the latency (e.g. MatMulInteger vs the float LayerNorm/Softmax/GELU around it).

    python scripts/onnx_op_profile.py ARTIFACT|MODEL.onnx [--threads 2] [--batch 1] [--iterations 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

from edgeptm.encoding import Encoder
from edgeptm_runtime.bench import FILLER


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("artifact", type=Path, help="a folder with model.onnx and tokenizer.json, or an .onnx file in one")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--iterations", type=int, default=20)
    args = p.parse_args()
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        model = args.artifact if args.artifact.suffix == ".onnx" else args.artifact / "model.onnx"
        sess = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        names = {i.name for i in sess.get_inputs()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the filler is truncated to 128 tokens on purpose
            encoded = Encoder.from_dir(model.parent, 128)([FILLER * 4] * args.batch)
        feed = {k: v for k, v in encoded.items() if k in names}
        for _ in range(3):
            sess.run(None, feed)
        for _ in range(args.iterations):
            sess.run(None, feed)
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    kernels: dict[str, set[str]] = defaultdict(set)
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"][3:]
    total_run = sum(e["dur"] for e in runs) / max(len(runs), 1) / 1000
    skip = (
        len([e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")])
        * 3
        // (args.iterations + 3)
    )
    nodes = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")][skip:]
    for e in nodes:
        op = e["args"].get("op_name", "?")
        per_op[op] += e["dur"] / args.iterations / 1000
        types = e["args"].get("input_type_shape", [])
        kernels[op].add(",".join(next(iter(t)) for t in types[:2] if t))
    total = sum(per_op.values())
    print(
        f"{args.artifact}: batch {args.batch} x 128, {args.threads} threads, {args.iterations} runs; "
        f"model_run {total_run:.1f} ms, kernels {total:.1f} ms; load average {os.getloadavg()[0]:.2f}\n"
    )
    print("| op type | ms per run | share | input types |\n|---|---|---|---|")
    for op, ms in sorted(per_op.items(), key=lambda kv: -kv[1]):
        if ms / total >= 0.005:
            print(f"| {op} | {ms:.2f} | {100 * ms / total:.1f}% | {'; '.join(sorted(kernels[op]))[:60]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
