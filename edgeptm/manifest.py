"""Artifact folders: the ``edgeptm.json`` manifest every artifact carries, plain ``save_pretrained``
model folders (read as torch fp32 artifacts), and the tokenizer files a backend copies beside its model."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from typing_extensions import TypedDict

from edgeptm import __version__
from edgeptm.errors import ModelError
from edgeptm.fsutil import atomic_write_text, cache_dir, file_sha256, final_path, write_json

MANIFEST = "edgeptm.json"

TRANSFORMER = "transformer"
"""Manifest ``kind`` of a model that reads token ids made by its ``tokenizer.json`` (every fine-tuned model)."""
TFIDF_LINEAR = "tfidf-linear"
"""Manifest ``kind`` of the baseline: a char n-gram TF-IDF + linear classifier whose ONNX graph reads raw text
(it splits characters and counts n-grams itself; no tokenizer)."""


class Comparison(TypedDict):
    max_abs_logit_diff: float
    agreement_pct: float
    n: int


class Validation(Comparison, total=False):
    tolerance: float | None
    """Max |Δlogit| that counts as valid; ``None`` for lossy precisions (reported, never enforced)."""
    source: str
    """Where the validation texts came from."""
    calibration: dict[str, object]
    """For quantized artifacts: the calibration texts' source and count."""
    accuracy_pct: float
    """Accuracy of this artifact on the validation texts, when their labels are the model's."""
    reference_accuracy_pct: float
    """Accuracy of the torch fp32 reference on the same texts."""
    accuracy_drop: float
    """``reference_accuracy_pct - accuracy_pct``, in points."""
    gate: dict[str, float]
    """For quantized artifacts: the ``min_agreement`` and ``max_drop`` the variant passed."""


class Manifest(BaseModel):
    """What a runner needs to load an artifact, and where it came from."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    precision: str
    labels: list[str]
    max_length: int
    files: list[str]
    """Model files (relative to the artifact folder) counted as its size on disk."""
    source: str | None = None
    """The fp32 model folder this artifact was made from: the reference for agreement. Absolute in memory;
    ``edgeptm.json`` stores it relative to the artifact folder (so a run folder can be moved or copied as a
    whole), and :func:`read_manifest` resolves it back; an absolute one (older manifests) is read as is."""
    options: dict[str, Any] = {}
    """The backend options chosen (validated by the backend's ``Options``); runners read these."""
    export_info: dict[str, Any] = {}
    """What the export or quantization did (fusions, scheme, calibration texts): a record, never an input."""
    validation: Validation | None = None
    sha256: dict[str, str] = {}
    """The sha256 of every file the artifact needs (model files, tokenizer, config): checked on load, so the
    files used are the files that were measured."""
    edgeptm_version: str = __version__
    kind: str = TRANSFORMER
    """What the model is: :data:`TRANSFORMER` or :data:`TFIDF_LINEAR` (raw text in; ``max_length`` then
    counts characters)."""
    text_normalize: list[str] = []
    """Raw-text models only: the normalization steps applied before the graph (``edgeptm_runtime.text``)."""

    @property
    def text_input(self) -> bool:
        """Whether the model reads raw text rather than token ids."""
        return self.kind == TFIDF_LINEAR

    @field_validator("files")
    @classmethod
    def _inside(cls, files: list[str]) -> list[str]:
        for name in files:
            _check_inside(name)
        return files

    @field_validator("sha256")
    @classmethod
    def _hashed_inside(cls, hashes: dict[str, str]) -> dict[str, str]:
        for name in hashes:
            _check_inside(name)
        return hashes

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, labels: list[str]) -> list[str]:
        if len(labels) < 2:
            raise ValueError("a classifier needs at least two labels")
        if len(set(labels)) != len(labels):
            raise ValueError("a label appears twice")
        return labels

    @field_validator("max_length")
    @classmethod
    def _positive_length(cls, max_length: int) -> int:
        if max_length < 1:
            raise ValueError("must be at least 1")
        return max_length

    def save(self, folder: Path) -> None:
        """Write ``edgeptm.json`` into ``folder`` with the sha256 of the files it needs."""
        folder = Path(folder)
        self.sha256 = {name: file_sha256(folder / name) for name in needed_files(folder, self.files)}
        stored = self.model_dump(mode="json")
        if self.source and Path(self.source).is_absolute():
            stored["source"] = Path(os.path.relpath(self.source, final_path(folder.resolve()))).as_posix()
        write_json(folder / MANIFEST, stored)


