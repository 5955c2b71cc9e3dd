"""Third-party warnings captured, so a command's own output stays readable.

Exporting, quantizing and training pull in libraries that print advice nobody can act on (ONNX
shape inference, ``torch_dtype`` deprecations, ``TracerWarning``, the SDPA fallback paragraph): 20–30
lines around the two that matter. While :func:`capture_third_party` is active, every Python warning
and every log record that does not come from edgeptm is kept instead of printed: by default the
command ends with one line saying how many there were and where to read them; with ``-v`` each is
printed in full as it happens. Sinks added with :meth:`Capture.sink` (a recipe run's ``run.log``)
get every one in full either way.

What it can't catch: text that native code (onnxruntime's C++ logger, OpenVINO) writes straight to
the process's stderr file descriptor; and nothing of edgeptm's own (its warnings and log records pass
through untouched).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

OWN_PREFIXES = ("edgeptm",)
"""Modules, files and loggers whose names start with these are edgeptm's own (core, runtime, plugins)."""


@dataclass(frozen=True)
class ThirdPartyMessage:
    """One captured warning or log record."""

    source: str
    """``TracerWarning (transformers/modeling_attn_mask_utils.py:196)`` or ``log transformers.modeling_utils``."""
    text: str

    def line(self) -> str:
        return f"[{self.source}] {self.text}"


@dataclass
class Capture:
    """What one command captured, and where it goes."""

    verbose: bool = False
    echo: Callable[[str], None] = print
    messages: list[ThirdPartyMessage] = field(default_factory=list)
    log_path: Path | None = None
    """The file the summary line points to."""
    _sinks: list[Callable[[str], None]] = field(default_factory=list)

    def add(self, message: ThirdPartyMessage) -> None:
        self.messages.append(message)
        for sink in self._sinks:
            sink(message.line())
        if self.verbose:
            self.echo(message.line())

    @contextmanager
    def sink(self, write: Callable[[str], None]) -> Iterator[None]:
        """Also send every message captured inside the block (in full) to ``write``."""
        self._sinks.append(write)
        try:
            yield
        finally:
            self._sinks.remove(write)

    def summary(self, command: str = "COMMAND") -> str | None:
        """The one line printed at the end by default; ``None`` when nothing was captured or all was shown."""
        if not self.messages or self.verbose:
            return None
        n = len(self.messages)
        where = f"see {self.log_path} or " if self.log_path else ""
        return f"{n} third-party warning{'s' if n != 1 else ''} hidden; {where}rerun with `edgeptm -v {command} ...`"


_active: list[Capture] = []


def active() -> Capture | None:
    """The innermost capture in force, if any."""
    return _active[-1] if _active else None


def _own(name: str) -> bool:
    return name.startswith(OWN_PREFIXES)


def _own_file(filename: str) -> bool:
    parts = Path(filename).parts
    return any(_own(part) for part in parts[-3:-1])


def _short(filename: str) -> str:
    parts = Path(filename).parts
    return "/".join(parts[-2:])


@contextmanager
def capture_third_party(*, verbose: bool = False, echo: Callable[[str], None] = print) -> Iterator[Capture]:
    """Capture third-party warnings and log records for the block (see the module docstring)."""
    capture = Capture(verbose=verbose, echo=echo)
    call_handlers = logging.Logger.callHandlers

    def route_record(logger: logging.Logger, record: logging.LogRecord) -> None:
        if _own(record.name):
            call_handlers(logger, record)
            return
        capture.add(ThirdPartyMessage(f"{record.levelname.lower()} {record.name}", record.getMessage().strip()))

    with warnings.catch_warnings():
        shown = warnings.showwarning

        def route_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
            if _own(category.__module__) or _own_file(str(filename)):
                shown(message, category, filename, lineno, file, line)
                return
            text = " ".join(str(message).split())
            capture.add(ThirdPartyMessage(f"{category.__name__} ({_short(str(filename))}:{lineno})", text))

        warnings.showwarning = route_warning
        logging.Logger.callHandlers = route_record  # type: ignore[method-assign,assignment]
        _active.append(capture)
        try:
            yield capture
        finally:
            _active.remove(capture)
            logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign]


@contextmanager
def log_file(path: Path) -> Iterator[Callable[[str], None]]:
    """Append lines to ``path``, and every third-party message captured meanwhile; yields the line writer.

    The active capture's summary then points to ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:

        def write(line: str) -> None:
            f.write(line.rstrip("\n") + "\n")
            f.flush()

        capture = active()
        if capture is None:
            yield write
            return
        previous, capture.log_path = capture.log_path, path
        try:
            with capture.sink(write):
                yield write
        finally:
            capture.log_path = previous if previous is not None else path
