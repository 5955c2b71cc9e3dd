"""Raw-text models: a graph that splits characters and counts them itself (as edgeptm's TF-IDF baseline
does), bundled with no tokenizer, runs through the text encoder with the logits numpy expects."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import edgeptm_runtime as rt
from edgeptm_runtime.bundle import Preprocessing, write_bundle_manifest
from edgeptm_runtime.text import TEXT_INPUTS, TextEncoder

POOL = ["a", "b", "c", " "]
WEIGHTS = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, -1.0]], dtype=np.float32)
LABELS = ["first", "second"]


def _counts(text: str) -> np.ndarray:
    return np.array([text.count(ch) for ch in POOL], dtype=np.float32)


@pytest.fixture(scope="module")
def text_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node(
            "Tokenizer",
            ["text"],
            ["chars"],
            domain="com.microsoft",
            tokenexp=".",
            mark=0,
            pad_value="#",
            mincharnum=1,
        ),
        helper.make_node("Flatten", ["chars"], ["flat"]),
        helper.make_node(
            "TfIdfVectorizer",
            ["flat"],
            ["counts"],
            mode="TF",
            min_gram_length=1,
            max_gram_length=1,
            max_skip_count=0,
            ngram_counts=[0],
            ngram_indexes=list(range(len(POOL))),
            pool_strings=POOL,
        ),
        helper.make_node("MatMul", ["counts", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "chars",
        [helper.make_tensor_value_info("text", TensorProto.STRING, [None, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(WEIGHTS, "w")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)], ir_version=8
    )
    folder = tmp_path_factory.mktemp("text") / "chars"
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    data = write_bundle_manifest(
        folder,
        name="chars",
        engine="onnx",
        backend="onnx",
        precision="fp32",
        labels=LABELS,
        max_length=8,
        tokenizer=None,
        preprocessing=Preprocessing(inputs=TEXT_INPUTS, normalize=("collapse_whitespace", "lowercase")),
    )
    assert data["format_version"] == 2 and data["tokenizer"] is None
    return folder


def test_text_encoder_normalizes_and_cuts_characters() -> None:
    encoder = TextEncoder(8, ("collapse_whitespace", "lowercase"))
    with pytest.warns(rt.TruncationWarning, match="1 input"):
        prepared = encoder.tokenize(["AB\n\t c", "ÄБCDEFGHIJ"])
    assert prepared == ["ab c", "äбcdefgh"]
    packed = encoder.pack(prepared, pad_to=3)["text"]
    assert packed.shape == (2, 1) and packed[:, 0].tolist() == ["ab ", "äбc"]
    with pytest.raises(ValueError, match="unknown text normalization stem"):
        TextEncoder(8, ("stem",))


def test_text_bundle_predicts_what_numpy_computes(text_bundle: Path) -> None:
    texts = ["AAB", "b  c\nb", "", "cccccccccc", "x"]
    encoder = TextEncoder(8, ("collapse_whitespace", "lowercase"))
    want = np.stack([_counts(encoder.prepare(t)) @ WEIGHTS for t in texts])
    with rt.load(text_bundle) as clf, warnings.catch_warnings():
        warnings.simplefilter("ignore", rt.TruncationWarning)
        assert isinstance(clf.encoder, TextEncoder) and clf.max_length == 8
        got = clf.logits(texts, batch_size=2)
        labels = [p.label for p in clf.predict(texts)]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert labels == [LABELS[i] for i in want.argmax(-1)]


def _edited(src: Path, dst: Path, **changes: object) -> Path:
    import shutil

    shutil.copytree(src, dst)
    meta = json.loads((dst / "bundle.json").read_text())
    for key, value in changes.items():
        if key == "normalize":
            meta["preprocessing"]["normalize"] = value
        else:
            meta[key] = value
    (dst / "bundle.json").write_text(json.dumps(meta))
    return dst


def test_text_bundles_refuse_what_they_cannot_honour(text_bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(rt.BundleError, match="a text-input bundle is format version 2, not 1"):
        rt.load(_edited(text_bundle, tmp_path / "v1", format_version=1))
    with pytest.raises(rt.BundleError, match="normalize has stem, which this runtime does not know.*upgrade"):
        rt.load(_edited(text_bundle, tmp_path / "stem", normalize=["stem"]))
    with pytest.raises(rt.BundleError, match="a text-input model takes no tokenizer"):
        rt.load(_edited(text_bundle, tmp_path / "tok", tokenizer="tokenizer.json"))
    with pytest.raises(rt.BundleError, match="OpenVINO"):  # the contrib Tokenizer runs on onnxruntime only
        rt.load(text_bundle, engine="openvino")
