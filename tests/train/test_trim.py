"""edgeptm trim-vocab: WordPiece and Unigram tokenizers, sliced (tied) embeddings, verification, recipes."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeptm.cli import cli, register_all

register_all(cli)

KEEP = ("fr", "es")


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, sample) -> dict[str, Path]:
    """fr and es training text (the corpus) and all eval text (the second text), as LANG.txt files."""
    folder = tmp_path_factory.mktemp("trim-corpus")
    for lang in KEEP:
        texts = [e.text for e in sample["train"].examples if e.language == lang]
        (folder / f"{lang}.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    (folder / "eval.txt").write_text("\n".join(sample["eval"].texts) + "\n", encoding="utf-8")
    return {lang: folder / f"{lang}.txt" for lang in (*KEEP, "eval")}


def corpus_lines(corpus: dict[str, Path]) -> list[str]:
    return [line for lang in KEEP for line in corpus[lang].read_text(encoding="utf-8").splitlines()]


def logits(model_dir: Path, texts: list[str], cls_name: str) -> np.ndarray:
    import torch
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = getattr(transformers, cls_name).from_pretrained(model_dir).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    accepted = inspect.signature(model.forward).parameters
    with torch.inference_mode():
        return model(**{k: v for k, v in batch.items() if k in accepted}).logits.numpy()


def trim_args(model: Path, corpus: dict[str, Path], out: Path, *extra: str) -> list:
    return [
        "trim-vocab",
        "--model",
        model,
        "--corpus",
        f"fr={corpus['fr']}",
        "--corpus",
        f"es={corpus['es']}",
        "--out",
        out,
        *extra,
    ]


def test_trim_classifier(finetuned, corpus, tmp_path, plugins):
    from tokenizers import Tokenizer

    from edgeptm import deploy
    from edgeptm.manifest import read_manifest

    out = tmp_path / "trimmed"
    result = invoke(*trim_args(finetuned, corpus, out, "--oov-text", f"all={corpus['eval']}"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    report = json.loads((out / "trim-vocab.json").read_text())
    before, after = report["size"]["before"], report["size"]["after"]
    assert after["vocab"] < before["vocab"] and after["weights_bytes"] < before["weights_bytes"]
    assert lines[0].split() == ["before", "after", "after", "%"]
    assert lines[2].split()[:4] == ["vocab", "(tokens)", str(before["vocab"]), str(after["vocab"])]
    assert any(line.startswith("verified: same tokens on 120 of 120 corpus texts") for line in lines)
    assert report["oov"]["all"]["oov_rate"] > 0.1  # the second text has ru, zh, hi, ... the trimmed vocab lacks

    # the files agree with each other
    config = json.loads((out / "config.json").read_text())
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    fast = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert config["vocab_size"] == len(vocab) == fast.get_vocab_size() == after["vocab"]
    assert [fast.token_to_id(t) for t in vocab] == list(range(len(vocab)))
    assert vocab[config["pad_token_id"]] == "[PAD]"
    added = json.loads((out / "tokenizer_config.json").read_text())["added_tokens_decoder"]
    assert all(vocab[int(i)] == t["content"] for i, t in added.items())

    # same tokens and logits, checked here independently of the command's own verification
    texts = corpus_lines(corpus)
    original = Tokenizer.from_file(str(finetuned / "tokenizer.json"))
    assert [e.tokens for e in original.encode_batch(texts)] == [e.tokens for e in fast.encode_batch(texts)]
    np.testing.assert_allclose(
        logits(out, texts, "BertForSequenceClassification"),
        logits(finetuned, texts, "BertForSequenceClassification"),
        atol=1e-5,
    )
    manifest = read_manifest(out)
    assert manifest.source == str(out.resolve()) and manifest.labels == read_manifest(finetuned).labels
    with deploy.load_runner(plugins, out) as runner, deploy.load_runner(plugins, finetuned) as reference:
        # each through its own encoder: the trimmed ids differ, the logits must not
        np.testing.assert_allclose(
            runner.predict(runner.encode(texts[:16])), reference.predict(reference.encode(texts[:16])), atol=1e-5
        )


@pytest.mark.parametrize("arch", ["BertForMaskedLM", "DistilBertForMaskedLM"])
def test_trim_masked_lm_keeps_tied_decoder(tiny_base, corpus, tmp_path, arch):
    import torch
    import transformers
    from transformers import AutoTokenizer

    model_dir = tiny_base
    if arch != "BertForMaskedLM":
        model_dir = tmp_path / "distil"
        config = transformers.DistilBertConfig(
            vocab_size=AutoTokenizer.from_pretrained(tiny_base).vocab_size,
            dim=32,
            n_layers=1,
            n_heads=2,
            hidden_dim=64,
            max_position_embeddings=128,
            pad_token_id=0,
        )
        torch.manual_seed(0)
        transformers.DistilBertForMaskedLM(config).save_pretrained(model_dir)
        AutoTokenizer.from_pretrained(tiny_base).save_pretrained(model_dir)
    out = tmp_path / "trimmed"
    result = invoke(*trim_args(model_dir, corpus, out))
    assert result.exit_code == 0, result.output
    keep = [AutoTokenizer.from_pretrained(model_dir).vocab[t] for t in (out / "vocab.txt").read_text().splitlines()]
    model = getattr(transformers, arch).from_pretrained(out)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert model.get_output_embeddings().bias.shape == (len(keep),)
    original = getattr(transformers, arch).from_pretrained(model_dir)
    assert torch.equal(model.get_output_embeddings().bias, original.get_output_embeddings().bias[keep])
    texts = corpus_lines(corpus)[:24]
    np.testing.assert_allclose(logits(out, texts, arch), logits(model_dir, texts, arch)[..., keep], atol=1e-5)


@pytest.fixture(scope="module")
def xlmr(tmp_path_factory, sample) -> Path:
    """An XLM-R-style masked LM with a Unigram (SentencePiece-like) tokenizer trained with `tokenizers`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM, XLMRobertaTokenizerFast

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(
        sample["train"].texts,
        trainers.UnigramTrainer(vocab_size=800, special_tokens=specials, unk_token="<unk>", show_progress=False),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    fast = XLMRobertaTokenizerFast(tokenizer_object=tok)
    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=130,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    out = tmp_path_factory.mktemp("models") / "xlmr"
    XLMRobertaForMaskedLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out


def test_trim_unigram(xlmr, corpus, tmp_path):
    from tokenizers import Tokenizer

    out = tmp_path / "trimmed"
    result = invoke(*trim_args(xlmr, corpus, out))
    assert result.exit_code == 0, result.output
    data = json.loads((out / "tokenizer.json").read_text())
    assert data["model"]["type"] == "Unigram"
    pieces = [p for p, _ in data["model"]["vocab"]]
    assert pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and "<mask>" in pieces
    assert data["model"]["unk_id"] == 3
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == len(pieces) < 800
    texts = corpus_lines(corpus)
    original, trimmed = (
        Tokenizer.from_file(str(xlmr / "tokenizer.json")),
        Tokenizer.from_file(str(out / "tokenizer.json")),
    )
    assert [e.tokens for e in original.encode_batch(texts)] == [e.tokens for e in trimmed.encode_batch(texts)]
    keep = [original.token_to_id(p) for p in pieces]
    np.testing.assert_allclose(
        logits(out, texts[:24], "XLMRobertaForMaskedLM"),
        logits(xlmr, texts[:24], "XLMRobertaForMaskedLM")[..., keep],
        atol=1e-5,
    )


def test_top_k_and_script_alphabet(finetuned, corpus, tmp_path):
    out = tmp_path / "small"
    result = invoke(*trim_args(finetuned, corpus, out, "--top-k", "300", "--keep-script", "Cyrillic"))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "trim-vocab.json").read_text())
    vocab = (out / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 300 and report["vocab"]["dropped_by_top_k"] > 0
    assert {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} <= set(vocab)
    original = (finetuned / "vocab.txt").read_text(encoding="utf-8").splitlines()
    cyrillic = [t for t in original if len(t.removeprefix("##")) == 1 and "\u0400" <= t[-1] <= "\u04ff"]
    assert cyrillic and set(cyrillic) <= set(vocab)
    v = report["verification"]
    assert v["changed_by_top_k"] > 0 and v["same_tokens"] + v["changed_by_top_k"] == 120


def test_recipe_composes_with_export_and_quantize(tmp_path, corpus, sample):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"""
name: pretrain-trim
output: out
model: builtin:tiny-multilingual
data: {{train: builtin:sample, eval: builtin:sample, test: builtin:sample, train_languages: [fr, es]}}
stages:
  - {{stage: pretrain, name: mlm, corpus: ["fr={corpus["fr"]}", "es={corpus["es"]}"], size: tiny, vocab_size: 400,
     max_length: 32, steps: 4, batch_size: 8, save_steps: 4}}
  - {{stage: finetune, from: mlm, epochs: 1, max_length: 32, batch_size: 32}}
  - {{stage: trim-vocab, name: trimmed, from: model}}
  - {{stage: export, name: onnx, backend: onnx, from: trimmed}}
  - {{stage: quantize, name: int8, from: onnx, precision: int8}}
  - {{stage: evaluate}}
""",
        encoding="utf-8",
    )
    result = invoke("run", recipe)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    names = [e["name"] for e in summary["evaluation"]]
    assert names == ["model", "trimmed", "onnx", "int8"]  # the pre-trained MLM is not a classifier
    by_name = {e["name"]: e for e in summary["evaluation"]}
    assert set(by_name["trimmed"]["per_language"]) == set(by_name["model"]["per_language"]) > set(KEEP)
    sizes = {a["name"]: a["size_mb"] for a in summary["artifacts"]}
    assert sizes["trimmed"] < sizes["model"]
    trim = summary["trim_vocab"]["trimmed"]
    assert set(trim["oov"]) == set(by_name["model"]["per_language"])
    assert all(0 <= v["oov_rate"] <= 1 and v["tokens"] > 0 for v in trim["oov"].values())
    n_train = sum(1 for e in sample["train"].examples if e.language in KEEP)
    assert trim["verification"]["texts"] == trim["verification"]["same_tokens"] == n_train
    assert set(summary["pretrain"]["mlm"]["heldout"]["per_language"]) == {"fr", "es"}
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "## Pre-training (mlm)" in md and "## Vocabulary trimming (trimmed)" in md
    again = invoke("run", recipe)
    assert again.exit_code == 0 and "skip trim-vocab trimmed: inputs unchanged" in again.output


