"""Eager PyTorch backend. torch and transformers are imported only inside methods."""

from __future__ import annotations

import importlib.util
import inspect
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from edgeptm.artifacts import WEIGHT_FILES, copy_tokenizer
from edgeptm.backend import Availability, Backend, ExportResult, Runner
from edgeptm.encoding import Encoded, Encoder
from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}


def _cuda_present() -> bool:
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


class TorchBackend(Backend):
    name = "torch"
    summary = "eager PyTorch (transformers); the fp32 reference"
    install_hint = "pip install 'edgeptm[train]' edgeptm-torch"

    def availability(self) -> Availability:
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:
                return Availability(False, f"{module} is not installed")
        return Availability(True, "torch and transformers are installed")

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if _cuda_present() else ["cpu"]

    def precisions(self) -> list[str]:
        return list(DTYPES)

    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        copy_tokenizer(model_dir, out)
        files = []
        for name in WEIGHT_FILES:
            if (Path(model_dir) / name).is_file():
                shutil.copy2(Path(model_dir) / name, out / name)
                files.append(name)
        if not files:
            raise BackendError(f"{model_dir}: no model weights ({' or '.join(WEIGHT_FILES)})")
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

        self.check_precision(precision)
        model = AutoModelForSequenceClassification.from_pretrained(artifact, dtype=getattr(torch, DTYPES[precision]))
        model.save_pretrained(out)
        copy_tokenizer(artifact, out)
        return ExportResult(["model.safetensors"])

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "cpu", threads: int | None = None) -> Runner:
        self.check_device(device)
        self.check_precision(manifest.precision)
        return TorchRunner(artifact, manifest, device=device, threads=threads)


class TorchRunner(Runner):
    def __init__(self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        if threads:
            torch.set_num_threads(threads)
        dtype = getattr(torch, DTYPES[manifest.precision])
        self.model = AutoModelForSequenceClassification.from_pretrained(artifact, dtype=dtype).to(device).eval()
        self.device = device
        self.inputs = set(inspect.signature(self.model.forward).parameters)
        self._torch = torch

    def run(self, encoded: Encoded) -> np.ndarray:
        torch = self._torch
        feed = {k: torch.from_numpy(v).to(self.device) for k, v in encoded.items() if k in self.inputs}
        with torch.inference_mode():
            logits = self.model(**feed).logits
        return logits.float().cpu().numpy()
