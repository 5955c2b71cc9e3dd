"""Distillation: the student is built from the chosen teacher layers, learns from the teacher's logits
(and hidden states when asked), is a normal classifier folder that exports and evaluates, and bad
input gets one-line errors."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgeptm.data import Dataset, Example
from edgeptm.errors import DataError, ModelError
from edgeptm.train.distill import DistillOptions, DistillResult, distill, make_student, student_layers

FAST = DistillOptions(layers=1, epochs=4, learning_rate=1e-3, batch_size=32, max_length=32, seed=3)


def quiet_distill(*args, **kwargs) -> DistillResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return distill(*args, progress=False, log=kwargs.pop("log", lambda m: None), **kwargs)


def shuffled_labels(data: Dataset, seed: int = 0) -> Dataset:
    """The same texts with their labels shuffled: a student that matches the teacher on these
    learned from the teacher, not from the labels."""
    labels = data.labels
    random.Random(seed).shuffle(labels)
    examples = [Example(e.text, label, e.language) for e, label in zip(data.examples, labels)]
    return Dataset(examples, data.source, data.locations)


def logits_of(folder_or_model, texts: list[str], tokenizer_folder: Path) -> np.ndarray:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = (
        AutoModelForSequenceClassification.from_pretrained(folder_or_model)
        if isinstance(folder_or_model, Path)
        else folder_or_model
    )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    model.eval()
    with torch.no_grad():
        enc = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
        return model(**enc).logits.numpy()


def kl(reference: np.ndarray, logits: np.ndarray) -> float:
    """Mean KL(softmax(reference) ‖ softmax(logits)): what distillation minimises (blind to a per-text
    shift of all logits, which a raw |Δlogit| would count)."""

    def log_softmax(x: np.ndarray) -> np.ndarray:
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))

    p = log_softmax(reference)
    return float(np.mean(np.sum(np.exp(p) * (p - log_softmax(logits)), -1)))


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory, finetuned: Path, sample) -> Path:
    """The fine-tuned tiny model with a pooler that amplifies how its [CLS] state varies between texts,
    a random classifier, and no dropout. The sample fine-tuning leaves the tiny model's logits almost
    the same for every text, which a student would match without learning anything; this teacher's
    logits depend strongly on the text (std ~3 across the sample), so matching them must be learned."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(finetuned)
    model = AutoModelForSequenceClassification.from_pretrained(
        finetuned, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    ).eval()
    enc = tokenizer(sample["train"].texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        cls = model(**enc, output_hidden_states=True).hidden_states[-1][:, 0]
        mean, std = cls.mean(0), cls.std(0)
        gain = torch.randn(cls.shape[1], cls.shape[1]) / (std[None, :] * cls.shape[1] ** 0.5)
        model.bert.pooler.dense.weight.copy_(gain)
        model.bert.pooler.dense.bias.copy_(-(gain @ mean))
        model.classifier.weight.normal_(0, 1.0)
        model.classifier.bias.zero_()
    out = tmp_path_factory.mktemp("teacher") / "teacher"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def teacher_labelled(data: Dataset, teacher: Path) -> Dataset:
    """``data`` labelled with the teacher's predictions, so the best checkpoint is the one that agrees most."""
    names = ["negative", "neutral", "positive"]
    predicted = logits_of(teacher, data.texts, teacher).argmax(-1)
    return Dataset(
        [Example(e.text, names[p], e.language) for e, p in zip(data.examples, predicted)], data.source, data.locations
    )


@pytest.fixture(scope="module")
def student(tmp_path_factory: pytest.TempPathFactory, teacher: Path, sample) -> DistillResult:
    """A 1-layer student of the 2-layer teacher, taught by the teacher's logits only (labels shuffled),
    with unlabelled German and Hindi text added."""
    folder = tmp_path_factory.mktemp("distill")
    extra = {"de": [f"Das ist Satz Nummer {i}." for i in range(30)], "hi": ["यह एक वाक्य है।"] * 10}
    return quiet_distill(
        str(teacher),
        shuffled_labels(sample["train"]),
        teacher_labelled(sample["eval"], teacher),
        folder / "student",
        FAST.model_copy(update={"kd_weight": 1.0}),
        unlabelled=extra,
        test=sample["test"],
    )


def test_layers_are_evenly_spaced_and_end_at_the_top() -> None:
    assert student_layers(6, 3) == [1, 3, 5]
    assert student_layers(12, 4) == [2, 5, 8, 11]
    assert student_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert student_layers(2, 1) == [1]
    for bad in (0, 2, 3):
        with pytest.raises(
            ModelError, match=rf"^--layers {bad}: the teacher has 2 encoder layers; a student needs 1 to 1$"
        ):
            student_layers(2, bad)


def test_student_weights_are_the_chosen_teacher_layers(finetuned: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    teacher = AutoModelForSequenceClassification.from_pretrained(finetuned)
    for chosen in ([0], [1]):
        state, source = make_student(teacher, chosen).state_dict(), teacher.state_dict()
        assert {k.split(".")[3] for k in state if k.startswith("bert.encoder.layer.")} == {"0"}
        for key, value in state.items():
            src = key.replace("encoder.layer.0.", f"encoder.layer.{chosen[0]}.")
            assert (value == source[src]).all(), key
    other = make_student(teacher, [1]).state_dict()
    differs = make_student(teacher, [0]).state_dict()
    q = "bert.encoder.layer.0.attention.self.query.weight"
    assert not (other[q] == differs[q]).all(), "the two teacher layers differ, so the test can tell them apart"
    with pytest.raises(ModelError, match=r"^--teacher-layers 1,0: expected increasing layer numbers from 0 to 1$"):
        make_student(teacher, [1, 0])


def test_student_is_a_smaller_classifier_folder(student: DistillResult, sample) -> None:
    from safetensors.torch import load_file

    out = student.out
    config = json.loads((out / "config.json").read_text())
    assert config["num_hidden_layers"] == 1
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    manifest = json.loads((out / "edgeptm.json").read_text())
    assert manifest["options"]["distill"]["layers"] == 1 and manifest["labels"] == ["negative", "neutral", "positive"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(student.metrics))
    assert metrics["teacher_layers"] == [1] and metrics["student_layers"] == 1
    for split, n in (("eval", 120), ("test", 144)):
        for key in (split, f"teacher_{split}"):
            assert metrics[key]["overall"]["n"] == n
            assert sorted(metrics[key]["per_language"]) == sample["train"].language_set()
    t = metrics["train"]
    assert t["examples"] == 480 and t["unlabelled"] == 40
    # 520 rows in 8 languages, resampled evenly: 65 per language (Hindi's 60 + 10 unlabelled -> 65)
    assert t["rows_per_epoch"] == 520 and set(t["rows_per_language"].values()) == {65}
    assert t["parameters"] < t["teacher_parameters"]
    weights = load_file(out / "model.safetensors")
    assert not any(k.startswith("bert.encoder.layer.1.") for k in weights)
    assert not (out.parent / "student.checkpoints").exists()


def test_student_learns_from_the_teacher(student: DistillResult, teacher: Path, sample) -> None:
    """Trained on shuffled labels with kd_weight 1, the student can only have learned from the teacher's
    logits: on the texts it was taught on, its predicted distribution must be much closer to the
    teacher's than that of the same student before training (measured: KL 1.56 -> 0.74)."""
    from transformers import AutoModelForSequenceClassification

    texts = sample["train"].texts
    reference = logits_of(teacher, texts, teacher)
    untrained = logits_of(
        make_student(AutoModelForSequenceClassification.from_pretrained(teacher), [1]), texts, teacher
    )
    trained = logits_of(student.out, texts, teacher)
    before, after = kl(reference, untrained), kl(reference, trained)
    print(f"KL(teacher ‖ student): untrained {before:.4f}, distilled {after:.4f}")
    assert after < 0.6 * before, (before, after)


def test_hidden_state_matching_pulls_the_top_layer_to_the_teachers(
    tmp_path: Path, student: DistillResult, teacher: Path, sample
) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    matched = quiet_distill(
        str(teacher),
        shuffled_labels(sample["train"]),
        teacher_labelled(sample["eval"], teacher),
        tmp_path / "hidden",
        FAST.model_copy(update={"kd_weight": 1.0, "hidden_weight": 10.0}),
    )
    tokenizer = AutoTokenizer.from_pretrained(teacher)
    enc = tokenizer(sample["test"].texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    mask = enc["attention_mask"].unsqueeze(-1).bool()

    def top(folder: Path, layer: int) -> torch.Tensor:
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        with torch.no_grad():
            return model(**enc, output_hidden_states=True).hidden_states[layer].masked_select(mask)

    target = top(teacher, 2)
    with_hidden = float(((top(matched.out, 1) - target) ** 2).mean())
    logits_only = float(((top(student.out, 1) - target) ** 2).mean())
    assert with_hidden < 0.5 * logits_only, (with_hidden, logits_only)


def test_bad_input_gets_one_line_errors(tmp_path: Path, tiny_base: Path, finetuned: Path, sample) -> None:
    with pytest.raises(ModelError, match=r"not a fine-tuned classifier \(architectures: BertForMaskedLM\)"):
        quiet_distill(str(tiny_base), sample["train"], sample["eval"], tmp_path / "a", FAST)
    with pytest.raises(ModelError, match=r"^--layers 2: the teacher has 2 encoder layers; a student needs 1 to 1$"):
        quiet_distill(
            str(finetuned), sample["train"], sample["eval"], tmp_path / "b", FAST.model_copy(update={"layers": 2})
        )
    relabelled = Dataset(
        [Example(e.text, "joy", e.language) for e in sample["train"].examples], "x.jsonl", ["x.jsonl:1"] * 480
    )
    with pytest.raises(DataError, match=r"^x.jsonl: training labels joy are not among the teacher's"):
        quiet_distill(str(finetuned), relabelled, sample["eval"], tmp_path / "c", FAST)
    with pytest.raises(ValueError, match="teacher_layers names 2 layers but layers is 1"):
        DistillOptions(layers=1, teacher_layers=[0, 1])
    assert not any(tmp_path.iterdir()), "nothing is written when the input is refused"
