"""Knowledge distillation with layer dropping: a shallower student learns from a fine-tuned teacher.

The student is the teacher with fewer encoder layers: the same embeddings, pooler and classifier,
and ``--layers N`` of the teacher's encoder layers chosen evenly and ending at the top one (see
:func:`student_layers`). Keeping the top layer matters for a *fine-tuned* teacher: its pooler and
classifier were trained on that layer's output, so the student starts close to the teacher's
predictions instead of from a representation the head has never seen.

It trains on the loss of Hinton et al. (2015), as DistilBERT does::

    loss = kd_weight · T² · KL(softmax(teacher/T) ‖ softmax(student/T))
         + (1 − kd_weight) · cross-entropy(student, label)
         + hidden_weight · mean over matched layers of MSE(student hidden, teacher hidden)

The ``T²`` keeps the soft term's gradients on the scale of the hard one when ``T`` changes. The
hard term covers only labelled texts: unlabelled text (``--unlabelled``) teaches through the
teacher's logits alone. Hidden-state matching (off by default) pairs the embedding output and
student layer ``i`` with the teacher layer it was copied from, over non-padding tokens; the widths
match because the student keeps the teacher's hidden size.

The training rows, labelled and unlabelled, are resampled evenly across languages
(``language_alpha`` 0; 1 keeps the natural mix) so a language with more text does not dominate.
The teacher's logits are computed once before training (they do not change); with hidden-state
matching the teacher runs beside the student instead. Everything else (seeding, pinned threads,
length-grouped dynamic padding, early stopping on eval macro-F1, resume, the atomic output with its
manifest) is the fine-tuning engine's, so the output is an ordinary classifier folder that
``export``, ``quantize`` and ``evaluate`` take.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from typing_extensions import NotRequired, TypedDict

from edgeptm.data import Dataset, LabelMap
from edgeptm.data.corpus import Corpus
from edgeptm.errors import DataError, ModelError
from edgeptm.fsutil import check_output
from edgeptm.measure.metrics import Agreement, Report, agreement
from edgeptm.train import xla
from edgeptm.train.checkpoints import (
    OnChange,
    RunRecord,
    checkpoint_to_resume,
    model_digest,
    seal_callback,
    texts_digest,
)
from edgeptm.train.finetune import (
    Encoded,
    FinetuneOptions,
    classifier_manifest,
    freeze_lower_layers,
    route_logs,
    selection_arguments,
    selection_metrics,
    split_report,
)
from edgeptm.train.hf import (
    load_pretrained,
    reproducible,
    resolve_model,
    save_trained,
)
from edgeptm.train.pretrain import balanced

RECORD = "edgeptm-distill.json"
"""The run record kept beside the checkpoints (see :mod:`edgeptm.train.checkpoints`)."""

IGNORE = -100
"""The label of an unlabelled row (cross-entropy skips it)."""


class DistillOptions(FinetuneOptions):
    """Fine-tuning's options plus the student's depth and the loss weights."""

    layers: int = Field(ge=1, description="encoder layers of the student (fewer than the teacher's)")
    teacher_layers: list[int] | None = Field(
        None,
        description="the teacher layers (0-based) the student starts from; default evenly spaced ending at the top",
    )
    temperature: float = Field(2.0, gt=0, description="softmax temperature of the distillation term")
    kd_weight: float = Field(0.5, ge=0, le=1, description="weight of the teacher's logits; 1 - it for the labels")
    hidden_weight: float = Field(0.0, ge=0, description="weight of hidden-state matching (0: off)")
    language_alpha: float = Field(
        0.0, ge=0, le=1, description="language sampling exponent p ∝ n^alpha (0: even across languages)"
    )

    @model_validator(mode="after")
    def _layers_match(self) -> DistillOptions:
        if self.teacher_layers is not None and len(self.teacher_layers) != self.layers:
            raise ValueError(f"teacher_layers names {len(self.teacher_layers)} layers but layers is {self.layers}")
        return self


class DistillTrain(TypedDict):
    """How the student was trained."""

    examples: int
    unlabelled: int
    rows_per_epoch: int
    languages: list[str]
    rows_per_language: dict[str, int]
    epochs: float
    steps: int
    best_eval_macro_f1: float | None
    runtime_s: float
    train_loss: float
    trainable_parameters: int
    parameters: int
    teacher_parameters: int
    device: str


class DistillMetrics(TypedDict):
    """``metrics.json`` of a student: fine-tuning's layout (``labels``, ``eval``, ``test``, ``train``)
    plus the teacher's figures on the same splits and the student's agreement with it."""

    labels: list[str]
    eval: Report
    test: NotRequired[Report]
    train: DistillTrain
    teacher: str
    teacher_layers: list[int]
    student_layers: int
    teacher_eval: Report
    teacher_test: NotRequired[Report]
    agreement_eval: Agreement


@dataclass(frozen=True)
class DistillResult:
    """What :func:`distill` made: the student folder and its metrics (also in ``metrics.json``)."""

    out: Path
    metrics: DistillMetrics

    @property
    def eval_macro_f1(self) -> float:
        return self.metrics["eval"]["overall"]["macro_f1"]

    @property
    def teacher_eval_macro_f1(self) -> float:
        return self.metrics["teacher_eval"]["overall"]["macro_f1"]


def student_layers(teacher: int, student: int) -> list[int]:
    """``student`` of ``teacher`` layers, evenly spaced and ending at the top: layer ``⌊(i+1)·L/N⌋ − 1``.

    6 → 3 keeps 1, 3, 5 (every other one); 12 → 4 keeps 2, 5, 8, 11; 2 → 1 keeps 1.
    """
    if not 1 <= student < teacher:
        raise ModelError(
            f"--layers {student}: the teacher has {teacher} encoder layers; a student needs 1 to {teacher - 1}"
        )
    return [(i + 1) * teacher // student - 1 for i in range(student)]


def encoder_layers_name(model: Any) -> str:
    """The dotted name of the model's encoder-layer list (``bert.encoder.layer`` for BERT)."""
    import torch

    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == model.config.num_hidden_layers:
            return name
    raise ModelError(f"can't find the encoder layers of {type(model).__name__} to drop")


