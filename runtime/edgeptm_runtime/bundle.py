"""The bundle format: a folder (or a .tar.gz of it) with a model, ``tokenizer.json`` and ``bundle.json``.

A model that reads raw text (``preprocessing.inputs: ["text"]``: it tokenizes inside its own graph, like
edgeptm's TF-IDF baseline) has no ``tokenizer.json``; ``preprocessing.normalize`` lists what is done to a
text before the graph sees it (:mod:`edgeptm_runtime.text`). Such bundles are format version 2, so a
runtime that predates them refuses them with "upgrade edgeptm-runtime"; token-id bundles stay version 1.

The format lives here only: the edgeptm core writes bundles with :func:`write_bundle_manifest`
(and :func:`~edgeptm_runtime.archive.write_archive`), and devices read them with
:func:`read_manifest` and :func:`verify_files`.
Reading never unpickles anything; every check fails with a one-line :class:`BundleError`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from edgeptm_runtime.encoding import INPUT_NAMES
from edgeptm_runtime.errors import BundleError, IntegrityError
from edgeptm_runtime.modelinfo import DEFAULT_DOMAIN, onnx_opsets, openvino_ir_version
from edgeptm_runtime.requirements import default_requirements
from edgeptm_runtime.text import NORMALIZERS, TEXT_INPUTS

FORMAT = "edgeptm-bundle"
FORMAT_VERSION = 1
"""The bundle.json major version of token-id bundles (tokenizer.json + a model taking input_ids)."""
TEXT_INPUT_FORMAT_VERSION = 2
"""The version of bundles whose model reads raw text (``preprocessing.inputs: ["text"]``, no tokenizer)."""
NEWEST_FORMAT_VERSION = TEXT_INPUT_FORMAT_VERSION
"""The newest bundle.json major version this runtime reads; a newer one is refused."""
MANIFEST_NAME = "bundle.json"
ENGINES = ("onnx", "openvino")
MODEL_FILES: dict[str, tuple[str, ...]] = {
    "onnx": ("model.onnx",),
    "openvino": ("openvino_model.xml", "openvino_model.bin"),
}
"""The model files an engine's bundle has by default."""
MAX_MANIFEST_BYTES = 16 << 20
"""bundle.json is a few kilobytes; anything huge is not one, and is not read into memory."""
_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REBUILD = "rebuild the bundle with edgeptm"


# ---------------------------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class FileEntry:
    """Size and SHA-256 of one bundled file."""

    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class Preprocessing:
    """How texts become model inputs (the :class:`~edgeptm_runtime.encoding.Encoder` settings)."""

    pad_token_id: int = 0
    inputs: tuple[str, ...] = INPUT_NAMES
    truncation: bool = True
    """Format version 1 always truncates to ``max_length`` (with a warning); ``false`` is refused."""
    normalize: tuple[str, ...] = ()
    """Text-input models only: the :data:`~edgeptm_runtime.text.NORMALIZERS` steps applied, in order."""

    @property
    def text_input(self) -> bool:
        """Whether the model reads raw text (``max_length`` then counts characters) rather than token ids."""
        return self.inputs == TEXT_INPUTS

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pad_token_id": self.pad_token_id,
            "inputs": list(self.inputs),
            "truncation": self.truncation,
        }
        if self.text_input:
            data["normalize"] = list(self.normalize)
        return data