def _check_inside(name: str) -> None:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name:
        raise ValueError(f"{name!r} is not a path inside the artifact folder")


def needed_files(folder: Path, files: list[str]) -> list[str]:
    """The model files plus the tokenizer and config files present: what loading the artifact reads."""
    extra = [n for n in (*TOKENIZER_FILES, "config.json") if (Path(folder) / n).is_file() and n not in files]
    return [*files, *extra]


def verify_files(folder: Path, manifest: Manifest) -> None:
    """Check every hashed file against the manifest; a one-line :class:`ModelError` names the first that
    differs or is missing. A file whose size and mtime match a check already made here is not re-read."""
    folder = Path(folder)
    if not manifest.sha256:
        return  # written before edgeptm hashed its artifacts
    memo_path = cache_dir() / "verified" / (hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:24] + ".json")
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8")) if memo_path.is_file() else {}
    except (OSError, ValueError):
        memo = {}
    fresh = {}
    for name, digest in manifest.sha256.items():
        path = folder / name
        if not path.is_file():
            raise ModelError(f"{path}: missing, though {MANIFEST} lists it; the artifact is incomplete, make it again")
        stat = path.stat()
        key = [stat.st_size, stat.st_mtime_ns, digest]
        if memo.get(name) != key:
            if file_sha256(path) != digest:
                raise ModelError(
                    f"{path}: its content changed since edgeptm wrote it (sha256 differs from {MANIFEST}); "
                    "make the artifact again"
                )
        fresh[name] = key
    if fresh != memo:
        try:
            memo_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(memo_path, json.dumps(fresh))
        except OSError:
            pass  # a read-only cache only costs a re-check next time


def has_manifest(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def read_manifest(folder: Path) -> Manifest:
    """Read ``folder/edgeptm.json`` with a clear error when absent or invalid."""
    path = Path(folder) / MANIFEST
    if not Path(folder).exists():
        raise ModelError(f"{folder}: no such artifact folder")
    if not path.is_file():
        raise ModelError(
            f"{folder}: not an edgeptm artifact (no {MANIFEST}); "
            "make one with `edgeptm finetune`, `edgeptm export` or `edgeptm quantize`"
        )
    try:
        manifest = Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}" for e in exc.errors())
        raise ModelError(f"{path}: invalid manifest ({problems}); make the artifact again") from None
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{path}: invalid manifest ({first})") from None
    if manifest.source and not Path(manifest.source).is_absolute():
        manifest.source = os.path.normpath(Path(folder).resolve() / manifest.source)
    return manifest


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


def read_config(config_file: Path) -> dict[str, Any]:
    """A model's ``config.json``, with a one-line error when it is not a JSON object."""
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelError(f"{config_file}: not valid JSON ({str(exc).splitlines()[0]}); save the model again") from None
    if not isinstance(config, dict):
        raise ModelError(f"{config_file}: not a JSON object; save the model again")
    positions = config.get("max_position_embeddings", 512)
    if isinstance(positions, bool) or not isinstance(positions, int) or positions < 1:
        raise ModelError(f"{config_file}: max_position_embeddings must be a positive integer, not {positions!r}")
    return config


def config_labels(config_file: Path, config: dict[str, Any]) -> list[str]:
    """The label names of ``config.json``'s ``id2label``, in id order (``[]`` when it has none)."""
    id2label = config.get("id2label") or {}
    if not isinstance(id2label, dict) or not all(str(k).lstrip("-").isdigit() for k in id2label):
        raise ModelError(f"{config_file}: id2label must map integer ids to label names; save the model again")
    ids = sorted(int(k) for k in id2label)
    if ids != list(range(len(ids))):
        raise ModelError(f"{config_file}: id2label ids must be 0 to {len(ids) - 1}, not {ids}; save the model again")
    return [str(id2label[k]) for k in sorted(id2label, key=int)]