def make_student(teacher: Any, layers: Sequence[int]) -> Any:
    """A copy of ``teacher`` with only the encoder ``layers`` (0-based, in order): every other weight
    (embeddings, pooler, classifier) is the teacher's."""
    total = teacher.config.num_hidden_layers
    if not layers or any(not 0 <= i < total for i in layers) or list(layers) != sorted(set(layers)):
        raise ModelError(
            f"--teacher-layers {','.join(map(str, layers))}: expected increasing layer numbers from 0 to {total - 1}"
        )
    prefix = encoder_layers_name(teacher)
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layers)
    student = type(teacher)(config)
    source = teacher.state_dict()
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.*)$")
    weights = {}
    for key in student.state_dict():
        m = pattern.match(key)
        weights[key] = source[f"{prefix}.{layers[int(m[1])]}.{m[2]}" if m else key].clone()
    student.load_state_dict(weights, strict=True)
    return student


def _load_teacher(teacher: str) -> Any:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    name = resolve_model(teacher)
    config_architectures = _architectures(name)
    if not any(a.endswith("ForSequenceClassification") for a in config_architectures):
        raise ModelError(
            f"{teacher}: not a fine-tuned classifier (architectures: {', '.join(config_architectures) or 'none'}); "
            "fine-tune it first with `edgeptm finetune`"
        )
    tokenizer = load_pretrained(AutoTokenizer, name, use_fast=True)
    if not tokenizer.is_fast:
        raise ModelError(f"{teacher}: edgeptm needs a fast tokenizer (tokenizer.json)")
    net = load_pretrained(AutoModelForSequenceClassification, name)
    net.eval()
    return net, tokenizer


