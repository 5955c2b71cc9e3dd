#!/usr/bin/env bash
# Latency and size on the bert-base-multilingual-cased architecture (random weights), batch 1,
# sequence 128, 2 threads, in one `edgeptm bench` run: openvino fp32, fp16 and int8 next to
# onnx fp32 and int8 and torch fp32. Artifacts already built are reused.
#
#   scripts/bench_mbert_arch.sh [OUT_DIR]        (default runs/mbert-arch; BIN=.venv/bin)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${1:-runs/mbert-arch}
step() { [ -d "$1" ] || { echo "+ ${*:2}" >&2; "${@:2}"; }; }

$BIN/python scripts/make_mbert_arch.py "$OUT/model"
step "$OUT/torch-fp32" $BIN/edgeptm export --model "$OUT/model" --backend torch --out "$OUT/torch-fp32"
step "$OUT/onnx-fp32" $BIN/edgeptm export --model "$OUT/model" --backend onnx --out "$OUT/onnx-fp32"
step "$OUT/onnx-int8" $BIN/edgeptm quantize --artifact "$OUT/onnx-fp32" --precision int8 --out "$OUT/onnx-int8"
step "$OUT/openvino-fp32" $BIN/edgeptm export --model "$OUT/model" --backend openvino --out "$OUT/openvino-fp32"
step "$OUT/openvino-fp16" $BIN/edgeptm quantize --artifact "$OUT/openvino-fp32" --precision fp16 --out "$OUT/openvino-fp16"
step "$OUT/openvino-int8" $BIN/edgeptm quantize --artifact "$OUT/openvino-fp32" --precision int8 --out "$OUT/openvino-int8"

$BIN/edgeptm bench --batch-sizes 1 --seq-lengths 128 --threads 2 --warmup 10 --iterations 50 \
    --artifact "$OUT/torch-fp32" --artifact "$OUT/onnx-fp32" --artifact "$OUT/onnx-int8" \
    --artifact "$OUT/openvino-fp32" --artifact "$OUT/openvino-fp16" --artifact "$OUT/openvino-int8" \
    | tee "$OUT/bench.txt"
