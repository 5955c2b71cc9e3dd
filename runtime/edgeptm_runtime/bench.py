"""Measure a bundle as a device would run it, in this fresh process: the cold start (import + load +
first prediction), latency per batch size and sequence length, peak RSS and size.

``python -m edgeptm_runtime.bench BUNDLE '{"batch_sizes": [1, 8], "seq_lengths": [128], "threads": 2,
"warmup": 5, "iterations": 30}'`` prints one JSON object; ``edgeptm bench`` runs it for bundles.
"""

from __future__ import annotations

import time

_STARTED = time.perf_counter()  # before the runtime and its engine are imported: part of the cold start

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

FILLER = (
    "The hotel was clean and the staff were friendly. El servicio fue lento pero la comida estaba rica. "
    "Le film était long mais magnifique. Der Zug kam pünktlich an. Поезд прибыл вовремя. "
    "كان الطعام لذيذا جدا. खाना बहुत स्वादिष्ट था। 这家餐厅的服务很好。"
)


def peak_rss_kb() -> int:
    """This process's peak RSS: ``VmHWM`` on Linux, else ``ru_maxrss``."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latencies(
    encode: Any,
    run: Any,
    *,
    max_length: int,
    seq_lengths: list[int],
    batch_sizes: list[int],
    warmup: int,
    iterations: int,
) -> list[dict[str, Any]]:
    """Latency per (sequence length, batch size): ``encode(texts, pad_to=seq)`` once, ``run(batch)`` ``warmup``
    times untimed, then ``iterations`` timed runs; p50/p90/p99 and mean in ms, and items per second.

    ``seq`` is in the encoder's units: tokens, or characters for a model that reads raw text
    (:class:`~edgeptm_runtime.text.TextEncoder`); every batch is that long (the text is longer, then cut).

    The one timing loop of edgeptm: ``edgeptm bench`` uses it for artifacts and, here, for bundles."""
    out = []
    for seq in seq_lengths:
        if seq > max_length:
            raise ValueError(f"sequence length {seq} exceeds the max length {max_length}")
        for bs in batch_sizes:
            batch = encode([FILLER * (1 + seq // 16)] * bs, pad_to=seq)
            if "input_ids" in batch:  # the encoder pads to seq but cuts only at max_length: exactly seq tokens
                batch = {name: array[:, :seq] for name, array in batch.items()}
            for _ in range(warmup):
                run(batch)
            times = []
            for _ in range(iterations):
                t0 = time.perf_counter()
                run(batch)
                times.append((time.perf_counter() - t0) * 1000)
            mean_s = sum(times) / len(times) / 1000
            out.append(
                {
                    "batch_size": bs,
                    "seq_length": seq,
                    "p50_ms": _percentile(times, 50),
                    "p90_ms": _percentile(times, 90),
                    "p99_ms": _percentile(times, 99),
                    "mean_ms": mean_s * 1000,
                    "throughput_items_per_s": bs / mean_s,
                }
            )
    return out


def measure(bundle: str, options: dict[str, Any]) -> dict[str, Any]:
    import warnings

    import edgeptm_runtime
    from edgeptm_runtime.encoding import TruncationWarning
    from edgeptm_runtime.text import TEXT_INPUTS

    imported = time.perf_counter()
    clf = edgeptm_runtime.load(bundle, threads=options.get("threads"))
    loaded = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        clf.predict([FILLER])
        first = time.perf_counter()
        try:
            measurements = latencies(
                clf.encoder,
                lambda batch: clf.engine.logits(batch, pad_id=clf.encoder.pad_id),
                max_length=clf.max_length,
                seq_lengths=options.get("seq_lengths", [128]),
                batch_sizes=options.get("batch_sizes", [1, 8]),
                warmup=options.get("warmup", 5),
                iterations=options.get("iterations", 30),
            )
        except ValueError as exc:
            raise SystemExit(f"{exc} of {bundle}") from None
    meta = clf.metadata
    size = sum(entry["size"] for entry in meta["files"].values())
    clf.close()
    return {
        "artifact": str(bundle),
        "backend": f"{meta['backend']} bundle ({meta['engine']} engine)",
        "precision": meta["precision"],
        "threads": options.get("threads"),
        "import_s": imported - _STARTED,
        "load_s": loaded - imported,
        "cold_start_s": first - _STARTED,
        "rss_after_load_mb": 0.0,
        "peak_rss_mb": peak_rss_kb() / 1024,
        "size_mb": size / 2**20,
        "measurements": measurements,
        "seq_unit": "characters" if clf.encoder.input_names == TEXT_INPUTS else "tokens",
    }


PARENT_PIPE = "EDGEPTM_PARENT_PIPE"
"""Names the read end of a pipe whose write end only the parent holds (see :func:`exit_with_parent`)."""


def exit_with_parent() -> None:
    """Exit at once when the parent that started this worker is gone, even killed with SIGKILL.

    The parent passes the read end of a pipe (its descriptor in ``$EDGEPTM_PARENT_PIPE``) and keeps the
    write end; when the parent dies the kernel closes it, the read returns end-of-file, and the worker
    leaves instead of running on as an orphan. Without the variable (a worker started by hand), nothing.
    """
    fd = os.environ.pop(PARENT_PIPE, "")
    if not fd.isdigit():
        return

    def watch() -> None:
        try:
            while os.read(int(fd), 64):
                pass
        except OSError:
            pass
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m edgeptm_runtime.bench BUNDLE OPTIONS_JSON", file=sys.stderr)
        return 2
    from edgeptm_runtime.errors import EdgeptmRuntimeError

    exit_with_parent()
    try:
        result = measure(args[0], json.loads(args[1]))
    except EdgeptmRuntimeError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
