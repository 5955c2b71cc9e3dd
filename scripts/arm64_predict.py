"""Run an edgeptm bundle on a list of texts and write what came out, for ``scripts/test-arm64.sh``.

    python scripts/arm64_predict.py BUNDLE TEXTS.jsonl OUT.json [--batch-size 32] [--threads N]

TEXTS.jsonl holds one ``{"text": ...}`` object per line (other fields are ignored). OUT.json gets
the platform (``platform.machine()``, Python, numpy/tokenizers/onnxruntime versions), the
bundle's labels, and per text its label and raw logits, plus load and predict times.

The same file runs on the host and, under qemu user mode, on an emulated aarch64 CPython; it
needs only the standard library, ``edgeptm_runtime`` and the runtime's own dependencies.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

DISTRIBUTIONS = ("numpy", "tokenizers", "onnxruntime", "openvino", "edgeptm-runtime")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def read_texts(path: Path) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (ValueError, KeyError, TypeError) as exc:
                raise SystemExit(f"Error: {path}:{number}: not a JSON object with a 'text' field ({exc})") from None
            if not isinstance(text, str):
                raise SystemExit(f"Error: {path}:{number}: 'text' is {type(text).__name__}, not a string")
            texts.append(text)
    if not texts:
        raise SystemExit(f"Error: {path} holds no texts")
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="a bundle folder or .tar.gz")
    parser.add_argument("texts", type=Path, help='JSONL, one {"text": ...} per line')
    parser.add_argument("out", type=Path, help="the JSON file to write")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="engine threads (default: the engine's own)")
    args = parser.parse_args(argv)

    texts = read_texts(args.texts)
    started = time.perf_counter()
    import edgeptm_runtime  # noqa: PLC0415 - timed: importing numpy/tokenizers is part of the cost here

    imported = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with edgeptm_runtime.load(args.bundle, threads=args.threads) as clf:
            loaded = time.perf_counter()
            predictions = clf.predict(texts, batch_size=args.batch_size)
            predicted = time.perf_counter()
            labels, metadata_ = list(clf.labels), clf.metadata
    result = {
        "platform": {
            "machine": platform.machine(),
            "system": platform.system(),
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "byteorder": sys.byteorder,
            "packages": {name: _version(name) for name in DISTRIBUTIONS if _version(name) is not None},
        },
        "bundle": {
            "path": str(args.bundle),
            "name": metadata_.get("name"),
            "engine": metadata_.get("engine"),
            "precision": metadata_.get("precision"),
            "labels": labels,
        },
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "seconds": {
            "import": round(imported - started, 3),
            "load": round(loaded - imported, 3),
            "predict": round(predicted - loaded, 3),
        },
        "batch_size": args.batch_size,
        "texts": len(texts),
        "predictions": [{"label": p.label, "logits": p.logits} for p in predictions],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(
        f"{platform.machine()}: {len(texts)} texts, import {result['seconds']['import']:.2f} s, "
        f"load {result['seconds']['load']:.2f} s, predict {result['seconds']['predict']:.2f} s -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
