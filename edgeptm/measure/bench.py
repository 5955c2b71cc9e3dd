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

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from edgeptm.errors import EdgeptmError
from edgeptm.measure.machine import describe_machine, machine

FILLER = (
    "The hotel was clean and the staff were friendly. El servicio fue lento pero la comida estaba rica. "
    "Le film était long mais magnifique. Der Zug kam pünktlich an. Поезд прибыл вовремя. "
    "كان الطعام لذيذا جدا. खाना बहुत स्वादिष्ट था। 这家餐厅的服务很好。"
)


class BenchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_sizes: list[int] = Field([1, 8], min_length=1)
    seq_lengths: list[int] = Field([128], min_length=1)
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
    name: NotRequired[str]
    machine: NotRequired[dict[str, Any]]
    """Where it ran (:mod:`edgeptm.measure.machine`): CPU, flags (AVX2, AVX-512, VNNI, AMX), cores, load."""
    import_s: NotRequired[float]
    cold_start_s: NotRequired[float]


def _percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def _peak_rss_kb() -> int:
    """This process's peak RSS. ``VmHWM`` on Linux: ``ru_maxrss`` survives exec from a big parent."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


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
    measurements: list[Measurement] = []
    with runner, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        for seq in options.seq_lengths:
            if seq > manifest.max_length:
                raise EdgeptmError(f"sequence length {seq} exceeds the max length {manifest.max_length} of {artifact}")
            for bs in options.batch_sizes:
                batch = runner.encode([FILLER * (1 + seq // 16)] * bs, pad_to=seq)
                for _ in range(options.warmup):
                    runner.predict(batch)
                times = []
                for _ in range(options.iterations):
                    t0 = time.perf_counter()
                    runner.predict(batch)
                    times.append((time.perf_counter() - t0) * 1000)
                mean_s = sum(times) / len(times) / 1000
                measurements.append(
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
    peak_kb = _peak_rss_kb()
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
    }


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
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            raise EdgeptmError(f"benchmark of {artifact} failed: {lines[-1] if lines else 'no output'}")
        result: BenchResult = json.loads(proc.stdout.strip().splitlines()[-1])
        result["name"] = name
        result["machine"] = {**machine().to_dict(), "description": describe_machine(options.threads)}
        results.append(result)
    return results


def _worker() -> None:
    artifact, raw = sys.argv[1], sys.argv[2]
    try:
        result = measure(Path(artifact), BenchOptions.model_validate_json(raw))
    except EdgeptmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(result))


if __name__ == "__main__":
    _worker()
