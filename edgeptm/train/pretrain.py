"""Masked-language-model pre-training on raw multilingual text, with transformers' Trainer.

From scratch (a WordPiece tokenizer trained on the corpus and a size preset) or continued
from an existing checkpoint (domain adaptation). Languages are sampled with
``p_l ∝ n_l^alpha`` as in mBERT and XLM-R; texts are packed into full-length blocks;
masking is dynamic (fresh at every batch), optionally of whole words. A share of each
language is held out and its perplexity reported per language in ``metrics.json``.
Checkpoints go to ``<out>.checkpoints`` beside the output, with a record of the run's
config so that ``resume`` refuses a different one. Device and DDP come from accelerate,
as in :mod:`edgeptm.train.finetune`.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edgeptm.data.corpus import Corpus
from edgeptm.errors import DataError, ModelError
from edgeptm.fsutil import write_json
from edgeptm.measure.coverage import measure_coverage
from edgeptm.train.hf import pinned_threads
from edgeptm.train.tinymodel import SIZES, PositionEmbedding

COVERAGE_LINES = 5000
"""Held-out lines per language on which the tokenizer's coverage is measured."""

RECORD = "edgeptm-pretrain.json"
DEFAULT_SIZE = "mini"
DEFAULT_VOCAB_SIZE = 30000
DEFAULT_POSITION_EMBEDDING = "relative_key_query"
SCRATCH_ONLY = ("size", "vocab_size", "lowercase", "strip_accents", "split_cjk", "tie_embeddings", "position_embedding")
# Where masked-LM heads start, so that only the masked positions go through the vocabulary projection.
HEAD_MODULES = ("cls", "lm_head", "vocab_transform")


class PretrainOptions(BaseModel):
    """Pre-training options (CLI flags and the recipe's ``pretrain`` stage)."""

    model_config = ConfigDict(extra="forbid")

    size: Literal["tiny", "mini", "small", "base"] | None = Field(
        None, description=f"from scratch (default {DEFAULT_SIZE})"
    )
    vocab_size: int | None = Field(None, ge=100, description=f"from scratch (default {DEFAULT_VOCAB_SIZE})")
    lowercase: bool | None = Field(None, description="from scratch: lower-case (default off)")
    strip_accents: bool | None = Field(None, description="from scratch: strip accents (default off)")
    split_cjk: bool | None = Field(None, description="from scratch: CJK characters as single tokens (default on)")
    tie_embeddings: bool | None = Field(
        None, description="from scratch: the MLM decoder shares the input embeddings (default on, as BERT)"
    )
    position_embedding: PositionEmbedding | None = Field(
        None,
        description=f"from scratch: BERT's position encoding (default {DEFAULT_POSITION_EMBEDDING}: small models "
        "trained from scratch leave the MLM plateau far sooner than with learned absolute positions)",
    )
    max_length: int = Field(128, ge=16, le=4096, description="tokens per packed block")
    alpha: float = Field(0.3, ge=0, le=1, description="language sampling exponent: p_l ∝ n_l^alpha")
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    whole_word_mask: bool = False
    steps: int = Field(10000, ge=1)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    learning_rate: float = Field(5e-4, gt=0)
    warmup_ratio: float = Field(0.06, ge=0, le=1)
    weight_decay: float = Field(0.01, ge=0)
    gradient_accumulation_steps: int = Field(1, ge=1)
    threads: int | None = Field(None, ge=1, description="torch threads while training (default: the physical cores)")
    heldout_fraction: float = Field(0.05, gt=0, lt=1, description="share of each language held out")
    heldout_max_lines: int = Field(1000, ge=1)
    save_steps: int = Field(500, ge=1, description="checkpoint and held-out evaluation interval")
    max_unk_rate: float = Field(0.05, ge=0, le=1, description="stop when a language has more unknown tokens")
    seed: int = 42

    def scratch_only_set(self) -> list[str]:
        return [k for k in SCRATCH_ONLY if getattr(self, k) is not None]


