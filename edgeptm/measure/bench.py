"""Latency, throughput, peak RSS, load time and size on disk, per artifact.

Each artifact is measured in a fresh process (``python -m edgeptm.measure.bench``) so its
peak RSS and load time are its own; the parent gathers the JSON each prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from typing_extensions import NotRequired, TypedDict

from edgeptm.errors import EdgeptmError
from edgeptm.measure.machine import describe_machine, machine


class BenchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_sizes: list[PositiveInt] = Field([1, 8], min_length=1)
    seq_lengths: list[PositiveInt] = Field([128], min_length=1)
    threads: int | None = Field(None, ge=1, description="intra-op threads (default: all cores)")
    warmup: int = Field(5, ge=0)
    iterations: int = Field(30, ge=1)
    device: str | None = Field(None, description="device (default: the backend's own)")


class Measurement(TypedDict):
    """Latency of one (batch size, sequence length) setting, in milliseconds, and its throughput."""

    batch_size: int
    seq_length: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    throughput_items_per_s: float


def is_bundle(path: Path) -> bool:
    """A bundle folder (``bundle.json``) or archive (``.tar.gz``), benched through ``edgeptm-runtime``."""
    return (path.is_dir() and (path / "bundle.json").is_file()) or (path.is_file() and path.name.endswith(".tar.gz"))


class BenchResult(TypedDict):
    """One artifact measured in its own process. Bundles also report their cold start (import + load +
    first prediction) and the import time."""

    artifact: str
    backend: str
    precision: str
    threads: int | None
    load_s: float
    rss_after_load_mb: float
    peak_rss_mb: float
    size_mb: float
    measurements: list[Measurement]
    seq_unit: NotRequired[str]
    """What ``seq_length`` counts: ``tokens``, or ``characters`` for a model that reads raw text (the baseline)."""
    name: NotRequired[str]
    machine: NotRequired[dict[str, Any]]
    """Where it ran (:mod:`edgeptm.measure.machine`): CPU, flags (AVX2, AVX-512, VNNI, AMX), cores, load."""
    import_s: NotRequired[float]
    cold_start_s: NotRequired[float]


def measure(artifact: Path, options: BenchOptions) -> BenchResult:
    """Measure one artifact in this process (the worker side)."""
    import psutil

    from edgeptm.deploy import artifact_manifest, load_runner
    from edgeptm.encoding import TruncationWarning
    from edgeptm.fsutil import dir_size
    from edgeptm.plugins import get_plugins

    manifest = artifact_manifest(artifact)
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    runner = load_runner(get_plugins(), artifact, device=options.device, threads=options.threads)
    load_s = time.perf_counter() - started
    rss_loaded = psutil.Process().memory_info().rss
    from edgeptm_runtime.bench import latencies, peak_rss_kb

    with runner, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        try:
            measurements = latencies(
                runner.encode,
                runner.predict,
                max_length=manifest.max_length,
                seq_lengths=options.seq_lengths,
                batch_sizes=options.batch_sizes,
                warmup=options.warmup,
                iterations=options.iterations,
            )
        except ValueError as exc:
            raise EdgeptmError(f"{exc} of {artifact}") from None
    peak_kb = peak_rss_kb()
    return {
        "artifact": str(artifact),
        "backend": manifest.backend,
        "precision": manifest.precision,
        "threads": options.threads,
        "load_s": load_s,
        "rss_after_load_mb": (rss_loaded - rss_before) / 2**20,
        "peak_rss_mb": peak_kb / 1024,
        "size_mb": dir_size(artifact, manifest.files) / 2**20,
        "measurements": measurements,
        "seq_unit": "characters" if manifest.text_input else "tokens",
    }


def text_characters(tokenizer_dir: Path, tokens: int) -> int:
    """How many characters of the benchmark's text the first ``tokens`` tokens of the tokenizer in
    ``tokenizer_dir`` cover (special tokens aside): the length to time a model that reads raw text (the
    TF-IDF baseline) at, so that it reads the same text a transformer reads at ``tokens`` tokens."""
    from edgeptm.encoding import Encoder, runtime_errors
    from edgeptm_runtime.bench import FILLER

    with runtime_errors():
        tokenizer = Encoder.from_dir(Path(tokenizer_dir), 1 << 20).tokenizer
    encoding = tokenizer.encode(FILLER * (1 + tokens // 16))  # the text :func:`latencies` times
    ends = [end for (_, end), special in zip(encoding.offsets[:tokens], encoding.special_tokens_mask) if not special]
    return max(ends, default=1)


def bench(artifacts: Sequence[tuple[str, Path]], options: BenchOptions) -> list[BenchResult]:
    """Measure each ``(name, artifact)`` in its own process, one after another."""
    results: list[BenchResult] = []
    env = dict(os.environ)
    if options.threads:
        env["OMP_NUM_THREADS"] = str(options.threads)
    for name, artifact in artifacts:
        if is_bundle(Path(artifact)):  # as a device runs it: edgeptm-runtime alone in a fresh process
            command = [sys.executable, "-m", "edgeptm_runtime.bench", str(artifact), options.model_dump_json()]
        else:
            command = [sys.executable, "-m", "edgeptm.measure.bench", str(artifact), options.model_dump_json()]
        proc = _run_worker(command, env)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            raise EdgeptmError(f"benchmark of {artifact} failed: {lines[-1] if lines else 'no output'}")
        result: BenchResult = json.loads(proc.stdout.strip().splitlines()[-1])
        result["name"] = name
        result["machine"] = {**machine().to_dict(), "description": describe_machine(options.threads)}
        results.append(result)
    return results


def _run_worker(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a worker that leaves as soon as this process is gone (killed included): it gets the read end of a
    pipe only this process writes to (see :func:`edgeptm_runtime.bench.exit_with_parent`)."""
    from edgeptm_runtime.bench import PARENT_PIPE

    read_end, write_end = os.pipe()
    try:
        return subprocess.run(
            command, capture_output=True, text=True, env={**env, PARENT_PIPE: str(read_end)}, pass_fds=(read_end,)
        )
    finally:
        os.close(read_end)
        os.close(write_end)


def _worker() -> None:
    from edgeptm_runtime.bench import exit_with_parent

    exit_with_parent()
    artifact, raw = sys.argv[1], sys.argv[2]
    try:
        result = measure(Path(artifact), BenchOptions.model_validate_json(raw))
    except EdgeptmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    _worker()
