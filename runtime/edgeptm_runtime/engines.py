"""Inference engines: encoded batch in, logits out. The engine library is imported only when one is made.

The edgeptm core runs its ONNX and OpenVINO measurements through these same classes on plain
model folders, so they take a model path and settings, not a bundle.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from edgeptm_runtime.encoding import Encoded, fit_batch, fit_width
from edgeptm_runtime.errors import EngineError, UnsupportedOperatorsError, one_line
from edgeptm_runtime.modelinfo import DEFAULT_DOMAIN

OUTPUT_NAME = "logits"
"""The output an engine fetches; a model without one gives its first output."""
STANDARD_ONNX_DOMAINS = frozenset({DEFAULT_DOMAIN})
"""What OpenVINO's ONNX reader is relied on for: the standard operator set only."""
PRECISION_HINT_FAMILIES = frozenset({"CPU", "GPU"})
PARALLEL_HINTS = frozenset({"THROUGHPUT", "CUMULATIVE_THROUGHPUT"})


def _import(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EngineError(
            f"engine {extra} needs {module}, which is not installed; pip install 'edgeptm-runtime[{extra}]'"
        ) from None


class Engine(ABC):
    """A loaded model. Subclasses implement :meth:`run`; callers use :meth:`logits`.

    An engine compiled for a fixed input shape sets :attr:`static_shape` to ``(batch, seq)``:
    :meth:`logits` then pads every batch to ``seq`` tokens (truncating longer input with a
    warning) and runs it in chunks of ``batch`` rows, so :meth:`run` only ever sees that shape.
    """

    name: ClassVar[str]
    model_path: Path
    input_names: list[str]
    """The inputs the model declares, in its order: only these are fed."""
    static_shape: tuple[int, int] | None = None

    @abstractmethod
    def run(self, encoded: Encoded) -> np.ndarray:
        """Raw logits ``[batch, num_labels]`` for a non-empty batch in the model's own shape."""

    def feed(self, encoded: Encoded) -> dict[str, np.ndarray]:
        """The model's declared inputs taken from ``encoded`` (extra arrays are left out)."""
        missing = [name for name in self.input_names if name not in encoded]
        if missing:
            raise EngineError(
                f"{self.model_path.name} needs input(s) {', '.join(missing)}, which the encoder does not produce"
            )
        return {name: encoded[name] for name in self.input_names}

    def logits(self, encoded: Encoded, *, pad_id: int = 0) -> np.ndarray:
        """Float32 logits ``[batch, num_labels]`` for a non-empty batch of any width (``pad_id`` pads static shapes)."""
        if self.static_shape is None:
            return np.asarray(self.run(encoded), dtype=np.float32)
        rows, width = self.static_shape
        encoded = fit_width(encoded, width, pad_id)
        n = encoded["input_ids"].shape[0]
        chunks = []
        for start in range(0, n, rows):
            chunk = fit_batch({k: v[start : start + rows] for k, v in encoded.items()}, rows)
            chunks.append(np.asarray(self.run(chunk), dtype=np.float32)[: min(rows, n - start)])
        return np.concatenate(chunks)

    def close(self) -> None:  # noqa: B027 - optional for subclasses: most engines just drop references
        """Release the session or compiled model."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OnnxEngine(Engine):
    """An onnxruntime session: intra-op ``threads`` when given, one inter-op thread, sequential, all optimizations.

    ``providers`` defaults to the CPU provider; the core passes CUDA/TensorRT ones on GPU machines.
    ``session.run`` is thread-safe, so one engine may serve several threads.
    """

    name = "onnx"

    def __init__(self, model_path: Path, *, threads: int | None = None, providers: list[str] | None = None) -> None:
        ort = _import("onnxruntime", "onnx")
        self.model_path = path = Path(model_path)
        if not path.is_file():
            raise EngineError(f"{path}: no such ONNX model file")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=list(providers or ["CPUExecutionProvider"]))
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            raise EngineError(f"{path.name}: onnxruntime {ort.__version__} cannot load it: {one_line(exc)}") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_name = OUTPUT_NAME if OUTPUT_NAME in outputs else outputs[0]

    def run(self, encoded: Encoded) -> np.ndarray:
        try:
            (logits,) = self.session.run([self.output_name], self.feed(encoded))
        except EngineError:
            raise
        except Exception as exc:
            raise EngineError(f"{self.model_path.name}: onnxruntime failed: {one_line(exc)}") from None
        return logits

    def close(self) -> None:
        self.session = None


class OpenVinoEngine(Engine):
    """An OpenVINO compiled model, from an IR ``.xml`` (weights in the ``.bin`` beside it) or an ``.onnx`` file.

    Defaults: ``PERFORMANCE_HINT`` LATENCY and, on CPU/GPU, ``INFERENCE_PRECISION_HINT`` f32 (so a
    machine with bf16 units computes what was measured); ``threads`` sets ``INFERENCE_NUM_THREADS``
    on CPU; ``config`` overrides any of them. A THROUGHPUT hint runs a batch as parallel requests.
    ``static_shape`` compiles for ``(batch, seq)`` (devices such as NPUs need it); ``cache_dir``
    keeps compiled blobs so later loads are fast. Calls are serialized (an infer request is not
    thread-safe).
    """

    name = "openvino"

    def __init__(
        self,
        model_path: Path,
        *,
        device: str = "CPU",
        threads: int | None = None,
        config: Mapping[str, Any] | None = None,
        cache_dir: Path | None = None,
        static_shape: tuple[int, int] | None = None,
    ) -> None:
        ov = _import("openvino", "openvino")
        self.model_path = path = Path(model_path)
        if not path.is_file():
            raise EngineError(f"{path}: no such OpenVINO model file")
        core = ov.Core()
        if cache_dir:
            core.set_property({"CACHE_DIR": str(Path(cache_dir).expanduser())})
        family = device.split(":")[0].split(".")[0].upper()
        settings: dict[str, Any] = {"PERFORMANCE_HINT": "LATENCY"}
        if family in PRECISION_HINT_FAMILIES:
            settings["INFERENCE_PRECISION_HINT"] = "f32"
        if threads and family == "CPU":
            settings["INFERENCE_NUM_THREADS"] = int(threads)
        settings.update(config or {})
        try:
            model = core.read_model(str(path))
            self.input_names = [port.get_any_name() for port in model.inputs]
            if static_shape is not None:
                self.static_shape = (int(static_shape[0]), int(static_shape[1]))
                model.reshape({name: ov.PartialShape(list(self.static_shape)) for name in self.input_names})
            self.compiled = core.compile_model(model, device, settings)
        except Exception as exc:  # openvino raises RuntimeError with multi-line C++ context
            raise EngineError(
                f"{path.name}: OpenVINO {ov.__version__.split('-')[0]} cannot load it on {device}: {one_line(exc)}"
            ) from None
        self.device = device
        self.output = next((o for o in self.compiled.outputs if OUTPUT_NAME in o.get_names()), self.compiled.output(0))
        self.parallel = str(settings.get("PERFORMANCE_HINT", "")).upper() in PARALLEL_HINTS
        self._lock = threading.Lock()
        count = int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")) if self.parallel else 1
        self.requests = [self.compiled.create_infer_request() for _ in range(max(1, count))]

    def run(self, encoded: Encoded) -> np.ndarray:
        feed = self.feed(encoded)
        try:
            with self._lock:
                return self._infer(feed)
        except Exception as exc:
            raise EngineError(f"{self.model_path.name}: OpenVINO inference failed: {one_line(exc)}") from None

    def _infer(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        """One request, or (THROUGHPUT) the batch split over parallel requests.

        Parallel requests are started and then waited on one by one, with no Python callbacks:
        an ``AsyncInferQueue`` callback must take the GIL on an OpenVINO thread, and here that
        now and then hung or aborted the process (seen with openvino 2026.4).
        """
        rows = feed[self.input_names[0]].shape[0]
        parts = min(len(self.requests), rows) if self.static_shape is None else 1
        if parts == 1:
            return self.requests[0].infer(feed)[self.output].copy()
        bounds = np.linspace(0, rows, parts + 1).astype(int)
        active = self.requests[:parts]
        for i, request in enumerate(active):
            request.start_async({k: v[bounds[i] : bounds[i + 1]] for k, v in feed.items()})
        results = []
        for request in active:
            request.wait()
            results.append(request.get_tensor(self.output).data.copy())
        return np.concatenate(results)

    def close(self) -> None:
        self.requests = []
        self.compiled = None


ENGINES: dict[str, type[Engine]] = {"onnx": OnnxEngine, "openvino": OpenVinoEngine}


def open_engine(kind: str, model_path: Path, *, threads: int | None = None, **options: Any) -> Engine:
    """An engine of ``kind`` (``onnx`` or ``openvino``) on ``model_path``; ``options`` go to its constructor."""
    if kind not in ENGINES:
        raise EngineError(f"engine {kind!r} is not one of {', '.join(ENGINES)}")
    return ENGINES[kind](model_path, threads=threads, **options)


# ---------------------------------------------------------------------------------------------- operators


@lru_cache(maxsize=1)
def onnxruntime_opsets() -> dict[str, int] | None:
    """``{domain: highest opset}`` the installed onnxruntime implements; ``None`` if this build can't tell.

    Read from onnxruntime's operator schema registry (about 10 ms); minimal builds lack the query,
    and then onnxruntime's own load error is the check.
    """
    _import("onnxruntime", "onnx")
    try:
        from onnxruntime.capi import _pybind_state

        schemas = _pybind_state.get_all_operator_schema()
    except (ImportError, AttributeError):
        return None
    opsets: dict[str, int] = {}
    for schema in schemas:
        domain = schema.domain or DEFAULT_DOMAIN
        opsets[domain] = max(opsets.get(domain, 0), int(schema.since_version))
    return opsets


def check_operators(engine: str, model_format: str, operators: Mapping[str, int | str], *, model_file: str) -> None:
    """Refuse, before loading, a model whose operator domains or opsets ``engine`` cannot run.

    ``model_format`` is the bundle's own engine (``onnx``: an ONNX file, ``openvino``: an IR).
    onnxruntime runs its contrib domain ``com.microsoft``; OpenVINO reads standard ONNX only.
    """
    if model_format == "openvino":
        if engine != "openvino":
            raise UnsupportedOperatorsError(
                f"{model_file} is an OpenVINO IR, which engine {engine} cannot run; use engine openvino"
            )
        return
    if engine == "openvino":
        for domain in sorted(operators):
            if domain in STANDARD_ONNX_DOMAINS:
                continue
            if domain.startswith("com.microsoft"):
                raise UnsupportedOperatorsError(
                    f"{model_file} uses operator domain {domain} (ONNX Runtime contrib ops such as QAttention, "
                    f"QEmbedLayerNormalization), which OpenVINO cannot run; use engine onnx, or bundle the portable "
                    f"int8 variant (int8-static QDQ of an export without ORT fusions: standard ai.onnx ops only)"
                )
            raise UnsupportedOperatorsError(
                f"{model_file} uses operator domain {domain}, which OpenVINO's ONNX reader does not support; "
                f"use engine onnx"
            )
        return
    supported = onnxruntime_opsets()
    if supported is None:
        return
    import onnxruntime

    for domain, version in sorted(operators.items()):
        if domain not in supported:
            raise UnsupportedOperatorsError(
                f"{model_file} uses operator domain {domain}, which onnxruntime {onnxruntime.__version__} does not "
                f"implement (custom operators are not supported); rebuild the model with standard operators"
            )
        if isinstance(version, int) and version > supported[domain]:
            raise UnsupportedOperatorsError(
                f"{model_file} needs {domain} opset {version}, but onnxruntime {onnxruntime.__version__} supports up "
                f"to {supported[domain]}; upgrade onnxruntime (pip install -U onnxruntime)"
            )
