"""Benchmark (not CI): does pre-training a small multilingual BERT pay off on UMSAB sentiment?

1. Corpus: the WikiNEuRal sentences of the UMSAB languages it has (de en es fr it pt) plus the
   UMSAB training text of all eight languages (labels unused), one LANG.txt per language.
2. ``edgeptm pretrain`` a small BERT on it (tokenizer trained on the same corpus; relative
   position scores, pretrain's default, which leave the MLM plateau far sooner than absolute ones).
3. ``edgeptm finetune`` it on UMSAB, and the same architecture with the same tokenizer from
   random initialisation, with the same fine-tuning budget: each model is fine-tuned at every
   ``--finetune-lrs`` learning rate with every ``--finetune-seeds`` seed; a model's learning rate
   is the one with the best mean validation macro-F1, and its test figures are the seeds' mean.
4. Macro-F1 per language on the UMSAB test split, beside the UMSAB README's FastText baseline.

Every phase runs as an ``edgeptm`` command, printed before it runs; the table and timings go to
stdout and ``<work>/results.{json,md}``. The defaults fit the issue's budget (pre-training ≤ 60
minutes) on a quiet 2-core machine: ~40 minutes of pre-training, then eighteen fine-tunings of ~2
minutes. A rerun with the same ``--work`` keeps the phases that finished. Two threads need both
cores to themselves; on a busy machine use one::

    OMP_NUM_THREADS=2 .venv/bin/python scripts/pretrain_vs_scratch.py --work /tmp/pretrain-vs-scratch
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean, stdev

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
UMSAB = SHARED / "umsab" / "data" / "sentiment"
WIKINEURAL = SHARED / "wikineural" / "data" / "wikineural"
LANGUAGES = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}
# UMSAB README, macro-F1 on test: FastText trained per language ("FT Mono"); "all" is its "All lang." row.
FASTTEXT = {
    "arabic": 46.0,
    "english": 50.9,
    "french": 54.8,
    "german": 59.6,
    "hindi": 37.1,
    "italian": 54.7,
    "portuguese": 55.1,
    "spanish": 50.1,
    "all": 51.0,
}


def conllu_sentences(path: Path) -> list[str]:
    """Raw sentences of a WikiNEuRal CoNLL file: the token column joined by spaces."""
    sentences, tokens = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3:
            tokens.append(fields[1])
        elif tokens:
            sentences.append(" ".join(tokens))
            tokens = []
    if tokens:
        sentences.append(" ".join(tokens))
    return sentences


def build_corpus(folder: Path) -> dict[str, int]:
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, code in LANGUAGES.items():
        lines = (UMSAB / name / "train_text.txt").read_text(encoding="utf-8").splitlines()
        wiki = WIKINEURAL / code / "val.conllu"
        if wiki.is_file():
            lines += conllu_sentences(wiki)
        (folder / f"{code}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        sizes[code] = len(lines)
    return sizes


def run(cmd: list[str], log: Path) -> float:
    """Run an edgeptm command (printed first), logging its output; return seconds."""
    print("$ " + shlex.join(cmd), flush=True)
    started = time.perf_counter()
    with open(log, "w") as fh:
        done = subprocess.run(cmd, check=False, stdout=fh, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"failed ({done.returncode}); see {log}")
    return seconds


def spread(values: list[float]) -> float:
    return stdev(values) if len(values) > 1 else 0.0


def random_init_copy(pretrained: Path, out: Path, seed: int) -> None:
    """The pre-trained model's architecture and tokenizer with freshly initialised weights."""
    import torch
    from transformers import AutoConfig, AutoTokenizer, BertForMaskedLM

    torch.manual_seed(seed)
    BertForMaskedLM(AutoConfig.from_pretrained(pretrained)).save_pretrained(out)
    AutoTokenizer.from_pretrained(pretrained).save_pretrained(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/pretrain-vs-scratch"))
    parser.add_argument("--edgeptm", default=str(Path(sys.executable).parent / "edgeptm"))
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--finetune-epochs", type=float, default=5)
    parser.add_argument(
        "--finetune-lrs",
        default="1e-4,3e-4,1e-3",
        help="fine-tuning learning rates tried for each model; the best on the validation split is reported",
    )
    parser.add_argument("--finetune-max-length", type=int, default=64)
    parser.add_argument("--finetune-seeds", default="1,2,3", help="fine-tuning seeds; figures are their mean")
    parser.add_argument("--position-embedding", default="relative_key_query", help="see `edgeptm pretrain --help`")
    parser.add_argument("--seed", type=int, default=42, help="pre-training and random-initialisation seed")
    args = parser.parse_args()

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    timings_file = work / "timings.json"  # a rerun reports the phases earlier runs finished
    timings: dict[str, float] = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    sizes = build_corpus(work / "corpus")
    print("corpus lines: " + ", ".join(f"{k} {v}" for k, v in sizes.items()), flush=True)

    pretrained = work / "pretrained"
    if not (pretrained / "metrics.json").is_file():  # a rerun keeps a finished pre-training
        timings["pretrain"] = run(
            [
                args.edgeptm,
                "pretrain",
                "--corpus",
                str(work / "corpus"),
                "--out",
                str(pretrained),
                "--size",
                args.size,
                "--vocab-size",
                str(args.vocab_size),
                "--max-length",
                str(args.max_length),
                "--steps",
                str(args.steps),
                "--batch-size",
                str(args.batch_size),
                "--lr",
                str(args.lr),
                "--alpha",
                str(args.alpha),
                "--save-steps",
                str(max(100, args.steps // 5)),
                "--seed",
                str(args.seed),
                "--position-embedding",
                args.position_embedding,
                "--no-progress",
            ],
            work / "pretrain.log",
        )
        timings_file.write_text(json.dumps(timings, indent=2))
    scratch = work / "scratch"
    if not (scratch / "config.json").is_file():
        random_init_copy(pretrained, scratch, args.seed)

    results, picked = {}, {}
    seeds = args.finetune_seeds.split(",")
    for name, model in (("pretrained", pretrained), ("scratch", scratch)):
        tried: dict[str, list[dict]] = {}
        for lr in args.finetune_lrs.split(","):
            for seed in seeds:
                out = work / f"finetuned-{name}-lr{lr}-seed{seed}"
                if not (out / "metrics.json").is_file():  # a rerun keeps finished fine-tunings
                    timings[f"finetune {name} lr {lr} seed {seed}"] = run(
                        [
                            args.edgeptm,
                            "finetune",
                            "--model",
                            str(model),
                            "--train",
                            str(UMSAB),
                            "--eval",
                            str(UMSAB),
                            "--test",
                            str(UMSAB),
                            "--out",
                            str(out),
                            "--epochs",
                            str(args.finetune_epochs),
                            "--lr",
                            lr,
                            "--batch-size",
                            "32",
                            "--max-length",
                            str(args.finetune_max_length),
                            "--warmup-ratio",
                            "0.1",
                            "--seed",
                            seed,
                            "--no-progress",
                        ],
                        work / f"finetune-{name}-lr{lr}-seed{seed}.log",
                    )
                    timings_file.write_text(json.dumps(timings, indent=2))
                tried.setdefault(lr, []).append(json.loads((out / "metrics.json").read_text()))
        val = {lr: mean(100 * m["train"]["best_eval_macro_f1"] for m in ms) for lr, ms in tried.items()}
        best = max(val, key=val.__getitem__)
        picked[name] = {lr: round(v, 2) for lr, v in val.items()} | {"picked": best}
        results[name] = [m["test"] for m in tried[best]]
        print(f"{name}: mean validation macro-F1 by learning rate {picked[name]}", flush=True)

    pre = json.loads((pretrained / "metrics.json").read_text())
    rows = []
    for lang in ["all", *LANGUAGES]:
        pick = (lambda m: m["overall"]) if lang == "all" else (lambda m, lang=lang: m["per_language"][lang])
        p = [100 * pick(t)["macro_f1"] for t in results["pretrained"]]
        s = [100 * pick(t)["macro_f1"] for t in results["scratch"]]
        rows.append((lang, mean(p), spread(p), mean(s), spread(s), mean(p) - mean(s), FASTTEXT[lang]))
    wins = sum(1 for r in rows[1:] if r[5] > 0)
    md = [
        (
            f"Pre-training: {args.size}, {pre['train']['parameters']:,} parameters, "
            f"vocab {pre['model']['vocab_size']}, {pre['train']['steps']} steps × {args.batch_size} blocks "
            f"of {args.max_length} tokens; held-out perplexity {pre['heldout']['overall']['perplexity']:.1f}."
        ),
        f"Fine-tuning: {len(seeds)} seeds ({args.finetune_seeds}) per model and learning rate; test figures are "
        "the mean ± standard deviation over the seeds at the learning rate with the best mean validation "
        "macro-F1: "
        + "; ".join(
            f"{name} at lr {p['picked']} (validation macro-F1 by lr: "
            + ", ".join(f"{lr} {f:.1f}" for lr, f in p.items() if lr != "picked")
            + ")"
            for name, p in picked.items()
        )
        + ".",
        "",
        "| language | pre-trained | from scratch | Δ | FastText (UMSAB README, mono) |",
        "|---|---|---|---|---|",
        *[f"| {r[0]} | {r[1]:.1f} ± {r[2]:.1f} | {r[3]:.1f} ± {r[4]:.1f} | {r[5]:+.1f} | {r[6]:.1f} |" for r in rows],
        "",
        f"Pre-training wins in {wins} of {len(LANGUAGES)} languages.",
        "",
        "| phase | minutes |",
        "|---|---|",
        *[f"| {k} | {v / 60:.1f} |" for k, v in timings.items()],
    ]
    print("\n".join(md))
    (work / "results.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (work / "results.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "timings_s": timings,
                "finetune_lr": picked,
                "args": {k: str(v) for k, v in vars(args).items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
