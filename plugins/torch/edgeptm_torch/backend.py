"""PyTorch backends: one implementation of export, dtype variants and the runner, with the device and
dtypes as parameters. ``torch`` (CPU, the reference) is :class:`TorchBackend`; the CUDA and XLA
plugins subclass :class:`TorchModelBackend` and add only device discovery and their specifics.

torch and transformers are imported only inside methods.
"""

from __future__ import annotations

import importlib.util
import inspect
import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from edgeptm.backend import REFERENCE_BACKEND, Availability, Backend, ExportResult, QuantizeRequest, Runner
from edgeptm.encoding import Encoded, Encoder
from edgeptm.errors import BackendError
from edgeptm.manifest import WEIGHT_FILES, Manifest, copy_tokenizer

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
"""edgeptm precision -> torch dtype name."""
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def gpus_present() -> int:
    """NVIDIA GPUs the driver exposes (``/proc/driver/nvidia/gpus``), without CUDA initialisation."""
    return sum(1 for _ in NVIDIA_GPUS.iterdir()) if NVIDIA_GPUS.is_dir() else 0


def missing_modules(*modules: str) -> str | None:
    """The first of ``modules`` that is not installed (checked without importing it)."""
    return next((m for m in modules if importlib.util.find_spec(m) is None), None)


class TorchModelBackend(Backend):
    """A transformers classifier held in a torch dtype on a torch device.

    Subclasses set :attr:`default_device` and :attr:`dtypes` and may override
    :meth:`device_availability`, :meth:`devices` and :meth:`make_runner`.
    """

    default_device: ClassVar[str] = "cpu"
    dtypes: ClassVar[dict[str, str]] = DTYPES
    required_modules: ClassVar[tuple[str, ...]] = ("torch", "transformers")

    def availability(self) -> Availability:
        missing = missing_modules(*self.required_modules)
        if missing:
            return Availability(False, f"{missing} is not installed")
        return self.device_availability()

    def device_availability(self) -> Availability:
        """Availability once the modules are installed: the device's own conditions."""
        return Availability(True, f"{' and '.join(self.required_modules)} are installed")

    def precisions(self) -> list[str]:
        return list(self.dtypes)

    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        files = [n for n in WEIGHT_FILES if (Path(model_dir) / n).is_file()]
        if not files:
            raise BackendError(f"{model_dir}: no model weights ({' or '.join(WEIGHT_FILES)})")
        for name in files:
            shutil.copy2(Path(model_dir) / name, out / name)
        copy_tokenizer(model_dir, out)
        return ExportResult(files)

    def quantize(self, request: QuantizeRequest) -> ExportResult:
        """A dtype variant: the weights cast and saved in ``request.precision``."""
        import torch
        from transformers import AutoModelForSequenceClassification

        if request.precision == request.manifest.precision:
            raise BackendError(
                f"{request.artifact} is already {request.precision}; "
                f"quantize to {' or '.join(p for p in self.dtypes if p != request.precision)}"
            )
        dtype = self.dtypes[request.precision]
        model = AutoModelForSequenceClassification.from_pretrained(request.artifact, dtype=getattr(torch, dtype))
        model.save_pretrained(request.out)
        copy_tokenizer(request.artifact, request.out)
        return ExportResult(["model.safetensors"], {"dtype": dtype})

    def load(
        self, artifact: Path, manifest: Manifest, *, device: str | None = None, threads: int | None = None
    ) -> Runner:
        self.check_precision(manifest.precision)
        device = device or self.default_device
        self.check_device(device)
        return self.make_runner(Path(artifact), manifest, device=device, threads=threads)

    def make_runner(self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None) -> Runner:
        return TorchRunner(artifact, manifest, device=device, threads=threads, dtype=self.dtypes[manifest.precision])


class TorchRunner(Runner):
    """The model in its dtype on one torch device."""

    inference_mode: ClassVar[bool] = True
    """``torch.inference_mode`` around the forward pass; ``no_grad`` when False (XLA)."""

    def __init__(
        self,
        artifact: Path,
        manifest: Manifest,
        *,
        device: Any,
        threads: int | None,
        dtype: str,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        if threads:
            torch.set_num_threads(threads)
        model = AutoModelForSequenceClassification.from_pretrained(
            artifact, dtype=getattr(torch, dtype), **(model_kwargs or {})
        )
        self.device = torch.device(device) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.inputs = set(inspect.signature(self.model.forward).parameters)
        self._torch = torch

    def run(self, encoded: Encoded) -> np.ndarray:
        return self.forward(encoded)

    def forward(self, encoded: Encoded) -> np.ndarray:
        torch = self._torch
        feed = {k: torch.from_numpy(v).to(self.device) for k, v in encoded.items() if k in self.inputs}
        with torch.inference_mode() if self.inference_mode else torch.no_grad():
            logits = self.model(**feed).logits
        return logits.float().cpu().numpy()


class TorchBackend(TorchModelBackend):
    name = REFERENCE_BACKEND
    summary = "eager PyTorch (transformers); the fp32 reference"
    install_hint = "pip install 'edgeptm[train]' edgeptm-torch"

    def devices(self) -> list[str]:
        return ["cpu", "cuda"] if gpus_present() else ["cpu"]
