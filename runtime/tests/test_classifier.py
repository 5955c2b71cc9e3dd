"""Classifier and engines: the numbers are the model's (checked in numpy), on every engine and batching."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from tinymodels import (
    HAS_OPENVINO,
    LABELS,
    MAX_LENGTH,
    TEXTS,
    TinyBundle,
    build_onnx_bundle,
    build_openvino_bundle,
    reference_logits,
)

import edgeptm_runtime as rt
from edgeptm_runtime.classifier import softmax
from edgeptm_runtime.encoding import Encoder
from edgeptm_runtime.engines import OnnxEngine, OpenVinoEngine, onnxruntime_opsets

ATOL = 1e-5


pytestmark = pytest.mark.filterwarnings("ignore::edgeptm_runtime.TruncationWarning")
needs_openvino = pytest.mark.skipif(not HAS_OPENVINO, reason="openvino is not installed")


@pytest.fixture(scope="module")
def contrib(tmp_path_factory: pytest.TempPathFactory) -> TinyBundle:
    """An onnx bundle whose model uses com.microsoft's Gelu: onnxruntime only."""
    return build_onnx_bundle(tmp_path_factory.mktemp("contrib") / "tiny-contrib", gelu=True, seed=1)


def _reference(clf: rt.Classifier, bundle: TinyBundle, texts: list[str]) -> np.ndarray:
    return reference_logits(bundle.weights, clf.encoder(texts), gelu=bundle.gelu)


def test_predict_equals_numpy_model(tiny: TinyBundle) -> None:
    with rt.load(tiny.path) as clf:
        predictions = clf.predict(TEXTS, batch_size=4)
        want = _reference(clf, tiny, TEXTS)
    got = np.array([p.logits for p in predictions])
    np.testing.assert_allclose(got, want, atol=ATOL)
    assert [p.label for p in predictions] == [LABELS[i] for i in want.argmax(axis=1)]
    probs = softmax(want)
    for p, row in zip(predictions, probs, strict=True):
        assert list(p.scores) == LABELS and abs(sum(p.scores.values()) - 1) < 1e-9
        np.testing.assert_allclose(list(p.scores.values()), row, atol=ATOL)
    assert len({p.label for p in predictions}) > 1  # the seeded model is not constant


@pytest.mark.parametrize("batch_size", [2, 5, 32])
def test_sorted_batches_equal_one_at_a_time(tiny: TinyBundle, batch_size: int) -> None:
    with rt.load(tiny.path) as clf:
        single = np.concatenate([clf.logits([t], batch_size=1) for t in TEXTS])
        batched = clf.logits(TEXTS, batch_size=batch_size)
    np.testing.assert_allclose(batched, single, atol=ATOL)
    assert (batched.argmax(axis=1) == single.argmax(axis=1)).all()


def test_inputs_are_checked(tiny: TinyBundle) -> None:
    with rt.load(tiny.path) as clf:
        with pytest.raises(TypeError, match="not a single string"):
            clf.predict("I love this movie")
        with pytest.raises(TypeError, match=r"texts\[1\] is int"):
            clf.predict(["ok", 3])  # type: ignore[list-item]
        assert clf.predict([]) == []
        assert clf.logits([]).shape == (0, len(LABELS))


def test_truncation_warning_points_at_the_caller(tiny: TinyBundle) -> None:
    with rt.load(tiny.path) as clf, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.predict(["very " * 100])
    assert [w.category for w in caught] == [rt.TruncationWarning]
    assert caught[0].filename == __file__


@needs_openvino
def test_openvino_runs_the_onnx_bundle_and_its_ir(tiny: TinyBundle, tmp_path: Path) -> None:
    ir = build_openvino_bundle(tmp_path / "ir", tiny)
    with rt.load(tiny.path) as ort_clf:
        want = ort_clf.logits(TEXTS, batch_size=4)
        labels = [p.label for p in ort_clf.predict(TEXTS)]
    for clf in (rt.load(tiny.path, engine="openvino"), rt.load(ir.path, threads=1)):
        with clf:
            assert clf.engine.name == "openvino"
            np.testing.assert_allclose(clf.logits(TEXTS, batch_size=4), want, atol=ATOL)
            assert [p.label for p in clf.predict(TEXTS)] == labels
    with pytest.raises(rt.UnsupportedOperatorsError, match="is an OpenVINO IR, which engine onnx cannot run"):
        rt.load(ir.path, engine="onnx")


def test_contrib_ops_run_on_onnxruntime_and_are_refused_by_openvino(contrib: TinyBundle) -> None:
    assert json.loads((contrib.path / "bundle.json").read_text())["operators"] == {"ai.onnx": 17, "com.microsoft": 1}
    with rt.load(contrib.path) as clf:
        np.testing.assert_allclose(clf.logits(TEXTS), _reference(clf, contrib, TEXTS), atol=ATOL)
    with pytest.raises(rt.BundleError) as info:
        rt.load(contrib.path, engine="openvino")
    message = str(info.value)
    assert message.startswith("model.onnx uses operator domain com.microsoft") and "\n" not in message
    assert "portable int8 variant" in message and "engine onnx" in message


