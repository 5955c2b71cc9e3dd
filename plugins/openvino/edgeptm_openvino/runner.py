"""The OpenVINO runner: the device runtime's engine (``edgeptm_runtime.engines.OpenVinoEngine``), so what
is measured here is what a bundle runs on the device. Needs only openvino and tokenizers, never torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeptm.backend import Runner
from edgeptm.encoding import Encoded, Encoder, runtime_errors
from edgeptm.errors import ModelError
from edgeptm.fsutil import cache_path
from edgeptm.manifest import Manifest
from edgeptm_openvino.devices import device_family
from edgeptm_openvino.options import MODEL_XML, OpenVinoOptions

STATIC_FAMILIES = {"NPU"}
"""Devices that compile only static shapes."""


class OpenVinoRunner(Runner):
    """A compiled OpenVINO model. THROUGHPUT/CUMULATIVE_THROUGHPUT runs a batch as parallel requests."""

    def __init__(
        self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None, options: OpenVinoOptions
    ) -> None:
        from edgeptm_runtime.engines import OpenVinoEngine

        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        path = artifact / MODEL_XML
        if not path.is_file():
            raise ModelError(f"{artifact}: no {MODEL_XML}")
        static = options.static_shape or device_family(device) in STATIC_FAMILIES
        config: dict[str, str] = {"PERFORMANCE_HINT": options.performance_hint}
        if options.inference_precision:
            config["INFERENCE_PRECISION_HINT"] = options.inference_precision
        with runtime_errors():
            self.engine = OpenVinoEngine(
                path,
                device=device,
                threads=threads,
                config=config,
                cache_dir=cache_path(options.cache_dir, "openvino") if options.cache_dir else None,
                static_shape=(options.batch_size, manifest.max_length) if static else None,
            )
        self.static_shape = self.engine.static_shape
        self.inputs = self.engine.input_names
        self.device = device
        self.compiled = self.engine.compiled

    def run(self, encoded: Encoded) -> np.ndarray:
        with runtime_errors():
            return self.engine.run(encoded)

    def close(self) -> None:
        self.engine.close()
        self.compiled = None
