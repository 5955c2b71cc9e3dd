"""OpenVINO backend. openvino, optimum-intel and nncf are imported inside methods only."""

from __future__ import annotations

import importlib.util
import shutil
from importlib import metadata
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeptm.artifacts import copy_tokenizer
from edgeptm.backend import Availability, Backend, ExportResult, Runner
from edgeptm.data import Dataset
from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest

MODEL_XML = "openvino_model.xml"
MODEL_BIN = "openvino_model.bin"
FILES = [MODEL_XML, MODEL_BIN]


class OpenVinoOptions(BaseModel):
    """Options of the ``openvino`` backend (recipe ``options:`` and CLI ``--option key=value``).

    Runtime options (hint, cache, static shape, inference precision) are kept in the
    manifest and applied whenever the artifact is loaded.
    """

    model_config = ConfigDict(extra="forbid")

    performance_hint: Literal["LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"] = Field(
        "LATENCY", description="OpenVINO performance hint; THROUGHPUT runs a batch as parallel requests"
    )
    cache_dir: str | None = Field(None, description="model cache dir: compiled blobs, so later loads are fast")
    static_shape: bool = Field(False, description="compile for [batch_size, max_length] (always on for NPU)")
    batch_size: int = Field(1, ge=1, description="rows of the static shape")
    inference_precision: Literal["f32", "f16", "bf16"] | None = Field(
        None, description="CPU/GPU compute precision (default f32, so results match what was validated)"
    )
    preset: Literal["mixed", "performance"] = Field("mixed", description="int8: NNCF preset (mixed: asymmetric activations)")
    calibration_size: int = Field(300, ge=1, description="int8: calibration texts, sampled evenly across languages")
    max_drop: float = Field(1.0, ge=0, le=100, description="int8-acc: max drop in eval macro-F1, in points")
    eval_size: int | None = Field(None, ge=1, description="int8-acc: eval texts used, sampled evenly across languages (default all)")


class OpenVinoBackend(Backend):
    name = "openvino"
    summary = "OpenVINO: IR export, fp16 weights, NNCF int8 (+ accuracy control); CPU/GPU/NPU/AUTO/HETERO"
    install_hint = "pip install 'edgeptm-openvino[export]'"
    Options = OpenVinoOptions
    eval_data_precisions = frozenset({"int8-acc"})

    def availability(self) -> Availability:
        if importlib.util.find_spec("openvino") is None:
            return Availability(False, "openvino is not installed")
        missing = [dist for dist in ("optimum-intel", "nncf") if not _installed(dist)]
        if missing:
            return Availability(True, f"openvino is installed (run only: export and int8 need {', '.join(missing)})")
        return Availability(True, "openvino, optimum-intel and nncf are installed")

    def devices(self) -> list[str]:
        import openvino as ov

        return [*ov.Core().available_devices, "AUTO"]

    def listed_devices(self) -> None:
        return None  # only the runtime knows (GPU, NPU, plugin devices): `edgeptm backends openvino`

    def precisions(self) -> list[str]:
        return ["fp32", "fp16", "int8", "int8-acc"]

    def check_device(self, device: str) -> None:
        from edgeptm_openvino.devices import parse_device

        parse_device(device, [d for d in self.devices() if d != "AUTO"])

    def export(self, model_dir: Path, out: Path, *, options: BaseModel, max_length: int) -> ExportResult:
        if not _has("optimum.exporters.openvino"):
            raise BackendError(f"exporting to OpenVINO needs optimum-intel; install it with `{self.install_hint}`")
        from optimum.exporters.openvino import main_export
        from optimum.intel import OVConfig

        with tempfile.TemporaryDirectory(dir=out) as raw:
            main_export(
                str(model_dir),
                output=raw,
                task="text-classification",
                library_name="transformers",
                local_files_only=True,
                ov_config=OVConfig(dtype="fp32"),
                convert_tokenizer=False,
            )
            for name in FILES:
                shutil.move(Path(raw) / name, out / name)
        copy_tokenizer(model_dir, out)
        return ExportResult(list(FILES), {"converter": "optimum-intel"})

    def quantize(
        self,
        artifact: Path,
        out: Path,
        *,
        precision: str,
        options: BaseModel,
        calibration: Sequence[str],
        manifest: Manifest,
        evaluation: Dataset | None = None,
    ) -> ExportResult:
        from edgeptm_openvino import quantize

        assert isinstance(options, OpenVinoOptions)
        if manifest.precision != "fp32":
            raise BackendError(f"{artifact}: quantize an fp32 OpenVINO artifact, not a {manifest.precision} one")
        if precision == "fp32":
            raise BackendError("precision fp32 is what `edgeptm export` makes; quantize to fp16, int8 or int8-acc")
        if precision == "fp16":
            info = quantize.compress_fp16(artifact / MODEL_XML, out / MODEL_XML)
        else:
            if not _has("nncf"):
                raise BackendError(f"{precision} needs NNCF; install it with `{self.install_hint}`")
            info = quantize.int8(
                artifact, out / MODEL_XML, manifest=manifest, options=options, calibration=calibration,
                evaluation=evaluation if precision == "int8-acc" else None,
            )
        copy_tokenizer(artifact, out)
        return ExportResult(list(FILES), info)

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "CPU", threads: int | None = None) -> Runner:
        from edgeptm_openvino.devices import parse_device
        from edgeptm_openvino.runner import OpenVinoRunner

        self.check_precision(manifest.precision)
        canonical = parse_device(device, [d for d in self.devices() if d != "AUTO"])
        options = OpenVinoOptions.model_validate(
            {k: v for k, v in manifest.options.items() if k in OpenVinoOptions.model_fields}
        )
        return OpenVinoRunner(Path(artifact), manifest, device=canonical, threads=threads, options=options)


def _installed(distribution: str) -> bool:
    """Whether a distribution is installed, without importing it (``optimum.intel`` would import optimum)."""
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False