def test_operators_beyond_onnxruntime_are_refused(tiny_copy: Path) -> None:
    supported = onnxruntime_opsets()
    assert supported is not None and supported["ai.onnx"] >= 17 and "com.microsoft" in supported
    data = json.loads((tiny_copy / "bundle.json").read_text())
    data["operators"] = {"ai.onnx": supported["ai.onnx"] + 1}
    (tiny_copy / "bundle.json").write_text(json.dumps(data))
    with pytest.raises(rt.UnsupportedOperatorsError, match=rf"needs ai.onnx opset {supported['ai.onnx'] + 1}, but "):
        rt.load(tiny_copy)
    data["operators"] = {"ai.onnx": 17, "org.example.custom": 1}
    (tiny_copy / "bundle.json").write_text(json.dumps(data))
    with pytest.raises(rt.UnsupportedOperatorsError, match="operator domain org.example.custom, which onnxruntime"):
        rt.load(tiny_copy)


@needs_openvino
def test_engines_work_on_plain_model_folders(tiny: TinyBundle) -> None:
    """How the edgeptm core uses them: a model path and an encoder, no bundle."""
    encoder = Encoder.from_dir(tiny.path, MAX_LENGTH)
    encoded = encoder(TEXTS[:6])
    want = reference_logits(tiny.weights, encoded)
    with OnnxEngine(tiny.path / "model.onnx", threads=1) as engine:
        assert engine.input_names == ["input_ids", "attention_mask", "token_type_ids"]
        np.testing.assert_allclose(engine.logits({**encoded, "extra": encoded["input_ids"]}), want, atol=ATOL)
        with pytest.raises(rt.EngineError, match="needs input"):
            engine.logits({"input_ids": encoded["input_ids"]})
    with OpenVinoEngine(tiny.path / "model.onnx", static_shape=(4, 16)) as engine:  # e.g. for an NPU
        np.testing.assert_allclose(engine.logits(encoded, pad_id=encoder.pad_id), want, atol=ATOL)
    with OpenVinoEngine(tiny.path / "model.onnx", config={"PERFORMANCE_HINT": "THROUGHPUT"}) as engine:
        assert engine.parallel  # the batch runs as parallel infer requests, then is put back together
        np.testing.assert_allclose(engine.logits(encoded), want, atol=ATOL)
    with pytest.raises(rt.EngineError, match="no such ONNX model file"):
        OnnxEngine(tiny.path / "missing.onnx")


def test_classifier_from_parts_and_label_mismatch(tiny: TinyBundle) -> None:
    encoder = Encoder.from_dir(tiny.path, MAX_LENGTH)
    with rt.Classifier(OnnxEngine(tiny.path / "model.onnx"), encoder, ["a", "b"]) as clf:
        with pytest.raises(rt.EngineError, match="but there are 2 labels"):
            clf.predict(["good"])


def test_no_forbidden_imports(tiny: TinyBundle) -> None:
    """Import, load and predict import only numpy, tokenizers and the engine, never the training stack."""
    code = (
        "import sys, edgeptm_runtime as rt\n"
        "before = 'onnxruntime' in sys.modules or 'openvino' in sys.modules\n"
        f"print(rt.load({str(tiny.path)!r}).predict(['good'])[0].label)\n"
        "bad = {'torch', 'transformers', 'click', 'pluggy', 'pydantic', 'matplotlib', 'yaml', 'edgeptm',\n"
        "       'openvino'}\n"
        "print(before, sorted(m for m in sys.modules if m.split('.')[0] in bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    label, imports = out.stdout.splitlines()
    assert label in LABELS and imports == "False []"


def test_nothing_is_unpickled() -> None:
    """No code path can unpickle (numpy itself imports pickle, so this checks the package's source)."""
    source = "\n".join(p.read_text() for p in Path(rt.__file__).parent.glob("*.py"))
    for needle in ("import pickle", "allow_pickle", "np.load(", "numpy.load(", "marshal", "eval("):
        assert needle not in source


def test_a_model_the_engine_cannot_load_is_one_line(tiny_copy: Path) -> None:
    (tiny_copy / "model.onnx").write_bytes(b"\x08\x08" + b"\x00" * 64)  # a valid prefix, then garbage
    with pytest.raises(rt.EngineError, match=r"^model\.onnx: onnxruntime [\d.]+ cannot load it: ") as info:
        OnnxEngine(tiny_copy / "model.onnx")
    assert "\n" not in str(info.value)
    with pytest.raises(rt.BundleError, match="model.onnx"):
        rt.load(tiny_copy, verify=False)  # sizes differ too: refused before any engine sees it
