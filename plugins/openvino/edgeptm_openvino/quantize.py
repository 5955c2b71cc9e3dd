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
    ov.save_model(quantized, dst, compress_to_fp16=False)
    return info


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
