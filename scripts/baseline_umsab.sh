#!/usr/bin/env bash
# Benchmark (not CI): the char n-gram TF-IDF baseline beside two small transformers on UMSAB
# (8-language tweet sentiment), macro-F1 per language with n, all through `edgeptm evaluate`:
#   1. built-in:    `edgeptm finetune --model builtin:tiny-multilingual` (its tokenizer was trained on the
#                   packaged sample only);
#   2. pre-trained: `edgeptm pretrain --size tiny` on UMSAB's own training text (labels unused), then
#                   `edgeptm finetune` from it;
#   3. baseline:    `edgeptm baseline` (char 1-4-gram TF-IDF + logistic regression, exported to ONNX).
# Every model trains on the same subsample of UMSAB's train split (TRAIN_PER_LANGUAGE per language,
# default 1000; VAL_PER_LANGUAGE for early stopping, default 200) and is tested on the full test split
# (869 per language). The subsample is written under $OUT (never into the repository); sizes are kept
# modest because the CPU is shared: raise TRAIN_PER_LANGUAGE, EPOCHS and PRETRAIN_STEPS on a quiet machine.
# A rerun with the same $OUT keeps the phases whose output exists.
# Run from the repository root: bash scripts/baseline_umsab.sh
set -euo pipefail

UMSAB=$(realpath "${UMSAB:-../shared/data/umsab/data/sentiment}")
OUT=${OUT:-/tmp/edgeptm-baseline-umsab}
TRAIN_PER_LANGUAGE=${TRAIN_PER_LANGUAGE:-1000}
VAL_PER_LANGUAGE=${VAL_PER_LANGUAGE:-200}
EPOCHS=${EPOCHS:-3}
PRETRAIN_STEPS=${PRETRAIN_STEPS:-800}
THREADS=${THREADS:-1}
PY=.venv/bin/python
E=.venv/bin/edgeptm
mkdir -p "$OUT"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# The subsample: the first N lines of each language's train and val files (UMSAB's own order), test whole.
if [ ! -d "$OUT/data" ]; then
  for lang_dir in "$UMSAB"/*/; do
    lang=$(basename "$lang_dir")
    [ "$lang" = all ] && continue
    mkdir -p "$OUT/data.partial/$lang"
    for f in train_text train_labels; do head -n "$TRAIN_PER_LANGUAGE" "$lang_dir/$f.txt" > "$OUT/data.partial/$lang/$f.txt"; done
    for f in val_text val_labels; do head -n "$VAL_PER_LANGUAGE" "$lang_dir/$f.txt" > "$OUT/data.partial/$lang/$f.txt"; done
    cp "$lang_dir/test_text.txt" "$lang_dir/test_labels.txt" "$OUT/data.partial/$lang/"
    # One raw-text corpus file per language for pre-training: the training texts, labels unused.
    mkdir -p "$OUT/corpus.partial"
    cp "$OUT/data.partial/$lang/train_text.txt" "$OUT/corpus.partial/$lang.txt"
  done
  mv "$OUT/corpus.partial" "$OUT/corpus"
  mv "$OUT/data.partial" "$OUT/data"
fi
DATA="$OUT/data"
FINETUNE=(--train "$DATA" --eval "$DATA" --max-length 64 --epochs "$EPOCHS" --lr 1e-3 --batch-size 32
  --warmup-ratio 0.1 --patience 2 --threads "$THREADS" --seed 0 --no-progress)

time_phase() { local t0=$SECONDS; "$@"; echo "  ($(( SECONDS - t0 )) s, load $(cut -d' ' -f1-3 /proc/loadavg))"; }

# 1. The built-in tiny model, fine-tuned.
[ -d "$OUT/builtin" ] || time_phase $E finetune --model builtin:tiny-multilingual "${FINETUNE[@]}" --out "$OUT/builtin"

# 2. Pre-trained on UMSAB's training text (tokenizer trained on it too), then fine-tuned. On a busy machine,
#    FROM_CHECKPOINT=400 (a multiple of 400) fine-tunes the MLM's step-400 checkpoint (of the PRETRAIN_STEPS schedule) once it is
#    saved, without waiting for the rest: what the table in the i15a note used (load ~20 on 2 cores).
if [ -n "${FROM_CHECKPOINT:-}" ]; then
  MLM="$OUT/mlm-$FROM_CHECKPOINT"
  if [ ! -d "$MLM" ]; then
    CKPT="$OUT/mlm.checkpoints/checkpoint-$FROM_CHECKPOINT"
    if [ ! -f "$CKPT/trainer_state.json" ]; then  # pre-train until that checkpoint is complete, then stop
      $E pretrain --corpus "$OUT/corpus" --out "$OUT/mlm" --size tiny --vocab-size 8000 --max-length 64 \
        --steps "$PRETRAIN_STEPS" --batch-size 32 --lr 1e-3 --save-steps 400 --threads "$THREADS" --seed 0 \
        --no-progress &
      PID=$!
      while kill -0 "$PID" 2>/dev/null && [ ! -f "$CKPT/trainer_state.json" ]; do sleep 10; done
      sleep 5
      kill "$PID" 2>/dev/null || true
      wait "$PID" || true
    fi
    mkdir -p "$MLM.partial"
    for f in config.json model.safetensors special_tokens_map.json tokenizer.json tokenizer_config.json vocab.txt; do
      cp "$OUT/mlm.checkpoints/checkpoint-$FROM_CHECKPOINT/$f" "$MLM.partial/"
    done
    mv "$MLM.partial" "$MLM"
  fi
  PRETRAINED="$OUT/pretrained-$FROM_CHECKPOINT"
else
  MLM="$OUT/mlm"
  PRETRAINED="$OUT/pretrained"
  [ -d "$MLM" ] || time_phase $E pretrain --corpus "$OUT/corpus" --out "$MLM" --size tiny --vocab-size 8000 \
    --max-length 64 --steps "$PRETRAIN_STEPS" --batch-size 32 --lr 1e-3 --save-steps 400 --threads "$THREADS" \
    --seed 0 --no-progress
fi
[ -d "$PRETRAINED" ] || time_phase $E finetune --model "$MLM" "${FINETUNE[@]}" --out "$PRETRAINED"

# 3. The baseline (seconds).
[ -d "$OUT/baseline" ] || time_phase $E baseline --train "$DATA" --eval "$DATA" --out "$OUT/baseline" --seed 0

# The three side by side, per language with n, on the full test split.
$E evaluate --artifact "$OUT/builtin" --artifact "$PRETRAINED" --baseline "$OUT/baseline" \
  --data "$DATA" --split test | tee "$OUT/evaluation.md"
$E evaluate --artifact "$OUT/builtin" --artifact "$PRETRAINED" --baseline "$OUT/baseline" \
  --data "$DATA" --split test --json > "$OUT/evaluation.json"
