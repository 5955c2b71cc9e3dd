"""Size report (not CI): the bert-base-multilingual-cased architecture trimmed to the eight UMSAB languages.

The real mBERT vocabulary can't be downloaded here, so the script builds a stand-in: a cased
WordPiece vocabulary of 119,547 tokens (mBERT's size) trained with ``tokenizers`` on the
multilingual text at hand — the UDHR in ~380 languages, the WikiNEuRal sentences (9 languages)
and the UD sentences — but not on the UMSAB tweets it is then trimmed to (mBERT's vocabulary was
not fitted to them either). If that text yields fewer tokens, the vocabulary is padded with
``[unused…]`` tokens (as mBERT has) up to 119,547, and the report says how many. The model is
``BertConfig`` 12 layers, hidden 768, 12 heads, FFN 3072, 512 positions, random weights, with a
3-label classification head (so that ``edgeptm export`` takes it).

Then, each printed before it runs: ``edgeptm trim-vocab`` on the UMSAB training text of the
eight languages (second text: their test text), and ``edgeptm export`` (onnx) and ``edgeptm
quantize`` (int8) of the model before and after. Sizes are in MB of 10^6 bytes, as the published
reference point (an English+French mBERT trimmed from 714 MB to 447 MB). Memory- and CPU-heavy::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/trim_size_report.py --work /tmp/trim-size-report
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import zipfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
UMSAB = SHARED / "umsab" / "data" / "sentiment"
UMSAB_LANGUAGES = ["arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish"]
MBERT_VOCAB = 119547
MBERT = {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072}
MB = 1e6

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pretrain_vs_scratch import conllu_sentences  # noqa: E402


def vocab_text() -> tuple[list[str], dict[str, int]]:
    """Lines of UDHR, WikiNEuRal and UD text (no UMSAB), with a line count per source."""
    counts = {}
    lines: list[str] = []
    with zipfile.ZipFile(SHARED / "udhr2" / "packages" / "corpora" / "udhr2.zip") as z:
        udhr = [
            line.strip()
            for name in z.namelist()
            if name.endswith(".txt")
            for line in z.read(name).decode("utf-8", errors="replace").splitlines()
            if line.strip()
        ]
    counts["udhr"] = len(udhr)
    lines += udhr
    wiki = [
        s
        for path in sorted((SHARED / "wikineural" / "data" / "wikineural").glob("*/val.conllu"))
        for s in conllu_sentences(path)
    ]
    counts["wikineural"] = len(wiki)
    lines += wiki
    ud = [
        line.removeprefix("# text = ").strip()
        for path in sorted((SHARED / "ud").glob("UD_*/*.conllu"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith("# text = ")
    ]
    counts["ud"] = len(ud)
    lines += ud
    return lines, counts


def build_standin(out: Path) -> dict[str, int]:
    import torch
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from edgeptm.train.tinymodel import train_wordpiece

    lines, counts = vocab_text()
    tokenizer = train_wordpiece(lines, vocab_size=MBERT_VOCAB, max_length=512)
    reached = len(tokenizer)
    if reached < MBERT_VOCAB:
        data = json.loads(tokenizer.backend_tokenizer.to_str())
        vocab = data["model"]["vocab"]
        for i in range(MBERT_VOCAB - reached):
            vocab[f"[unused{i}]"] = reached + i
        tokenizer = BertTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)), model_max_length=512)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
        **MBERT,
    )
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {
        **{f"{k}_lines": v for k, v in counts.items()},
        "vocab_trained": reached,
        "vocab_padded": len(tokenizer) - reached,
    }


def run(cmd: list[str], log: Path) -> float:
    print("$ " + shlex.join(cmd), flush=True)
    started = time.perf_counter()
    with open(log, "w") as fh:
        done = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"failed ({done.returncode}); see {log}")
    return time.perf_counter() - started


def size(folder: Path, name: str) -> float:
    return (folder / name).stat().st_size / MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/trim-size-report"))
    parser.add_argument("--edgeptm", default=str(Path(sys.executable).parent / "edgeptm"))
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    timings = {}

    base = work / "mbert-standin"
    started = time.perf_counter()
    built = build_standin(base)
    timings["build stand-in"] = time.perf_counter() - started
    print("stand-in: " + ", ".join(f"{k} {v}" for k, v in built.items()), flush=True)

    trimmed = work / "trimmed"
    corpus = [a for lang in UMSAB_LANGUAGES for a in ("--corpus", f"{lang}={UMSAB / lang / 'train_text.txt'}")]
    oov = [a for lang in UMSAB_LANGUAGES for a in ("--oov-text", f"{lang}={UMSAB / lang / 'test_text.txt'}")]
    timings["trim-vocab"] = run(
        [args.edgeptm, "trim-vocab", "--model", str(base), *corpus, *oov, "--out", str(trimmed)], work / "trim.log"
    )
    for name, model in (("before", base), ("after", trimmed)):
        timings[f"export {name}"] = run(
            [args.edgeptm, "export", "--model", str(model), "--backend", "onnx", "--out", str(work / f"{name}-onnx")],
            work / f"export-{name}.log",
        )
        timings[f"quantize {name}"] = run(
            [
                args.edgeptm,
                "quantize",
                "--artifact",
                str(work / f"{name}-onnx"),
                "--precision",
                "int8",
                "--out",
                str(work / f"{name}-int8"),
            ],
            work / f"quantize-{name}.log",
        )

    report = json.loads((trimmed / "trim-vocab.json").read_text())
    sizes = {
        name: {
            "vocab": report["size"][name]["vocab"],
            "parameters": report["size"][name]["parameters"],
            "fp32": size(model, "model.safetensors"),
            "onnx fp32": size(work / f"{name}-onnx", "model.onnx"),
            "onnx int8": size(work / f"{name}-int8", "model.onnx"),
        }
        for name, model in (("before", base), ("after", trimmed))
    }
    b, a = sizes["before"], sizes["after"]
    md = [
        f"Stand-in vocab: {built['vocab_trained']:,} WordPiece tokens trained on UDHR ({built['udhr_lines']:,} lines), "
        f"WikiNEuRal ({built['wikineural_lines']:,}) and UD ({built['ud_lines']:,}) text"
        + (
            f", padded with {built['vocab_padded']:,} [unused] tokens to {b['vocab']:,}"
            if built["vocab_padded"]
            else ""
        )
        + " (no UMSAB text).",
        "",
        "| | before | after | after / before |",
        "|---|---|---|---|",
        f"| vocab (tokens) | {b['vocab']:,} | {a['vocab']:,} | {100 * a['vocab'] / b['vocab']:.1f}% |",
        f"| parameters | {b['parameters'] / 1e6:.1f}M | {a['parameters'] / 1e6:.1f}M | {100 * a['parameters'] / b['parameters']:.1f}% |",
        *[
            f"| {k} (MB) | {b[k]:.1f} | {a[k]:.1f} | {100 * a[k] / b[k]:.1f}% |"
            for k in ("fp32", "onnx fp32", "onnx int8")
        ],
        "",
        "OOV on the UMSAB test text (share of the original tokens the trimmed vocab lacks): "
        + ", ".join(f"{k} {100 * v['oov_rate']:.2f}%" for k, v in report["oov"].items()),
        "",
        "| phase | minutes |",
        "|---|---|",
        *[f"| {k} | {v / 60:.1f} |" for k, v in timings.items()],
    ]
    print("\n".join(md))
    (work / "results.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    (work / "results.json").write_text(json.dumps({"built": built, "sizes": sizes, "timings_s": timings}, indent=2))


if __name__ == "__main__":
    main()
