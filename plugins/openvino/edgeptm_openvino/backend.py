"""OpenVINO backend. openvino, optimum-intel and nncf are imported inside methods only."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from pydantic import BaseModel, ValidationError

from edgeptm.backend import Availability, Backend, ExportResult, QuantizeRequest, Runner
from edgeptm.errors import BackendError, ModelError
from edgeptm.manifest import MANIFEST, Manifest, copy_tokenizer
from edgeptm_openvino.options import FILES, MODEL_XML, OpenVinoOptions


class OpenVinoBackend(Backend):
    name = "openvino"
    summary = "OpenVINO: IR export, fp16 weights, NNCF int8 (+ accuracy control); CPU/GPU/NPU/AUTO/HETERO"
    install_hint = "pip install 'edgeptm-openvino[export]'"
    Options = OpenVinoOptions
    bundle_engine = "openvino"
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

    def quantize(self, request: QuantizeRequest) -> ExportResult:
        from edgeptm_openvino import quantize

        artifact, out, precision, manifest = request.artifact, request.out, request.precision, request.manifest
        options = request.options
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
                artifact,
                out / MODEL_XML,
                manifest=manifest,
                options=options,
                calibration=request.calibration,
                evaluation=request.evaluation if precision == "int8-acc" else None,
            )
        copy_tokenizer(artifact, out)
        return ExportResult(list(FILES), info)

    def load(self, artifact: Path, manifest: Manifest, *, device: str = "CPU", threads: int | None = None) -> Runner:
        from edgeptm_openvino.devices import parse_device
        from edgeptm_openvino.runner import OpenVinoRunner

        self.check_precision(manifest.precision)
        canonical = parse_device(device, [d for d in self.devices() if d != "AUTO"])
        try:
            options = OpenVinoOptions.model_validate(
                {k: v for k, v in manifest.options.items() if k in OpenVinoOptions.model_fields}
            )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ModelError(
                f"{Path(artifact) / MANIFEST}: invalid openvino options ({problems}); make the artifact again"
            ) from None
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
