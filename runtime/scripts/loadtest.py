"""Load test of ``edgeptm-runtime serve``: concurrent keep-alive clients, every answer checked.

    python scripts/loadtest.py BUNDLE [--clients 8] [--requests 500] [--url http://127.0.0.1:8000 [--pid PID]]

Without ``--url`` the server runs in this process (port 0), so its RSS is this process's and the
clients share its CPU (on a 2-core board, that understates throughput a little). With ``--url`` it
connects to a running server; ``--pid`` then reads that process's RSS from /proc. Every answer is
compared with the bundle's sequential ``predict([text])`` (label equal, scores within 1e-5).
Prints throughput, p50/p99 latency, lost requests, mismatches and RSS; exits 1 on any lost or
mismatched request.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

import edgeptm_runtime as rt
from edgeptm_runtime.server import PredictionServer, ServerConfig

TEXTS = [
    "good",
    "I love this movie",
    "the plot was boring and the acting was terrible",
    "okay",
    "Great fun, very good music!",
    "Der Film ist sehr gut, aber das Ende ist schlecht",
    "la película es muy mala",
    "un film très bien, pas mal du tout",
    "unbelievable ending",
    "It was fine but the story was not really lovely and the ending was awful, so bad that we left early.",
    "We hate it.",
    "the day and the night and the music and the actors were all lovely, really lovely, I would watch it again "
    "tomorrow and the day after tomorrow with all my friends and family",
    "meh",
    "not bad at all, actually quite good",
    "Ce film est une perte de temps",
    "una historia muy buena con actores muy buenos",
]
TOLERANCE = 1e-5


def rss_mb(pid: int | None = None) -> float | None:
    """Resident set size in MiB from /proc (Linux); ``None`` elsewhere."""
    try:
        status = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", help="the bundle the server runs (also the reference for every answer)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500, help="requests per client")
    parser.add_argument("--url", help="a running server (default: start one in this process)")
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, for its RSS")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, help="engine threads")
    parser.add_argument("--engine", choices=("onnx", "openvino"), help="default: the bundle's own")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args()
    warnings.simplefilter("ignore", rt.TruncationWarning)

    classifier = rt.load(args.bundle, engine=args.engine, threads=args.threads)
    reference = {t: classifier.predict([t])[0] for t in TEXTS}
    server = None
    if args.url:
        url, pid = args.url.rstrip("/"), args.pid
        classifier.close()
    else:
        config = ServerConfig(port=0, max_batch_size=args.max_batch_size, max_wait_ms=args.max_wait_ms)
        server = PredictionServer(classifier, config).start()
        url, pid = server.url, None
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80

    # one warm-up request, then RSS at the start
    conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
    conn.request("POST", "/predict", body=json.dumps({"text": "warm up"}), headers={"Content-Type": "application/json"})
    conn.getresponse().read()
    conn.close()
    rss_start = rss_mb(pid)

    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    lost = [0] * args.clients
    mismatches = [0] * args.clients
    errors: list[str] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
        for i in range(args.requests):
            text = TEXTS[(index * 5 + i) % len(TEXTS)]
            body = json.dumps({"text": text})
            start = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                lost[index] += 1
                errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
                continue
            latencies[index].append(time.perf_counter() - start)
            if response.status != 200:
                lost[index] += 1
                errors.append(f"HTTP {response.status}: {payload[:200]!r}")
                continue
            answer = json.loads(payload)["predictions"][0]
            want = reference[text]
            if answer["label"] != want.label or not np.allclose(
                [answer["scores"][k] for k in classifier.labels],
                [want.scores[k] for k in classifier.labels],
                atol=TOLERANCE,
                rtol=0,
            ):
                mismatches[index] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    rss_end = rss_mb(pid)
    batches = server.worker.batches if server else None
    if server is not None:
        server.shutdown()
        classifier.close()

    total = args.clients * args.requests
    all_latencies = np.array([x for xs in latencies for x in xs]) * 1000
    answered = total - sum(lost)
    meta = json.dumps(
        {k: classifier.metadata.get(k) for k in ("name", "precision")} | {"engine": classifier.engine.name}
    )
    print(f"bundle: {args.bundle} {meta}")
    print(f"server: {url} ({'in-process' if server else 'external'}), cores: {os.cpu_count()}")
    print(f"requests: {total} ({args.clients} clients x {args.requests}), answered: {answered}, wall: {wall:.2f} s")
    print(f"throughput: {answered / wall:.1f} req/s")
    if all_latencies.size:
        p50, p99 = np.percentile(all_latencies, [50, 99])
        print(f"latency: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {all_latencies.max():.2f} ms")
    if batches is not None:
        print(f"batches run: {batches} (mean {answered / max(batches, 1):.2f} requests per batch)")
    print(f"lost: {sum(lost)}, mismatches: {sum(mismatches)}")

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.1f} MiB"

    print(f"rss: start {fmt(rss_start)}, end {fmt(rss_end)}")
    for error in errors[:5]:
        print(f"  error: {error}", file=sys.stderr)
    return 1 if sum(lost) or sum(mismatches) else 0


if __name__ == "__main__":
    sys.exit(main())
