"""Write a randomly initialised classifier with the bert-base-multilingual-cased architecture.

12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 119547, 512 positions, 3 labels; the
tokenizer is a WordPiece trained locally on the packaged sample (the hub is not reachable),
so only its ids, not its vocabulary, match mBERT's. Latency and size depend on the
architecture alone, which is what this model is for.

    python scripts/make_mbert_arch.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

MBERT = {
    "vocab_size": 119547,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
}


def main(out: Path) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from edgeptm import data
    from edgeptm.fsutil import atomic_dir
    from edgeptm.train.tinymodel import train_wordpiece

    if (out / "config.json").is_file():
        print(f"{out} exists")
        return
    texts = [t for split in ("train", "eval", "test") for t in data.load("builtin:sample", split=split).texts]
    tokenizer = train_wordpiece(texts, vocab_size=8000, max_length=512)
    torch.manual_seed(0)
    labels = ["negative", "neutral", "positive"]
    config = BertConfig(
        **MBERT,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForSequenceClassification(config).eval()
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    print(f"wrote {out}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
