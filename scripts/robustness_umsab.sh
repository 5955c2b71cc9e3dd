#!/usr/bin/env bash
# Robustness and cross-lingual transfer on UMSAB (8-language tweet sentiment), end to end:
#   1. a small BERT (2 layers, hidden 128) with a WordPiece vocabulary trained on UMSAB's train text;
#   2. fine-tuned on all eight languages, exported to ONNX and quantized to int8;
#   3. `edgeptm robustness`: the whole perturbation suite, torch fp32 vs onnx int8, per language;
#   4. zero-shot transfer: the same model fine-tuned on English only (a recipe with
#      data.train_languages), evaluated on all eight languages.
# Writes everything under $OUT (default /tmp/edgeptm-umsab), nothing in the repository.
# About an hour on 2 busy CPU cores (fine-tuning takes ~6 CPU-minutes an epoch).
# Run from the repository root: bash scripts/robustness_umsab.sh
set -euo pipefail

UMSAB=$(realpath "${UMSAB:-../shared/data/umsab/data/sentiment}")
OUT=${OUT:-/tmp/edgeptm-umsab}
PER_LANGUAGE=${PER_LANGUAGE:-300}
PY=.venv/bin/python
E=.venv/bin/edgeptm
mkdir -p "$OUT"

# 1. A random-init BERT whose vocabulary is trained on UMSAB's train split (all languages).
$PY - "$UMSAB" "$OUT/base" <<'EOF'
import sys
from pathlib import Path
from edgeptm import data
from edgeptm.train.tinymodel import build_model

texts = data.load(sys.argv[1], split="train").texts
size = {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 2, "intermediate_size": 512}
build_model(Path(sys.argv[2]), texts, size=size, vocab_size=8000, max_position_embeddings=128)
EOF

# 2. Fine-tune on all languages, export, quantize.
$E finetune --model "$OUT/base" --train "$UMSAB" --eval "$UMSAB" --test "$UMSAB" --out "$OUT/model" \
  --max-length 64 --epochs 3 --lr 5e-4 --batch-size 32 --warmup-ratio 0.1 --patience 2 --no-progress
$E export --model "$OUT/model" --backend onnx --out "$OUT/onnx-fp32" --validate-on "$UMSAB"
$E quantize --artifact "$OUT/onnx-fp32" --precision int8 --out "$OUT/onnx-int8" --calibration "$UMSAB"

# Clean accuracy and macro-F1 per language on the whole test split, torch fp32 and onnx int8 side by side.
$E evaluate --artifact "$OUT/model" --artifact "$OUT/onnx-int8" --data "$UMSAB" --split test

# 3. The whole suite at default strengths on the test split, torch fp32 (baseline) vs onnx int8.
$E robustness --artifact "$OUT/model" --artifact "$OUT/onnx-int8" --eval "$UMSAB" --split test \
  --max-per-language "$PER_LANGUAGE" --seed 0 --out "$OUT/robustness"

# 4. Zero-shot transfer: fine-tune on English only (checkpoint picked on English eval), evaluate on all.
cat > "$OUT/zero-shot.yaml" <<EOF
name: umsab-zero-shot
output: zero-shot
model: $OUT/base
data:
  train: $UMSAB
  eval: $UMSAB
  test: $UMSAB
  train_languages: [english]
stages:
  - stage: finetune
    epochs: 3
    learning_rate: 0.0005
    batch_size: 32
    max_length: 64
    warmup_ratio: 0.1
    early_stopping_patience: 2
  - stage: export
    name: onnx-fp32
    backend: onnx
  - stage: quantize
    name: onnx-int8
    from: onnx-fp32
    precision: int8
  - stage: evaluate
    split: test
    artifacts: [model, onnx-int8]
EOF
$E run "$OUT/zero-shot.yaml"