def test_recipe_refuses_deploying_a_pretrained_mlm(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        """
name: bad
output: out
model: builtin:tiny-multilingual
data: {eval: builtin:sample, test: builtin:sample}
stages:
  - {stage: pretrain, name: mlm, corpus: [corpus.txt]}
  - {stage: export, name: onnx, backend: onnx, from: mlm}
  - {stage: trim-vocab, name: t, from: onnx, corpus: [corpus.txt]}
  - {stage: evaluate, artifacts: [mlm]}
""",
        encoding="utf-8",
    )
    result = invoke("recipes", "validate", recipe)
    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        "  stages[1].from: 'mlm' is a pre-trained masked LM; fine-tune it first (a finetune stage with from: mlm)",
        "  stages[2].from: 'onnx' is a onnx artifact; trim-vocab works on a torch model folder, so place it before export",
        "  stages[3].artifacts[0]: 'mlm' is a pre-trained masked LM; fine-tune it first (a finetune stage with from: mlm)",
    ]


# Bad input: one clear line each, nothing written.


def test_empty_corpus(finetuned, tmp_path):
    empty = tmp_path / "fr.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = invoke("trim-vocab", "--model", finetuned, "--corpus", empty, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert (
        result.output.splitlines()[-1]
        == f"Error: corpus {empty}: empty (no text lines); pass a UTF-8 file with one text per line"
    )
    assert not (tmp_path / "o").exists()


