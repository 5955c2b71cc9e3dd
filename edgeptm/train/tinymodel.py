"""Build small multilingual BERTs offline: a WordPiece tokenizer trained with ``tokenizers``
and a randomly initialised ``BertConfig``. The built-in ``builtin:tiny-multilingual``
model is trained on the packaged sample so the quickstart never downloads anything."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args

from edgeptm.fsutil import atomic_dir

BUILTIN_MODEL = "builtin:tiny-multilingual"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 256}
SIZES = {
    # The BERT miniatures of Turc et al. (2019) and BERT-base; heads of 64 dimensions, FFN 4x hidden.
    "tiny": {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 2, "intermediate_size": 512},
    "mini": {"num_hidden_layers": 4, "hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024},
    "small": {"num_hidden_layers": 4, "hidden_size": 512, "num_attention_heads": 8, "intermediate_size": 2048},
    "base": {"num_hidden_layers": 12, "hidden_size": 768, "num_attention_heads": 12, "intermediate_size": 3072},
}
"""Size presets of ``edgeptm pretrain``."""
PositionEmbedding = Literal["absolute", "relative_key", "relative_key_query"]
"""``BertConfig.position_embedding_type`` values ``edgeptm pretrain`` offers from scratch."""
POSITION_EMBEDDINGS: tuple[str, ...] = get_args(PositionEmbedding)


def train_wordpiece(
    texts: Iterable[str],
    *,
    vocab_size: int = 4000,
    lowercase: bool = False,
    strip_accents: bool = False,
    split_cjk: bool = True,
    max_length: int = 128,
):
    """A BERT-style fast tokenizer (``BertTokenizerFast``) trained on ``texts``.

    The normaliser is multilingual BERT's (``BertNormalizer``); accents and case
    are kept by default because many scripts need their marks.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertTokenizerFast

    texts = list(texts)
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=split_cjk, strip_accents=strip_accents, lowercase=lowercase
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    # The trainer numbers the word-inner characters ("##x") in the order of a randomly seeded hash map and
    # breaks ties between equally frequent merges by those numbers, so the same texts gave a different
    # vocabulary in every process. Numbering them up front, in sorted order, makes training deterministic.
    inner = sorted({f"##{c}" for c in _inner_chars(texts, normalizer, pre_tokenizer)})
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=[*SPECIAL_TOKENS, *inner], min_frequency=1, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # Rebuild from the learnt vocabulary so that only the real special tokens are special ("##x" must
    # stay an ordinary word piece, not a string matched whole in the input).
    vocab = json.loads(tok.to_str())["model"]["vocab"]
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.add_special_tokens(SPECIAL_TOKENS)
    tok.decoder = decoders.WordPiece(prefix="##")
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=lowercase,
        strip_accents=strip_accents,
        tokenize_chinese_chars=split_cjk,
        model_max_length=max_length,
    )


def _inner_chars(texts: list[str], normalizer: Any, pre_tokenizer: Any) -> set[str]:
    """Characters that occur after the first of a word (what the trainer writes as ``##x``)."""
    found: set[str] = set()
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            found.update(word[1:])
    return found


def build_model(
    out: Path,
    texts: Iterable[str],
    *,
    size: dict[str, int] | None = None,
    vocab_size: int = 4000,
    max_position_embeddings: int = 128,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised BERT (masked-LM head) and its tokenizer to ``out``."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    tokenizer = train_wordpiece(texts, vocab_size=vocab_size, max_length=max_position_embeddings)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        **(size or TINY),
    )
    model = BertForMaskedLM(config)
    with atomic_dir(Path(out), kind="model") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return Path(out)


def builtin_model(cache_dir: Path) -> Path:
    """The built-in tiny multilingual model, built once into ``cache_dir``."""
    from edgeptm import data

    out = Path(cache_dir) / "tiny-multilingual"
    if not (out / "config.json").is_file():
        texts = data.load(data.sample_path(), split="train").texts
        build_model(out, texts, vocab_size=3000)
    return out
