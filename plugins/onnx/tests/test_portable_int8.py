"""int8-portable: dynamic int8 on the unfused graph, standard ONNX operators only (MatMulInteger), so
any ONNX engine runs it: onnxruntime and OpenVINO load the same bundle and agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeptm import deploy
from edgeptm.deploy.bundle import bundle
from edgeptm.errors import BackendError


@pytest.fixture(scope="module")
def portable(tmp_path_factory, plugins, finetuned: Path, sample) -> Path:
    root = tmp_path_factory.mktemp("portable")
    deploy.export(
        plugins, "onnx", finetuned, root / "fp32", options={"optimize": False}, validation_texts=sample["eval"].texts
    )
    deploy.quantize(
        plugins, root / "fp32", root / "int8", precision="int8-portable", validation_texts=sample["eval"].texts
    )
    return root / "int8"


def test_only_standard_operators_and_integer_matmuls(portable: Path) -> None:
    import onnx

    from edgeptm.manifest import read_manifest

    graph = onnx.load(str(portable / "model.onnx")).graph
    assert {node.domain for node in graph.node} == {""}
    ops = [node.op_type for node in graph.node]
    assert ops.count("MatMulInteger") >= 8 and "DynamicQuantizeLinear" in ops
    m = read_manifest(portable)
    assert m.export_info["scheme"] == "dynamic-matmulinteger" and m.export_info["operator_domains"] == ["ai.onnx"]
    assert m.validation["max_abs_logit_diff"] < 0.1


def test_onnxruntime_and_openvino_run_the_same_bundle(tmp_path: Path, plugins, portable: Path, sample) -> None:
    pytest.importorskip("openvino")
    import edgeptm_runtime

    folder = bundle(plugins, portable, tmp_path / "portable").path
    texts = sample["test"].texts
    with edgeptm_runtime.load(folder) as ort, edgeptm_runtime.load(folder, engine="openvino") as ov:
        a, b = ort.logits(texts), ov.logits(texts)
    assert ort.metadata["operators"] == {"ai.onnx": ort.metadata["operators"]["ai.onnx"]}
    np.testing.assert_allclose(a, b, atol=0.05)
    top2 = np.sort(a, axis=-1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * float(np.abs(a - b).max())
    assert (a.argmax(-1) == b.argmax(-1))[clear].all()


def test_the_fused_int8_bundle_is_refused_by_openvino(tmp_path: Path, plugins, onnx_int8: Path) -> None:
    pytest.importorskip("openvino")
    import edgeptm_runtime

    folder = bundle(plugins, onnx_int8, tmp_path / "fused").path
    with pytest.raises(edgeptm_runtime.BundleError, match="com.microsoft"):
        edgeptm_runtime.load(folder, engine="openvino")


def test_a_fused_export_is_re_exported_unfused_from_its_source(tmp_path: Path, plugins, onnx_fp32: Path) -> None:
    import json
    import shutil

    import onnx

    from edgeptm.manifest import read_manifest

    deploy.quantize(plugins, onnx_fp32, tmp_path / "portable", precision="int8-portable")
    m = read_manifest(tmp_path / "portable")
    assert m.export_info["reexported_unfused"] is True and m.export_info["operator_domains"] == ["ai.onnx"]
    assert {n.domain for n in onnx.load(str(tmp_path / "portable" / "model.onnx")).graph.node} == {""}

    orphan = tmp_path / "orphan"
    shutil.copytree(onnx_fp32, orphan)
    manifest = json.loads((orphan / "edgeptm.json").read_text())
    manifest["source"] = str(tmp_path / "gone")
    (orphan / "edgeptm.json").write_text(json.dumps(manifest))
    with pytest.raises(BackendError, match="its source model is gone; export again with --option optimize=false"):
        deploy.quantize(plugins, orphan, tmp_path / "x", precision="int8-portable")
    assert not (tmp_path / "x").exists()
