"""XLA backend: the fine-tuned model on an XLA device. torch and torch_xla are imported inside methods.

``PJRT_DEVICE`` picks the device (TPU, CPU, CUDA), as in torch_xla itself. Inputs are
padded to a few sequence lengths and batch sizes, so XLA compiles a handful of graphs
(reported by :meth:`XlaRunner.stats`) rather than one per batch.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgeptm.artifacts import WEIGHT_FILES, copy_tokenizer
from edgeptm.backend import Availability, Backend, ExportResult, Runner
from edgeptm.encoding import Encoded, Encoder, fit_batch, fit_width
from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest
from edgeptm.xla import bucket, compile_counts, seq_buckets

DTYPES = {"fp32": "float32", "bf16": "bfloat16"}


class XlaOptions(BaseModel):
    """Options of the ``xla`` backend."""

    model_config = ConfigDict(extra="forbid")

    seq_buckets: list[int] | None = Field(None, description="sequence lengths to pad to (default: 16, 32, ... max_length)")
    batch_buckets: list[int] = Field([1, 2, 4, 8, 16, 32, 64], min_length=1, description="batch sizes to pad to")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


class XlaBackend(Backend):
    name = "xla"
    summary = "PyTorch/XLA on TPU (PJRT_DEVICE=TPU) or the XLA CPU device, bucketed shapes"
    install_hint = "pip install edgeptm-xla torch-xla==2.9.0 torch==2.9.0 (its own environment: `make test-xla`)"
    Options = XlaOptions

    def availability(self) -> Availability:
        xla, torch = _version("torch-xla") or _version("torch_xla"), _version("torch")
        if importlib.util.find_spec("torch_xla") is None or xla is None:
            return Availability(False, "torch-xla is not installed")
        if torch is None or torch.split("+")[0].rsplit(".", 1)[0] != xla.rsplit(".", 1)[0]:
            return Availability(False, f"torch-xla {xla} needs torch {xla.rsplit('.', 1)[0]}.x, found torch {torch}")
        device = os.environ.get("PJRT_DEVICE")
        where = f"PJRT_DEVICE={device}" if device else "PJRT_DEVICE unset: TPU if present, else CPU"
        return Availability(True, f"torch-xla {xla} with torch {torch}; {where}")

    def devices(self) -> list[str]:
        import torch_xla.runtime as xr

        return ["xla", *[f"xla:{i}" for i in range(xr.addressable_runtime_device_count())]]

    def precisions(self) -> list[str]:
        return list(DTYPES)

    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        files = [n for n in WEIGHT_FILES if (Path(model_dir) / n).is_file()]
        if not files:
            raise BackendError(f"{model_dir}: no model weights ({' or '.join(WEIGHT_FILES)})")
        for name in files:
            shutil.copy2(Path(model_dir) / name, out / name)
        copy_tokenizer(model_dir, out)
        return ExportResult(files)

    def quantize(
        self,
        artifact: Path,
        out: Path,
        *,
        precision: str,
        options: BaseModel,
        calibration: Sequence[str],
        manifest: Manifest,
    ) -> ExportResult:
        import torch
        from transformers import AutoModelForSequenceClassification

        if precision == "fp32":
            raise BackendError("precision fp32 is what `edgeptm export` makes; quantize to bf16")
        model = AutoModelForSequenceClassification.from_pretrained(artifact, dtype=getattr(torch, DTYPES[precision]))
        model.save_pretrained(out)
        copy_tokenizer(artifact, out)
        return ExportResult(["model.safetensors"], {"dtype": DTYPES[precision]})

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "xla", threads: int | None = None) -> Runner:
        self.check_precision(manifest.precision)
        self.check_device(device)
        options = XlaOptions.model_validate({k: v for k, v in manifest.options.items() if k in XlaOptions.model_fields})
        return XlaRunner(Path(artifact), manifest, device=device, options=options)


class XlaRunner(Runner):
    """The model on an XLA device; every batch padded to a (batch, sequence) bucket."""

    def __init__(self, artifact: Path, manifest: Manifest, *, device: str, options: XlaOptions) -> None:
        import torch
        import torch_xla
        from transformers import AutoModelForSequenceClassification

        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        self.device = torch_xla.device() if device == "xla" else torch.device(device)
        dtype = getattr(torch, DTYPES[manifest.precision])
        # Eager attention: sdpa makes XLA compile an extra graph per shape.
        model = AutoModelForSequenceClassification.from_pretrained(artifact, dtype=dtype, attn_implementation="eager")
        self.model = model.to(self.device).eval()
        self.seq_buckets = sorted(b for b in (options.seq_buckets or seq_buckets(manifest.max_length)) if b <= manifest.max_length)
        if not self.seq_buckets or self.seq_buckets[-1] < manifest.max_length:
            self.seq_buckets.append(manifest.max_length)
        self.batch_buckets = sorted(options.batch_buckets)
        self.shapes: set[tuple[int, int]] = set()
        self._torch = torch

    def run(self, encoded: Encoded) -> np.ndarray:
        rows, width = encoded["input_ids"].shape
        width = bucket(width, self.seq_buckets)
        encoded = fit_width(encoded, width, self.encoder.pad_id)
        largest = self.batch_buckets[-1]
        parts = []
        for start in range(0, rows, largest):
            chunk = {k: v[start : start + largest] for k, v in encoded.items()}
            n = chunk["input_ids"].shape[0]
            padded = fit_batch(chunk, bucket(n, self.batch_buckets))
            parts.append(self._forward(padded)[:n])
        return np.concatenate(parts)

    def _forward(self, encoded: Encoded) -> np.ndarray:
        torch = self._torch
        self.shapes.add(tuple(encoded["input_ids"].shape))
        feed = {k: torch.from_numpy(v).to(self.device) for k, v in encoded.items()}
        with torch.no_grad():
            logits = self.model(**feed).logits
        return logits.float().cpu().numpy()

    def stats(self) -> dict[str, object]:
        """Distinct (batch, sequence) shapes run and XLA compile counts in this process."""
        return {"shapes": sorted(self.shapes), **compile_counts()}
