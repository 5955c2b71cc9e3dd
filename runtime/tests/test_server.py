"""The HTTP server on 127.0.0.1: concurrent load, limits, back-pressure, graceful SIGTERM. Every loop is bounded."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tinymodels import LABELS, MAX_LENGTH, TEXTS, TinyBundle

import edgeptm_runtime as rt
from edgeptm_runtime.encoding import Encoded, Encoder
from edgeptm_runtime.engines import Engine, OnnxEngine
from edgeptm_runtime.server import PredictionServer, ServerConfig

pytestmark = pytest.mark.filterwarnings("ignore::edgeptm_runtime.TruncationWarning")
CLIENTS, REQUESTS = 8, 50
TIMEOUT = 20.0


def rss_mb() -> float:
    """This process's resident set size (psutil when present, else /proc)."""
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def request(
    url: str,
    method: str,
    path: str,
    body: object = None,
    *,
    raw: bytes | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    own = conn is None
    conn = conn or http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        if own:
            conn.close()


@pytest.fixture(scope="module")
def sequential(tiny: TinyBundle) -> dict[str, rt.Prediction]:
    """Each text's prediction on its own: what every server answer must equal."""
    texts = [*TEXTS, *(f"{t} {extra}" for t in TEXTS[:8] for extra in ("good", "very bad indeed", "!"))]
    with rt.load(tiny.path) as clf:
        return {t: clf.predict([t])[0] for t in texts}


@pytest.fixture
def server(tiny: TinyBundle) -> Iterator[PredictionServer]:
    clf = rt.load(tiny.path)
    config = ServerConfig(port=0, max_batch_size=8, max_wait_ms=2, queue_size=64, max_request_bytes=4096, max_texts=8)
    with PredictionServer(clf, config) as srv:
        yield srv
    clf.close()


def _same(answer: dict, want: rt.Prediction) -> bool:
    return answer["label"] == want.label and np.allclose(
        [answer["scores"][k] for k in LABELS], [want.scores[k] for k in LABELS], atol=1e-5, rtol=0
    )


def test_concurrent_clients_get_sequential_answers(server: PredictionServer, sequential: dict) -> None:
    texts = list(sequential)
    results: list[list[tuple[str, int, dict]]] = [[] for _ in range(CLIENTS)]
    request(server.url, "POST", "/predict", {"text": "warm up"})
    rss_before = rss_mb()

    def client(index: int) -> None:
        host, port = server.address
        conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)  # keep-alive, like a real client
        try:
            for i in range(REQUESTS):
                text = texts[(index * 7 + i) % len(texts)]
                try:
                    status, body = request(server.url, "POST", "/predict", {"text": text}, conn=conn)
                except (OSError, http.client.HTTPException) as exc:
                    status, body = -1, {"error": repr(exc)}
                    conn.close()
                results[index].append((text, status, body))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    answers = [r for rs in results for r in rs]
    assert len(answers) == CLIENTS * REQUESTS
    lost = [(text, status, body) for text, status, body in answers if status != 200]
    assert not lost, lost[:3]
    mismatches = [text for text, _, body in answers if not _same(body["predictions"][0], sequential[text])]
    assert not mismatches
    assert server.worker.batches < CLIENTS * REQUESTS  # requests really were batched together
    assert rss_mb() - rss_before < 100  # generous: no per-request leak


def test_multi_text_request_matches_sequential(server: PredictionServer, sequential: dict) -> None:
    texts = list(sequential)[:8]
    status, body = request(server.url, "POST", "/predict", {"texts": texts})
    assert status == 200 and len(body["predictions"]) == len(texts)
    assert all(_same(answer, sequential[t]) for answer, t in zip(body["predictions"], texts, strict=True))
    assert request(server.url, "POST", "/predict", {"texts": []}) == (200, {"predictions": []})


def test_health_metadata_and_errors(server: PredictionServer) -> None:
    assert request(server.url, "GET", "/health") == (200, {"status": "ok"})
    status, meta = request(server.url, "GET", "/metadata")
    assert status == 200 and meta == {
        "name": "tiny",
        "engine": "onnx",
        "backend": "onnx",
        "precision": "fp32",
        "labels": LABELS,
        "max_length": MAX_LENGTH,
        "format_version": 1,
    }
    status, body = request(server.url, "POST", "/predict", raw=b"x" * 10_000)
    assert status == 413 and "over the limit of 4096" in body["error"]
    status, body = request(server.url, "POST", "/predict", {"texts": ["a"] * 9})
    assert status == 413 and "limit of 8" in body["error"]
    for bad in (b"{not json", b'{"txt": "a"}', b'{"text": 3}', b'{"texts": ["a", 1]}', b"[]"):
        status, body = request(server.url, "POST", "/predict", raw=bad)
        assert status == 400 and body["error"], bad
    assert request(server.url, "GET", "/nope")[0] == 404
    assert request(server.url, "POST", "/nope", {"text": "a"})[0] == 404
    assert request(server.url, "GET", "/predict")[0] == 405


