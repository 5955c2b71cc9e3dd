"""The OpenVINO runner: needs only openvino and tokenizers, never torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeptm.backend import Runner
from edgeptm.encoding import Encoded, Encoder
from edgeptm.errors import ModelError
from edgeptm.manifest import Manifest
from edgeptm_openvino.devices import device_family
from edgeptm_openvino.options import MODEL_XML, OpenVinoOptions

STATIC_FAMILIES = {"NPU"}
"""Devices that compile only static shapes."""
PRECISION_HINT_FAMILIES = {"CPU", "GPU"}


class OpenVinoRunner(Runner):
    """A compiled OpenVINO model. THROUGHPUT/CUMULATIVE_THROUGHPUT runs a batch as parallel requests."""

    def __init__(
        self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None, options: OpenVinoOptions
    ) -> None:
        import openvino as ov

        super().__init__(manifest, Encoder.from_dir(artifact, manifest.max_length))
        path = artifact / MODEL_XML
        if not path.is_file():
            raise ModelError(f"{artifact}: no {MODEL_XML}")
        core = ov.Core()
        if options.cache_dir:
            core.set_property({"CACHE_DIR": str(Path(options.cache_dir).expanduser())})
        model = core.read_model(path)
        self.inputs = [port.get_any_name() for port in model.inputs]
        family = device_family(device)
        if options.static_shape or family in STATIC_FAMILIES:
            self.static_shape = (options.batch_size, manifest.max_length)
            model.reshape({name: ov.PartialShape(list(self.static_shape)) for name in self.inputs})
        config: dict[str, str] = {"PERFORMANCE_HINT": options.performance_hint}
        if family in PRECISION_HINT_FAMILIES:
            config["INFERENCE_PRECISION_HINT"] = options.inference_precision or "f32"
        if threads and family == "CPU":
            config["INFERENCE_NUM_THREADS"] = str(threads)
        self.device = device
        self.compiled = core.compile_model(model, device, config)
        self.output = next((o for o in self.compiled.outputs if "logits" in o.get_names()), self.compiled.output(0))
        self.parallel = options.performance_hint != "LATENCY"
        if self.parallel:
            self.queue = ov.AsyncInferQueue(self.compiled)
        else:
            self.request = self.compiled.create_infer_request()

    def run(self, encoded: Encoded) -> np.ndarray:
        missing = [name for name in self.inputs if name not in encoded]
        if missing:
            raise ModelError(f"model input(s) {', '.join(missing)} missing from the encoded batch")
        feed = {name: encoded[name] for name in self.inputs}
        rows = feed[self.inputs[0]].shape[0]
        if not self.parallel or self.static_shape is not None or rows == 1:
            request = self.request if not self.parallel else self.queue[0]
            return request.infer(feed)[self.output].copy()
        parts = min(len(self.queue), rows)
        bounds = np.linspace(0, rows, parts + 1).astype(int)
        results: list[np.ndarray | None] = [None] * parts

        def done(request, index: int) -> None:
            results[index] = request.get_tensor(self.output).data.copy()

        self.queue.set_callback(done)
        for i in range(parts):
            self.queue.start_async({k: v[bounds[i] : bounds[i + 1]] for k, v in feed.items()}, userdata=i)
        self.queue.wait_all()
        return np.concatenate(results)

    def close(self) -> None:
        self.queue = self.request = self.compiled = None
