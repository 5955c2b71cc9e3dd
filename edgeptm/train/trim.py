"""Vocabulary trimming: keep the tokens a device's languages use and slice the embeddings to match.

Works on the fast tokenizer's ``tokenizer.json``: WordPiece (BERT, DistilBERT, mBERT) and
Unigram (XLM-R and other SentencePiece models); BPE is refused, since its merges name tokens.
Kept: the special and added tokens, every token the tokenizer produces on the corpus
(optionally only the most frequent, up to a total size), and optionally the single-character
tokens of chosen Unicode scripts. Token ids keep their relative order. The input embedding
matrix and, when present, the masked-LM decoder and its bias are sliced; tied weights stay
tied. Before anything is written, the trimmed tokenizer must give the same tokens and the
trimmed model the same logits as the original on the corpus.
"""

from __future__ import annotations

import copy
import inspect
import json
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edgeptm.data.corpus import Corpus
from edgeptm.errors import DataError, ModelError
from edgeptm.fsutil import atomic_dir, atomic_write_text, dir_size, write_json

SUPPORTED_MODELS = ("WordPiece", "Unigram")
CONFIG_TOKEN_IDS = (
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "sep_token_id",
    "cls_token_id",
    "mask_token_id",
    "unk_token_id",
    "decoder_start_token_id",
)
SPECIAL_KEYS = ("unk_token", "pad_token", "cls_token", "sep_token", "mask_token", "bos_token", "eos_token")
LOGIT_TOLERANCE = 1e-5
VERIFY_MAX_LENGTH = 128
REPORT = "trim-vocab.json"


