#!/usr/bin/env bash
# The CUDA backend on a real NVIDIA GPU, in under 5 minutes: the conformance kit on CUDA, fp32 vs
# fp16 (and bf16) parity on the same model, and latency at batch 1 and 32, sequence 128, on the
# bert-base-multilingual-cased architecture (random weights).
#
#   BIN=/path/to/venv/bin scripts/gpu-check.sh [OUT_DIR]
#
# BIN is an environment with edgeptm, plugins/torch and plugins/cuda installed over a CUDA build of
# torch (`make install` with the CUDA wheel in place of the CPU one). Default OUT_DIR: runs/gpu-check.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${1:-runs/gpu-check}
export HF_HUB_OFFLINE=1
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

echo "== backend" && $BIN/edgeptm backends torch cuda
echo "== conformance kit on cuda"
$BIN/pytest -q -p no:cacheprovider --pyargs edgeptm.testing.conformance --edgeptm-backend cuda -W ignore::DeprecationWarning
echo "== fp32 vs fp16/bf16 on the same model"
$BIN/pytest -q -p no:cacheprovider -m gpu tests/test_cuda.py -W ignore::DeprecationWarning

echo "== latency, mBERT architecture, sequence 128"
$BIN/python scripts/make_mbert_arch.py "$OUT/model"
[ -d "$OUT/cuda-fp32" ] || $BIN/edgeptm export --model "$OUT/model" --backend cuda --out "$OUT/cuda-fp32"
[ -d "$OUT/cuda-fp16" ] || $BIN/edgeptm quantize --artifact "$OUT/cuda-fp32" --precision fp16 --out "$OUT/cuda-fp16"
$BIN/edgeptm bench --artifact "$OUT/cuda-fp32" --artifact "$OUT/cuda-fp16" --device cuda \
    --batch-sizes 1,32 --seq-lengths 128 --warmup 10 --iterations 50 | tee "$OUT/bench.txt"
