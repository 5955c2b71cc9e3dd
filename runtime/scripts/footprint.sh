#!/usr/bin/env bash
# What a device pays for edgeptm-runtime[onnx]: the size of a fresh venv holding only it, and the
# cold start (a fresh process: import + load + first prediction) and peak RSS on each bundle.
#
#   scripts/footprint.sh BUNDLE [BUNDLE...]
#
# Environment: VENV (default /tmp/rt-venv, recreated); PYTHON (default python3, >= 3.10) makes it;
# WHEEL installs that wheel instead of this source tree; RUNS (default 3) cold starts per bundle.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: scripts/footprint.sh BUNDLE [BUNDLE...]" >&2; exit 2; }
VENV=${VENV:-/tmp/rt-venv}
PYTHON=${PYTHON:-python3}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)

rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
base_mb=$(du -sm "$VENV" | cut -f1)
target="${WHEEL:-$HERE}[onnx]"
"$VENV/bin/pip" install --quiet --no-cache-dir "$target"

echo "== venv: $VENV ($("$VENV/bin/python" --version))"
echo "installed: $("$VENV/bin/pip" list --format=freeze 2>/dev/null | grep -v -E '^(pip|setuptools)==' | tr '\n' ' ')"
echo "size: $(du -sm "$VENV" | cut -f1) MiB (du -sm of the venv; an empty venv is ${base_mb} MiB)"
echo "site-packages, largest:"
du -sm "$VENV"/lib/python*/site-packages/* 2>/dev/null | sort -rn | head -6 | sed 's/^/  /'

# A fresh interpreter per run; the wall time includes its start.
COLD_START='
import resource
import sys
import time

t0 = time.perf_counter()
import edgeptm_runtime as rt

t1 = time.perf_counter()
clf = rt.load(sys.argv[1])
t2 = time.perf_counter()
label = clf.predict(["This is the first prediction on a cold device."])[0].label
t3 = time.perf_counter()
bad = sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "transformers", "pydantic", "click", "edgeptm"})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(f"import {1000 * (t1 - t0):.0f} ms, load {1000 * (t2 - t1):.0f} ms, first prediction {1000 * (t3 - t2):.0f} ms"
      f" ({label}), peak RSS {peak:.1f} MiB, forbidden modules {bad or chr(45)}")
'

for bundle in "$@"; do
    bundle=$(cd "$(dirname "$bundle")" && pwd)/$(basename "$bundle")
    echo "== $bundle ($(du -sm "$bundle" | cut -f1) MiB)"
    "$VENV/bin/edgeptm-runtime" verify "$bundle"
    for i in $(seq "$RUNS"); do
        start=$(date +%s.%N)
        line=$("$VENV/bin/python" -c "$COLD_START" "$bundle")
        end=$(date +%s.%N)
        wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", (e - s) * 1000 }')
        echo "cold start $i: wall ${wall} ms | $line"
    done
done
