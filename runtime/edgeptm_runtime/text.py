"""Raw text in, for models that tokenize inside their own graph (edgeptm's char n-gram TF-IDF + linear
baseline, exported with skl2onnx: its ONNX graph splits text into characters and counts n-grams itself).

Such a model has no ``tokenizer.json``: its input is one string per text, a ``[batch, 1]`` string
tensor named ``text``. What happens to a text before the graph sees it is this module's
:class:`TextEncoder`, and the bundle records its steps (``preprocessing.normalize``), so the trainer
(which calls the same code on its training texts) and the device see identical strings.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from edgeptm_runtime.encoding import Encoded, TruncationWarning

TEXT_INPUT = "text"
"""The one input of a text-input model: a ``[batch, 1]`` string tensor."""
TEXT_INPUTS = (TEXT_INPUT,)

_WHITESPACE = re.compile(r"\s+")

NORMALIZERS: dict[str, Callable[[str], str]] = {
    # Runs of whitespace (newlines, tabs, NBSP...) become one space: the graph's character splitter skips
    # newlines, and scikit-learn's char analyzer folds runs of whitespace, so only single spaces are left.
    "collapse_whitespace": lambda text: _WHITESPACE.sub(" ", text),
    # Python's Unicode lower-casing (Cyrillic, Greek, accented Latin...), which ONNX StringNormalizer does
    # only for the locales installed on the machine: done here, the same everywhere.
    "lowercase": str.lower,
}
"""The normalization steps a bundle may name, applied in the order it lists them."""


class TextEncoder:
    """Prepare texts for a text-input model: normalize, cut to ``max_length`` characters, pack as strings.

    It has the :class:`~edgeptm_runtime.encoding.Encoder` interface (``tokenize``, ``pack``, ``length``,
    ``__call__``, ``max_length``, ``pad_id``, ``input_names``), so the classifier, the length-sorted
    batching, the server and the benchmark run text-input models unchanged. ``max_length`` counts
    characters after normalization; longer texts are cut with a :class:`TruncationWarning`.
    """

    input_names = TEXT_INPUTS
    pad_id = 0
    """Unused (nothing is padded); kept so callers that pass ``pad_id`` need no special case."""

    def __init__(self, max_length: int, normalize: Sequence[str] = ()) -> None:
        unknown = [step for step in normalize if step not in NORMALIZERS]
        if unknown:
            raise ValueError(f"unknown text normalization {', '.join(unknown)} (known: {', '.join(NORMALIZERS)})")
        if max_length < 1:
            raise ValueError(f"max_length must be at least 1 character, not {max_length}")
        self.max_length = max_length
        self.normalize = tuple(normalize)
        self._steps = [NORMALIZERS[step] for step in self.normalize]

    def normalized(self, text: str) -> str:
        """``text`` after the normalization steps, not cut."""
        for step in self._steps:
            text = step(text)
        return text

    def prepare(self, text: str) -> str:
        """What the model reads of ``text``: normalized, then cut to ``max_length`` characters."""
        return self.normalized(text)[: self.max_length]

    def tokenize(self, texts: Sequence[str], *, stacklevel: int = 2) -> list[str]:
        """The prepared texts, warning once (:class:`TruncationWarning`) if any were cut."""
        normalized = [self.normalized(t) for t in texts]
        n = sum(len(t) > self.max_length for t in normalized)
        if n:
            warnings.warn(
                f"{n} input(s) longer than max_length {self.max_length} characters were truncated",
                TruncationWarning,
                stacklevel=stacklevel,
            )
        return [t[: self.max_length] for t in normalized]

    @staticmethod
    def length(item: str) -> int:
        """A prepared text's length in characters (what length-sorted batching sorts by)."""
        return len(item)

    def pack(self, items: Sequence[str], *, pad_to: int | None = None) -> Encoded:
        """A ``[batch, 1]`` string tensor. ``pad_to`` cuts each text to that many characters (the
        benchmark's sequence length); nothing is ever padded."""
        width = min(pad_to, self.max_length) if pad_to else self.max_length
        return {TEXT_INPUT: np.array([t[:width] for t in items], dtype=object).reshape(-1, 1)}

    def __call__(self, texts: Sequence[str], *, pad_to: int | None = None) -> Encoded:
        return self.pack(self.tokenize(texts, stacklevel=3), pad_to=pad_to)
