"""The benchmark's worker process never outlives the edgeptm that started it, even one killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil


def test_the_worker_exits_when_its_parent_is_killed(onnx_fp32: Path) -> None:
    parent_code = textwrap.dedent(
        f"""
        from pathlib import Path
        from edgeptm.measure.bench import BenchOptions, bench
        # a benchmark that would take many minutes
        bench([("a", Path({str(onnx_fp32)!r}))], BenchOptions(batch_sizes=[1], seq_lengths=[8], warmup=0, iterations=10**7))
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 120
        while not workers and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.2)
            workers = psutil.Process(parent.pid).children()
        assert workers, f"no worker started: {parent.stderr.read().decode() if parent.poll() is not None else ''}"
        time.sleep(1.0)  # let it get into its loop
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        gone, alive = psutil.wait_procs(workers, timeout=15)
        assert not alive, "the worker runs on as an orphan"
    finally:
        for w in workers:
            if w.is_running():
                w.kill()
        if parent.poll() is None:
            parent.kill()
