"""Artifact folders: manifests for plain ``save_pretrained`` folders, tokenizer files, sizes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from edgeptm.errors import ModelError
from edgeptm.manifest import Manifest, has_manifest, read_manifest

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "sentencepiece.bpe.model",
    "added_tokens.json",
)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
DEFAULT_MAX_LENGTH = 128


def copy_tokenizer(src: Path, dst: Path) -> list[str]:
    """Copy the tokenizer and ``config.json`` from ``src`` into ``dst``; return the names copied."""
    copied = []
    for name in (*TOKENIZER_FILES, "config.json"):
        if (Path(src) / name).is_file():
            shutil.copy2(Path(src) / name, Path(dst) / name)
            copied.append(name)
    return copied


def model_manifest(model_dir: Path, max_length: int | None = None) -> Manifest:
    """The manifest of a fine-tuned model folder; built from ``config.json`` when it has none."""
    model_dir = Path(model_dir)
    if has_manifest(model_dir):
        manifest = read_manifest(model_dir)
        if max_length:
            manifest = manifest.model_copy(update={"max_length": max_length})
        return manifest
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{model_dir}: not a model folder (no config.json); pass a `save_pretrained` folder")
    if not (model_dir / "tokenizer.json").is_file():
        raise ModelError(f"{model_dir}: no tokenizer.json; save the model with its fast tokenizer")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    id2label = config.get("id2label") or {}
    labels = [id2label[k] for k in sorted(id2label, key=int)] if id2label else []
    if not labels:
        raise ModelError(f"{config_file}: no id2label; fine-tune the model for classification first")
    if max_length is None:
        positions = int(config.get("max_position_embeddings", 512))
        max_length = min(DEFAULT_MAX_LENGTH, positions - 2 if config.get("model_type") in ("xlm-roberta", "roberta") else positions)
    files = [n for n in WEIGHT_FILES if (model_dir / n).is_file()]
    return Manifest(
        backend="torch", precision="fp32", labels=labels, max_length=max_length, files=files,
        source=str(model_dir.resolve()),
    )
