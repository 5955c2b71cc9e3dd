"""CUDA backend: torch on an NVIDIA GPU. Availability is decided without importing torch.

It never falls back to CPU: without a GPU (or with a CPU-only torch) it is unavailable,
with the reason. onnxruntime's CUDA and TensorRT execution providers are the ``onnx``
backend's ``cuda``/``tensorrt`` devices when onnxruntime-gpu is installed.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from edgeptm.artifacts import WEIGHT_FILES, copy_tokenizer
from edgeptm.backend import Availability, Backend, ExportResult, Runner
from edgeptm.encoding import Encoded, Encoder
from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest

DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def gpus_present() -> int:
    """NVIDIA GPUs the driver exposes (``/proc/driver/nvidia/gpus``), without CUDA initialisation."""
    return sum(1 for _ in NVIDIA_GPUS.iterdir()) if NVIDIA_GPUS.is_dir() else 0


def torch_cuda_build() -> str | None:
    """The CUDA version torch was built for, read from ``torch/version.py`` (``None``: a CPU build)."""
    spec = importlib.util.find_spec("torch")
    version = Path(spec.origin).parent / "version.py" if spec and spec.origin else None
    if version is None or not version.is_file():
        return None
    found = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", version.read_text(), re.MULTILINE)
    return found.group(1) if found else None


class CudaBackend(Backend):
    name = "cuda"
    summary = "PyTorch on NVIDIA GPUs: fp32, fp16, bf16 (compute capability >= 8.0)"
    install_hint = "pip install edgeptm-cuda (with a CUDA build of torch)"

    def availability(self) -> Availability:
        for module in ("torch", "transformers"):
            if importlib.util.find_spec(module) is None:
                return Availability(False, f"{module} is not installed")
        if not gpus_present():
            return Availability(
                False, f"no NVIDIA GPU ({NVIDIA_GPUS} is absent or empty)", hint="run on a machine with an NVIDIA GPU and driver"
            )
        if torch_cuda_build() is None:
            return Availability(
                False, "torch is a CPU-only build", hint="install a CUDA build of torch (pip install torch from the CUDA index)"
            )
        return Availability(True, f"torch built for CUDA {torch_cuda_build()}, {gpus_present()} GPU(s)")

    def devices(self) -> list[str]:
        import torch

        if not torch.cuda.is_available():
            return []
        return ["cuda", *[f"cuda:{i}" for i in range(torch.cuda.device_count())]]

    def precisions(self) -> list[str]:
        capability = compute_capability() if gpus_present() else None
        if capability is not None and capability < (8, 0):
            return ["fp32", "fp16"]  # bf16 needs Ampere or newer
        return list(DTYPES)

    def tolerance(self, precision: str) -> float | None:
        return 1e-4 if precision == "fp32" else None

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
            raise BackendError("precision fp32 is what `edgeptm export` makes; quantize to fp16 or bf16")
        model = AutoModelForSequenceClassification.from_pretrained(artifact, dtype=getattr(torch, DTYPES[precision]))
        model.save_pretrained(out)
        copy_tokenizer(artifact, out)
        return ExportResult(["model.safetensors"], {"dtype": DTYPES[precision]})

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "cuda", threads: int | None = None) -> Runner:
        self.check_precision(manifest.precision)
        self.check_device(device)
        return CudaRunner(Path(artifact), manifest, device=device)


@cache
def compute_capability() -> tuple[int, int] | None:
    """The first GPU's compute capability from ``nvidia-smi`` (no torch import); ``None`` if it can't tell."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split()
        major, minor = out[0].split(".")
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


class CudaRunner(Runner):
    """The model in its precision on one GPU; TF32 off so fp32 stays fp32."""

    def __init__(self, artifact: Path, manifest: Manifest, *, device: str) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        dtype = getattr(torch, DTYPES[manifest.precision])
        self.model = AutoModelForSequenceClassification.from_pretrained(artifact, dtype=dtype).to(device).eval()
        self.device = torch.device(device)
        self.inputs = set(inspect.signature(self.model.forward).parameters)
        self._torch = torch

    def run(self, encoded: Encoded) -> np.ndarray:
        torch = self._torch
        feed = {k: torch.from_numpy(v).to(self.device, non_blocking=True) for k, v in encoded.items() if k in self.inputs}
        with torch.inference_mode():
            logits = self.model(**feed).logits
        return logits.float().cpu().numpy()

    def close(self) -> None:
        self.model = None
        self._torch.cuda.empty_cache()
