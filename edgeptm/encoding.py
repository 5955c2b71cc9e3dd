"""Text to model inputs: the device runtime's encoder (``edgeptm_runtime.encoding``), so what is
measured here is exactly what ships. Only its error type changes: edgeptm's commands report a
missing or broken ``tokenizer.json`` as a one-line :class:`~edgeptm.errors.ModelError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from edgeptm.errors import ModelError
from edgeptm_runtime.encoding import (
    Encoded,
    TruncationWarning,
    fit_batch,
    fit_width,
    in_order_batches,
    length_batches,
    padded_positions,
    run_length_sorted,
)
from edgeptm_runtime.encoding import Encoder as _RuntimeEncoder
from edgeptm_runtime.errors import EdgeptmRuntimeError
from edgeptm_runtime.text import TextEncoder

if TYPE_CHECKING:
    from edgeptm.manifest import Manifest

__all__ = [
    "Encoded",
    "Encoder",
    "TextEncoder",
    "encoder_for",
    "TruncationWarning",
    "fit_batch",
    "fit_width",
    "in_order_batches",
    "length_batches",
    "padded_positions",
    "run_length_sorted",
    "runtime_errors",
]


@contextmanager
def runtime_errors() -> Iterator[None]:
    """Re-raise the runtime's one-line errors (bundle, engine, tokenizer) as :class:`ModelError`."""
    try:
        yield
    except EdgeptmRuntimeError as exc:
        raise ModelError(str(exc)) from None


class Encoder(_RuntimeEncoder):
    """Tokenize a batch of texts into padded numpy arrays (no torch, no transformers)."""

    def __init__(self, tokenizer_file: Path, max_length: int, *, pad_id: int | None = None) -> None:
        with runtime_errors():
            super().__init__(tokenizer_file, max_length, pad_id=pad_id)


def encoder_for(folder: Path, manifest: Manifest) -> Encoder | TextEncoder:
    """An artifact's encoder: its ``tokenizer.json``, or for a raw-text model (the TF-IDF baseline) the
    runtime's :class:`~edgeptm_runtime.text.TextEncoder` with the manifest's normalization."""
    if manifest.text_input:
        return TextEncoder(manifest.max_length, manifest.text_normalize)
    return Encoder.from_dir(folder, manifest.max_length)