@dataclass(frozen=True)
class BundleManifest:
    """A validated ``bundle.json``. ``raw`` is the file as read, unknown fields included."""

    name: str
    engine: str
    backend: str
    precision: str
    model_files: tuple[str, ...]
    tokenizer: str | None
    """``tokenizer.json`` of a token-id model; ``None`` for a text-input model."""
    labels: tuple[str, ...]
    max_length: int
    preprocessing: Preprocessing
    operators: dict[str, int | str]
    requirements: tuple[str, ...]
    files: dict[str, FileEntry]
    extra: dict[str, Any]
    format_version: int = FORMAT_VERSION
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def model_file(self) -> str:
        """The file an engine opens: the ``.onnx`` of an onnx bundle, the ``.xml`` of an openvino one."""
        return _entry_model_file(self.engine, self.model_files)

    def to_dict(self) -> dict[str, Any]:
        """The ``bundle.json`` content (unknown fields of a read manifest are kept)."""
        data = dict(self.raw)
        data.update(
            format=FORMAT,
            format_version=self.format_version,
            name=self.name,
            engine=self.engine,
            backend=self.backend,
            precision=self.precision,
            model_files=list(self.model_files),
            tokenizer=self.tokenizer,
            labels=list(self.labels),
            max_length=self.max_length,
            preprocessing=self.preprocessing.to_dict(),
            operators=dict(self.operators),
            requirements=list(self.requirements),
            files={k: v.to_dict() for k, v in self.files.items()},
            extra=self.extra,
        )
        return data

    @classmethod
    def from_dict(cls, data: object) -> BundleManifest:
        """Validate a parsed ``bundle.json``; unknown fields are kept (forward compatible within a version)."""
        if not isinstance(data, dict):
            raise BundleError(f"{MANIFEST_NAME}: not a JSON object; {_REBUILD}")
        fmt = data.get("format")
        if fmt != FORMAT:
            raise BundleError(f"{MANIFEST_NAME}: format is {fmt!r}, not {FORMAT!r}; this is not an edgeptm bundle")
        version = data.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise BundleError(
                f"{MANIFEST_NAME}: format_version must be a positive integer, not {version!r}; {_REBUILD}"
            )
        if version > NEWEST_FORMAT_VERSION:
            raise BundleError(
                f"{MANIFEST_NAME}: bundle format version {version} is newer than this runtime supports "
                f"({NEWEST_FORMAT_VERSION}); upgrade edgeptm-runtime"
            )
        engine = _string(data, "engine")
        if engine not in ENGINES:
            raise BundleError(
                f"{MANIFEST_NAME}: engine {engine!r} is not one of {', '.join(ENGINES)}; upgrade edgeptm-runtime"
            )
        files = _files(data.get("files"))
        model_files = tuple(_paths(data, "model_files"))
        if not model_files:
            raise BundleError(f"{MANIFEST_NAME}: model_files is empty; {_REBUILD}")
        preprocessing = _preprocessing(data.get("preprocessing"))
        if preprocessing.text_input:
            if version < TEXT_INPUT_FORMAT_VERSION:
                raise BundleError(
                    f"{MANIFEST_NAME}: a text-input bundle is format version {TEXT_INPUT_FORMAT_VERSION}, not "
                    f"{version}; {_REBUILD}"
                )
            if data.get("tokenizer") is not None:
                raise BundleError(f"{MANIFEST_NAME}: a text-input model takes no tokenizer; {_REBUILD}")
            tokenizer = None
        else:
            tokenizer = _path(data.get("tokenizer"), "tokenizer")
        for name in (*model_files, *([tokenizer] if tokenizer else [])):
            if name not in files:
                raise BundleError(
                    f"{MANIFEST_NAME}: {name} is not listed in files, so it cannot be verified; {_REBUILD}"
                )
        _entry_model_file(engine, model_files)
        return cls(
            name=_string(data, "name"),
            engine=engine,
            backend=_string(data, "backend"),
            precision=_string(data, "precision"),
            model_files=model_files,
            tokenizer=tokenizer,
            labels=_labels(data.get("labels")),
            max_length=_positive_int(data.get("max_length"), "max_length"),
            preprocessing=preprocessing,
            operators=_operators(data.get("operators"), engine),
            requirements=tuple(_strings(data.get("requirements", []), "requirements")),
            files=files,
            extra=_object(data.get("extra", {}), "extra"),
            format_version=version,
            raw=data,
        )


def _entry_model_file(engine: str, model_files: Sequence[str]) -> str:
    suffix = ".onnx" if engine == "onnx" else ".xml"
    entry = next((f for f in model_files if f.endswith(suffix)), None)
    if entry is None:
        raise BundleError(f"{MANIFEST_NAME}: model_files has no {suffix} file for engine {engine}; {_REBUILD}")
    if engine == "openvino" and entry[: -len(".xml")] + ".bin" not in model_files:
        raise BundleError(f"{MANIFEST_NAME}: model_files lists {entry} without its .bin weights; {_REBUILD}")
    return entry


