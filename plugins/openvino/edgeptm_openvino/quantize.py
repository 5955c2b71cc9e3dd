"""fp16 weight compression and NNCF int8 post-training quantization, plain or with accuracy control."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeptm.data import Dataset, LabelMap, sample_evenly
from edgeptm.encoding import Encoder, length_batches
from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest
from edgeptm.measure.machine import CpuFeatures, cpu_features
from edgeptm.measure.metrics import macro_f1
from edgeptm_openvino.options import MODEL_XML, OpenVinoOptions

EVAL_BATCH = 32


def compress_fp16(src: Path, dst: Path) -> dict[str, Any]:
    """Store the weights as fp16 (computed in the device's precision at run time)."""
    import openvino as ov

    ov.save_model(ov.Core().read_model(src), dst, compress_to_fp16=True)
    return {"scheme": "fp16-weights"}


def _inputs(model: Any) -> list[str]:
    return [port.get_any_name() for port in model.inputs]


def int8(
    artifact: Path,
    dst: Path,
    *,
    manifest: Manifest,
    options: OpenVinoOptions,
    calibration: Sequence[str],
    evaluation: Dataset | None,
) -> dict[str, Any]:
    """NNCF int8 (transformer model type); with ``evaluation``, keep the macro-F1 drop within ``max_drop`` points."""
    import nncf
    import openvino as ov

    nncf.set_log_level(logging.ERROR)  # its INFO lines and progress bars would fill the CLI's stdout

    texts = list(calibration)[: options.calibration_size]
    if not texts:
        raise BackendError("int8 needs calibration texts (pass --calibration DATA)")
    model = ov.Core().read_model(artifact / MODEL_XML)
    names = _inputs(model)
    encoder = Encoder.from_dir(artifact, manifest.max_length)
    feeds = [{k: v for k, v in encoder([t]).items() if k in names} for t in texts]
    common = {
        "preset": nncf.QuantizationPreset.MIXED if options.preset == "mixed" else nncf.QuantizationPreset.PERFORMANCE,
        "subset_size": len(feeds),
        "model_type": nncf.ModelType.TRANSFORMER,
    }
    info: dict[str, Any] = {"scheme": "nncf-ptq", "calibration_texts": len(feeds), "preset": options.preset}
    with contextlib.redirect_stdout(sys.stderr):  # NNCF's progress bars: stderr, like the CLI's own
        if evaluation is None:
            quantized = nncf.quantize(model, nncf.Dataset(feeds), **common)
        else:
            quantized, control = _with_accuracy_control(
                model, nncf.Dataset(feeds), names, encoder, manifest, options, evaluation, common
            )
            info.update(control)
    info["fake_quantize_ops"] = sum(op.get_type_name() == "FakeQuantize" for op in quantized.get_ops())
    kernels = matmul_kernels(quantized, feeds[0])
    info["cpu_matmul_kernels"] = kernels
    warning = int8_speed_warning(cpu_features(), kernels)
    if warning:
        info["warnings"] = [warning]
    ov.save_model(quantized, dst, compress_to_fp16=False)
    return info


MATMUL_LAYERS = frozenset({"FullyConnected", "FullyConnectedQuantizedLegacy", "MatMul"})
"""Runtime layer types of the CPU plugin that are matrix products."""


def matmul_kernels(model: Any, feed: dict[str, np.ndarray]) -> dict[str, int]:
    """How many matrix products the CPU plugin runs on each kernel (``primitiveType``, e.g. ``brgemm_avx2_f32``,
    ``jit_gemm_I8``) for ``model``: compiled on this CPU and run once, since kernels are picked at the first
    inference of a shape."""
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    compiled.create_infer_request().infer(feed)
    counts: dict[str, int] = {}
    for op in compiled.get_runtime_model().get_ops():
        rt = op.get_rt_info()
        if "layerType" in rt and rt["layerType"].astype(str) in MATMUL_LAYERS:
            kernel = rt["primitiveType"].astype(str) if "primitiveType" in rt else "unknown"
            counts[kernel] = counts.get(kernel, 0) + 1
    return dict(sorted(counts.items()))


def int8_speed_warning(cpu: CpuFeatures, kernels: dict[str, int]) -> str | None:
    """One line when int8 cannot be faster than fp32 here: the CPU plugin has fast (brgemm) int8 kernels only
    with VNNI or AMX; without them its int8 matrix products fall back to oneDNN's generic ``jit_gemm``."""
    int8 = {k: n for k, n in kernels.items() if k.lower().endswith(("_i8", "_u8"))}
    slow = sum(n for k, n in int8.items() if "gemm" in k and "brgemm" not in k)
    if not (cpu.int8_saturates or slow):
        return None
    where = f"this CPU ({cpu.describe()})"
    why = (
        f"{slow} of {sum(int8.values())} int8 matrix products run on oneDNN's generic jit_gemm kernel"
        if slow
        else "without VNNI or AMX, u8×s8 products are summed in saturating 16 bits"
    )
    return (
        f"int8 is unlikely to beat fp32 on {where}: {why} (OpenVINO's brgemm int8 kernels need VNNI or AMX); "
        "use fp32 here, or the onnx backend's int8"
    )


def _with_accuracy_control(
    model: Any,
    calibration: Any,
    names: list[str],
    encoder: Encoder,
    manifest: Manifest,
    options: OpenVinoOptions,
    evaluation: Dataset,
    common: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    import nncf
    import openvino as ov

    picked = sample_evenly(evaluation, options.eval_size) if options.eval_size else evaluation.examples
    subset = Dataset(list(picked), evaluation.source, [evaluation.source] * len(picked))
    gold = LabelMap(manifest.labels).encode(subset, "eval")
    # Batches of similar token length, each padded to its own longest (the runtime's length_batches).
    tokens = encoder.tokenize(subset.texts)
    batches = []
    for idx in length_batches([len(t.ids) for t in tokens], EVAL_BATCH):
        encoded = encoder.pack([tokens[i] for i in idx])
        batches.append(({k: v for k, v in encoded.items() if k in names}, [gold[i] for i in idx]))
    n_labels = len(manifest.labels)

    def validate(compiled: Any, items: Any) -> float:
        """Macro-F1 in points over ``items`` (NNCF also calls it on single batches to rank layers)."""
        output = compiled.output(0)
        pred, want = [], []
        for feed, labels in items:
            pred += np.asarray(compiled(feed)[output]).argmax(-1).tolist()
            want += labels
        return 100.0 * macro_f1(want, pred, n_labels)

    reference = validate(ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}), batches)
    quantized = nncf.quantize_with_accuracy_control(
        model,
        calibration,
        nncf.Dataset(batches),
        validation_fn=validate,
        max_drop=options.max_drop,
        drop_type=nncf.DropType.ABSOLUTE,
        **common,
    )
    final = validate(ov.Core().compile_model(quantized, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}), batches)
    return quantized, {
        "scheme": "nncf-ptq-accuracy-control",
        "max_drop": options.max_drop,
        "eval_texts": len(subset),
        "eval_macro_f1_fp32": round(reference, 3),
        "eval_macro_f1_int8": round(final, 3),
    }
