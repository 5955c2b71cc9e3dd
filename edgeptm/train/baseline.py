"""The linear baseline every model is measured against: a char n-gram TF-IDF + logistic regression.

On small data a transformer can lose to it, and a user deploying to a device should know: the baseline
trains in seconds on the same training split, is measured per language through the same metrics, and
ships like any artifact. It is written as an ONNX artifact (skl2onnx) whose graph reads raw text, splits
characters and counts n-grams itself, so ``evaluate``, ``bench``, ``bundle`` and ``edgeptm-runtime`` run it
with no scikit-learn (and no tokenizer) on the device.

Only what the ONNX converter carries exactly is used (see :data:`NOT_CARRIED`); before anything is
written, the ONNX model's logits are checked against scikit-learn's on the evaluation texts, and a
difference larger than :data:`TOLERANCE` refuses the result. scikit-learn and skl2onnx (the ``train``
extra) are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edgeptm.data import Dataset, LabelMap
from edgeptm.errors import DataError, ModelError
from edgeptm.fsutil import atomic_dir, check_output, write_json
from edgeptm.manifest import TFIDF_LINEAR, Comparison, Manifest, Validation
from edgeptm.measure.metrics import Report, classification_report

MODEL_FILE = "model.onnx"
METRICS_FILE = "metrics.json"
TOLERANCE = 1e-4
"""Max |Δlogit| between the ONNX graph and scikit-learn that counts as the same model (fp32 export's bar)."""
CHECK_TEXTS = 500
"""Training texts the ONNX graph is checked on when there is no evaluation data."""
OPSETS = {"": 17, "ai.onnx.ml": 3}

NOT_CARRIED: dict[str, str] = {
    "analyzer=char_wb": "skl2onnx refuses it (no word-boundary padding in ONNX); analyzer=char is used, so "
    "n-grams also span the space between words",
    "sublinear_tf": "skl2onnx converts it as log(1+tf) rather than scikit-learn's 1+log(tf), so ONNX and "
    "scikit-learn would differ; raw term frequencies are used",
    "strip_accents": "no ONNX operator strips accents; accents are kept",
    "lower-casing inside the graph": "ONNX StringNormalizer lower-cases per installed locale; texts are "
    "lower-cased in Python before the graph (edgeptm_runtime.text, recorded in the manifest and bundle)",
}
"""scikit-learn features the ONNX conversion can't carry exactly, and what the baseline does instead."""


class BaselineOptions(BaseModel):
    """How the baseline is trained (``edgeptm baseline`` options and the recipe stage's fields)."""

    model_config = ConfigDict(extra="forbid")

    ngram_min: int = Field(1, ge=1, description="shortest character n-gram")
    ngram_max: int = Field(4, ge=1, le=8, description="longest character n-gram")
    max_features: int | None = Field(100_000, ge=1, description="keep the most frequent n-grams (None: all)")
    min_df: int = Field(2, ge=1, description="ignore n-grams in fewer training texts than this")
    c: float = Field(4.0, gt=0, description="inverse L2 regularisation strength of the logistic regression")
    max_iter: int = Field(1000, ge=1, description="solver iterations (lbfgs)")
    max_length: int = Field(1024, ge=1, description="characters read of each text (after normalization)")
    lowercase: bool = Field(True, description="lower-case texts before counting n-grams")
    seed: int = 42

    @model_validator(mode="after")
    def _range(self) -> BaselineOptions:
        if self.ngram_max < self.ngram_min:
            raise ValueError(f"ngram_max ({self.ngram_max}) is below ngram_min ({self.ngram_min})")
        return self

    def normalize(self) -> list[str]:
        """The runtime's text normalization steps (:data:`edgeptm_runtime.text.NORMALIZERS`) in order."""
        return ["collapse_whitespace", *(["lowercase"] if self.lowercase else [])]


@dataclass(frozen=True)
class BaselineResult:
    """What :func:`train_baseline` made: the artifact and how it scored (for ``tune`` and the summary)."""

    path: Path
    """The ONNX artifact folder (manifest kind ``tfidf-linear``): ``evaluate``/``bench``/``bundle`` take it."""
    labels: list[str]
    features: int
    """TF-IDF n-grams kept (the linear layer's width)."""
    train_examples: int
    train_seconds: float
    size_bytes: int
    """Size of ``model.onnx`` on disk."""
    onnx_check: Comparison
    """The ONNX graph against scikit-learn on the check texts (max |Δlogit|, agreement %, n)."""
    eval: Report | None
    """Accuracy and macro-F1 overall and per language on the evaluation data (ONNX predictions)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "labels": self.labels,
            "features": self.features,
            "train_examples": self.train_examples,
            "train_seconds": self.train_seconds,
            "size_bytes": self.size_bytes,
            "onnx_check": dict(self.onnx_check),
            "eval": self.eval,
        }


def _pipeline(options: BaselineOptions) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=(options.ngram_min, options.ngram_max),
        lowercase=False,  # done by the text encoder, the same on the device (see NOT_CARRIED)
        min_df=options.min_df,
        max_features=options.max_features,
        sublinear_tf=False,
        dtype=np.float32,
    )
    classifier = LogisticRegression(C=options.c, max_iter=options.max_iter, random_state=options.seed)
    return Pipeline([("tfidf", vectorizer), ("linear", classifier)])


def fit_pipeline(texts: Sequence[str], y: Sequence[int] | np.ndarray, options: BaselineOptions) -> Any:
    """The fitted scikit-learn pipeline, on texts already prepared by the text encoder.

    The vocabulary is closed under characters: an n-gram is kept only with every character in it. With
    ``max_features``, ties at the cut can keep ``"音乐"`` but drop ``"乐"``, and skl2onnx maps each n-gram
    to its characters' entries, so it refuses such a vocabulary. The few n-grams dropped for it change
    nothing else: the vectorizer is refitted on the closed vocabulary (same order, same idf formula)."""
    pipeline = _pipeline(options)
    vocabulary = pipeline[0].fit(texts).vocabulary_
    closed = sorted(g for g in vocabulary if all(ch in vocabulary for ch in g))
    if len(closed) < len(vocabulary):
        pipeline.set_params(tfidf__vocabulary=closed)
    return pipeline.fit(texts, y)


def logits_of(pipeline: Any, texts: Sequence[str]) -> np.ndarray:
    """scikit-learn's logits ``[n, num_labels]`` whose softmax is ``predict_proba``: the decision function,
    and for two labels ``[-s/2, s/2]`` (softmax of that is ``sigmoid(s)``), as the ONNX graph outputs."""
    scores = np.asarray(pipeline.decision_function(list(texts)), dtype=np.float64)
    if scores.ndim == 1:
        scores = np.stack([-scores / 2, scores / 2], axis=1)
    return scores.astype(np.float32)


def to_onnx(pipeline: Any, num_labels: int) -> Any:
    """The fitted pipeline as an ONNX model with one input ``text`` (``[batch, 1]`` strings) and one output
    ``logits`` (see :func:`logits_of`); the converter's label and probability outputs are pruned."""
    import onnx
    from onnx import helper
    from skl2onnx import to_onnx as convert
    from skl2onnx.common.data_types import StringTensorType

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "conversion may not work" for analyzer=char: checked against sklearn below
        model = convert(
            pipeline,
            initial_types=[("text", StringTensorType([None, 1]))],
            options={id(pipeline[-1]): {"zipmap": False, "raw_scores": True}},
            target_opset=OPSETS,
        )
    graph = model.graph
    scores = next(o.name for o in graph.output if o.name != "label")
    if num_labels == 2:  # raw scores come as [-s, s]
        half = helper.make_tensor("half", onnx.TensorProto.FLOAT, [], [0.5])
        graph.initializer.append(half)
        graph.node.append(helper.make_node("Mul", [scores, "half"], ["logits"], name="binary_logits"))
    else:
        graph.node.append(helper.make_node("Identity", [scores], ["logits"], name="logits"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [None, num_labels]))
    _prune(graph)
    onnx.checker.check_model(model)
    return model


def _prune(graph: Any) -> None:
    """Drop nodes (and initializers) nothing reachable from the outputs uses."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(keep))
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def onnx_logits(model_path: Path, encoder: Any, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Logits of the ONNX file as the device runtime computes them (its engine, text encoder and batching)."""
    from edgeptm.encoding import runtime_errors
    from edgeptm_runtime.encoding import TruncationWarning, run_length_sorted
    from edgeptm_runtime.engines import OnnxEngine

    with runtime_errors(), OnnxEngine(model_path, threads=1) as engine, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return run_length_sorted(encoder, texts, batch_size, engine.logits)


def train_baseline(
    train: Dataset,
    out: Path,
    options: BaselineOptions = BaselineOptions(),
    *,
    eval_data: Dataset | None = None,
    force: bool = False,
    log: Any = print,
) -> BaselineResult:
    """Train the baseline on ``train`` and write its ONNX artifact to ``out``.

    Seeded and single-threaded, so the same data and options give the same model. The ONNX graph is
    checked against scikit-learn on ``eval_data`` (or on up to :data:`CHECK_TEXTS` training texts) and
    nothing is written when they differ by more than :data:`TOLERANCE`. With ``eval_data`` the result
    carries accuracy and macro-F1 per language. A baseline edgeptm made at ``out`` is replaced only with
    ``force``; anything else there is refused before training.
    """
    out = Path(out)
    check_output(out, "artifact", force=force)
    try:
        import skl2onnx
        import sklearn
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ModelError("the baseline needs scikit-learn and skl2onnx: pip install 'edgeptm[train]'") from None
    from edgeptm.encoding import TextEncoder

    if len(train) == 0:
        raise DataError(f"{train.source}: no training examples")
    labels = LabelMap.from_dataset(train)
    if len(labels.names) < 2:
        raise DataError(f"{train.source}: only one label ({labels.names[0]}); a classifier needs at least two")
    encoder = TextEncoder(options.max_length, options.normalize())
    texts = encoder.tokenize(train.texts)
    y = np.asarray(labels.encode(train, role="train"))
    started = time.perf_counter()
    with threadpool_limits(1):  # one BLAS thread: the same floats on any machine load
        try:
            pipeline = fit_pipeline(texts, y, options)
        except ValueError as exc:  # e.g. min_df leaves no n-gram
            raise DataError(f"{train.source}: the baseline can't be trained ({exc}); lower min_df") from None
    seconds = time.perf_counter() - started
    features = len(pipeline[0].vocabulary_)
    log(f"baseline: {features} char {options.ngram_min}-{options.ngram_max}-grams, trained in {seconds:.1f} s")

    check = eval_data if eval_data is not None and len(eval_data) else None
    check_texts = check.texts if check is not None else train.texts[:CHECK_TEXTS]
    expected = logits_of(pipeline, encoder.tokenize(check_texts))
    model = to_onnx(pipeline, len(labels.names))
    with atomic_dir(out, kind="artifact") as tmp:
        (tmp / MODEL_FILE).write_bytes(model.SerializeToString())
        got = onnx_logits(tmp / MODEL_FILE, encoder, check_texts)
        diff = float(np.max(np.abs(got - expected))) if len(got) else 0.0
        agree = 100.0 * float(np.mean(got.argmax(-1) == expected.argmax(-1))) if len(got) else 100.0
        comparison: Comparison = {"max_abs_logit_diff": diff, "agreement_pct": agree, "n": len(check_texts)}
        if diff > TOLERANCE:
            raise ModelError(
                f"the baseline's ONNX graph differs from scikit-learn by {diff:.3g} (> {TOLERANCE}) on "
                f"{len(check_texts)} texts; nothing was written (skl2onnx {skl2onnx.__version__})"
            )
        report = None
        if check is not None:
            report = classification_report(labels.encode(check), got.argmax(-1), check.languages, len(labels.names))
        validation: Validation = {
            **comparison,
            "tolerance": TOLERANCE,
            "source": f"scikit-learn {sklearn.__version__} on {'the eval' if check is not None else 'training'} texts",
        }
        manifest = Manifest(
            backend="onnx",
            precision="fp32",
            kind=TFIDF_LINEAR,
            text_normalize=options.normalize(),
            labels=labels.names,
            max_length=options.max_length,
            files=[MODEL_FILE],
            options={},
            export_info={
                "model": "char n-gram TF-IDF + logistic regression",
                "options": options.model_dump(mode="json"),
                "features": features,
                "train_examples": len(train),
                "train_languages": {lang: train.languages.count(lang) for lang in train.language_set()},
                "train_seconds": round(seconds, 3),
                "converter": f"skl2onnx {skl2onnx.__version__}, scikit-learn {sklearn.__version__}",
                "not_carried": NOT_CARRIED,
            },
            validation=validation,
        )
        manifest.save(tmp)
        write_json(tmp / METRICS_FILE, {"labels": labels.names, "eval": report, "onnx_check": comparison})
    return BaselineResult(
        path=out,
        labels=labels.names,
        features=features,
        train_examples=len(train),
        train_seconds=seconds,
        size_bytes=(out / MODEL_FILE).stat().st_size,
        onnx_check=comparison,
        eval=report,
    )
