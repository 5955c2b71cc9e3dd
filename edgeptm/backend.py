"""The Backend interface every deployment backend implements, built-in or third-party.

A backend turns a fine-tuned ``save_pretrained`` folder into an artifact folder
(:meth:`Backend.export`), optionally makes lower-precision variants
(:meth:`Backend.quantize`) and loads artifacts into a :class:`Runner` whose
:meth:`Runner.predict` returns logits. The core writes every artifact through a
temp folder and the manifest; a backend only writes its own files into the
folder it is given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from edgeptm.data import Dataset
from edgeptm.encoding import Encoded, Encoder, TextEncoder, fit_batch, fit_width, run_length_sorted
from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here and, either way, why."""

    available: bool
    reason: str
    hint: str = ""
    """What to do when unavailable; defaults to the backend's ``install_hint`` (e.g. "needs an NVIDIA GPU")."""


class NoOptions(BaseModel):
    """Options model for a backend that takes none."""

    model_config = ConfigDict(extra="forbid")


REFERENCE_BACKEND = "torch"
"""The backend whose fp32 model every other artifact is validated against."""


@dataclass(frozen=True)
class ExportResult:
    """What :meth:`Backend.export`/:meth:`Backend.quantize` wrote into the folder."""

    files: list[str]
    """Model files, relative to the folder (the artifact's size on disk)."""
    info: dict[str, Any] | None = None
    """What the export did (fusions applied, quantization scheme, ...): the manifest's ``export_info``,
    kept apart from the backend options the user chose (the manifest's ``options``)."""


@dataclass(frozen=True)
class QuantizeRequest:
    """Everything :meth:`Backend.quantize` gets: one object, so the interface can grow without
    breaking backends that don't use the new fields."""

    artifact: Path
    """The fp32 artifact folder to quantize (read only)."""
    out: Path
    """The empty folder to write the variant into."""
    precision: str
    options: BaseModel
    """The backend's validated :attr:`Backend.Options`."""
    manifest: Manifest
    """The manifest of ``artifact``."""
    calibration: Sequence[str] = ()
    """Texts sampled evenly across languages, for static schemes."""
    evaluation: Dataset | None = None
    """Labelled eval data; set only for the precisions in :attr:`Backend.eval_data_precisions`."""


