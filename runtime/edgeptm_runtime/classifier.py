"""Load a bundle and classify texts: ``load(path).predict(["..."])``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeptm_runtime.archive import BundleDir
from edgeptm_runtime.bundle import BundleManifest, read_manifest, resolve_inside, verify_files
from edgeptm_runtime.encoding import BatchEncoder, Encoder, run_length_sorted
from edgeptm_runtime.engines import ENGINES, Engine, check_operators, open_engine
from edgeptm_runtime.errors import BundleError, EngineError, TokenizerError
from edgeptm_runtime.modelinfo import onnx_opsets
from edgeptm_runtime.requirements import RequirementWarning, unmet_requirements
from edgeptm_runtime.text import TextEncoder


@dataclass(frozen=True)
class Prediction:
    """One text's result: the top label, every label's softmax probability, and the raw logits."""

    label: str
    scores: dict[str, float]
    logits: list[float]

    def to_dict(self) -> dict[str, Any]:
        """``{"label", "scores"}``: what the CLI and the server print."""
        return {"label": self.label, "scores": self.scores}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (stable: the row max is subtracted first)."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("predict() and logits() take a list of texts, not a single string: wrap it in a list")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not str")
    return texts


class Classifier:
    """An engine, its encoder and label names. :func:`load` builds one from a bundle.

    The encoder is an :class:`~edgeptm_runtime.encoding.Encoder` (token ids) or, for a model that
    tokenizes inside its graph, a :class:`~edgeptm_runtime.text.TextEncoder` (raw text).

    Build one directly to run any :class:`~edgeptm_runtime.engines.Engine` (the core's own
    artifacts, or a test double) with the same batching, prediction and serving code.
    """

    def __init__(
        self,
        engine: Engine,
        encoder: BatchEncoder,
        labels: Sequence[str],
        *,
        metadata: Mapping[str, Any] | None = None,
        path: Path | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.encoder = encoder
        self.labels = list(labels)
        self.metadata: dict[str, Any] = dict(metadata or {})
        """The bundle's ``bundle.json`` (empty for a classifier built by hand)."""
        self.path = path
        """The bundle folder (for an archive, the temp folder it was unpacked to, deleted by :meth:`close`)."""
        self._on_close = on_close

    @property
    def max_length(self) -> int:
        return self.encoder.max_length

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Float32 logits ``[len(texts), num_labels]``, computed in length-sorted batches of ``batch_size``."""
        return self._logits(texts, batch_size)

    def _logits(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        texts = _texts(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        out = run_length_sorted(
            self.encoder,
            texts,
            batch_size,
            lambda batch: self.engine.logits(batch, pad_id=self.encoder.pad_id),
            stacklevel=4,  # a truncation warning points at the caller of logits() or predict()
        )
        if out.ndim != 2 or out.shape[1] != len(self.labels):
            raise EngineError(
                f"{self.engine.model_path.name} gives outputs of shape {list(out.shape[1:])} per text, "
                f"but there are {len(self.labels)} labels; the bundle's labels do not belong to this model"
            )
        return out

    @property
    def batch_invariant(self) -> bool:
        """Whether a text's prediction is independent of the texts batched with it. Not so for dynamic int8,
        whose activation scales are computed over the whole batch (the bundle says so in ``extra``)."""
        return bool(self.metadata.get("extra", {}).get("batch_invariant", True))

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """One :class:`Prediction` per text, in order."""
        return self.predictions(self._logits(texts, batch_size))

    def predictions(self, logits: np.ndarray) -> list[Prediction]:
        """:class:`Prediction` objects from logits ``[n, num_labels]`` (e.g. computed elsewhere in a batch)."""
        probs = softmax(logits)
        return [
            Prediction(
                label=self.labels[int(np.argmax(row))],
                scores={label: float(p) for label, p in zip(self.labels, prob, strict=True)},
                logits=[float(x) for x in row],
            )
            for row, prob in zip(np.asarray(logits), probs, strict=True)
        ]

    def close(self) -> None:
        """Release the engine and delete any unpacked archive."""
        self.engine.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load(path: str | Path, *, engine: str | None = None, threads: int | None = None, verify: bool = True) -> Classifier:
    """Load a bundle folder or ``.tar.gz`` into a :class:`Classifier`.

    ``engine`` defaults to the bundle's own; an onnx bundle may also run on ``openvino`` when it
    uses standard operators only. Paths, presence and sizes of listed files are always checked;
    ``verify`` also checks their SHA-256 (cheap next to loading a model). Everything that stops a
    bundle from loading raises :class:`BundleError` with a one-line message.
    """
    if engine is not None and engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    bundle = BundleDir(Path(path))
    try:
        manifest = read_manifest(bundle.path)
        verify_files(bundle.path, manifest, hashes=verify)
        kind = engine or manifest.engine
        model = check_engine(manifest, bundle.path, kind)
        for note in unmet_requirements(manifest.requirements, kind):
            warnings.warn(note, RequirementWarning, stacklevel=2)
        encoder = make_encoder(manifest, bundle.path)
        runner = open_engine(kind, model, threads=threads)
        unknown = [name for name in runner.input_names if name not in encoder.input_names]
        if unknown:
            runner.close()
            raise BundleError(
                f"{manifest.model_file} needs input(s) {', '.join(unknown)}, which this runtime does not produce"
            )
    except (EngineError, TokenizerError) as exc:
        bundle.cleanup()
        raise BundleError(str(exc)) from exc
    except BaseException:
        bundle.cleanup()
        raise
    return Classifier(
        runner, encoder, manifest.labels, metadata=manifest.to_dict(), path=bundle.path, on_close=bundle.cleanup
    )


def make_encoder(manifest: BundleManifest, folder: Path) -> BatchEncoder:
    """The bundle's encoder: its tokenizer, or the text normalization of a model that reads raw text."""
    prep = manifest.preprocessing
    if prep.text_input:
        return TextEncoder(manifest.max_length, prep.normalize)
    if manifest.tokenizer is None:  # from_dict refuses this; kept for bundles built by hand
        raise BundleError("bundle.json: no tokenizer; rebuild the bundle with edgeptm")
    return Encoder(resolve_inside(folder, manifest.tokenizer), manifest.max_length, pad_id=prep.pad_token_id)


def check_engine(manifest: BundleManifest, folder: Path, engine: str) -> Path:
    """Refuse, before loading, a bundle whose operators ``engine`` cannot run; returns the model file's path.

    For ONNX the declared operators are first checked to cover what the model file really imports
    (a bundle must not understate them), then compared with what the engine supports.
    """
    model = resolve_inside(folder, manifest.model_file)
    operators = _declared_operators(manifest, model)
    check_operators(engine, manifest.engine, operators, model_file=manifest.model_file)
    return model


def _declared_operators(manifest: BundleManifest, model: Path) -> dict[str, int | str]:
    declared = dict(manifest.operators)
    if manifest.engine != "onnx":
        return declared
    try:
        actual = onnx_opsets(model)
    except (OSError, ValueError) as exc:
        raise BundleError(f"{manifest.model_file}: not a readable ONNX model ({exc}); rebuild the bundle") from None
    for domain, version in sorted(actual.items()):
        listed = declared.get(domain)
        if listed is None:
            raise BundleError(
                f"bundle.json: operators does not list {domain}, which {manifest.model_file} imports (opset "
                f"{version}); rebuild the bundle"
            )
        if not isinstance(listed, int) or listed < version:
            raise BundleError(
                f"bundle.json: operators lists {domain} as {listed!r} but {manifest.model_file} imports opset "
                f"{version}; rebuild the bundle"
            )
    return declared