class BlockingEngine(Engine):
    """A real engine that, when asked, holds the worker until released: a full queue on demand."""

    name = "onnx"

    def __init__(self, inner: Engine) -> None:
        self.inner, self.model_path, self.input_names = inner, inner.model_path, inner.input_names
        self.entered, self.release = threading.Event(), threading.Event()

    def run(self, encoded: Encoded) -> np.ndarray:
        self.entered.set()
        self.release.wait(timeout=TIMEOUT)
        return self.inner.run(encoded)


def test_full_queue_answers_503_at_once(tiny: TinyBundle, sequential: dict) -> None:
    engine = BlockingEngine(OnnxEngine(tiny.path / "model.onnx"))
    clf = rt.Classifier(engine, Encoder.from_dir(tiny.path, MAX_LENGTH), LABELS, metadata={"name": "blocking"})
    config = ServerConfig(port=0, queue_size=1, max_wait_ms=0)
    answers: dict[str, tuple[int, dict]] = {}

    def post(text: str) -> None:
        answers[text] = request(srv.url, "POST", "/predict", {"text": text})

    with PredictionServer(clf, config) as srv:
        first = threading.Thread(target=post, args=("good",))
        first.start()
        assert engine.entered.wait(TIMEOUT)  # the worker is busy with "good"
        second = threading.Thread(target=post, args=("okay",))
        second.start()
        deadline = time.monotonic() + TIMEOUT
        while srv.worker.queue.qsize() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.worker.queue.qsize() == 1  # "okay" waits in the queue of one
        started = time.monotonic()
        status, body = request(srv.url, "POST", "/predict", {"text": "bad"})
        assert status == 503 and "queue" in body["error"] and time.monotonic() - started < 2
        engine.release.set()
        first.join(TIMEOUT)
        second.join(TIMEOUT)
    for text in ("good", "okay"):
        status, body = answers[text]
        assert status == 200 and _same(body["predictions"][0], sequential[text])


def _read_line(stream, deadline: float) -> str:  # noqa: ANN001 - a pipe
    line = b""
    while not line.endswith(b"\n"):
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"no line from the server in time (got {line!r})")
        chunk = os.read(stream.fileno(), 1)
        if not chunk:
            raise EOFError(f"server exited (got {line!r})")
        line += chunk
    return line.decode()


def test_sigterm_finishes_the_in_flight_request_and_exits_0(tiny: TinyBundle, sequential: dict) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeptm_runtime", "serve", str(tiny.path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = _read_line(proc.stderr, time.monotonic() + 30)
        match = re.search(r"on http://127\.0\.0\.1:(\d+) ", line)
        assert match, line
        port = int(match.group(1))
        body = json.dumps({"text": "I love this movie"}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            head = (
                "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body[:5])  # the request is in flight: headers read, body pending
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert proc.poll() is None  # still waiting for the in-flight request
            sock.sendall(body[5:])
            response = b""
            while b"\r\n\r\n" not in response or len(response.split(b"\r\n\r\n", 1)[1]) < _length(response):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                response += chunk
        status_line, _, rest = response.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 200 OK", response
        answer = json.loads(rest.split(b"\r\n\r\n", 1)[1])
        assert _same(answer["predictions"][0], sequential["I love this movie"])
        assert proc.wait(timeout=30) == 0
        stderr = proc.stderr.read().decode()
        assert "Traceback" not in stderr and "stopping" in stderr
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def _length(response: bytes) -> int:
    match = re.search(rb"Content-Length: (\d+)", response)
    return int(match.group(1)) if match else 1


def test_a_batch_dependent_bundle_runs_one_text_at_a_time(tiny: TinyBundle, tmp_path) -> None:
    """Dynamic int8 computes activation scales over the batch, so the server does not micro-batch it."""
    import io
    import shutil

    from tinymodels import LABELS, MAX_LENGTH

    from edgeptm_runtime import write_bundle_manifest

    folder = tmp_path / "dynamic"
    shutil.copytree(tiny.path, folder)
    (folder / "bundle.json").unlink()
    write_bundle_manifest(
        folder,
        name="dynamic",
        engine="onnx",
        backend="onnx",
        precision="int8",
        labels=LABELS,
        max_length=MAX_LENGTH,
        extra={"batch_invariant": False},
    )
    log = io.StringIO()
    with rt.load(folder) as clf:
        assert clf.batch_invariant is False
        with PredictionServer(clf, ServerConfig(port=0, max_batch_size=8), log=log) as srv:
            assert srv.config.max_batch_size == 1 and srv.worker.max_batch == 1
            status, body = request(srv.url, "POST", "/predict", {"texts": ["good", "very bad indeed"]})
            assert status == 200 and [p["label"] for p in body["predictions"]] == [
                p.label for p in (clf.predict(["good"])[0], clf.predict(["very bad indeed"])[0])
            ]
    assert "texts run one at a time" in log.getvalue()