def _architectures(name: str) -> list[str]:
    from transformers import AutoConfig

    return list(getattr(load_pretrained(AutoConfig, name), "architectures", None) or [])


def _teacher_labels(net: Any, teacher: str, train: Dataset) -> LabelMap:
    """The teacher's own label order (the student's logits must line up with its logits)."""
    names = [net.config.id2label[i] for i in range(net.config.num_labels)]
    missing = sorted(set(train.labels) - set(names))
    if missing:
        raise DataError(
            f"{train.source}: training labels {', '.join(missing)} are not among the teacher's ({', '.join(names)}); "
            f"distil with data labelled like the teacher {teacher}"
        )
    return LabelMap(names)


class _Rows:
    """Tokenized training rows (labelled then unlabelled), each with its language and, once computed,
    the teacher's logits."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


def _tokenize(tokenizer: Any, texts: list[str], labels: list[int], languages: list[str], max_length: int) -> list[dict]:
    if not texts:
        return []
    enc = tokenizer(texts, truncation=True, max_length=max_length)
    keys = list(enc.keys())
    return [{**{k: enc[k][i] for k in keys}, "labels": labels[i], "language": languages[i]} for i in range(len(texts))]


def _teacher_logits(teacher: Any, tokenizer: Any, rows: list[dict], batch_size: int, device: Any) -> None:
    """Add the teacher's logits to every row (batches of similar length; eval mode, no gradients)."""
    import torch

    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
    teacher.to(device)
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer.pad([_model_inputs(rows[i]) for i in chunk], return_tensors="pt")
            logits = teacher(**{k: v.to(device) for k, v in batch.items()}).logits.float().cpu()
            for i, row_logits in zip(chunk, logits):
                rows[i]["teacher_logits"] = row_logits.tolist()


def _model_inputs(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("labels", "language", "teacher_logits")}


