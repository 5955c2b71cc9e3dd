"""Tiny models built from scratch: a WordPiece ``tokenizer.json`` and a mean-pooling ONNX classifier.

The classifier is simple enough to recompute in numpy, so tests compare against the truth, not
against another run of the code under test. ``python tests/tinymodels.py OUT`` writes the bundle
for the load-test and footprint scripts (needs ``onnx``).
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeptm_runtime import write_bundle_manifest

HAS_OPENVINO = importlib.util.find_spec("openvino") is not None
LABELS = ["negative", "neutral", "positive"]
MAX_LENGTH = 32
HIDDEN = 16
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
WORDS = (
    "the a movie film was is it i you we love hate good bad great terrible boring fun very not really so "
    "and but this that plot actors acting music ending story day night lovely awful fine okay "
    "sehr gut schlecht film ist la pelicula es buena mala muy y el un une tres bien pas mal , . !"
).split()
PIECES = ["##s", "##ing", "##ly", "##ed", "##er", "un", "##believ", "##able", "##ness"]
TEXTS = [
    "I love this movie",
    "the plot was boring and the acting was terrible",
    "",
    "okay",
    "Great fun , very good music !",
    "Der Film ist sehr gut",
    "la pelicula es muy mala",
    "un film tres bien , pas mal",
    "unbelievable ending",
    "qwerty zxcv asdf",  # all unknown
    "it was fine but the story was not really lovely and the ending was awful , so bad",
    " ".join(["very"] * 60),  # longer than MAX_LENGTH: truncated
    "films acting actors lovely lovely lovely",
    "We hate it.",
    "good",
    "the day and the night",
]


@dataclass(frozen=True)
class Weights:
    """The tiny classifier's parameters (seeded)."""

    embedding: np.ndarray
    token_type: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    @classmethod
    def random(cls, vocab_size: int, seed: int = 0) -> Weights:
        rng = np.random.default_rng(seed)
        f = np.float32
        return cls(
            embedding=rng.normal(size=(vocab_size, HIDDEN)).astype(f),
            token_type=rng.normal(scale=0.1, size=(2, HIDDEN)).astype(f),
            w1=rng.normal(scale=0.5, size=(HIDDEN, HIDDEN)).astype(f),
            b1=rng.normal(scale=0.1, size=(HIDDEN,)).astype(f),
            w2=rng.normal(size=(HIDDEN, len(LABELS))).astype(f),
            b2=rng.normal(scale=0.1, size=(len(LABELS),)).astype(f),
        )


def reference_logits(w: Weights, encoded: dict[str, np.ndarray], *, gelu: bool = False) -> np.ndarray:
    """The classifier computed in numpy: embeddings, masked mean pool, dense + tanh (or gelu), dense."""
    emb = w.embedding[encoded["input_ids"]] + w.token_type[encoded["token_type_ids"]]
    mask = encoded["attention_mask"][..., None].astype(np.float64)
    pooled = (emb * mask).sum(axis=1) / mask.sum(axis=1)
    pre = pooled @ w.w1 + w.b1
    if gelu:
        hidden = 0.5 * pre * (1.0 + np.vectorize(math.erf)(pre / math.sqrt(2.0)))
    else:
        hidden = np.tanh(pre)
    return (hidden @ w.w2 + w.b2).astype(np.float32)


def make_tokenizer(path: Path) -> int:
    """A BERT-like WordPiece tokenizer ([PAD]=0, [UNK], [CLS] ... [SEP]) saved as tokenizer.json; its vocab size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {tok: i for i, tok in enumerate(dict.fromkeys([*SPECIALS, *WORDS, *PIECES]))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer.save(str(path))
    return len(vocab)


def make_onnx_model(path: Path, w: Weights, *, gelu: bool = False, opset: int = 17) -> None:
    """The classifier as an ONNX graph; ``gelu`` uses com.microsoft's contrib Gelu (onnxruntime only)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def init(name: str, value: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(value, name)

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "seq"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])
    nodes = [
        helper.make_node("Gather", ["E", "input_ids"], ["tok"]),
        helper.make_node("Gather", ["T", "token_type_ids"], ["typ"]),
        helper.make_node("Add", ["tok", "typ"], ["emb"]),
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["maskf", "axis2"], ["mask3"]),
        helper.make_node("Mul", ["emb", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),
        helper.make_node("Div", ["summed", "count"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "W1"], ["dense1"]),
        helper.make_node("Add", ["dense1", "B1"], ["pre"]),
        helper.make_node("Gelu", ["pre"], ["hidden"], domain="com.microsoft")
        if gelu
        else helper.make_node("Tanh", ["pre"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "W2"], ["dense2"]),
        helper.make_node("Add", ["dense2", "B2"], ["logits"]),
    ]
    initializers = [
        init("E", w.embedding),
        init("T", w.token_type),
        init("W1", w.w1),
        init("B1", w.b1),
        init("W2", w.w2),
        init("B2", w.b2),
        init("axis1", np.array([1], dtype=np.int64)),
        init("axis2", np.array([2], dtype=np.int64)),
    ]
    graph = helper.make_graph(nodes, "tiny-classifier", inputs, [output], initializers)
    opsets = [helper.make_opsetid("", opset)]
    if gelu:
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="edgeptm-runtime-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@dataclass(frozen=True)
class TinyBundle:
    path: Path
    weights: Weights
    gelu: bool = False


def _bundle_folder(folder: Path, *, gelu: bool = False, seed: int = 0) -> TinyBundle:
    folder.mkdir(parents=True)
    vocab_size = make_tokenizer(folder / "tokenizer.json")
    weights = Weights.random(vocab_size, seed)
    make_onnx_model(folder / "model.onnx", weights, gelu=gelu)
    (folder / "README.md").write_text("# tiny\n\nA test classifier.\n")
    return TinyBundle(folder, weights, gelu)


def build_onnx_bundle(folder: Path, *, gelu: bool = False, seed: int = 0) -> TinyBundle:
    """A complete onnx-engine bundle of the tiny classifier, written with the runtime's own writer."""
    bundle = _bundle_folder(folder, gelu=gelu, seed=seed)
    write_bundle_manifest(
        folder,
        name="tiny-contrib" if gelu else "tiny",
        engine="onnx",
        backend="onnx",
        precision="fp32",
        labels=LABELS,
        max_length=MAX_LENGTH,
        extra={"metrics": {"accuracy": 0.5}},
    )
    return bundle


def build_openvino_bundle(folder: Path, source: TinyBundle) -> TinyBundle:
    """The same classifier converted to OpenVINO IR (openvino_model.xml + .bin), as an openvino-engine bundle."""
    import openvino as ov

    folder.mkdir(parents=True)
    ov.save_model(
        ov.convert_model(str(source.path / "model.onnx")), str(folder / "openvino_model.xml"), compress_to_fp16=False
    )
    shutil.copy(source.path / "tokenizer.json", folder / "tokenizer.json")
    write_bundle_manifest(
        folder,
        name="tiny-ir",
        engine="openvino",
        backend="openvino",
        precision="fp32",
        labels=LABELS,
        max_length=MAX_LENGTH,
    )
    return TinyBundle(folder, source.weights)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tiny-bundle")
    if out.exists():
        sys.exit(f"{out} exists; pass a new folder")
    build_onnx_bundle(out)
    print(out)
