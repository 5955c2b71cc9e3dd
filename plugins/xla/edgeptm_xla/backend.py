"""XLA backend: the fine-tuned model on an XLA device. torch and torch_xla are imported inside methods.

``PJRT_DEVICE`` picks the device (TPU, CPU, CUDA), as in torch_xla itself. Inputs are
padded to a few sequence lengths and batch sizes, so XLA compiles a handful of graphs
(reported by :meth:`XlaRunner.stats`) rather than one per batch.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from edgeptm.backend import Availability, Runner
from edgeptm.encoding import Encoded, fit_batch, fit_width
from edgeptm.manifest import Manifest
from edgeptm.train.xla import bucket, compile_counts, seq_buckets
from edgeptm_torch.backend import TorchModelBackend, TorchRunner


class XlaOptions(BaseModel):
    """Options of the ``xla`` backend."""

    model_config = ConfigDict(extra="forbid")

    seq_buckets: list[int] | None = Field(
        None, description="sequence lengths to pad to (default: 16, 32, ... max_length)"
    )
    batch_buckets: list[int] = Field([1, 2, 4, 8, 16, 32, 64], min_length=1, description="batch sizes to pad to")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


class XlaBackend(TorchModelBackend):
    name = "xla"
    summary = "PyTorch/XLA on TPU (PJRT_DEVICE=TPU) or the XLA CPU device, bucketed shapes"
    install_hint = "pip install edgeptm-xla torch-xla==2.9.0 torch==2.9.0 (its own environment: `make test-xla`)"
    Options = XlaOptions
    default_device = "xla"
    dtypes = {"fp32": "float32", "bf16": "bfloat16"}
    required_modules = ("torch_xla", "transformers")

    def device_availability(self) -> Availability:
        xla, torch = _version("torch-xla") or _version("torch_xla"), _version("torch")
        if xla is None:
            return Availability(False, "torch-xla is not installed")
        if torch is None or torch.split("+")[0].rsplit(".", 1)[0] != xla.rsplit(".", 1)[0]:
            return Availability(False, f"torch-xla {xla} needs torch {xla.rsplit('.', 1)[0]}.x, found torch {torch}")
        device = os.environ.get("PJRT_DEVICE")
        where = f"PJRT_DEVICE={device}" if device else "PJRT_DEVICE unset: TPU if present, else CPU"
        return Availability(True, f"torch-xla {xla} with torch {torch}; {where}")

    def devices(self) -> list[str]:
        import torch_xla.runtime as xr

        return ["xla", *[f"xla:{i}" for i in range(xr.addressable_runtime_device_count())]]

    def make_runner(self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None) -> Runner:
        options = XlaOptions.model_validate({k: v for k, v in manifest.options.items() if k in XlaOptions.model_fields})
        return XlaRunner(artifact, manifest, device=device, options=options, dtype=self.dtypes[manifest.precision])


class XlaRunner(TorchRunner):
    """The shared torch runner on an XLA device; every batch padded to a (batch, sequence) bucket."""

    inference_mode = False

    def __init__(self, artifact: Path, manifest: Manifest, *, device: str, options: XlaOptions, dtype: str) -> None:
        import torch
        import torch_xla

        target = torch_xla.device() if device == "xla" else torch.device(device)
        # Eager attention: sdpa makes XLA compile an extra graph per shape.
        super().__init__(
            artifact, manifest, device=target, threads=None, dtype=dtype, model_kwargs={"attn_implementation": "eager"}
        )
        self.seq_buckets = sorted(
            b for b in (options.seq_buckets or seq_buckets(manifest.max_length)) if b <= manifest.max_length
        )
        if not self.seq_buckets or self.seq_buckets[-1] < manifest.max_length:
            self.seq_buckets.append(manifest.max_length)
        self.batch_buckets = sorted(options.batch_buckets)
        self.shapes: set[tuple[int, int]] = set()

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
            self.shapes.add(tuple(padded["input_ids"].shape))
            parts.append(self.forward(padded)[:n])
        return np.concatenate(parts)

    def stats(self) -> dict[str, object]:
        """Distinct (batch, sequence) shapes run and XLA compile counts in this process."""
        return {"shapes": sorted(self.shapes), **compile_counts()}