class TokenizerJson:
    """A ``tokenizer.json`` and the token/id views trimming needs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = json.loads(path.read_text(encoding="utf-8"))
        model = self.data.get("model") or {}
        self.kind = model.get("type")
        if self.kind is None and "vocab" in model and "merges" in model:
            self.kind = "BPE"
        if self.kind not in SUPPORTED_MODELS:
            why = "; a BPE vocabulary can't be cut without rewriting its merges" if self.kind == "BPE" else ""
            raise ModelError(
                f"{path}: {self.kind or 'unknown'} tokenizers are not supported by trim-vocab "
                f"(supported: {', '.join(SUPPORTED_MODELS)}){why}"
            )
        if self.kind == "WordPiece":
            self.tokens = sorted(model["vocab"], key=model["vocab"].get)
        else:
            self.tokens = [piece for piece, _ in model["vocab"]]
        self.added = {t["content"]: t["id"] for t in self.data.get("added_tokens", [])}
        self.special = {t["content"]: t["id"] for t in self.data.get("added_tokens", []) if t.get("special")}

    def size(self) -> int:
        return max([len(self.tokens) - 1, *self.added.values()]) + 1

    def id_to_token(self) -> dict[int, str]:
        return {**dict(enumerate(self.tokens)), **{i: t for t, i in self.added.items()}}

    def unk_id(self) -> int | None:
        model = self.data["model"]
        if self.kind == "WordPiece":
            return model["vocab"].get(model.get("unk_token", "[UNK]"))
        return model.get("unk_id")

    def required(self) -> set[int]:
        """Ids the tokenizer itself needs: added tokens, the unknown token, and for Unigram the
        lowest-scored piece (it sets the unknown-token penalty) and byte-fallback pieces."""
        keep = set(self.added.values())
        unk = self.unk_id()
        if unk is not None:
            keep.add(unk)
        if self.kind == "Unigram":
            vocab = self.data["model"]["vocab"]
            keep.add(min(range(len(vocab)), key=lambda i: vocab[i][1]))
            if self.data["model"].get("byte_fallback"):
                keep |= {i for i, (p, _) in enumerate(vocab) if len(p) == 6 and p.startswith("<0x") and p.endswith(">")}
        return keep

    def rebuilt(self, keep: list[int]) -> dict[str, Any]:
        """The ``tokenizer.json`` content with only the ``keep`` ids (ascending), renumbered."""
        new_id = {old: new for new, old in enumerate(keep)}
        names = self.id_to_token()
        data = json.loads(json.dumps(self.data))
        model = data["model"]
        in_model = [old for old in keep if old < len(self.tokens)]
        if self.kind == "WordPiece":
            model["vocab"] = {self.tokens[old]: new_id[old] for old in in_model}
        else:
            model["vocab"] = [model["vocab"][old] for old in in_model]
            if model.get("unk_id") is not None:
                model["unk_id"] = new_id[model["unk_id"]]
        for token in data.get("added_tokens", []):
            token["id"] = new_id[token["id"]]
        by_name = {names[old]: new_id[old] for old in keep}
        _remap_processor(data.get("post_processor"), by_name)
        if data.get("padding"):
            data["padding"]["pad_id"] = by_name[data["padding"]["pad_token"]]
        return data

    def affix(self) -> str:
        """The prefix that marks word-continuation (WordPiece) or word-start (Unigram) pieces."""
        if self.kind == "WordPiece":
            return self.data["model"].get("continuing_subword_prefix", "##")
        return "▁"


def _remap_processor(node: Any, by_name: dict[str, int]) -> None:
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "TemplateProcessing":
        for spec in node.get("special_tokens", {}).values():
            spec["ids"] = [by_name[t] for t in spec["tokens"]]
    elif kind in ("BertProcessing", "RobertaProcessing"):
        for key in ("sep", "cls"):
            node[key] = [node[key][0], by_name[node[key][0]]]
    elif kind == "Sequence":
        for child in node.get("processors", []):
            _remap_processor(child, by_name)


def _raw_tokenizer(path: Path):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def declared_special_tokens(model_dir: Path) -> dict[str, str]:
    """Special tokens named in ``tokenizer_config.json``/``special_tokens_map.json``: token -> where."""
    found: dict[str, str] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = model_dir / name
        if not path.is_file():
            continue
        config = json.loads(path.read_text(encoding="utf-8"))
        values = [(k, config.get(k)) for k in SPECIAL_KEYS]
        values += [("additional_special_tokens", v) for v in config.get("additional_special_tokens") or []]
        for key, value in values:
            token = value.get("content") if isinstance(value, dict) else value
            if isinstance(token, str):
                found.setdefault(token, f"{name} {key}")
    return found


def script_alphabet(tok: TokenizerJson, scripts: Sequence[str]) -> set[int]:
    """Ids of the single-character tokens (bare or with the word affix) of ``scripts``."""
    import regex

    patterns = []
    for script in scripts:
        try:
            patterns.append(regex.compile(rf"^\p{{Script={script}}}$"))
        except regex.error:
            raise DataError(
                f"--keep-script {script}: unknown Unicode script; use names such as Latin, Cyrillic, Arabic, "
                "Devanagari, Greek, Han"
            ) from None
    affix = tok.affix()
    keep = set()
    for i, token in enumerate(tok.tokens):
        char = token[len(affix) :] if token.startswith(affix) and len(token) > len(affix) else token
        if len(char) == 1 and any(p.match(char) for p in patterns):
            keep.add(i)
    return keep


def _count(
    tokenizer: Any, corpus: Corpus, unk: int | None, special: set[int]
) -> tuple[Counter, dict[str, dict[str, Any]]]:
    counts: Counter = Counter()
    stats = {}
    for lang, lines in sorted(corpus.items()):
        n = unk_n = 0
        for enc in tokenizer.encode_batch(lines):
            counts.update(enc.ids)
            ids = [i for i in enc.ids if i not in special or i == unk]
            n += len(ids)
            unk_n += ids.count(unk) if unk is not None else 0
        stats[lang] = {"lines": len(lines), "tokens": n, "unk_rate": unk_n / n if n else 0.0}
    return counts, stats


def _load_model(model_dir: Path) -> Any:
    import transformers

    from edgeptm.train.hf import load_pretrained

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    arch = (config.get("architectures") or ["AutoModel"])[0]
    cls = getattr(transformers, arch, None) or transformers.AutoModel
    return load_pretrained(cls, str(model_dir)).eval()


def slice_embeddings(model: Any, keep: list[int]) -> None:
    """Keep only the ``keep`` rows of the input embeddings and of the output (MLM) decoder and bias."""
    import torch

    index = torch.tensor(keep, dtype=torch.long)
    new_id = {old: new for new, old in enumerate(keep)}
    old_in = model.get_input_embeddings()
    padding = new_id.get(old_in.padding_idx) if old_in.padding_idx is not None else None
    new_in = torch.nn.Embedding(len(keep), old_in.embedding_dim, padding_idx=padding, dtype=old_in.weight.dtype)
    new_in.weight.data = old_in.weight.data[index].clone()
    model.set_input_embeddings(new_in)
    old_out = model.get_output_embeddings()
    if old_out is not None:
        new_out = torch.nn.Linear(
            old_out.in_features, len(keep), bias=old_out.bias is not None, dtype=old_out.weight.dtype
        )
        new_out.weight.data = old_out.weight.data[index].clone()
        if old_out.bias is not None:
            new_out.bias.data = old_out.bias.data[index].clone()
        model.set_output_embeddings(new_out)
    model.config.vocab_size = len(keep)
    for key in CONFIG_TOKEN_IDS:
        value = getattr(model.config, key, None)
        if isinstance(value, int) and value in new_id:
            setattr(model.config, key, new_id[value])
    model.tie_weights()


def _outputs(model: Any, encoded: dict[str, Any]) -> Any:
    import torch

    accepted = set(inspect.signature(model.forward).parameters)
    feed = {k: torch.from_numpy(v) for k, v in encoded.items() if k in accepted}
    with torch.inference_mode():
        out = model(**feed)
    return (out.logits if getattr(out, "logits", None) is not None else out[0]).float().numpy()


def _verify_tokens(
    original: Any, trimmed: Any, corpus: Corpus, new_id: dict[int, int]
) -> tuple[list[tuple[str, str]], int]:
    """(texts the trimmed tokenizer encodes identically, number that differ)."""
    same, changed = [], 0
    for lang, lines in sorted(corpus.items()):
        for text, a, b in zip(lines, original.encode_batch(lines), trimmed.encode_batch(lines)):
            if a.tokens == b.tokens and [new_id.get(i) for i in a.ids] == b.ids:
                same.append((lang, text))
            else:
                changed += 1
    return same, changed


def _spread(items: list[tuple[str, str]], n: int) -> list[str]:
    """Up to ``n`` texts, round-robin across languages."""
    by_lang: dict[str, list[str]] = {}
    for lang, text in items:
        by_lang.setdefault(lang, []).append(text)
    pools = [list(reversed(v)) for _, v in sorted(by_lang.items())]
    picked: list[str] = []
    while len(picked) < n and any(pools):
        for pool in pools:
            if pool and len(picked) < n:
                picked.append(pool.pop())
    return picked


def _max_length(config: Any) -> int:
    positions = int(getattr(config, "max_position_embeddings", VERIFY_MAX_LENGTH))
    if config.model_type in ("roberta", "xlm-roberta", "camembert"):
        positions -= config.pad_token_id + 1
    return min(VERIFY_MAX_LENGTH, positions)


def verify_logits(
    original_model: Any,
    trimmed_model: Any,
    original_file: Path,
    trimmed_file: Path,
    texts: list[str],
    keep: list[int],
    batch_size: int = 16,
) -> float:
    """Max |Δ| between the original model on the original ids and the trimmed model on the new ids."""
    import numpy as np

    from edgeptm.encoding import Encoder

    length = _max_length(original_model.config)
    enc_a, enc_b = Encoder(original_file, length), Encoder(trimmed_file, length)
    sliced = original_model.get_output_embeddings() is not None
    worst = 0.0
    for i in range(0, len(texts), batch_size):
        batch = texts[i : i + batch_size]
        want = _outputs(original_model, enc_a(batch))
        if sliced:
            want = want[..., keep]
        got = _outputs(trimmed_model, enc_b(batch))
        worst = max(worst, float(np.max(np.abs(want - got))))
    return worst


def oov_report(
    original: Any,
    trimmed: Any,
    texts: Corpus,
    new_id: dict[int, int],
    unk_old: int | None,
    unk_new: int | None,
    special: set[int],
) -> dict[str, dict[str, Any]]:
    """Per language: the share of the original tokens the trimmed vocab lacks, [UNK] rates
    before and after, and how many tokens the trimmed tokenizer needs instead."""
    report = {}
    special_new = {new_id[s] for s in special if s in new_id} - {unk_new}
    for lang, lines in sorted(texts.items()):
        n = lost = unk_a = unk_b = n_b = 0
        for a, b in zip(original.encode_batch(lines), trimmed.encode_batch(lines)):
            ids = [i for i in a.ids if i not in special or i == unk_old]
            n += len(ids)
            lost += sum(1 for i in ids if i not in new_id)
            unk_a += ids.count(unk_old)
            after = [i for i in b.ids if i not in special_new]
            n_b += len(after)
            unk_b += after.count(unk_new)
        report[lang] = {
            "lines": len(lines),
            "tokens": n,
            "oov_rate": lost / n if n else 0.0,
            "unk_rate_before": unk_a / n if n else 0.0,
            "unk_rate_after": unk_b / n_b if n_b else 0.0,
            "tokens_after": n_b,
        }
    return report


def _check_budget(top_k: int | None, special: dict[str, int], alphabet: set[int], required: set[int]) -> None:
    if top_k is None:
        return
    if top_k < len(special):
        names = ", ".join(sorted(special, key=lambda token: special[token]))
        raise DataError(
            f"--top-k {top_k}: the trimmed vocab would lose special tokens; it must hold the model's "
            f"{len(special)} ({names}): pass --top-k {len(special)} or more"
        )
    if top_k < len(required):
        raise DataError(
            f"--top-k {top_k}: too small for the {len(required)} tokens that must stay (special and added tokens"
            f"{', ' + str(len(alphabet)) + ' alphabet characters of --keep-script' if alphabet else ''}); "
            f"pass --top-k {len(required)} or more"
        )


def trim_vocab(
    model_dir: Path,
    corpus: Corpus,
    out: Path,
    *,
    top_k: int | None = None,
    keep_scripts: Sequence[str] = (),
    oov_texts: Corpus | None = None,
    max_unk_rate: float = 0.05,
    verify_texts: int = 256,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> dict[str, Any]:
    """Write ``model_dir`` with a vocabulary trimmed to ``corpus`` into ``out``; return the report.

    A model edgeptm made at ``out`` is replaced only with ``force``; anything else there is refused."""
    from edgeptm.fsutil import check_output
    from edgeptm.manifest import has_manifest, read_manifest

    model_dir = Path(model_dir)
    check_output(Path(out), "model", force=force, inputs=(model_dir,))
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: no such model folder")
    if not (model_dir / "config.json").is_file():
        raise ModelError(f"{model_dir}: not a model folder (no config.json); pass a save_pretrained folder")
    tokenizer_file = model_dir / "tokenizer.json"
    if not tokenizer_file.is_file():
        raise ModelError(
            f"{model_dir}: no fast tokenizer (tokenizer.json); trim-vocab rebuilds the fast tokenizer: re-save the "
            "model with AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(...)"
        )
    tok = TokenizerJson(tokenizer_file)
    names = tok.id_to_token()
    known = {t: i for i, t in names.items()}
    for token, where in declared_special_tokens(model_dir).items():
        if token not in known:
            raise ModelError(
                f"{model_dir}: {where} names special token {token!r}, which is not in tokenizer.json, so the trimmed "
                "vocab would lose it; re-save the tokenizer so that tokenizer.json holds all its special tokens"
            )
    original = _raw_tokenizer(tokenizer_file)
    unk = tok.unk_id()
    special_ids = set(tok.special.values())
    counts, stats = _count(original, corpus, unk, special_ids)
    unk_name = names.get(unk, "[UNK]") if unk is not None else "[UNK]"
    for lang, s in stats.items():
        if s["unk_rate"] > max_unk_rate:
            raise DataError(
                f"corpus {lang}: {100 * s['unk_rate']:.1f}% of its tokens are {unk_name} (threshold "
                f"{100 * max_unk_rate:g}%): the tokenizer of {model_dir} can't represent this language; drop it from "
                "the corpus or raise --max-unk-rate"
            )

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    config_ids = {config[k] for k in CONFIG_TOKEN_IDS if isinstance(config.get(k), int) and 0 <= config[k] < tok.size()}
    alphabet = script_alphabet(tok, keep_scripts) if keep_scripts else set()
    required = tok.required() | config_ids | alphabet
    _check_budget(top_k, tok.special, alphabet, required)
    produced = [i for i, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if i not in required]
    dropped_by_top_k = 0
    if top_k is not None:
        dropped_by_top_k = max(0, len(produced) - (top_k - len(required)))
        produced = produced[: top_k - len(required)]
    keep = sorted(required | set(produced))
    new_id = {old: new for new, old in enumerate(keep)}
    log(
        f"keeping {len(keep)} of {tok.size()} tokens ({len(tok.special)} special, {len(produced)} from the corpus"
        + (f", {len(alphabet)} alphabet" if alphabet else "")
        + ")"
    )

    model = _load_model(model_dir)
    vocab_rows = model.get_input_embeddings().num_embeddings
    if vocab_rows < tok.size():
        raise ModelError(f"{model_dir}: the model has {vocab_rows} embeddings but its tokenizer {tok.size()} tokens")
    before = _sizes(model, model_dir)
    report: dict[str, Any] = {"tokenizer": tok.kind, "corpus": stats}
    with atomic_dir(Path(out), kind="model", inputs=(Path(model_dir),)) as tmp:
        atomic_write_text(tmp / "tokenizer.json", json.dumps(tok.rebuilt(keep), ensure_ascii=False, indent=2))
        _write_tokenizer_files(model_dir, tmp, tok, keep, new_id)
        trimmed_model = copy.deepcopy(model)
        slice_embeddings(trimmed_model, keep)
        trimmed_model.save_pretrained(str(tmp))
        trimmed_model = _load_model(tmp)
        after = _sizes(trimmed_model, tmp)

        trimmed = _raw_tokenizer(tmp / "tokenizer.json")
        same, changed = _verify_tokens(original, trimmed, corpus, new_id)
        total = len(same) + changed
        if changed and top_k is None:
            raise ModelError(
                f"verification failed: the trimmed tokenizer splits {changed} of {total} corpus texts differently "
                "from the original; nothing was written"
            )
        sample = _spread(same, verify_texts)
        diff = (
            verify_logits(model, trimmed_model, tokenizer_file, tmp / "tokenizer.json", sample, keep) if sample else 0.0
        )
        if diff > LOGIT_TOLERANCE:
            raise ModelError(
                f"verification failed: the trimmed model's logits differ from the original's by {diff:.3g} "
                f"(> {LOGIT_TOLERANCE:g}) on {len(sample)} corpus texts; nothing was written"
            )
        unk_new = new_id.get(unk) if unk is not None else None
        report.update(
            {
                "vocab": {
                    "before": tok.size(),
                    "after": len(keep),
                    "special": len(tok.special),
                    "from_corpus": len(produced),
                    "alphabet": len(alphabet),
                    "dropped_by_top_k": dropped_by_top_k,
                },
                "size": {"before": before, "after": after},
                "verification": {
                    "texts": total,
                    "same_tokens": len(same),
                    "changed_by_top_k": changed,
                    "logit_texts": len(sample),
                    "max_abs_logit_diff": diff,
                    "tolerance": LOGIT_TOLERANCE,
                },
                "oov": oov_report(original, trimmed, oov_texts, new_id, unk, unk_new, special_ids)
                if oov_texts
                else None,
                "options": {"top_k": top_k, "keep_scripts": list(keep_scripts), "max_unk_rate": max_unk_rate},
                "source": str(model_dir.resolve()),
            }
        )
        if has_manifest(model_dir):
            manifest = read_manifest(model_dir)
            manifest.model_copy(
                update={
                    "source": str(Path(out).resolve()),
                    "files": [n for n in ("model.safetensors", "pytorch_model.bin") if (tmp / n).is_file()],
                    "options": {**manifest.options, "trim_vocab": {**report["options"], "vocab": report["vocab"]}},
                    "validation": None,
                }
            ).save(tmp)
        write_json(tmp / REPORT, report)
    return report


def _sizes(model: Any, folder: Path) -> dict[str, int]:
    emb = model.get_input_embeddings().weight.numel()
    weights = [n for n in ("model.safetensors", "pytorch_model.bin") if (Path(folder) / n).is_file()]
    return {
        "vocab": int(model.get_input_embeddings().num_embeddings),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "embedding_parameters": int(emb),
        "weights_bytes": int(dir_size(folder, weights)) if weights else 0,
    }


def _write_tokenizer_files(
    model_dir: Path, tmp: Path, tok: TokenizerJson, keep: list[int], new_id: dict[int, int]
) -> None:
    """vocab.txt, tokenizer_config.json (ids of ``added_tokens_decoder``), added_tokens.json and the
    special-token map for the trimmed vocab; slow SentencePiece files are left out (they'd disagree)."""
    names = tok.id_to_token()
    if (model_dir / "vocab.txt").is_file() and tok.kind == "WordPiece":
        atomic_write_text(tmp / "vocab.txt", "".join(names[old] + "\n" for old in keep if old < len(tok.tokens)))
    config_path = model_dir / "tokenizer_config.json"
    if config_path.is_file():
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if "added_tokens_decoder" in config:
            config["added_tokens_decoder"] = {
                str(new_id[int(k)]): v
                for k, v in sorted(config["added_tokens_decoder"].items(), key=lambda kv: int(kv[0]))
            }
        if config.get("vocab_file") and tok.kind != "WordPiece":
            config.pop("vocab_file")
        write_json(tmp / "tokenizer_config.json", config)
    added = model_dir / "added_tokens.json"
    if added.is_file():
        write_json(
            tmp / "added_tokens.json", {t: new_id[i] for t, i in json.loads(added.read_text()).items() if i in new_id}
        )
    if (model_dir / "special_tokens_map.json").is_file():
        shutil.copy2(model_dir / "special_tokens_map.json", tmp / "special_tokens_map.json")


def size_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Vocabulary, parameters and weight-file size before and after trimming."""
    b, a = report["size"]["before"], report["size"]["after"]
    rows = [
        ["vocab (tokens)", b["vocab"], a["vocab"], 100 * a["vocab"] / b["vocab"]],
        ["parameters", b["parameters"], a["parameters"], 100 * a["parameters"] / b["parameters"]],
        [
            "embedding parameters",
            b["embedding_parameters"],
            a["embedding_parameters"],
            100 * a["embedding_parameters"] / b["embedding_parameters"],
        ],
        [
            "weights (MB)",
            b["weights_bytes"] / 2**20,
            a["weights_bytes"] / 2**20,
            100 * a["weights_bytes"] / b["weights_bytes"] if b["weights_bytes"] else None,
        ],
    ]
    return ["", "before", "after", "after %"], rows


def oov_rows(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Per language of the second text: out-of-vocabulary and [UNK] rates, tokens before/after."""
    rows = [
        [
            lang,
            v["tokens"],
            100 * v["oov_rate"],
            100 * v["unk_rate_before"],
            100 * v["unk_rate_after"],
            v["tokens_after"],
        ]
        for lang, v in (report.get("oov") or {}).items()
    ]
    return ["language", "tokens", "oov %", "unk % before", "unk % after", "tokens after"], rows
