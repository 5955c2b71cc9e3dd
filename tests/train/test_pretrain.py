"""edgeptm pretrain: tokenizer, sampling, packing, masking, checkpoints/resume, per-language perplexity."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm.cli import cli, register_all

register_all(cli)

FAST = ["--size", "tiny", "--vocab-size", "400", "--max-length", "32", "--batch-size", "8", "--no-progress"]


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory, sample) -> Path:
    """Raw text of four sample languages, one LANG.txt each (Latin, Cyrillic, Devanagari, Han)."""
    folder = tmp_path_factory.mktemp("corpus")
    for lang in ("fr", "ru", "hi", "zh"):
        texts = [e.text for e in sample["train"].examples if e.language == lang]
        (folder / f"{lang}.txt").write_text("\n".join(texts) + "\n\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, corpus_dir) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("pretrain") / "mlm"
    result = invoke("pretrain", "--corpus", corpus_dir, "--out", out, *FAST, "--steps", "6", "--save-steps", "3")
    assert result.exit_code == 0, result.output
    return out, result.output


def test_sampling_exponent():
    from edgeptm.train.pretrain import balanced, sampling_probabilities

    sizes = {"big": 900, "small": 100}
    assert sampling_probabilities(sizes, 1.0) == pytest.approx({"big": 0.9, "small": 0.1})
    assert sampling_probabilities(sizes, 0.0) == pytest.approx({"big": 0.5, "small": 0.5})
    p = sampling_probabilities(sizes, 0.3)
    assert p["small"] == pytest.approx(100**0.3 / (900**0.3 + 100**0.3))
    rows = balanced({"big": [("big", i) for i in range(900)], "small": [("small", i) for i in range(100)]}, 0.3, seed=1)
    counts = {lang: sum(1 for r in rows if r[0] == lang) for lang in sizes}
    assert counts == {"big": round(p["big"] * 1000), "small": round(p["small"] * 1000)}
    assert len({r for r in rows if r[0] == "small"}) == 100  # the small language is repeated whole, not subsampled


def test_pack_and_whole_word_masking(tiny_base, sample):
    import torch
    from transformers import AutoTokenizer

    from edgeptm.train.pretrain import MaskingCollator, encode, pack

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    lines = sample["train"].texts[:40]
    blocks = pack(tokenizer, lines, 24)
    assert all(len(b["input_ids"]) <= 24 for b in blocks) and all(len(b["input_ids"]) == 24 for b in blocks[:-1])
    assert all(
        b["input_ids"][0] == tokenizer.cls_token_id and b["input_ids"][-1] == tokenizer.sep_token_id for b in blocks
    )
    packed = [t for b in blocks for t in b["input_ids"][1:-1]]
    expected = [t for e in encode(tokenizer, lines) for t in [*e.ids, tokenizer.sep_token_id]]
    assert packed == expected

    torch.manual_seed(0)
    batch = MaskingCollator(tokenizer, 0.4, whole_word_mask=True)(blocks)
    words = torch.stack([torch.as_tensor(b["words"]) for b in blocks[:-1]])
    masked = batch["labels"][: len(blocks) - 1] != -100
    assert masked.any()
    for row in range(words.shape[0]):
        for w in words[row].unique().tolist():
            if w >= 0:
                assert masked[row][words[row] == w].all() or not masked[row][words[row] == w].any()
    assert not masked[words < 0].any()  # [CLS], [SEP] and separators are never masked


@pytest.mark.parametrize("arch", ["BertForMaskedLM", "DistilBertForMaskedLM"])
def test_masked_head_scores_only_masked_positions(tiny_base, sample, arch):
    """The head on the masked rows gives the loss of the full logits, with less work."""
    import torch
    import transformers
    from transformers import AutoTokenizer

    from edgeptm.train.pretrain import MaskedHead, MaskingCollator, pack

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    torch.manual_seed(0)
    if arch == "BertForMaskedLM":
        model = transformers.BertForMaskedLM.from_pretrained(tiny_base)
    else:
        model = transformers.DistilBertForMaskedLM(
            transformers.DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=1, n_heads=2, hidden_dim=64)
        )
    model.eval()
    batch = MaskingCollator(tokenizer, 0.15, whole_word_mask=False)(pack(tokenizer, sample["train"].texts[:30], 32))
    selected = MaskedHead(model)
    full = MaskedHead(model, enabled=False)
    assert selected.head is not None and full.head is None
    total, count, outputs = selected.loss_sum(model, batch)
    reference, count_full, outputs_full = full.loss_sum(model, batch)
    assert int(count) == int((batch["labels"] != -100).sum()) == int(count_full) > 0
    assert outputs.logits.shape == (int(count), len(tokenizer))  # only the masked rows were projected
    assert outputs_full.logits.shape == (*batch["input_ids"].shape, len(tokenizer))
    assert total.item() == pytest.approx(reference.item(), rel=1e-5)


def test_pretrain_from_scratch(pretrained, corpus_dir):
    from transformers import AutoConfig, AutoTokenizer

    out, output = pretrained
    metrics = json.loads((out / "metrics.json").read_text())
    per_language = metrics["heldout"]["per_language"]
    assert set(per_language) == {"fr", "ru", "hi", "zh"}
    for lang, m in per_language.items():
        assert m["masked_tokens"] > 0 and math.isfinite(m["perplexity"]) and m["perplexity"] > 1
        assert f"\n{lang} " in output
    assert metrics["train"]["steps"] == 6
    sampling = metrics["sampling"]["per_language"]
    assert sum(v["probability"] for v in sampling.values()) == pytest.approx(1.0)
    fr_lines = (corpus_dir / "fr.txt").read_text(encoding="utf-8").strip().splitlines()
    assert sampling["fr"]["lines"] + sampling["fr"]["heldout_lines"] == len(fr_lines)
    assert sampling["fr"]["heldout_lines"] == round(0.05 * len(fr_lines))
    config = AutoConfig.from_pretrained(out)
    assert config.architectures == ["BertForMaskedLM"] and config.tie_word_embeddings  # BERT's default
    assert (config.num_hidden_layers, config.hidden_size, config.max_position_embeddings) == (2, 128, 32)
    assert config.position_embedding_type == metrics["model"]["position_embedding"] == "relative_key_query"
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.is_fast and len(tokenizer) == config.vocab_size
    # accents and case are kept by default
    assert tokenizer.backend_tokenizer.normalizer.normalize_str("Été Ünd") == "Été Ünd"
    assert not (out.parent / "mlm.checkpoints").exists()


def test_finetune_takes_the_pretrained_model(pretrained, tmp_path):
    out, _ = pretrained
    result = invoke(
        "finetune",
        "--model",
        out,
        "--train",
        "builtin:sample",
        "--eval",
        "builtin:sample",
        "--out",
        tmp_path / "clf",
        "--languages",
        "fr,ru",
        "--epochs",
        "1",
        "--max-length",
        "32",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "clf" / "edgeptm.json").is_file()
    # relative position scores must survive tracing: every exporter is checked against torch
    for backend in ("onnx", "openvino"):
        result = invoke("export", "--model", tmp_path / "clf", "--backend", backend, "--out", tmp_path / backend)
        assert result.exit_code == 0, result.output
        assert "vs torch fp32: max |Δlogit|" in result.output and "agreement 100.0%" in result.output
    result = invoke("quantize", "--artifact", tmp_path / "onnx", "--precision", "int8", "--out", tmp_path / "int8")
    assert result.exit_code == 0, result.output


def test_absolute_positions(corpus_dir, tmp_path):
    from transformers import AutoConfig

    out = tmp_path / "mlm"
    result = invoke(
        "pretrain", "--corpus", corpus_dir, "--out", out, *FAST, "--steps", "2", "--position-embedding", "absolute"
    )
    assert result.exit_code == 0, result.output
    assert AutoConfig.from_pretrained(out).position_embedding_type == "absolute"
    assert json.loads((out / "metrics.json").read_text())["model"]["position_embedding"] == "absolute"


def test_resume_after_interruption(corpus_dir, tmp_path, monkeypatch):
    import edgeptm.train.pretrain as pt

    out = tmp_path / "mlm"
    args = ["pretrain", "--corpus", corpus_dir, "--out", out, *FAST, "--steps", "4", "--save-steps", "2"]

    def crash(*a, **k):
        raise RuntimeError("interrupted")

    with monkeypatch.context() as m:
        m.setattr(pt, "heldout_perplexity", crash)
        assert invoke(*args).exit_code != 0
    work = tmp_path / "mlm.checkpoints"
    assert (work / "checkpoint-4").is_dir() and not out.exists()

    changed = invoke(*[a if a != "4" else "5" for a in args], "--resume")
    assert changed.exit_code == 1
    assert changed.output.splitlines()[-1] == (
        f"Error: --resume: {work} holds a run with a different config (steps 4 -> 5); "
        "resume with the original options, or pass --force to start over"
    )
    resumed = invoke(*args, "--resume")
    assert resumed.exit_code == 0, resumed.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["resumed_from"].endswith("checkpoint-4")
    assert not work.exists()


def test_continue_from_checkpoint_with_whole_word_masking(tiny_base, corpus_dir, tmp_path):
    out = tmp_path / "adapted"
    result = invoke(
        "pretrain",
        "--corpus",
        f"fr={corpus_dir / 'fr.txt'}",
        "--model",
        tiny_base,
        "--out",
        out,
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--max-length",
        "32",
        "--whole-word-mask",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["init"] == str(tiny_base)
    assert (
        json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
        == json.loads((tiny_base / "tokenizer.json").read_text())["model"]["vocab"]
    )


def test_empty_corpus(tmp_path):
    (tmp_path / "fr.txt").write_text("\n  \n", encoding="utf-8")
    result = invoke("pretrain", "--corpus", tmp_path / "fr.txt", "--out", tmp_path / "out", *FAST)
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: corpus {tmp_path / 'fr.txt'}: empty (no text lines); pass a UTF-8 file with one text per line"
    )


def test_language_the_tokenizer_cannot_represent(tmp_path, corpus_dir, sample):
    from tokenizers import Tokenizer

    from edgeptm.train.tinymodel import build_model

    latin = build_model(
        tmp_path / "latin", [e.text for e in sample["train"].examples if e.language in ("fr", "es")], vocab_size=300
    )
    result = invoke(
        "pretrain", "--corpus", corpus_dir / "hi.txt", "--model", latin, "--out", tmp_path / "out", "--no-progress"
    )
    tokenizer = Tokenizer.from_file(str(latin / "tokenizer.json"))
    ids = [
        i
        for line in (corpus_dir / "hi.txt").read_text().split("\n")
        if line
        for i in tokenizer.encode(line, add_special_tokens=False).ids
    ]
    rate = ids.count(tokenizer.token_to_id("[UNK]")) / len(ids)
    assert rate > 0.9
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: corpus hi: {100 * rate:.1f}% of its tokens are [UNK] (threshold 5%): the tokenizer of {latin} can't represent "
        "this language; drop it from the corpus or pre-train from scratch"
    )
    assert not (tmp_path / "out").exists()


def test_scratch_options_with_a_checkpoint(tiny_base, corpus_dir, tmp_path):
    result = invoke(
        "pretrain",
        "--corpus",
        corpus_dir,
        "--model",
        tiny_base,
        "--out",
        tmp_path / "o",
        "--size",
        "mini",
        "--position-embedding",
        "absolute",
    )
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: --size, --position-embedding: only for a model trained from scratch; drop them to continue pre-training {tiny_base}"
    )


def test_model_without_fast_tokenizer(tiny_base, corpus_dir, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(tiny_base, bare)
    (bare / "tokenizer.json").unlink()
    result = invoke("pretrain", "--corpus", corpus_dir, "--model", bare, "--out", tmp_path / "o", "--no-progress")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {bare}: no fast tokenizer (tokenizer.json); save the model with its tokenizer: "
        "AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(...)"
    )


def test_torchrun_ddp_on_cpu(tmp_path, corpus_dir):
    """Two processes (gloo): rank 0 trains the tokenizer, the other loads it; rank 0 writes the output.
    Untied decoder weights, so the masked head's hook and DDP's gradient sync see two embedding matrices."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29547",
        "-m",
        "edgeptm",
        "pretrain",
        "--corpus",
        str(corpus_dir),
        "--out",
        str(out),
        *FAST,
        "--steps",
        "3",
        "--save-steps",
        "3",
        "--no-tie-embeddings",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["world_size"] == 2 and metrics["train"]["steps"] == 3
    assert metrics["train"]["sequences"] == 3 * 8 * 2
    from transformers import BertForMaskedLM

    model = BertForMaskedLM.from_pretrained(out)
    assert model.config.tie_word_embeddings is False
    assert model.get_output_embeddings().weight.data_ptr() != model.get_input_embeddings().weight.data_ptr()
    assert not (tmp_path / "ddp.checkpoints").exists()


def test_corpus_specs(tmp_path):
    from edgeptm.data.corpus import read_corpus
    from edgeptm.errors import DataError

    (tmp_path / "fr.txt").write_text("un\n\ndeux\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("eins\n", encoding="utf-8")
    (tmp_path / "sub" / "b.txt").write_text("zwei\n", encoding="utf-8")
    assert read_corpus([str(tmp_path / "fr.txt"), f"de={tmp_path / 'sub'}"]) == {
        "fr": ["un", "deux"],
        "de": ["eins", "zwei"],
    }
    assert read_corpus([str(tmp_path / "sub")]) == {"a": ["eins"], "b": ["zwei"]}
    with pytest.raises(DataError, match=r"^corpus xx=/nonexistent: no such file or folder$"):
        read_corpus(["xx=/nonexistent"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.txt files in the folder"):
        read_corpus([str(tmp_path / "empty")])