class _Collator:
    """The fine-tuning collator (dynamic padding, or XLA's length buckets) plus the teacher's logits."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        batch = self.inner([{**_model_inputs(f), "labels": f["labels"]} for f in features])
        if all("teacher_logits" in f for f in features):
            batch["teacher_logits"] = torch.tensor([f["teacher_logits"] for f in features], dtype=torch.float32)
        return batch


def _trainer_class() -> Any:
    import torch
    import torch.nn.functional as F
    from transformers import Trainer

    class DistillTrainer(Trainer):
        """The Trainer with the distillation loss; evaluation uses the hard labels only."""

        def __init__(
            self, *args: Any, teacher: Any, options: DistillOptions, pairs: list[tuple[int, int]], **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self.teacher = teacher
            self.options = options
            self.pairs = pairs  # (student hidden-state index, teacher hidden-state index)
            self.model_accepts_loss_kwargs = False  # the loss is a mean: divide by accumulation steps

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
            inputs = dict(inputs)
            labels = inputs.pop("labels")
            cached = inputs.pop("teacher_logits", None)
            o = self.options
            match_hidden = model.training and o.hidden_weight > 0
            out = model(**inputs, output_hidden_states=match_hidden)
            logits = out.logits
            labelled = labels != IGNORE
            hard = F.cross_entropy(logits[labelled], labels[labelled]) if labelled.any() else logits.sum() * 0.0
            if not model.training:
                return (hard, out) if return_outputs else hard
            teacher_out = None
            if match_hidden:
                self.teacher.to(logits.device)
                with torch.no_grad():
                    teacher_out = self.teacher(**inputs, output_hidden_states=True)
                cached = teacher_out.logits
            t = o.temperature
            soft = F.kl_div(
                F.log_softmax(logits / t, dim=-1), F.softmax(cached.to(logits.dtype) / t, dim=-1), reduction="batchmean"
            ) * (t * t)
            loss = o.kd_weight * soft + (1 - o.kd_weight) * hard
            if teacher_out is not None:
                mask = inputs["attention_mask"].unsqueeze(-1).to(logits.dtype)
                tokens = mask.sum() * out.hidden_states[0].shape[-1]
                mse = [
                    (((out.hidden_states[s] - teacher_out.hidden_states[h]) ** 2) * mask).sum() / tokens
                    for s, h in self.pairs
                ]
                loss = loss + o.hidden_weight * torch.stack(mse).mean()
            return (loss, out) if return_outputs else loss

    return DistillTrainer


def run_record(
    teacher: str, options: DistillOptions, train: Dataset, eval_data: Dataset, unlabelled: Corpus | dict
) -> RunRecord:
    """What identifies a distillation run: every option, the teacher (by content when local), and the
    labelled and unlabelled data by content."""
    import json

    data = {
        split: texts_digest(list(zip(d.texts, d.labels, d.languages)))
        for split, d in (("train", train), ("eval", eval_data))
    }
    data["unlabelled"] = texts_digest([(lang, *lines) for lang, lines in sorted(unlabelled.items())])
    return {
        "options": json.loads(options.model_dump_json()),
        "model": teacher,
        "model_sha256": model_digest(teacher),
        "data": data,
    }


def distill(
    teacher: str,
    train: Dataset,
    eval_data: Dataset,
    out: Path,
    options: DistillOptions,
    *,
    unlabelled: Corpus | None = None,
    test: Dataset | None = None,
    resume: bool = False,
    on_change: OnChange = "refuse",
    progress: bool = True,
    log: Callable[[str], None] = print,
    callbacks: Sequence[Any] = (),
    force: bool = False,
) -> DistillResult:
    """Distil the fine-tuned classifier ``teacher`` into a student of ``options.layers`` layers at ``out``.

    ``unlabelled`` texts (language -> lines) add rows taught by the teacher's logits only. Like
    :func:`~edgeptm.train.finetune.finetune`, a model edgeptm made at ``out`` is replaced only with
    ``force``, and ``resume`` continues from the last complete checkpoint of the same run (see
    :func:`run_record`); another run's checkpoints are refused, or dropped with ``on_change="restart"``.
    """
    local = Path(teacher).expanduser()
    check_output(Path(out), "model", force=force, inputs=(local,) if local.exists() else ())
    with reproducible(options.threads):  # same options and data: the same student, bit for bit
        import transformers
        from transformers import DataCollatorWithPadding, EarlyStoppingCallback, Trainer

        transformers.logging.set_verbosity_error()
        out = Path(out)
        work = out.parent / f"{out.name}.checkpoints"
        transformers.set_seed(options.seed)
        teacher_net, tokenizer = _load_teacher(teacher)
        labels = _teacher_labels(teacher_net, teacher, train)
        train_ids = labels.encode(train, "train")
        eval_ids = labels.encode(eval_data, "eval")
        test_ids = labels.encode(test, "test") if test is not None else None
        total_layers = teacher_net.config.num_hidden_layers
        evenly = student_layers(total_layers, options.layers)  # also refuses a student as deep as the teacher
        chosen = options.teacher_layers or evenly
        student = make_student(teacher_net, chosen)
        trainable = (
            freeze_lower_layers(student, options.freeze_layers)
            if options.freeze_layers is not None
            else sum(p.numel() for p in student.parameters())
        )
        max_length = min(options.max_length, student.config.max_position_embeddings)
        on_xla = xla.training_on_xla()

        extra = unlabelled or {}
        rows = _tokenize(tokenizer, train.texts, train_ids, train.languages, max_length)
        for lang, lines in sorted(extra.items()):
            rows += _tokenize(tokenizer, lines, [IGNORE] * len(lines), [lang] * len(lines), max_length)
        by_language: dict[str, list[dict]] = {}
        for row in rows:
            by_language.setdefault(row["language"], []).append(row)
        epoch_rows = balanced(by_language, options.language_alpha, options.seed)
        per_language = {lang: sum(r["language"] == lang for r in epoch_rows) for lang in sorted(by_language)}
        log(
            f"student: teacher layers {', '.join(map(str, chosen))} of {total_layers}; "
            f"{len(epoch_rows)} rows per epoch ({', '.join(f'{k} {v}' for k, v in per_language.items())})"
        )

        args = selection_arguments(
            work,
            options,
            progress=progress,
            on_xla=on_xla,
            remove_unused_columns=False,  # the collator keeps the teacher's logits out of the model's inputs
        )
        checkpoint = checkpoint_to_resume(
            args,
            work,
            run_record(teacher, options, train, eval_data, extra),
            resume=resume,
            on_change=on_change,
            record_file=RECORD,
            log=log,
        )
        if options.hidden_weight == 0:  # otherwise the teacher runs beside the student for its hidden states
            _teacher_logits(teacher_net, tokenizer, rows, options.eval_batch_size, args.device)
        pairs = [(0, 0)] + [(i + 1, layer + 1) for i, layer in enumerate(chosen)]
        inner = (
            xla.BucketCollator(tokenizer, xla.seq_buckets(max_length)) if on_xla else DataCollatorWithPadding(tokenizer)
        )
        trainer = _trainer_class()(
            model=student,
            args=args,
            train_dataset=_Rows(epoch_rows),
            eval_dataset=Encoded(tokenizer, eval_data, eval_ids, max_length),
            processing_class=tokenizer,
            data_collator=_Collator(inner),
            compute_metrics=selection_metrics(len(labels.names)),
            callbacks=[
                EarlyStoppingCallback(early_stopping_patience=options.early_stopping_patience),
                *callbacks,
                seal_callback(),
            ],
            teacher=teacher_net,
            options=options,
            pairs=pairs,
        )
        route_logs(trainer, progress, log)
        started = time.perf_counter()
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        elapsed = time.perf_counter() - started
        trainer.args.group_by_length = False

        teacher_trainer = Trainer(
            model=teacher_net,
            args=args,
            eval_dataset=trainer.eval_dataset,
            processing_class=tokenizer,
            data_collator=inner,
        )

        def teacher_report(data: Dataset, ids: list[int]) -> tuple[Report, Any]:
            return split_report(teacher_trainer, tokenizer, data, ids, max_length, len(labels.names))

        eval_report, eval_logits = split_report(trainer, tokenizer, eval_data, eval_ids, max_length, len(labels.names))
        teacher_eval, teacher_eval_logits = teacher_report(eval_data, eval_ids)
        metrics: DistillMetrics = {
            "labels": labels.names,
            "eval": eval_report,
            "train": {
                "examples": len(train),
                "unlabelled": sum(len(v) for v in extra.values()),
                "rows_per_epoch": len(epoch_rows),
                "languages": sorted(by_language),
                "rows_per_language": per_language,
                "epochs": float(trainer.state.epoch or 0),
                "steps": int(trainer.state.global_step),
                "best_eval_macro_f1": trainer.state.best_metric,
                "runtime_s": round(elapsed, 2),
                "train_loss": float(train_result.training_loss),
                "trainable_parameters": int(trainable),
                "parameters": sum(p.numel() for p in trainer.model.parameters()),
                "teacher_parameters": sum(p.numel() for p in teacher_net.parameters()),
                "device": str(args.device),
            },
            "teacher": str(teacher),
            "teacher_layers": list(chosen),
            "student_layers": len(chosen),
            "teacher_eval": teacher_eval,
            "agreement_eval": agreement(eval_logits, teacher_eval_logits, eval_data.languages),
        }
        if test is not None and test_ids is not None:
            metrics["test"] = split_report(trainer, tokenizer, test, test_ids, max_length, len(labels.names))[0]
            metrics["teacher_test"] = teacher_report(test, test_ids)[0]
        save_trained(
            trainer,
            tokenizer,
            out,
            work,
            dict(metrics),
            extra=classifier_manifest(out, labels, max_length, "distill", options),
        )
        return DistillResult(out=out, metrics=metrics)