def _string(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BundleError(f"{MANIFEST_NAME}: field {key} must be a non-empty string, not {value!r}; {_REBUILD}")
    return value


def _strings(value: object, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise BundleError(f"{MANIFEST_NAME}: field {key} must be a list of non-empty strings; {_REBUILD}")
    return value


def _labels(value: object) -> tuple[str, ...]:
    labels = _strings(value, "labels")
    if not labels:
        raise BundleError(f"{MANIFEST_NAME}: labels is empty; a classifier needs its label names ({_REBUILD})")
    duplicate = next((x for x in labels if labels.count(x) > 1), None)
    if duplicate is not None:
        raise BundleError(f"{MANIFEST_NAME}: label {duplicate!r} appears twice in labels; {_REBUILD}")
    return tuple(labels)


def _positive_int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BundleError(f"{MANIFEST_NAME}: field {key} must be a positive integer, not {value!r}; {_REBUILD}")
    return value


def _object(value: object, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BundleError(f"{MANIFEST_NAME}: field {key} must be a JSON object; {_REBUILD}")
    return value


def _preprocessing(value: object) -> Preprocessing:
    data = _object(value, "preprocessing")
    pad = data.get("pad_token_id", 0)
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise BundleError(f"{MANIFEST_NAME}: preprocessing.pad_token_id must be an integer >= 0, not {pad!r}")
    inputs = _strings(data.get("inputs", list(INPUT_NAMES)), "preprocessing.inputs")
    unknown = [name for name in inputs if name not in INPUT_NAMES]
    if tuple(inputs) == TEXT_INPUTS:
        normalize = _strings(data.get("normalize", []), "preprocessing.normalize")
        steps = [step for step in normalize if step not in NORMALIZERS]
        if steps:
            raise BundleError(
                f"{MANIFEST_NAME}: preprocessing.normalize has {', '.join(steps)}, which this runtime does not "
                f"know (it knows {', '.join(NORMALIZERS)}); upgrade edgeptm-runtime"
            )
        return Preprocessing(pad_token_id=0, inputs=TEXT_INPUTS, truncation=True, normalize=tuple(normalize))
    if unknown:
        raise BundleError(
            f"{MANIFEST_NAME}: preprocessing.inputs has {', '.join(unknown)}, which this runtime does not produce "
            f'(it makes {", ".join(INPUT_NAMES)}, or reads raw text with ["text"] alone); upgrade edgeptm-runtime'
        )
    truncation = data.get("truncation", True)
    if truncation is not True:
        raise BundleError(
            f"{MANIFEST_NAME}: preprocessing.truncation is {truncation!r}; format version 1 always truncates "
            f"to max_length, so set it to true"
        )
    return Preprocessing(pad_token_id=pad, inputs=tuple(inputs), truncation=True)


def _operators(value: object, engine: str) -> dict[str, int | str]:
    data = _object(value, "operators")
    operators: dict[str, int | str] = {}
    for domain, version in data.items():
        valid = isinstance(version, str) if engine == "openvino" else isinstance(version, int) and version >= 1
        if isinstance(version, bool) or not valid:
            kind = "a version string" if engine == "openvino" else "an opset number >= 1"
            raise BundleError(f"{MANIFEST_NAME}: operators[{domain!r}] must be {kind}, not {version!r}; {_REBUILD}")
        operators[domain or DEFAULT_DOMAIN] = version
    if engine == "onnx" and not operators:
        raise BundleError(
            f"{MANIFEST_NAME}: operators is empty; an onnx bundle lists its opset per domain ({_REBUILD})"
        )
    return operators


def _files(value: object) -> dict[str, FileEntry]:
    data = _object(value, "files")
    files: dict[str, FileEntry] = {}
    for name, entry in data.items():
        _path(name, "files")
        if name == MANIFEST_NAME:
            raise BundleError(
                f"{MANIFEST_NAME}: files lists {MANIFEST_NAME} itself, which cannot hash itself; {_REBUILD}"
            )
        if not isinstance(entry, dict):
            raise BundleError(f"{MANIFEST_NAME}: files[{name!r}] must be an object with sha256 and size; {_REBUILD}")
        sha, size = entry.get("sha256"), entry.get("size")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise BundleError(f"{MANIFEST_NAME}: files[{name!r}].sha256 is not 64 lowercase hex digits; {_REBUILD}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise BundleError(f"{MANIFEST_NAME}: files[{name!r}].size must be an integer >= 0; {_REBUILD}")
        files[name] = FileEntry(sha, size)
    return files


def _path(name: object, key: str) -> str:
    """``name`` if it is a safe relative POSIX path inside the bundle, else a one-line refusal."""
    if not isinstance(name, str) or not name:
        raise BundleError(f"{MANIFEST_NAME}: {key} has {name!r}, not a file name; {_REBUILD}")
    problem = path_problem(name)
    if problem:
        raise IntegrityError(f"{MANIFEST_NAME}: {key} lists {name!r}, {problem}; refusing the bundle ({_REBUILD})")
    return name


def _paths(data: Mapping[str, Any], key: str) -> list[str]:
    return [_path(name, key) for name in _strings(data.get(key), key)]


def path_problem(name: str) -> str | None:
    """Why ``name`` is not a safe path relative to a bundle, or ``None`` when it is."""
    if "\x00" in name:
        return "a path with a NUL character"
    if "\\" in name:
        return "a path with a backslash (use / between folders)"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "a path that escapes the bundle folder"
    if any(part in ("", ".") for part in parts):
        return f"not a normalized path (write it as {PurePosixPath(name)})"
    return None


# ---------------------------------------------------------------------------------------------- reading


def read_manifest(folder: Path) -> BundleManifest:
    """The validated ``bundle.json`` of a bundle folder (files are not hashed: see :func:`verify_files`)."""
    root = Path(folder)
    path = root / MANIFEST_NAME
    if not root.is_dir():
        raise BundleError(f"{root}: no such bundle folder")
    if not path.is_file():
        raise BundleError(f"{root}: no {MANIFEST_NAME}; this is not an edgeptm bundle (build one with edgeptm)")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{MANIFEST_NAME}: larger than {MAX_MANIFEST_BYTES >> 20} MiB, not a bundle manifest")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BundleError(f"{MANIFEST_NAME}: not UTF-8 text; {_REBUILD}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"{MANIFEST_NAME}: not valid JSON ({exc.msg} at line {exc.lineno}); {_REBUILD}") from None
    return BundleManifest.from_dict(data)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (models can be larger than a device's free memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_inside(root: Path, name: str) -> Path:
    """``root / name`` after checking it stays inside ``root`` once symlinks are followed."""
    problem = path_problem(name)
    if problem:
        raise IntegrityError(f"{MANIFEST_NAME}: files lists {name!r}, {problem}; refusing the bundle ({_REBUILD})")
    base = Path(root).resolve()
    path = (base / name).resolve()
    try:
        path.relative_to(base)
    except ValueError:
        raise IntegrityError(
            f"{name}: a symlink pointing outside the bundle folder; replace it with the file itself"
        ) from None
    return path


def verify_files(folder: Path, manifest: BundleManifest, *, hashes: bool = True) -> int:
    """Check every listed file: inside the folder, present, of the listed size and (``hashes``) SHA-256.

    Returns how many files were checked. Sizes come first so a truncated copy fails without hashing.
    """
    root = Path(folder)
    for name, entry in manifest.files.items():
        path = resolve_inside(root, name)
        if not path.exists():
            raise IntegrityError(f"{name}: listed in {MANIFEST_NAME} but missing; copy the whole bundle again")
        if not path.is_file():
            raise IntegrityError(f"{name}: not a regular file; copy the whole bundle again")
        size = path.stat().st_size
        if size != entry.size:
            raise IntegrityError(
                f"{name}: {size} bytes but {MANIFEST_NAME} says {entry.size}; the file is damaged or was changed, "
                f"copy the bundle again"
            )
    if hashes:
        for name, entry in manifest.files.items():
            actual = sha256_file(root / name)
            if actual != entry.sha256:
                raise IntegrityError(
                    f"{name}: sha256 {actual[:12]}... does not match {MANIFEST_NAME} ({entry.sha256[:12]}...); "
                    f"the file is damaged or was changed, copy the bundle again"
                )
    return len(manifest.files)


def verify_bundle(folder: Path, *, hashes: bool = True) -> BundleManifest:
    """Read and fully verify a bundle folder; the manifest on success, :class:`BundleError` otherwise."""
    manifest = read_manifest(folder)
    verify_files(folder, manifest, hashes=hashes)
    return manifest


# ---------------------------------------------------------------------------------------------- writing


def model_operators(folder: Path, engine: str, model_files: Sequence[str]) -> dict[str, int | str]:
    """The ``operators`` entry read from the model itself: ONNX opsets per domain, or the OpenVINO release."""
    model = Path(folder) / _entry_model_file(engine, model_files)
    if engine == "onnx":
        try:
            return dict(onnx_opsets(model))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{model.name}: cannot read its opset_import ({exc}); is it an ONNX model?") from None
    version = openvino_ir_version(model)
    if version is None:
        raise BundleError(f"{model.name}: no rt_info Runtime_version; pass operators={{'openvino': 'VERSION'}}")
    return {"openvino": version}


def _folder_files(root: Path) -> list[str]:
    """Every file under ``root`` (except bundle.json) as sorted relative POSIX paths; refuses unsafe entries."""
    base = root.resolve()
    names = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            try:
                path.resolve().relative_to(base)
            except ValueError:
                raise BundleError(f"{rel}: a symlink pointing outside the bundle folder; copy the file in") from None
        if path.is_dir():
            continue
        if not path.is_file():
            raise BundleError(f"{rel}: not a regular file; a bundle holds files only")
        if rel == MANIFEST_NAME:
            continue
        problem = path_problem(rel)
        if problem:
            raise BundleError(f"{rel}: {problem}; rename it")
        names.append(rel)
    return names


def write_bundle_manifest(
    folder: Path,
    *,
    name: str,
    engine: str,
    backend: str,
    precision: str,
    labels: Sequence[str],
    max_length: int,
    model_files: Sequence[str] | None = None,
    tokenizer: str | None = "tokenizer.json",
    preprocessing: Preprocessing | Mapping[str, Any] | None = None,
    operators: Mapping[str, int | str] | None = None,
    requirements: Sequence[str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Hash every file in ``folder`` and write its ``bundle.json``; returns what was written.

    Defaults: ``model_files`` the engine's usual names (:data:`MODEL_FILES`); ``preprocessing`` the
    tokenizer's pad id and all three inputs (a text-input model passes ``tokenizer=None`` and a
    :class:`Preprocessing` with ``inputs=("text",)``: the bundle is then format version 2);
    ``operators`` read from the model file (:func:`model_operators`); ``requirements`` from
    :func:`default_requirements`. The file is validated exactly as a device will read it, and written
    deterministically (sorted keys, indent 2, trailing newline, atomic replace), so the same files give
    the same bytes.
    """
    root = Path(folder)
    if not root.is_dir():
        raise BundleError(f"{root}: no such folder to make a bundle of")
    if engine not in ENGINES:
        raise BundleError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
    model_files = list(model_files) if model_files is not None else list(MODEL_FILES[engine])
    needed = [*model_files, *([tokenizer] if tokenizer else [])]
    for entry in needed:
        _path(entry, "model_files" if entry != tokenizer else "tokenizer")
    names = _folder_files(root)
    missing = [f for f in needed if f not in names]
    if missing:
        raise BundleError(f"{root}: no {', '.join(missing)}; put the model and tokenizer files in the folder first")
    if preprocessing is None:
        from edgeptm_runtime.encoding import Encoder

        if tokenizer is None:
            raise BundleError("a bundle without a tokenizer reads raw text: pass preprocessing with inputs ('text',)")

        preprocessing = Preprocessing(pad_token_id=Encoder(root / tokenizer, max_length).pad_id)
    prep = preprocessing.to_dict() if isinstance(preprocessing, Preprocessing) else dict(preprocessing)
    text_input = tuple(prep.get("inputs", ())) == TEXT_INPUTS
    if operators is None:
        operators = model_operators(root, engine, model_files)
    data: dict[str, Any] = {
        "format": FORMAT,
        "format_version": TEXT_INPUT_FORMAT_VERSION if text_input else FORMAT_VERSION,
        "name": name,
        "engine": engine,
        "backend": backend,
        "precision": precision,
        "model_files": model_files,
        "tokenizer": tokenizer,
        "labels": list(labels),
        "max_length": max_length,
        "preprocessing": prep,
        "operators": {(k or DEFAULT_DOMAIN): v for k, v in operators.items()},
        "requirements": list(requirements) if requirements is not None else default_requirements(engine),
        "files": {n: {"sha256": sha256_file(root / n), "size": (root / n).stat().st_size} for n in names},
        "extra": dict(extra or {}),
    }
    BundleManifest.from_dict(data)  # the writer refuses what a reader would
    text = json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    _atomic_write(root / MANIFEST_NAME, text.encode("utf-8"))
    return data


def _atomic_write(path: Path, content: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(content)
    os.replace(tmp, path)