def test_language_the_tokenizer_cannot_represent(tmp_path, sample):
    from tokenizers import Tokenizer

    from edgeptm.train.tinymodel import build_model

    latin = build_model(
        tmp_path / "latin", [e.text for e in sample["train"].examples if e.language in KEEP], vocab_size=300
    )
    hindi = tmp_path / "hi.txt"
    texts = [e.text for e in sample["train"].examples if e.language == "hi"]
    hindi.write_text("\n".join(texts), encoding="utf-8")
    tok = Tokenizer.from_file(str(latin / "tokenizer.json"))
    ids = [i for e in tok.encode_batch(texts, add_special_tokens=False) for i in e.ids]
    rate = ids.count(tok.token_to_id("[UNK]")) / len(ids)
    result = invoke("trim-vocab", "--model", latin, "--corpus", f"hi={hindi}", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: corpus hi: {100 * rate:.1f}% of its tokens are [UNK] (threshold 5%): the tokenizer of {latin} can't "
        "represent this language; drop it from the corpus or raise --max-unk-rate"
    )
    assert not (tmp_path / "o").exists()


def test_top_k_that_would_lose_special_tokens(finetuned, corpus, tmp_path):
    result = invoke(*trim_args(finetuned, corpus, tmp_path / "o", "--top-k", "3"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: --top-k 3: the trimmed vocab would lose special tokens; it must hold the model's 5 "
        "([PAD], [UNK], [CLS], [SEP], [MASK]): pass --top-k 5 or more"
    )
    assert not (tmp_path / "o").exists()


def test_declared_special_token_missing_from_the_vocab(finetuned, corpus, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(finetuned, broken)
    config = json.loads((broken / "special_tokens_map.json").read_text())
    config["additional_special_tokens"] = ["<lang_xx>"]
    (broken / "special_tokens_map.json").write_text(json.dumps(config))
    result = invoke(*trim_args(broken, corpus, tmp_path / "o"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {broken}: special_tokens_map.json additional_special_tokens names special token '<lang_xx>', which is "
        "not in tokenizer.json, so the trimmed vocab would lose it; re-save the tokenizer so that tokenizer.json holds "
        "all its special tokens"
    )


def test_model_without_fast_tokenizer(finetuned, corpus, tmp_path):
    slow = tmp_path / "slow"
    shutil.copytree(finetuned, slow)
    (slow / "tokenizer.json").unlink()
    result = invoke(*trim_args(slow, corpus, tmp_path / "o"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {slow}: no fast tokenizer (tokenizer.json); trim-vocab rebuilds the fast tokenizer: re-save the model "
        "with AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(...)"
    )


def test_bpe_is_refused(finetuned, corpus, tmp_path, sample):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    bpe = tmp_path / "bpe"
    shutil.copytree(finetuned, bpe)
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        sample["train"].texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"], show_progress=False)
    )
    tok.save(str(bpe / "tokenizer.json"))
    result = invoke(*trim_args(bpe, corpus, tmp_path / "o"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: {bpe / 'tokenizer.json'}: BPE tokenizers are not supported by trim-vocab (supported: WordPiece, "
        "Unigram); a BPE vocabulary can't be cut without rewriting its merges"
    )


def test_verification_failure_writes_nothing(finetuned, corpus, tmp_path, monkeypatch):
    import torch

    import edgeptm.train.trim as trim

    real = trim.slice_embeddings

    def off_by_one(model, keep):
        real(model, keep)
        row = model.get_input_embeddings().weight.data[len(keep) // 2]
        row += torch.linspace(0, 1, row.numel())  # not a constant shift, which LayerNorm would cancel

    monkeypatch.setattr(trim, "slice_embeddings", off_by_one)
    result = invoke(*trim_args(finetuned, corpus, tmp_path / "o"))
    assert result.exit_code == 1
    last = result.output.splitlines()[-1]
    assert last.startswith("Error: verification failed: the trimmed model's logits differ from the original's by ")
    assert last.endswith("(> 1e-05) on 120 corpus texts; nothing was written")
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.tmp-*"))


def test_unknown_script(finetuned, corpus, tmp_path):
    result = invoke(*trim_args(finetuned, corpus, tmp_path / "o", "--keep-script", "Klingon"))
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: --keep-script Klingon: unknown Unicode script; use names such as Latin, Cyrillic, Arabic, Devanagari, "
        "Greek, Han"
    )
