"""The ``numpy`` backend: export writes the weights as ``.npz``; the runner is a numpy BERT forward."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from edgeptm.backend import Availability, Backend, ExportResult, QuantizeRequest, Runner
from edgeptm.encoding import Encoded, Encoder
from edgeptm.errors import BackendError, ModelError
from edgeptm.manifest import Manifest, copy_tokenizer
from edgeptm_numpy.bert import ACTIVATIONS, forward

WEIGHTS = "weights.npz"
DTYPES = {"fp32": np.float32, "fp16": np.float16}


class NumpyBackend(Backend):
    name = "numpy"
    summary = "example plugin: BERT classifiers as .npz weights, run with numpy alone"
    install_hint = "pip install edgeptm-numpy"

    def availability(self) -> Availability:
        if importlib.util.find_spec("safetensors") is None:
            return Availability(False, "safetensors is not installed")
        return Availability(True, "numpy and safetensors are installed")

    def devices(self) -> list[str]:
        return ["cpu"]

    def precisions(self) -> list[str]:
        return list(DTYPES)

    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        from safetensors.numpy import load_file

        config = json.loads((Path(model_dir) / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") not in ACTIVATIONS:
            raise BackendError(
                f"{model_dir}: the numpy backend runs BERT classifiers with {'/'.join(ACTIVATIONS)} only"
            )
        weights = Path(model_dir) / "model.safetensors"
        if not weights.is_file():
            raise BackendError(f"{model_dir}: the numpy backend needs model.safetensors")
        np.savez(out / WEIGHTS, **load_file(str(weights)))
        copy_tokenizer(model_dir, out)
        return ExportResult([WEIGHTS])

    def quantize(self, request: QuantizeRequest) -> ExportResult:
        if request.precision == request.manifest.precision:
            raise BackendError(f"{request.artifact} is already {request.precision}")
        with np.load(request.artifact / WEIGHTS) as weights:
            np.savez(request.out / WEIGHTS, **{k: v.astype(DTYPES[request.precision]) for k, v in weights.items()})
        copy_tokenizer(request.artifact, request.out)
        return ExportResult([WEIGHTS])

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "cpu", threads: int | None = None) -> Runner:
        self.check_device(device)
        self.check_precision(manifest.precision)
        return NumpyRunner(Path(artifact), manifest)


class NumpyRunner(Runner):
    """Weights kept in their stored dtype, computed in float32."""

    def __init__(self, artifact: Path, manifest: Manifest) -> None:
        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        if not (artifact / WEIGHTS).is_file():
            raise ModelError(f"{artifact}: no {WEIGHTS}")
        with np.load(artifact / WEIGHTS) as weights:
            self.weights = dict(weights.items())
        self.config = json.loads((artifact / "config.json").read_text())

    def run(self, encoded: Encoded) -> np.ndarray:
        return forward(self.weights, self.config, encoded)
