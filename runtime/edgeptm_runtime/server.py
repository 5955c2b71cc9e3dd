"""A small HTTP JSON server: ``POST /predict``, ``GET /health``, ``GET /metadata``. Standard library only.

Handler threads parse requests and wait; one worker thread owns the model and micro-batches:
it takes the first queued request, then whatever else arrives within ``max_wait_ms`` up to
``max_batch_size`` texts, and runs them as one length-sorted batch. One thread on the model means
a device's cores go to the engine's own threads, not to contention. The queue is bounded, so an
overloaded device answers 503 at once instead of piling up requests it will never serve in time.
"""

from __future__ import annotations

import dataclasses
import json
import queue
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import urlsplit

import numpy as np

from edgeptm_runtime import __version__
from edgeptm_runtime.classifier import Classifier
from edgeptm_runtime.errors import one_line

DRAIN_CHUNK = 1 << 16
MAX_DRAIN_BYTES = 8 << 20
"""An oversized body up to this size is read and dropped so the client sees the 413, not a reset."""


@dataclass(frozen=True)
class ServerConfig:
    """Server limits; the CLI flags of ``edgeptm-runtime serve`` map one to one."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_size: int = 16
    max_wait_ms: float = 5.0
    queue_size: int = 256
    """Requests waiting for the worker; one more is answered 503."""
    max_request_bytes: int = 1 << 20
    max_texts: int = 64
    request_timeout_s: float = 60.0
    """How long a handler waits for its answer before a 504."""
    drain_timeout_s: float = 30.0
    """On shutdown, how long in-flight requests get to finish."""

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "queue_size", "max_request_bytes", "max_texts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, not {self.max_wait_ms}")


class QueueFull(Exception):
    """The worker's queue is full: answer 503."""


class Stopping(Exception):
    """The server is shutting down and takes no new work."""


class _Job:
    """One request's texts and, once the worker is done, its logits or error."""

    __slots__ = ("texts", "done", "logits", "error")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.logits: np.ndarray | None = None
        self.error: str | None = None


