"""ONNX backend. onnxruntime (and, for export, optimum-onnx) are imported inside methods only."""

from __future__ import annotations

import importlib.util
import json
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeptm.backend import Availability, Backend, ExportResult, QuantizeRequest, Runner
from edgeptm.encoding import Encoded, Encoder, encoder_for, runtime_errors
from edgeptm.errors import BackendError, ModelError
from edgeptm.manifest import Manifest, copy_tokenizer
from edgeptm_onnx.portable import STANDARD_DOMAIN, operator_domains, standard_graph
from edgeptm_onnx.weights import Candidate, WeightChoice, WeightType, choose_weights, quant_settings

MODEL_FILE = "model.onnx"
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
# onnxruntime.transformers fuses attention for these families with its BERT optimizer.
FUSION_MODEL_TYPES = {"bert": "bert", "distilbert": "bert", "xlm-roberta": "bert", "roberta": "bert", "electra": "bert"}


class OnnxOptions(BaseModel):
    """Options of the ``onnx`` backend (recipe ``options:`` and CLI ``--option key=value``)."""

    model_config = ConfigDict(extra="forbid")

    opset: int | None = Field(None, ge=11, description="ONNX opset for export (default: optimum's choice)")
    optimize: bool = Field(True, description="apply ORT transformer fusions (attention, layer norm, GELU)")
    per_channel: bool = Field(True, description="int8: one scale per output channel of each weight")
    reduce_range: bool = Field(
        False,
        description="7-bit weights, avoids U8S8 saturation on AVX2 without VNNI (for int8/int8-portable the same as "
        "weight_type=s8-reduce-range)",
    )
    weight_type: Literal["auto", "s8", "u8", "s8-reduce-range"] = Field(
        "auto",
        description="int8/int8-portable weights. auto: s8 where the CPU has VNNI or AMX (or is not x86); without "
        "them s8, u8 and 7-bit s8 are measured against fp32 on the calibration texts and the fastest as accurate "
        "as the best is kept (export_info.weights says which and why)",
    )
    selection_size: int = Field(
        64,
        ge=1,
        description="int8/int8-portable with weight_type=auto: calibration texts the candidates are measured on",
    )
    calibration_size: int | None = Field(
        None,
        ge=1,
        description="int8-static: at most this many of the calibration texts (default: all that quantize passes, "
        "i.e. --calibration-size)",
    )
    calibrate_method: Literal["minmax", "entropy", "percentile"] = Field(
        "minmax",
        description="int8-static: how activation ranges are set (entropy and percentile calibrate on texts padded "
        "to max_length)",
    )
    nodes_to_exclude: list[str] = Field(
        default_factory=list,
        description="int8-static: matrix products to keep in float on purpose, by node name in the fp32 graph "
        "(comma-separated; an Attention named here stays fused). Every other MatMul/Gemm/Attention gets int8 "
        "activations and weights, or the quantization fails and writes nothing; export_info records matmuls, "
        "float_matmuls and float_matmul_nodes",
    )

    @field_validator("nodes_to_exclude", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``--option nodes_to_exclude=A,B`` as well as a YAML list."""
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


class OnnxBackend(Backend):
    name = "onnx"
    summary = "ONNX Runtime: optimum-onnx export, transformer fusions, dynamic and static int8, portable int8"
    install_hint = "pip install 'edgeptm-onnx[export]'"
    Options = OnnxOptions
    bundle_engine = "onnx"

    def availability(self) -> Availability:
        if importlib.util.find_spec("onnxruntime") is None:
            return Availability(False, "onnxruntime is not installed")
        if not _has_onnx_exporter():
            return Availability(True, "onnxruntime is installed (run only: export needs optimum-onnx)")
        return Availability(True, "onnxruntime and optimum-onnx are installed")

    def devices(self) -> list[str]:
        """``cpu``, plus ``cuda``/``tensorrt`` when the onnxruntime-gpu build is installed (no import)."""
        try:
            metadata.distribution("onnxruntime-gpu")
        except metadata.PackageNotFoundError:
            return ["cpu"]
        gpus = Path("/proc/driver/nvidia/gpus")
        if not (gpus.is_dir() and any(gpus.iterdir())):
            return ["cpu"]  # onnxruntime-gpu would silently run its GPU providers on CPU
        return ["cpu", "cuda", "tensorrt"]

    def precisions(self) -> list[str]:
        return ["fp32", "int8", "int8-static", "int8-portable"]

    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        assert isinstance(options, OnnxOptions)
        try:
            from optimum.exporters.onnx import main_export
        except ImportError:
            raise BackendError(f"exporting to ONNX needs optimum-onnx; install it with `{self.install_hint}`") from None
        with tempfile.TemporaryDirectory(dir=out) as raw:
            main_export(
                str(model_dir),
                output=raw,
                task="text-classification",
                opset=options.opset,
                do_validation=False,
                local_files_only=True,
                library_name="transformers",
            )
            info = {}
            if options.optimize:
                info["fusions"] = self._optimize(Path(raw) / MODEL_FILE, out / MODEL_FILE, model_dir)
            else:
                (Path(raw) / MODEL_FILE).rename(out / MODEL_FILE)
        copy_tokenizer(model_dir, out)
        return ExportResult([MODEL_FILE], info)

    @staticmethod
    def _optimize(src: Path, dst: Path, model_dir: Path) -> dict[str, int]:
        from onnxruntime.transformers.optimizer import optimize_model

        config = json.loads((Path(model_dir) / "config.json").read_text())
        model_type = FUSION_MODEL_TYPES.get(config.get("model_type", ""), "bert")
        heads = config.get("num_attention_heads", config.get("n_heads", 0))
        hidden = config.get("hidden_size", config.get("dim", 0))
        optimized = optimize_model(str(src), model_type=model_type, num_heads=heads, hidden_size=hidden, opt_level=0)
        optimized.save_model_to_file(str(dst))
        return {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}

    def quantize(self, request: QuantizeRequest) -> ExportResult:
        from edgeptm_onnx.static import StaticSettings, quantize_static_int8

        artifact, out, precision, manifest, options = (
            request.artifact,
            request.out,
            request.precision,
            request.manifest,
            request.options,
        )
        assert isinstance(options, OnnxOptions)
        if manifest.precision != "fp32":
            raise BackendError(f"{artifact}: quantize an fp32 ONNX artifact, not a {manifest.precision} one")
        if precision == "fp32":
            raise BackendError("precision fp32 is what `edgeptm export` makes; quantize to int8 or int8-static")
        if precision == "int8-static" and options.weight_type != "auto":
            raise BackendError("option weight_type applies to int8 and int8-portable; int8-static takes reduce_range")
        if options.nodes_to_exclude and precision != "int8-static":
            raise BackendError(f"option nodes_to_exclude applies to precision int8-static, not {precision}")
        with tempfile.TemporaryDirectory(dir=out) as work:
            if precision == "int8-static":
                texts = list(request.calibration)[: options.calibration_size]
                if not texts:
                    raise BackendError("int8-static needs calibration texts (pass --calibration DATA)")
                info = quantize_static_int8(
                    Path(artifact) / MODEL_FILE,
                    out / MODEL_FILE,
                    Path(work),
                    Encoder.from_dir(artifact, manifest.max_length),
                    texts,
                    StaticSettings(
                        per_channel=options.per_channel,
                        reduce_range=options.reduce_range,
                        calibrate_method=options.calibrate_method,
                        nodes_to_exclude=list(options.nodes_to_exclude),
                    ),
                )
            else:
                info = self._quantize_dynamic(
                    Path(artifact), out, Path(work), precision, options, manifest, list(request.calibration)
                )
        copy_tokenizer(artifact, out)
        return ExportResult([MODEL_FILE], info)

    @staticmethod
    def _quantize_dynamic(
        artifact: Path,
        out: Path,
        work: Path,
        precision: str,
        options: OnnxOptions,
        manifest: Manifest,
        texts: list[str],
    ) -> dict[str, Any]:
        """int8 and int8-portable: weights int8, activations quantized at run time (no calibration).

        Which int8 weights (s8, u8, 7-bit s8) is chosen for this CPU by :func:`edgeptm_onnx.weights.choose_weights`."""
        import onnx
        from onnxruntime.quantization.shape_inference import quant_pre_process

        from edgeptm.measure.machine import cpu_features
        from edgeptm_onnx.static import count_float_matmuls

        source = artifact / MODEL_FILE
        reexported = False
        if precision == "int8-portable":
            source, reexported = standard_graph(artifact, manifest, work, opset=options.opset)
        prepped = work / "prepped.onnx"
        quant_pre_process(str(source), str(prepped), skip_optimization=True, skip_symbolic_shape=True)
        requested = _requested_weights(options)
        candidates: dict[str, Path] = {}

        def build(weights: WeightType) -> Path:
            if weights not in candidates:
                candidates[weights] = _dynamic(prepped, work / f"{weights}.onnx", weights, options.per_channel)
            return candidates[weights]

        sample = texts[: options.selection_size]
        encoder = Encoder.from_dir(artifact, manifest.max_length)
        reference: list[np.ndarray] = []

        def measure(weights: WeightType) -> Candidate:
            if not reference:
                reference.append(_logits(source, encoder, sample))
            want, got = reference[0], _logits(build(weights), encoder, sample)
            return Candidate(
                weights,
                float(np.max(np.abs(got - want))),
                100.0 * float(np.mean(got.argmax(-1) == want.argmax(-1))),
                len(sample),
            )

        cpu = cpu_features()
        if requested == "auto" and not texts and cpu.int8_saturates:
            choice = WeightChoice(
                "s8-reduce-range",
                f"{cpu.describe()}: s8 may saturate and there are no calibration texts to measure it on; "
                "7-bit s8 cannot saturate and keeps the fast kernel",
                cpu.describe(),
                [],
            )
        else:
            choice = choose_weights(cpu, measure, requested=requested)
        build(choice.chosen).replace(out / MODEL_FILE)
        # Recorded, not enforced: dynamic int8 quantizes the products that have a weight operand, and the
        # activation x activation ones (QK^T, probabilities.V) of an unfused graph stay float.
        count = count_float_matmuls(onnx.load(str(out / MODEL_FILE), load_external_data=False).graph)
        info: dict[str, Any] = {
            "scheme": "dynamic",
            "calibration_texts": 0,
            "matmuls": count.total,
            "float_matmuls": count.floats,
            "weights": choice.to_info(),
            "notes": [f"int8 weights: {choice.chosen} ({choice.reason})"],
        }
        if precision == "int8-portable":
            domains = operator_domains(out / MODEL_FILE)
            if domains != {STANDARD_DOMAIN}:
                raise BackendError(
                    f"int8-portable: quantization brought in {', '.join(sorted(domains - {STANDARD_DOMAIN}))} "
                    "operators; nothing was written"
                )
            info.update(scheme="dynamic-matmulinteger", operator_domains=sorted(domains), reexported_unfused=reexported)
        return info

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "cpu", threads: int | None = None) -> Runner:
        self.check_precision(manifest.precision)
        self.check_device(device)
        return OnnxRunner(Path(artifact), manifest, device=device, threads=threads)


def _requested_weights(options: OnnxOptions) -> WeightType | Literal["auto"]:
    """The weight type the options ask for; ``reduce_range=true`` alone means 7-bit s8."""
    if not options.reduce_range:
        return options.weight_type
    if options.weight_type not in ("auto", "s8-reduce-range"):
        raise BackendError(
            f"options reduce_range=true and weight_type={options.weight_type} contradict each other; give one"
        )
    return "s8-reduce-range"


def _dynamic(source: Path, dst: Path, weights: WeightType, per_channel: bool) -> Path:
    """Dynamic int8 of ``source`` with ``weights`` into ``dst``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weight_type, reduce_range = quant_settings(weights)
    quantize_dynamic(
        source,
        dst,
        per_channel=per_channel,
        reduce_range=reduce_range,
        weight_type=getattr(QuantType, weight_type),
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return dst


def _logits(model: Path, encoder: Encoder, texts: list[str]) -> np.ndarray:
    from edgeptm_onnx.static import logits, session

    return logits(session(model), encoder, texts)


def _has_onnx_exporter() -> bool:
    """optimum-onnx's exporter is present (checked without importing optimum)."""
    spec = importlib.util.find_spec("optimum")
    return spec is not None and any(
        (Path(p) / "exporters" / "onnx").is_dir() for p in (spec.submodule_search_locations or [])
    )


class OnnxRunner(Runner):
    """The device runtime's onnxruntime engine (``edgeptm_runtime.engines.OnnxEngine``): what is measured here
    is what a bundle runs on the device. A raw-text model (the TF-IDF baseline, manifest kind ``tfidf-linear``)
    gets the runtime's text encoder instead of a tokenizer, as its bundle does."""

    def __init__(self, artifact: Path, manifest: Manifest, *, device: str, threads: int | None) -> None:
        from edgeptm_runtime.engines import OnnxEngine

        super().__init__(manifest, encoder_for(artifact, manifest))
        path = artifact / MODEL_FILE
        if not path.is_file():
            raise ModelError(f"{artifact}: no {MODEL_FILE}")
        with runtime_errors():
            self.engine = OnnxEngine(path, threads=threads, providers=[PROVIDERS[device]])
        self.inputs = self.engine.input_names

    def run(self, encoded: Encoded) -> np.ndarray:
        with runtime_errors():
            return self.engine.run(encoded)

    def close(self) -> None:
        self.engine.close()
