"""CUDA backend: the shared torch backend on an NVIDIA GPU. Availability is decided without importing torch.

It never falls back to CPU: without a GPU (or with a CPU-only torch) it is unavailable,
with the reason. onnxruntime's CUDA and TensorRT execution providers are the ``onnx``
backend's ``cuda``/``tensorrt`` devices when onnxruntime-gpu is installed.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from functools import cache
from pathlib import Path

from edgeptm.backend import Availability, Runner
from edgeptm.manifest import Manifest
from edgeptm_torch.backend import DTYPES, NVIDIA_GPUS, TorchModelBackend, TorchRunner, gpus_present


def torch_cuda_build() -> str | None:
    """The CUDA version torch was built for, read from ``torch/version.py`` (``None``: a CPU build)."""
    spec = importlib.util.find_spec("torch")
    version = Path(spec.origin).parent / "version.py" if spec and spec.origin else None
    if version is None or not version.is_file():
        return None
    found = re.search(r"^cuda\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", version.read_text(), re.MULTILINE)
    return found.group(1) if found else None


@cache
def compute_capability() -> tuple[int, int] | None:
    """The first GPU's compute capability from ``nvidia-smi`` (no torch import); ``None`` if it can't tell."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split()
        major, minor = out[0].split(".")
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


class CudaBackend(TorchModelBackend):
    name = "cuda"
    summary = "PyTorch on NVIDIA GPUs: fp32, fp16, bf16 (compute capability >= 8.0)"
    install_hint = "pip install edgeptm-cuda (with a CUDA build of torch)"
    default_device = "cuda"

    def device_availability(self) -> Availability:
        if not gpus_present():
            return Availability(
                False,
                f"no NVIDIA GPU ({NVIDIA_GPUS} is absent or empty)",
                hint="run on a machine with an NVIDIA GPU and driver",
            )
        if torch_cuda_build() is None:
            return Availability(
                False,
                "torch is a CPU-only build",
                hint="install a CUDA build of torch (pip install torch from the CUDA index)",
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

    def make_runner(self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None) -> Runner:
        return CudaRunner(artifact, manifest, device=device, threads=None, dtype=self.dtypes[manifest.precision])


class CudaRunner(TorchRunner):
    """The shared torch runner with TF32 off, so fp32 stays fp32, and the GPU cache freed on close."""

    def __init__(self, *args, **kwargs) -> None:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        super().__init__(*args, **kwargs)

    def close(self) -> None:
        self.model = None
        self._torch.cuda.empty_cache()