def work_dir(out: Path) -> Path:
    """Where checkpoints of the run writing ``out`` live."""
    out = Path(out)
    return out.parent / f"{out.name}.checkpoints"


def run_record(corpus: Corpus, options: PretrainOptions, model: str | None) -> dict[str, Any]:
    """What identifies a run: its options, initial model and corpus content."""
    digests = {
        lang: {"lines": len(lines), "sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]}
        for lang, lines in sorted(corpus.items())
    }
    return {"options": json.loads(options.model_dump_json()), "model": model, "corpus": digests}


def record_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two run records."""
    changes = [
        f"{k} {old['options'].get(k)!r} -> {v!r}" for k, v in new["options"].items() if old["options"].get(k) != v
    ]
    if old.get("model") != new["model"]:
        changes.append(f"model {old.get('model')!r} -> {new['model']!r}")
    langs = sorted(set(old.get("corpus", {})) | set(new["corpus"]))
    changed = [lang for lang in langs if old.get("corpus", {}).get(lang) != new["corpus"].get(lang)]
    if changed:
        changes.append(f"corpus text of {', '.join(changed)}")
    return changes


def can_resume(out: Path, corpus: Corpus, options: PretrainOptions, model: str | None) -> bool:
    """Whether ``out``'s checkpoints belong to this very run (the recipe resumes only then)."""
    record = work_dir(out) / RECORD
    return record.is_file() and not record_changes(json.loads(record.read_text()), run_record(corpus, options, model))


def split_heldout(corpus: Corpus, options: PretrainOptions) -> tuple[Corpus, Corpus]:
    """Per language: (training lines, held-out lines), a seeded random split."""
    train: Corpus = {}
    heldout: Corpus = {}
    for lang, lines in sorted(corpus.items()):
        if len(lines) < 2:
            raise DataError(
                f"corpus {lang}: {len(lines)} line; pre-training needs at least 2 per language "
                "(one is held out for perplexity)"
            )
        order = random.Random(f"{options.seed}:{lang}").sample(range(len(lines)), len(lines))
        n = min(options.heldout_max_lines, max(1, round(len(lines) * options.heldout_fraction)), len(lines) - 1)
        heldout[lang] = [lines[i] for i in sorted(order[:n])]
        train[lang] = [lines[i] for i in sorted(order[n:])]
    return train, heldout


def sampling_probabilities(sizes: dict[str, int], alpha: float) -> dict[str, float]:
    """``p_l = n_l^alpha / sum_k n_k^alpha`` (alpha 1: proportional, 0: uniform)."""
    weights = {lang: n**alpha for lang, n in sizes.items()}
    total = sum(weights.values())
    return {lang: w / total for lang, w in weights.items()}


def balanced(items: dict[str, list[Any]], alpha: float, seed: int) -> list[Any]:
    """Resample each language to ``p_l * N`` items (N: all items), repeating small languages
    and subsampling large ones; deterministic for a seed."""
    rng = random.Random(seed)
    total = sum(len(v) for v in items.values())
    probs = sampling_probabilities({k: len(v) for k, v in items.items()}, alpha)
    out: list[Any] = []
    for lang, pool in sorted(items.items()):
        want = max(1, round(probs[lang] * total))
        repeats, rest = divmod(want, len(pool))
        out += pool * repeats + rng.sample(pool, rest)
    return out


def encode(tokenizer: Any, lines: Sequence[str]) -> list[Any]:
    """``tokenizers`` encodings of ``lines`` without special tokens, truncation or padding."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    raw.no_truncation()
    raw.no_padding()
    return raw.encode_batch(list(lines), add_special_tokens=False)


def pack(tokenizer: Any, lines: Sequence[str], max_length: int) -> list[dict[str, Any]]:
    """Concatenate the lines' tokens (each line ended by the separator) into blocks of
    ``[CLS] … [SEP]`` of ``max_length`` tokens; ``words`` numbers the words (-1: special)."""
    import numpy as np

    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    width = max_length - 2
    ids: list[int] = []
    words: list[int] = []
    word = 0
    for enc in encode(tokenizer, lines):
        previous = None
        for token, w in zip(enc.ids, enc.word_ids):
            if w != previous:
                word += 1
                previous = w
            ids.append(token)
            words.append(word)
        ids.append(sep_id)
        words.append(-1)
    blocks = []
    for start in range(0, len(ids), width):
        chunk_ids, chunk_words = ids[start : start + width], words[start : start + width]
        if all(w < 0 for w in chunk_words):
            continue
        blocks.append(
            {
                "input_ids": np.array([cls_id, *chunk_ids, sep_id], dtype=np.int64),
                "words": np.array([-1, *chunk_words, -1], dtype=np.int64),
            }
        )
    return blocks


def unk_rate(tokenizer: Any, lines: Sequence[str]) -> float:
    """Share of the tokens of ``lines`` that are the unknown token."""
    unk = tokenizer.unk_token_id
    counts = [(e.ids.count(unk), len(e.ids)) for e in encode(tokenizer, lines)]
    total = sum(n for _, n in counts)
    return sum(u for u, _ in counts) / total if total else 0.0


class MaskingCollator:
    """Pad packed blocks and mask them dynamically (transformers' ``DataCollatorForLanguageModeling``).

    Blocks that already carry ``labels`` (the pre-masked held-out set) are only padded.
    Whole-word masking gets word boundaries from the blocks' ``words``; transformers masks
    whole words with ``[MASK]`` only (no random replacement). ``pad_to`` fixes the width
    (XLA compiles one graph per shape).
    """

    def __init__(
        self,
        tokenizer: Any,
        mlm_probability: float,
        whole_word_mask: bool,
        seed: int | None = None,
        pad_to: int | None = None,
    ) -> None:
        from transformers import DataCollatorForLanguageModeling

        self.pad_id = tokenizer.pad_token_id
        self.pad_to = pad_to
        self.whole_word_mask = whole_word_mask
        self.masker = DataCollatorForLanguageModeling(
            tokenizer,
            mlm_probability=mlm_probability,
            whole_word_mask=whole_word_mask,
            mask_replace_prob=1.0 if whole_word_mask else 0.8,
            random_replace_prob=0.0 if whole_word_mask else 0.1,
            seed=seed,
        )
        if seed is not None:
            self.masker.create_rng()

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        width = max(self.pad_to or 0, *(len(f["input_ids"]) for f in features))
        n = len(features)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((n, width), dtype=torch.long)
        words = torch.full((n, width), -1, dtype=torch.long)
        labels = torch.full((n, width), -100, dtype=torch.long)
        for i, f in enumerate(features):
            k = len(f["input_ids"])
            ids[i, :k] = torch.as_tensor(f["input_ids"])
            attention[i, :k] = 1
            if "labels" in f:
                labels[i, :k] = torch.as_tensor(f["labels"])
            else:
                words[i, :k] = torch.as_tensor(f["words"])
        if "labels" in features[0]:
            return {"input_ids": ids, "attention_mask": attention, "labels": labels}
        offsets = None
        if self.whole_word_mask:
            # Synthetic character offsets: tokens of one word touch, a new word leaves a gap.
            start = torch.arange(width).expand(n, width) + words
            offsets = torch.stack([start, start + 1], dim=-1)
        inputs, labels = self.masker.torch_mask_tokens(ids, special_tokens_mask=words < 0, offset_mapping=offsets)
        return {"input_ids": inputs, "attention_mask": attention, "labels": labels}


def premask(collator: MaskingCollator, blocks: list[dict[str, Any]], batch: int = 256) -> list[dict[str, Any]]:
    """Mask held-out blocks once, so every evaluation scores the same positions."""
    rows = []
    for i in range(0, len(blocks), batch):
        part = blocks[i : i + batch]
        out = collator(part)
        for j, block in enumerate(part):
            k = len(block["input_ids"])
            rows.append({"input_ids": out["input_ids"][j, :k].numpy(), "labels": out["labels"][j, :k].numpy()})
    return rows


class MaskedHead:
    """Run the model's MLM head on the masked positions only.

    A forward pre-hook on the head selects the rows to score, so the vocabulary projection
    (the costliest matmul of a small model) runs on ~15% of the tokens. The model is still
    called through its wrapper, so DDP's gradient hooks stay intact. Without a known head, or
    when disabled (DataParallel splits batches; XLA needs static shapes), the loss is taken
    over the full logits with the unmasked positions ignored.
    """

    def __init__(self, model: Any, enabled: bool = True) -> None:
        import torch

        head = next(
            (getattr(model, a) for a in HEAD_MODULES if isinstance(getattr(model, a, None), torch.nn.Module)), None
        )
        self.head = head if enabled else None
        self.selected = None
        if self.head is not None:
            self.head.register_forward_pre_hook(self._select)

    def _select(self, module: Any, args: tuple) -> tuple | None:
        if self.selected is None:
            return None
        return (args[0][self.selected], *args[1:])

    def loss_sum(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, Any, Any]:
        """(summed cross-entropy over masked tokens, their count, the model outputs)."""
        import torch.nn.functional as F

        labels = inputs["labels"]
        selected = labels != -100
        feed = {k: v for k, v in inputs.items() if k != "labels"}
        self.selected = selected
        try:
            outputs = model(**feed)
        finally:
            self.selected = None
        if self.head is not None:
            total = F.cross_entropy(outputs.logits.float(), labels[selected], reduction="sum")
        else:
            logits = outputs.logits.float()
            total = F.cross_entropy(
                logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100, reduction="sum"
            )
        return total, selected.sum(), outputs


def _trainer_class():
    from transformers import Trainer

    class MLMTrainer(Trainer):
        """Trainer whose loss scores only the masked positions (see :class:`MaskedHead`)."""

        def __init__(self, *args: Any, on_xla: bool = False, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.masked_head = MaskedHead(self.model, enabled=self.args.n_gpu <= 1 and not on_xla)
            self.model_accepts_loss_kwargs = True  # so Trainer counts masked tokens across accumulation steps

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            total, count, outputs = self.masked_head.loss_sum(model, inputs)
            if num_items_in_batch is None:
                loss = total / count.clamp(min=1)
            else:
                loss = total / num_items_in_batch
                if self.args.average_tokens_across_devices:
                    loss = loss * self.accelerator.num_processes
            return (loss, outputs) if return_outputs else loss

    return MLMTrainer


def _log_callback(log: Callable[[str], None]):
    """Compact log lines (train loss; held-out loss of every language, once per evaluation)
    instead of Trainer's printed dicts."""
    from transformers import TrainerCallback

    class LogCallback(TrainerCallback):
        def __init__(self) -> None:
            self.heldout: dict[str, float] = {}

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            if "loss" in logs:
                log(f"step {state.global_step}/{state.max_steps}: train loss {logs['loss']:.3f}")
            self.heldout.update(
                {
                    k[len("eval_") : -len("_loss")]: v
                    for k, v in logs.items()
                    if k.startswith("eval_") and k.endswith("_loss")
                }
            )

        def on_save(self, args, state, control, **kwargs):
            if self.heldout and state.is_world_process_zero:
                log(
                    f"step {state.global_step}: held-out loss "
                    + ", ".join(f"{k} {v:.3f}" for k, v in self.heldout.items())
                )
            self.heldout = {}

    return LogCallback()


def heldout_perplexity(
    model: Any,
    masked_head: MaskedHead,
    rows: list[dict[str, Any]],
    collator: MaskingCollator,
    batch_size: int,
    device: Any,
) -> dict[str, Any]:
    """Token-weighted masked-LM loss and perplexity of ``rows`` (pre-masked blocks)."""
    import torch

    model.eval()
    total, count, tokens = 0.0, 0, 0
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            batch = {k: v.to(device) for k, v in collator(rows[i : i + batch_size]).items()}
            loss, n, _ = masked_head.loss_sum(model, batch)
            total += float(loss)
            count += int(n)
            tokens += int(batch["attention_mask"].sum())
    mean = total / count if count else float("nan")
    return {
        "loss": mean,
        "perplexity": math.exp(mean) if count else float("nan"),
        "masked_tokens": count,
        "tokens": tokens,
    }


def _load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    from edgeptm.train.hf import load_pretrained

    if Path(name).is_dir() and not (Path(name) / "tokenizer.json").is_file():
        raise ModelError(
            f"{name}: no fast tokenizer (tokenizer.json); save the model with its tokenizer: "
            "AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(...)"
        )
    tokenizer = load_pretrained(AutoTokenizer, name, use_fast=True)
    missing = [t for t in ("mask_token", "pad_token", "cls_token", "sep_token") if getattr(tokenizer, t) is None]
    if missing:
        raise ModelError(f"{name}: the tokenizer has no {', '.join(missing)}; masked-LM pre-training needs them")
    return tokenizer


def _new_model(tokenizer: Any, options: PretrainOptions, attention: dict[str, str]) -> Any:
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(options.seed)
    position = options.position_embedding or DEFAULT_POSITION_EMBEDDING
    if position != "absolute":
        attention = {"attn_implementation": "eager"}  # SDPA has none (transformers would warn, then fall back)
    config = BertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=options.max_length,
        position_embedding_type=position,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=options.tie_embeddings is not False,
        **SIZES[options.size or DEFAULT_SIZE],
        **attention,
    )
    return BertForMaskedLM(config)


def _max_positions(net: Any) -> int:
    positions = int(net.config.max_position_embeddings)
    # RoBERTa-family position ids start after the padding index.
    return (
        positions - (net.config.pad_token_id + 1)
        if net.config.model_type in ("roberta", "xlm-roberta", "camembert")
        else positions
    )


def pretrain(
    corpus: Corpus,
    out: Path,
    options: PretrainOptions = PretrainOptions(),
    *,
    model: str | None = None,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    force: bool = False,
) -> dict[str, Any]:
    """Pre-train a masked LM on ``corpus`` and write a ``save_pretrained`` folder with ``metrics.json`` to ``out``.

    A model edgeptm made at ``out`` is replaced only with ``force``; anything else there is refused at once."""
    from edgeptm.fsutil import check_output

    local = Path(model).expanduser() if model else None
    check_output(Path(out), "model", force=force, inputs=(local,) if local and local.exists() else ())
    with pinned_threads(options.threads):  # a run is reproducible only with its thread count fixed
        import transformers
        from transformers import AutoModelForMaskedLM

        from edgeptm.train import xla
        from edgeptm.train.hf import last_checkpoint, load_pretrained, resolve_model, save_trained, training_arguments
        from edgeptm.train.tinymodel import train_wordpiece

        transformers.logging.set_verbosity_error()
        out = Path(out)
        work = work_dir(out)
        if model is not None and options.scratch_only_set():
            flags = ", ".join("--" + k.replace("_", "-") for k in options.scratch_only_set())
            raise ModelError(
                f"{flags}: only for a model trained from scratch; drop them to continue pre-training {model}"
            )
        name = resolve_model(model) if model is not None else None
        train_lines, heldout_lines = split_heldout(corpus, options)
        record = run_record(corpus, options, model)
        # On XLA, as in the engine: eager attention, plain AdamW, fixed shapes (see MaskedHead).
        on_xla = xla.training_on_xla()
        attention = {"attn_implementation": "eager"} if on_xla else {}

        args = training_arguments(
            work,
            options=options,
            progress=progress,
            on_xla=on_xla,
            max_steps=options.steps,
            eval_strategy="steps",
            eval_steps=options.save_steps,
            save_strategy="steps",
            save_steps=options.save_steps,
            logging_strategy="steps",
            logging_steps=max(1, min(100, options.save_steps)),
            prediction_loss_only=True,
            remove_unused_columns=False,
        )
        with args.main_process_first(desc="pre-training setup"):
            if args.process_index == 0:
                _prepare_work(work, record, resume)
            saved = work / "tokenizer"
            if (saved / "tokenizer.json").is_file():
                tokenizer = _load_tokenizer(str(saved))
            elif name is not None:
                tokenizer = _load_tokenizer(name)
            else:
                log(f"training a WordPiece tokenizer ({options.vocab_size or DEFAULT_VOCAB_SIZE} tokens)")
                tokenizer = train_wordpiece(
                    balanced(train_lines, options.alpha, options.seed),
                    vocab_size=options.vocab_size or DEFAULT_VOCAB_SIZE,
                    lowercase=bool(options.lowercase),
                    strip_accents=bool(options.strip_accents),
                    split_cjk=options.split_cjk is not False,
                    max_length=options.max_length,
                )
            if args.process_index == 0 and not saved.is_dir():
                tokenizer.save_pretrained(str(saved))

        unk = {lang: unk_rate(tokenizer, lines) for lang, lines in train_lines.items()}
        for lang, rate in unk.items():
            if rate > options.max_unk_rate:
                raise DataError(
                    f"corpus {lang}: {100 * rate:.1f}% of its tokens are {tokenizer.unk_token} "
                    f"(threshold {100 * options.max_unk_rate:g}%): the tokenizer of {model} can't represent this language; "
                    "drop it from the corpus or pre-train from scratch"
                )
        # Held-out lines: text the tokenizer (trained or loaded) did not learn its vocabulary from.
        coverage = measure_coverage(
            tokenizer.backend_tokenizer,
            {lang: (heldout_lines[lang] or lines)[:COVERAGE_LINES] for lang, lines in train_lines.items()},
            options.max_unk_rate,
        )
        if warning := coverage.warning(model or "the new model"):
            log(warning)

        transformers.set_seed(options.seed)  # the new weights come from the global RNG: seed it first
        if name is None:
            net = _new_model(tokenizer, options, attention)
            max_length = options.max_length
        else:
            net = load_pretrained(AutoModelForMaskedLM, name, **attention)
            max_length = min(options.max_length, _max_positions(net))
            if max_length < options.max_length:
                log(f"{model} has {max_length} positions; packing blocks of {max_length} tokens")
            if len(tokenizer) > net.get_input_embeddings().num_embeddings:
                rows = net.get_input_embeddings().num_embeddings
                raise ModelError(
                    f"{model}: the tokenizer has {len(tokenizer)} tokens but the model only {rows} embeddings"
                )

        blocks = {lang: pack(tokenizer, lines, max_length) for lang, lines in train_lines.items()}
        heldout_blocks = {lang: pack(tokenizer, lines, max_length) for lang, lines in heldout_lines.items()}
        probs = sampling_probabilities({k: len(v) for k, v in blocks.items()}, options.alpha)
        train_rows = balanced(blocks, options.alpha, options.seed)
        collator = MaskingCollator(
            tokenizer, options.mlm_probability, options.whole_word_mask, pad_to=max_length if on_xla else None
        )
        eval_collator = MaskingCollator(
            tokenizer, options.mlm_probability, options.whole_word_mask, seed=options.seed + 1
        )
        heldout_rows = {lang: premask(eval_collator, b) for lang, b in heldout_blocks.items()}
        tokens = {lang: int(sum(len(b["input_ids"]) for b in bl)) for lang, bl in blocks.items()}
        log(
            f"{len(train_rows)} blocks of ≤{max_length} tokens per epoch; sampling (alpha {options.alpha:g}): "
            + ", ".join(f"{lang} {100 * p:.1f}%" for lang, p in sorted(probs.items()))
        )

        checkpoint = last_checkpoint(work) if resume else None
        if resume and checkpoint is None:
            log(f"no checkpoint in {work}; starting from the beginning")
        trainer = _trainer_class()(
            model=net,
            args=args,
            train_dataset=train_rows,
            eval_dataset=heldout_rows,
            processing_class=tokenizer,
            data_collator=collator,
            on_xla=on_xla,
        )
        if not progress:
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
            trainer.add_callback(_log_callback(log))
        started = time.perf_counter()
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        elapsed = time.perf_counter() - started

        per_language = {
            lang: heldout_perplexity(
                trainer.model, trainer.masked_head, rows, collator, options.eval_batch_size, args.device
            )
            for lang, rows in heldout_rows.items()
        }
        masked = sum(v["masked_tokens"] for v in per_language.values())
        overall_loss = (
            sum(v["loss"] * v["masked_tokens"] for v in per_language.values() if v["masked_tokens"]) / masked
            if masked
            else math.nan
        )
        metrics: dict[str, Any] = {
            "coverage": coverage.to_json(),
            "heldout": {
                "overall": {
                    "loss": overall_loss,
                    "perplexity": math.exp(overall_loss) if masked else math.nan,
                    "masked_tokens": masked,
                    "tokens": sum(v["tokens"] for v in per_language.values()),
                },
                "per_language": per_language,
            },
            "train": {
                "steps": int(trainer.state.global_step),
                "runtime_s": round(elapsed, 2),
                "train_loss": float(train_result.training_loss),
                "sequences": int(trainer.state.global_step)
                * options.batch_size
                * options.gradient_accumulation_steps
                * int(args.world_size),
                "parameters": int(sum(p.numel() for p in net.parameters())),
                "world_size": int(args.world_size),
                "device": str(args.device),
                "resumed_from": checkpoint,
            },
            "sampling": {
                "alpha": options.alpha,
                "per_language": {
                    lang: {
                        "lines": len(train_lines[lang]),
                        "heldout_lines": len(heldout_lines[lang]),
                        "tokens": tokens[lang],
                        "blocks": len(blocks[lang]),
                        "probability": probs[lang],
                        "unk_rate": unk[lang],
                    }
                    for lang in sorted(blocks)
                },
            },
            "model": {
                "init": model or "scratch",
                "size": None if model else options.size or DEFAULT_SIZE,
                "position_embedding": getattr(net.config, "position_embedding_type", None),
                "vocab_size": len(tokenizer),
                "max_length": max_length,
                "architecture": type(net).__name__,
            },
            "options": record["options"],
        }
        tokenizer.model_max_length = max_length
        save_trained(trainer, tokenizer, out, work, metrics)
        return metrics


def _prepare_work(work: Path, record: dict[str, Any], resume: bool) -> None:
    """Start a fresh checkpoints folder, or check that the one to resume belongs to this config."""
    path = work / RECORD
    if not resume:
        shutil.rmtree(work, ignore_errors=True)
    elif path.is_file():
        changes = record_changes(json.loads(path.read_text(encoding="utf-8")), record)
        if changes:
            raise ModelError(
                f"--resume: {work} holds a run with a different config ({'; '.join(changes)}); "
                "resume with the original options, or run without --resume to start over"
            )
    elif work.exists():
        raise ModelError(
            f"--resume: {work} has no {RECORD}, so its config is unknown; run without --resume to start over"
        )
    work.mkdir(parents=True, exist_ok=True)
    write_json(path, record)


def perplexity_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Held-out perplexity per language (``all`` first) with each language's sampling share."""
    held = metrics["heldout"]
    sampling = metrics["sampling"]["per_language"]
    rows: list[list[Any]] = [["all", held["overall"]["masked_tokens"], held["overall"]["perplexity"], None, None]]
    rows += [
        [lang, v["masked_tokens"], v["perplexity"], sampling[lang]["tokens"], 100 * sampling[lang]["probability"]]
        for lang, v in held["per_language"].items()
    ]
    return ["language", "masked tokens", "perplexity", "train tokens", "sampled %"], rows
