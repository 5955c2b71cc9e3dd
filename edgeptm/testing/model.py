"""The conformance kit's model: a tiny multilingual BERT classifier, fine-tuned for a few seconds.

A random-init classifier gives nearly the same logits for every input (the pooler
saturates), which would make parity checks vacuous; a short fine-tune on the
packaged sample gives logits that depend on the text, in every script.
"""

from __future__ import annotations

from pathlib import Path

from edgeptm.fsutil import atomic_dir

KIT_SIZE = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}
KIT_MAX_LENGTH = 48


def build_classifier(out: Path, *, steps: int = 60, seed: int = 0, max_length: int = KIT_MAX_LENGTH) -> Path:
    """Write a fine-tuned ``save_pretrained`` classifier with its tokenizer and manifest to ``out``."""
    import tempfile

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from edgeptm import data
    from edgeptm.data import LabelMap
    from edgeptm.manifest import Manifest
    from edgeptm.train.tinymodel import build_model

    hf_logging.set_verbosity_error()
    train = data.load("builtin:sample", split="train")
    labels = LabelMap.from_dataset(train)
    with tempfile.TemporaryDirectory() as work:
        # The vocabulary covers every split, so the test texts of each script tokenize to real pieces.
        texts = [t for split in ("train", "eval", "test") for t in data.load("builtin:sample", split=split).texts]
        base = build_model(
            Path(work) / "base", texts, size=KIT_SIZE, vocab_size=2000, max_position_embeddings=64, seed=seed
        )
        tokenizer = AutoTokenizer.from_pretrained(base)
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(labels.names), id2label=dict(enumerate(labels.names)), label2id=labels.ids
        )
    enc = tokenizer(train.texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    y = torch.tensor(labels.encode(train, "train"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    # One thread: a model this small gains nothing from more, and OpenMP threads spinning
    # against a busy core make a step ~50x slower on a shared 2-core machine.
    torch.set_num_threads(1)
    model.train()
    try:
        for _ in range(steps):
            idx = torch.randint(0, len(y), (32,), generator=generator)
            loss = model(**{k: v[idx] for k, v in enc.items()}, labels=y[idx]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    with atomic_dir(Path(out), kind="model") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        Manifest(
            backend="torch",
            precision="fp32",
            labels=labels.names,
            max_length=max_length,
            files=["model.safetensors"],
            source=str(Path(out).resolve()),
        ).save(tmp)
    return Path(out)