class BatchWorker:
    """The single thread that runs the model, micro-batching queued requests."""

    def __init__(self, classifier: Classifier, config: ServerConfig, log: TextIO) -> None:
        self.classifier = classifier
        self.max_batch = config.max_batch_size
        self.max_wait = config.max_wait_ms / 1000.0
        self.queue: queue.Queue[_Job] = queue.Queue(maxsize=config.queue_size)
        self.log = log
        self._stop = threading.Event()
        self._accepting = True
        self._lock = threading.Lock()
        self.batches = 0
        self._thread = threading.Thread(target=self._loop, name="edgeptm-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, texts: list[str]) -> _Job:
        job = _Job(texts)
        with self._lock:
            if not self._accepting:
                raise Stopping()
            try:
                self.queue.put_nowait(job)
            except queue.Full:
                raise QueueFull() from None
        return job

    def stop(self, timeout: float) -> bool:
        """Refuse new jobs, finish queued ones, stop the thread; whether it stopped within ``timeout``."""
        with self._lock:
            self._accepting = False
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        pending: deque[_Job] = deque()
        while True:
            if not pending:
                try:
                    pending.append(self.queue.get(timeout=0.2))
                except queue.Empty:
                    if self._stop.is_set():
                        return
                    continue
            batch = [pending.popleft()]
            count = len(batch[0].texts)
            deadline = time.monotonic() + self.max_wait
            while count < self.max_batch:
                if not pending:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        pending.append(self.queue.get(timeout=remaining))
                    except queue.Empty:
                        break
                if count + len(pending[0].texts) > self.max_batch:
                    break
                job = pending.popleft()
                batch.append(job)
                count += len(job.texts)
            self._run(batch)

    def _run(self, batch: list[_Job]) -> None:
        texts = [t for job in batch for t in job.texts]
        try:
            logits = self.classifier.logits(texts, batch_size=self.max_batch)
        except Exception as exc:
            message = one_line(f"{type(exc).__name__}: {exc}")
            print(f"edgeptm-runtime: prediction failed: {message}", file=self.log, flush=True)
            for job in batch:
                job.error = message
                job.done.set()
            return
        self.batches += 1
        start = 0
        for job in batch:
            job.logits = logits[start : start + len(job.texts)]
            start += len(job.texts)
            job.done.set()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: PredictionServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is routine (no output); anything else is one line, not a traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        print(
            f"edgeptm-runtime: error serving {client_address[0]}: {one_line(repr(exc))}", file=self.app.log, flush=True
        )


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = f"edgeptm-runtime/{__version__}"
    timeout = 30
    """Seconds an idle keep-alive connection (or a stalled body) may hold a handler thread."""
    disable_nagle_algorithm = True
    """Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (~40 ms)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """No per-request logging: a device's console and SD card have better uses."""

    def _send(
        self, status: int, payload: dict[str, Any], *, close: bool = False, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if close or self.server.app.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, **kwargs: Any) -> None:
        self._send(status, {"error": message}, **kwargs)

    def do_GET(self) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        if path == "/health":
            if app.stopping:
                self._send(503, {"status": "stopping"})
            else:
                self._send(200, {"status": "ok"})
        elif path == "/metadata":
            self._send(200, app.public_metadata)
        elif path == "/predict":
            self._error(405, 'use POST /predict with {"text": ...} or {"texts": [...]}', headers={"Allow": "POST"})
        else:
            self._error(404, f"no such endpoint {path}; try POST /predict, GET /health or GET /metadata")

    def do_POST(self) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        if path != "/predict":
            if path in ("/health", "/metadata"):
                self._error(405, f"use GET {path}", headers={"Allow": "GET"}, close=True)
            else:
                self._error(404, f"no such endpoint {path}; try POST /predict", close=True)
            return
        with app.in_flight():
            self._predict(app)

    def _predict(self, app: PredictionServer) -> None:
        config = app.config
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length_header is None:
            self._error(411, "send a Content-Length (chunked bodies are not supported)", close=True)
            return
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self._error(400, f"bad Content-Length {length_header!r}", close=True)
            return
        if length > config.max_request_bytes:
            self._discard(length)
            self._error(
                413, f"request body of {length} bytes is over the limit of {config.max_request_bytes}", close=True
            )
            return
        body = self.rfile.read(length)
        if len(body) < length:
            self.close_connection = True
            return
        texts, problem = _parse_texts(body)
        if problem is not None:
            self._error(400, problem)
            return
        if len(texts) > config.max_texts:
            self._error(413, f"{len(texts)} texts in one request, over the limit of {config.max_texts}; split it")
            return
        if not texts:
            self._send(200, {"predictions": []})
            return
        try:
            job = app.worker.submit(texts)
        except QueueFull:
            self._error(
                503,
                f"server busy: {config.queue_size} requests already queued; retry later",
                headers={"Retry-After": "1"},
            )
            return
        except Stopping:
            self._error(503, "server is shutting down", close=True)
            return
        if not job.done.wait(config.request_timeout_s):
            self._error(504, f"no answer within {config.request_timeout_s:g} s")
            return
        if job.error is not None or job.logits is None:
            self._error(500, job.error or "prediction failed")
            return
        self._send(200, {"predictions": [p.to_dict() for p in app.classifier.predictions(job.logits)]})

    def _discard(self, length: int) -> None:
        """Read and drop a modest oversized body, so the client can read the 413 instead of a reset."""
        left = min(length, MAX_DRAIN_BYTES)
        while left > 0:
            chunk = self.rfile.read(min(left, DRAIN_CHUNK))
            if not chunk:
                return
            left -= len(chunk)


def _parse_texts(body: bytes) -> tuple[list[str], str | None]:
    """The texts of a ``{"text": ...}`` or ``{"texts": [...]}`` body, or why it is a bad request."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], f"body is not JSON: {exc}"
    if not isinstance(data, dict):
        return [], 'body must be a JSON object: {"text": "..."} or {"texts": ["...", ...]}'
    if "texts" in data:
        texts = data["texts"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return [], '"texts" must be a list of strings'
        return texts, None
    if "text" in data:
        if not isinstance(data["text"], str):
            return [], '"text" must be a string'
        return [data["text"]], None
    return [], 'missing "text" (a string) or "texts" (a list of strings)'


class PredictionServer:
    """The HTTP server and its batch worker around a :class:`Classifier`.

    ``start()`` serves from background threads (tests, in-process load tests); :func:`serve` runs
    it in the foreground with signal handling. Port 0 picks a free port: read :attr:`address`.
    """

    def __init__(
        self, classifier: Classifier, config: ServerConfig | None = None, *, log: TextIO | None = None
    ) -> None:
        self.classifier = classifier
        self.config = config or ServerConfig()
        self.log = log or sys.stderr
        if not classifier.batch_invariant and self.config.max_batch_size > 1:
            # Dynamic int8 computes its activation scales over the batch: batching would make an answer
            # depend on the requests that happened to share it. One text at a time keeps answers exact.
            self.config = dataclasses.replace(self.config, max_batch_size=1)
            print(
                "edgeptm-runtime: this bundle's int8 scales are computed per batch (dynamic quantization), so texts "
                "run one at a time and each answer equals predict([text]); a static int8 bundle micro-batches",
                file=self.log,
                flush=True,
            )
        self.worker = BatchWorker(classifier, self.config, self.log)
        self.stopping = False
        self._active = 0
        self._active_cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.httpd = _HTTPServer((self.config.host, self.config.port), _Handler)
        self.httpd.app = self
        meta = classifier.metadata
        self.public_metadata = {
            "name": meta.get("name"),
            "engine": classifier.engine.name,
            "backend": meta.get("backend"),
            "precision": meta.get("precision"),
            "labels": list(classifier.labels),
            "max_length": classifier.max_length,
            "format_version": meta.get("format_version"),
        }

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def in_flight(self) -> _InFlight:
        return _InFlight(self)

    def start(self) -> PredictionServer:
        """Serve from background threads; returns at once."""
        self.worker.start()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="edgeptm-http", daemon=True
        )
        self._thread.start()
        return self

    def shutdown(self) -> bool:
        """Stop accepting, let in-flight requests finish, stop the worker; whether all finished in time.

        Call from a thread other than the one running ``serve_forever`` (``start()`` takes care of that).
        """
        if self._closed:
            return True
        self._closed = self.stopping = True
        if self._thread is not None:
            self.httpd.shutdown()  # blocks until serve_forever returns, so only when it runs
        deadline = time.monotonic() + self.config.drain_timeout_s
        with self._active_cond:
            drained = self._active_cond.wait_for(lambda: self._active == 0, timeout=self.config.drain_timeout_s)
        stopped = self.worker.stop(timeout=max(0.0, deadline - time.monotonic()) + 1.0)
        self.httpd.server_close()
        return drained and stopped

    def __enter__(self) -> PredictionServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class _InFlight:
    """Counts a request from its headers to its answer, so shutdown waits for it."""

    def __init__(self, server: PredictionServer) -> None:
        self.server = server

    def __enter__(self) -> None:
        with self.server._active_cond:
            self.server._active += 1

    def __exit__(self, *exc: object) -> None:
        with self.server._active_cond:
            self.server._active -= 1
            self.server._active_cond.notify_all()


def serve(classifier: Classifier, config: ServerConfig, *, log: TextIO | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; the exit status (0 when drained)."""
    log = log or sys.stderr
    server = PredictionServer(classifier, config, log=log)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        meta = server.public_metadata
        print(
            f"edgeptm-runtime {__version__}: serving {meta['name']} ({meta['engine']}, {meta['precision']}, "
            f"{len(classifier.labels)} labels) on {server.url} (max batch {server.config.max_batch_size}, "
            f"wait {config.max_wait_ms:g} ms, queue {config.queue_size})",
            file=log,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        print("edgeptm-runtime: stopping; finishing in-flight requests", file=log, flush=True)
        drained = server.shutdown()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not drained:
        print(f"edgeptm-runtime: requests still running after {config.drain_timeout_s:g} s; exiting", file=log)
        return 1
    return 0
