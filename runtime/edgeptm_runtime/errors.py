"""Errors with one-line messages: they end up on a device's console or in a JSON answer, never as a traceback.

Every message names the file or field at fault and says what to do about it.
"""

from __future__ import annotations

MAX_MESSAGE = 400
"""Wrapped engine errors can be pages long; a console line should not be."""


def one_line(message: object, limit: int = MAX_MESSAGE) -> str:
    """``message`` on a single line (whitespace runs collapsed), cut to ``limit`` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class EdgeptmRuntimeError(Exception):
    """Base of every error this package raises on purpose; ``str(exc)`` is always one line."""

    def __init__(self, message: object) -> None:
        super().__init__(one_line(message))


class BundleError(EdgeptmRuntimeError):
    """A bundle cannot be used here: malformed, tampered with, or needing what this runtime lacks.

    :func:`edgeptm_runtime.load` raises only this (or a subclass) for anything that stops a bundle
    from loading, so a device needs a single ``except``.
    """


class IntegrityError(BundleError):
    """A listed file is missing, has the wrong size or hash, or its path is unsafe."""


class UnsupportedOperatorsError(BundleError):
    """The model imports an operator domain or opset the chosen engine cannot run."""


class EngineError(EdgeptmRuntimeError):
    """The engine library is missing, or it failed to load or run a model."""


class TokenizerError(EdgeptmRuntimeError):
    """``tokenizer.json`` is missing or is not a file the ``tokenizers`` library can read."""