class Runner(ABC):
    """A loaded artifact. ``predict`` never needs torch unless the backend is torch.

    A runner compiled for a fixed input shape sets :attr:`static_shape` to
    ``(batch, seq)``: :meth:`predict` then pads every batch to ``seq`` tokens
    (truncating longer input with a warning) and runs it in chunks of ``batch``
    rows, padding the last one, so :meth:`run` only ever sees that shape.
    """

    static_shape: tuple[int, int] | None = None

    def __init__(self, manifest: Manifest, encoder: Encoder | TextEncoder) -> None:
        self.manifest = manifest
        self.encoder = encoder

    @property
    def labels(self) -> list[str]:
        return self.manifest.labels

    def encode(self, texts: Sequence[str], *, pad_to: int | None = None) -> Encoded:
        return self.encoder(texts, pad_to=pad_to)

    def predict(self, batch: Sequence[str] | Mapping[str, np.ndarray]) -> np.ndarray:
        """Logits ``[batch, num_labels]`` (float32) for texts or encodings."""
        if isinstance(batch, Mapping):
            encoded = dict(batch)
        else:
            if isinstance(batch, str):
                raise TypeError("predict() takes a batch (a list of texts), not a single string")
            if len(batch) == 0:
                return np.zeros((0, len(self.labels)), dtype=np.float32)
            encoded = self.encode(batch)
        if next(iter(encoded.values())).shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        if self.static_shape is None:
            return np.asarray(self.run(encoded), dtype=np.float32)
        rows, width = self.static_shape
        encoded = fit_width(encoded, width, self.encoder.pad_id)
        n = encoded["input_ids"].shape[0]
        chunks = []
        for start in range(0, n, rows):
            chunk = fit_batch({k: v[start : start + rows] for k, v in encoded.items()}, rows)
            chunks.append(np.asarray(self.run(chunk), dtype=np.float32)[: min(rows, n - start)])
        return np.concatenate(chunks)

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Logits ``[len(texts), num_labels]`` (float32) for any number of texts, in order.

        Tokenized once and run in batches of similar token length, each padded only to its own longest
        item (:func:`~edgeptm_runtime.encoding.run_length_sorted`, as a bundle's ``Classifier.logits``):
        the one batching every edgeptm measurement uses, so what is measured is what ships."""
        if isinstance(texts, str):
            raise TypeError("logits() takes a list of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return run_length_sorted(self.encoder, texts, batch_size, self.predict, stacklevel=3)

    @abstractmethod
    def run(self, encoded: Encoded) -> np.ndarray:
        """Logits for a non-empty encoded batch."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release the session or model."""

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Backend(ABC):
    """A deployment backend. Subclass it and register an instance from a plugin.

    Class attributes:

    * ``name``: short unique name used on the command line (``--backend``).
    * ``summary``: one line for ``edgeptm backends``.
    * ``install_hint``: the command that makes it available (shown when it isn't).
    * ``Options``: a pydantic model (``extra="forbid"``) of its recipe/CLI options.
    * ``export_precision``: what :meth:`export` produces (usually ``fp32``).
    * ``eval_data_precisions``: precisions whose :meth:`quantize` needs labelled
      evaluation data (``evaluation=``), e.g. accuracy-controlled quantization.
    * ``bundle_engine``: the device runtime's engine for its artifacts (``edgeptm bundle``).
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    install_hint: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions
    export_precision: ClassVar[str] = "fp32"
    eval_data_precisions: ClassVar[frozenset[str]] = frozenset()
    bundle_engine: ClassVar[str | None] = None
    """The ``edgeptm-runtime`` engine (``onnx``, ``openvino``) that runs this backend's artifacts on a
    device; ``None`` when its artifacts can't be bundled (they need torch)."""

    @abstractmethod
    def availability(self) -> Availability:
        """Can this backend run here? Cheap: no heavy imports."""

    @abstractmethod
    def devices(self) -> list[str]:
        """Device strings this backend can run on here, e.g. ``["cpu"]``."""

    def listed_devices(self) -> list[str] | None:
        """Devices for the ``edgeptm backends`` table, which stays fast and imports no runtime.

        :meth:`devices` by default. A backend whose device query loads its runtime returns
        ``None`` here; ``edgeptm backends NAME`` then asks :meth:`devices`.
        """
        return self.devices()

    @abstractmethod
    def precisions(self) -> list[str]:
        """Precisions it can produce and run, e.g. ``["fp32", "int8"]``."""

    def tolerance(self, precision: str) -> float | None:
        """Max |Δlogit| vs the torch fp32 reference that counts as a valid artifact.

        ``None`` means the difference is reported but never fails (lossy precisions).
        """
        return 1e-4 if precision == "fp32" else None

    @abstractmethod
    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        """Write an artifact for the fine-tuned ``model_dir`` into the empty folder ``out``."""

    def quantize(self, request: QuantizeRequest) -> ExportResult:
        """Write a ``request.precision`` variant of ``request.artifact`` into the empty folder ``request.out``."""
        raise BackendError(f"backend {self.name!r} does not quantize")

    @abstractmethod
    def load(self, artifact: Path, manifest: Manifest, *, device: str = "cpu", threads: int | None = None) -> Runner:
        """Load an artifact folder into a runner."""

    def check_device(self, device: str) -> None:
        """Fail clearly when ``device`` isn't present here."""
        present = self.devices()
        if device not in present:
            raise BackendError(
                f"device {device!r} is not available to backend {self.name!r} here "
                f"(present: {', '.join(present) or 'none'})"
            )

    def check_precision(self, precision: str) -> None:
        known = self.precisions()
        if precision not in known:
            raise BackendError(
                f"backend {self.name!r} does not support precision {precision!r} (supported: {', '.join(known)})"
            )

    def parse_options(self, raw: Mapping[str, Any] | None) -> BaseModel:
        """Validate raw options against :attr:`Options`, with a one-line error."""
        from pydantic import ValidationError

        try:
            return self.Options.model_validate(dict(raw or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}" for err in exc.errors()
            )
            raise BackendError(f"backend {self.name!r} options: {problems}") from None
