"""The fine-tuning engine: transformers' Trainer for sequence classification.

Dynamic padding, length-grouped batches, early stopping on eval macro-F1 with
the best checkpoint kept, ``resume`` from the last checkpoint, and optional
freezing of the embeddings and lowest encoder layers. The device (CPU, CUDA,
TPU) comes from accelerate; under ``torchrun`` it trains with DDP (gloo on CPU).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from edgeptm.backend import REFERENCE_BACKEND
from edgeptm.data import Dataset, LabelMap
from edgeptm.errors import ModelError
from edgeptm.fsutil import check_output
from edgeptm.manifest import WEIGHT_FILES, Manifest
from edgeptm.measure.coverage import DEFAULT_MAX_UNK_RATE, Coverage, by_language, measure_coverage
from edgeptm.measure.metrics import Report, classification_report
from edgeptm.train import xla
from edgeptm.train.checkpoints import (
    OnChange,
    RunRecord,
    checkpoint_to_resume,
    model_digest,
    seal_callback,
    texts_digest,
)
from edgeptm.train.collapse import check_classes, single_class_warning
from edgeptm.train.hf import (
    load_pretrained,
    reproducible,
    resolve_model,
    save_trained,
    training_arguments,
)

RECORD = "edgeptm-finetune.json"
"""The record of the run in its checkpoints folder (see :mod:`edgeptm.train.checkpoints`)."""


class FinetuneOptions(BaseModel):
    """Training options (CLI flags and the recipe's ``finetune`` stage)."""

    model_config = ConfigDict(extra="forbid")

    max_length: int = Field(128, ge=8, le=4096)
    epochs: float = Field(3.0, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    seed: int = 42
    freeze_layers: int | None = Field(None, ge=0)
    early_stopping_patience: int = Field(3, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1, description="torch threads while training (default: the physical cores)")
    max_unk_rate: float = Field(
        DEFAULT_MAX_UNK_RATE, ge=0, le=1, description="warn when a language has a larger share of unknown tokens"
    )


def tokenizer_coverage(
    tokenizer: Any, datasets: Sequence[Dataset | None], max_unk_rate: float, model: str, log: Any
) -> Coverage:
    """The tokenizer's coverage of every language in ``datasets`` (train, eval and test pooled: a language
    seen only at test time matters as much), with a warning through ``log`` for those it can't read."""
    texts: dict[str, list[str]] = {}
    for data in datasets:
        if data is not None:
            for lang, lines in by_language(data.texts, data.languages).items():
                texts.setdefault(lang, []).extend(lines)
    coverage = measure_coverage(tokenizer.backend_tokenizer, texts, max_unk_rate)
    if warning := coverage.warning(model):
        log(warning)
    return coverage


def freeze_lower_layers(model: Any, n: int) -> int:
    """Freeze the embeddings and the lowest ``n`` encoder layers; return trainable parameters."""
    import torch

    base = model.base_model
    for p in base.embeddings.parameters():
        p.requires_grad = False
    layers = next(
        (m for m in base.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == model.config.num_hidden_layers),
        None,
    )
    if layers is None:
        raise ModelError(f"can't find the encoder layers of {type(model).__name__} to freeze")
    if n > len(layers):
        raise ModelError(f"--freeze-layers {n}: the model has only {len(layers)} encoder layers")
    for layer in list(layers)[:n]:
        for p in layer.parameters():
            p.requires_grad = False
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class Encoded:
    """A torch-style dataset of tokenized examples (no padding; the collator pads)."""

    def __init__(self, tokenizer: Any, data: Dataset, label_ids: list[int], max_length: int) -> None:
        enc = tokenizer(data.texts, truncation=True, max_length=max_length)
        self.rows = [{**{k: enc[k][i] for k in enc.keys()}, "labels": label_ids[i]} for i in range(len(data))]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def route_logs(trainer: Any, progress: bool, log: Any) -> None:
    """Keep stdout for results: a progress bar (stderr) and one line per evaluation through ``log``."""
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback

    class QuietProgress(ProgressCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            """Log dicts go through ``EpochLog`` instead of being printed to stdout."""

    class EpochLog(TrainerCallback):
        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and metrics:
                log(
                    f"epoch {state.epoch:.0f}: eval macro-F1 {100 * metrics['eval_macro_f1']:.2f}, "
                    f"accuracy {100 * metrics['eval_accuracy']:.2f}, loss {metrics['eval_loss']:.4f}"
                )

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if progress:
        trainer.add_callback(QuietProgress)
    trainer.add_callback(EpochLog)


def run_record(model: str, options: FinetuneOptions, train: Dataset, eval_data: Dataset) -> RunRecord:
    """What identifies a fine-tuning run: every training option, the model (by content when local), and the
    training and selection data (texts, labels and languages, by content). ``--test`` data plays no part."""
    return {
        "options": json.loads(options.model_dump_json()),
        "model": model,
        "model_sha256": model_digest(model),
        "data": {
            split: texts_digest(list(zip(d.texts, d.labels, d.languages)))
            for split, d in (("train", train), ("eval", eval_data))
        },
    }


def selection_arguments(work: Path, options: FinetuneOptions, *, progress: bool, on_xla: bool, **extra: Any) -> Any:
    """Trainer arguments of a classifier run (fine-tuning, distillation): an evaluation and a checkpoint per
    epoch, the best by eval macro-F1 kept at the end, length-grouped batches; ``extra`` on top."""
    return training_arguments(
        work,
        options=options,
        progress=progress,
        on_xla=on_xla,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model="macro_f1",
        greater_is_better=True,
        num_train_epochs=options.epochs,
        group_by_length=True,
        ddp_find_unused_parameters=options.freeze_layers is not None,
        **extra,
    )


def selection_metrics(num_labels: int) -> Callable[[Any], dict[str, float]]:
    """The Trainer's ``compute_metrics``: accuracy and macro-F1 (the checkpoint-selection metric)."""

    def compute(pred: Any) -> dict[str, float]:
        import numpy as np

        from edgeptm.measure.metrics import accuracy, macro_f1

        p = np.argmax(pred.predictions, axis=-1)
        return {"accuracy": accuracy(pred.label_ids, p), "macro_f1": macro_f1(pred.label_ids, p, num_labels)}

    return compute


def split_report(
    trainer: Any, tokenizer: Any, data: Dataset, ids: list[int], max_length: int, num_labels: int
) -> tuple[Report, Any]:
    """The trained model's figures on ``data`` overall and per language, and its logits (dataset order).

    transformers groups eval batches by length when ``group_by_length`` is on; turn it off first.
    """
    import numpy as np

    logits = trainer.predict(Encoded(tokenizer, data, ids, max_length)).predictions
    return classification_report(ids, np.argmax(logits, -1), data.languages, num_labels), logits


def classifier_manifest(
    out: Path, labels: LabelMap, max_length: int, made_by: str, options: BaseModel
) -> Callable[[Path], None]:
    """``save_trained``'s ``extra``: the manifest of a torch classifier folder (weights, labels, options)."""

    def write(tmp: Path) -> None:
        weights = [n for n in WEIGHT_FILES if (tmp / n).is_file()]
        Manifest(
            backend=REFERENCE_BACKEND,
            precision="fp32",
            labels=labels.names,
            max_length=max_length,
            files=weights,
            source=str(out.resolve()),
            options={made_by: json.loads(options.model_dump_json())},
        ).save(tmp)

    return write


def finetune(
    model: str,
    train: Dataset,
    eval_data: Dataset,
    out: Path,
    options: FinetuneOptions = FinetuneOptions(),
    *,
    test: Dataset | None = None,
    resume: bool = False,
    on_change: OnChange = "refuse",
    progress: bool = True,
    log: Any = print,
    callbacks: Sequence[Any] = (),
    force: bool = False,
) -> dict[str, Any]:
    """Fine-tune ``model`` and write a ``save_pretrained`` folder with ``metrics.json`` to ``out``.

    ``callbacks`` are extra transformers ``TrainerCallback`` objects. A model edgeptm made at ``out`` is
    replaced only with ``force``; anything else there is refused before training starts. ``resume``
    continues from the newest complete checkpoint of the same run (same options, model and data); the
    checkpoints of a different run are refused, or dropped with ``on_change="restart"``.
    """
    local = Path(model).expanduser()
    check_output(Path(out), "model", force=force, inputs=(local,) if local.exists() else ())
    with reproducible(options.threads):  # same options and data: the same model, bit for bit
        import numpy as np
        import transformers
        from transformers import (
            AutoModelForSequenceClassification,
            AutoTokenizer,
            DataCollatorWithPadding,
            EarlyStoppingCallback,
            Trainer,
        )

        transformers.logging.set_verbosity_error()
        out = Path(out)
        work = out.parent / f"{out.name}.checkpoints"
        labels = LabelMap.from_dataset(train)
        check_classes(train, labels.names)
        train_ids = labels.encode(train, "train")
        eval_ids = labels.encode(eval_data, "eval")
        test_ids = labels.encode(test, "test") if test is not None else None

        name = resolve_model(model)
        # On XLA: eager attention (sdpa compiles once more per shape), plain AdamW (the fused one
        # crashes), batches padded to a few lengths, and steps timed with the compile count.
        on_xla = xla.training_on_xla()
        timer = xla.step_timer() if on_xla else None
        # Seed before the model is built: a new classifier head is initialised from the global RNG,
        # so without this the same run gives a different model after other work in the process.
        transformers.set_seed(options.seed)
        tokenizer = load_pretrained(AutoTokenizer, name, use_fast=True)
        if not tokenizer.is_fast:
            raise ModelError(f"{model}: edgeptm needs a fast tokenizer (tokenizer.json)")
        coverage = tokenizer_coverage(tokenizer, (train, eval_data, test), options.max_unk_rate, model, log)
        net = load_pretrained(
            AutoModelForSequenceClassification,
            name,
            num_labels=len(labels.names),
            id2label=dict(enumerate(labels.names)),
            label2id=labels.ids,
            ignore_mismatched_sizes=True,
            **({"attn_implementation": "eager"} if on_xla else {}),
        )
        trainable = (
            freeze_lower_layers(net, options.freeze_layers)
            if options.freeze_layers is not None
            else sum(p.numel() for p in net.parameters())
        )
        max_length = min(options.max_length, net.config.max_position_embeddings)

        args = selection_arguments(work, options, progress=progress, on_xla=on_xla)
        checkpoint = checkpoint_to_resume(
            args,
            work,
            run_record(model, options, train, eval_data),
            resume=resume,
            on_change=on_change,
            record_file=RECORD,
            log=log,
        )
        trainer = Trainer(
            model=net,
            args=args,
            train_dataset=Encoded(tokenizer, train, train_ids, max_length),
            eval_dataset=Encoded(tokenizer, eval_data, eval_ids, max_length),
            processing_class=tokenizer,
            data_collator=xla.BucketCollator(tokenizer, xla.seq_buckets(max_length))
            if on_xla
            else DataCollatorWithPadding(tokenizer),
            compute_metrics=selection_metrics(len(labels.names)),
            callbacks=[
                EarlyStoppingCallback(early_stopping_patience=options.early_stopping_patience),
                *callbacks,
                *([timer] if timer else []),
                seal_callback(),
            ],
        )
        route_logs(trainer, progress, log)
        started = time.perf_counter()
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        elapsed = time.perf_counter() - started

        # transformers groups eval batches by length too; the report needs dataset order.
        trainer.args.group_by_length = False

        def report(data: Dataset, ids: list[int]) -> Report:
            rep, logits = split_report(trainer, tokenizer, data, ids, max_length, len(labels.names))
            if collapsed := single_class_warning(np.argmax(logits, -1), labels.names, data.source):
                log(collapsed)
                warnings_seen.append(collapsed)
            return rep

        warnings_seen: list[str] = []

        metrics: dict[str, Any] = {
            "labels": labels.names,
            "coverage": coverage.to_json(),
            "eval": report(eval_data, eval_ids),
            "train": {
                "examples": len(train),
                "languages": train.language_set(),
                "epochs": float(trainer.state.epoch or 0),
                "steps": int(trainer.state.global_step),
                "best_eval_macro_f1": trainer.state.best_metric,
                "runtime_s": round(elapsed, 2),
                "train_loss": float(train_result.training_loss),
                "trainable_parameters": int(trainable),
                "world_size": int(args.world_size),
                "device": str(args.device),
                **({"xla": timer.report()} if timer else {}),
            },
        }
        if test is not None and test_ids is not None:
            metrics["test"] = report(test, test_ids)
        if warnings_seen:
            metrics["warnings"] = warnings_seen

        save_trained(
            trainer,
            tokenizer,
            out,
            work,
            metrics,
            extra=classifier_manifest(out, labels, max_length, "finetune", options),
        )
        return metrics
