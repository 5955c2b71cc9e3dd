"""A graph of standard ONNX operators for ``int8-portable``.

The fused fp32 export uses onnxruntime's ``com.microsoft`` operators (Attention,
SkipLayerNormalization, BiasGelu…), which no other engine reads. ``int8-portable`` quantizes an unfused
graph: the artifact's own when it was exported with ``optimize=false``, else a fresh unfused export of the
torch model it came from (the manifest's ``source``).
"""

from __future__ import annotations

from pathlib import Path

from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest

MODEL_FILE = "model.onnx"
STANDARD_DOMAIN = "ai.onnx"


def operator_domains(model: Path) -> set[str]:
    """The operator domains a model's nodes use (``ai.onnx`` for the default one)."""
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    return {node.domain or STANDARD_DOMAIN for node in graph.node}


def standard_graph(artifact: Path, manifest: Manifest, work: Path, *, opset: int | None) -> tuple[Path, bool]:
    """A path to an fp32 graph of standard operators, and whether it was re-exported from the source model."""
    model = Path(artifact) / MODEL_FILE
    if operator_domains(model) == {STANDARD_DOMAIN}:
        return model, False
    source = Path(manifest.source) if manifest.source else None
    if source is None or not (source / "config.json").is_file():
        raise BackendError(
            f"{artifact}: int8-portable needs a graph of standard ONNX operators; this export is fused "
            f"({', '.join(sorted(operator_domains(model) - {STANDARD_DOMAIN}))}) and its source model is gone; "
            "export again with --option optimize=false"
        )
    try:
        from optimum.exporters.onnx import main_export
    except ImportError:
        raise BackendError(
            f"{artifact}: int8-portable re-exports the unfused graph from {source}, which needs optimum-onnx "
            "(pip install 'edgeptm-onnx[export]'), or export with --option optimize=false"
        ) from None
    raw = Path(work) / "unfused"
    main_export(
        str(source),
        output=str(raw),
        task="text-classification",
        opset=opset,
        do_validation=False,
        local_files_only=True,
        library_name="transformers",
    )
    return raw / MODEL_FILE, True