def check_model_folder(model_dir: Path) -> dict[str, Any]:
    """Refuse, with one line, a local model folder edgeptm must not or cannot load; return its config.

    edgeptm never runs a model's own code (``auto_map`` in ``config.json`` asks for it) and never unpickles
    weights (``pytorch_model.bin`` is a pickle: loading one can run anything), so such folders are refused
    before transformers sees them."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise ModelError(f"{model_dir}: no such model folder")
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: expected a model folder (save_pretrained), got a file")
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{model_dir}: not a model folder (no config.json); pass a `save_pretrained` folder")
    config = read_config(config_file)
    if config.get("auto_map"):
        raise ModelError(
            f"{config_file}: auto_map asks to run the model's own code, which edgeptm never does; "
            "use a model of an architecture transformers ships"
        )
    if not (model_dir / "model.safetensors").is_file():
        if (model_dir / "pytorch_model.bin").is_file():
            raise ModelError(
                f"{model_dir}: only pickle weights (pytorch_model.bin), which edgeptm never loads (unpickling can "
                "run code); convert them to model.safetensors where you trust the file"
            )
        raise ModelError(f"{model_dir}: no model weights (model.safetensors); save the model again")
    check_safetensors(model_dir / "model.safetensors")
    return config


def check_safetensors(path: Path) -> None:
    """A one-line error for a file that is not safetensors (its 8-byte header length and JSON header), read
    without importing safetensors or torch."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        ok = 2 <= length <= size - 8
        if ok:
            try:
                ok = isinstance(json.loads(fh.read(length)), dict)
            except ValueError:
                ok = False
    if not ok:
        raise ModelError(f"{path}: not a safetensors file (corrupt or truncated); save the model again")


def usable_positions(config: dict[str, Any]) -> int:
    """Tokens a model can read: its position embeddings (RoBERTa-style models reserve two)."""
    positions = int(config.get("max_position_embeddings", 512))
    return positions - 2 if config.get("model_type") in ("xlm-roberta", "roberta") else positions


def model_manifest(model_dir: Path, max_length: int | None = None) -> Manifest:
    """The manifest of a fine-tuned model folder; built from ``config.json`` when it has none.

    ``max_length`` overrides the model's, within what its position embeddings can read."""
    model_dir = Path(model_dir)
    config_file = model_dir / "config.json"
    config = read_config(config_file) if config_file.is_file() else None
    if max_length is not None and config is not None and not 1 <= max_length <= usable_positions(config):
        raise ModelError(
            f"max_length {max_length}: {model_dir} reads at most {usable_positions(config)} tokens; "
            f"choose 1 to {usable_positions(config)}"
        )
    if has_manifest(model_dir):
        manifest = read_manifest(model_dir)
        if max_length:
            manifest = manifest.model_copy(update={"max_length": max_length})
        return manifest
    if config is None:
        raise ModelError(f"{model_dir}: not a model folder (no config.json); pass a `save_pretrained` folder")
    check_model_folder(model_dir)
    if not (model_dir / "tokenizer.json").is_file():
        raise ModelError(f"{model_dir}: no tokenizer.json; save the model with its fast tokenizer")
    labels = config_labels(config_file, config)
    if not labels:
        raise ModelError(f"{config_file}: no id2label; fine-tune the model for classification first")
    if max_length is None:
        max_length = min(DEFAULT_MAX_LENGTH, usable_positions(config))
    files = [n for n in WEIGHT_FILES if (model_dir / n).is_file()]
    return Manifest(
        backend="torch",
        precision="fp32",
        labels=labels,
        max_length=max_length,
        files=files,
        source=str(model_dir.resolve()),
    )
