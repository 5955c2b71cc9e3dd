"""The recipe cache: a stage is skipped only when what it reads is the same *content* as last time and what it
wrote is still intact.

A stage's key is made of parts (:class:`KeyParts`): edgeptm's version, the stage's options, the content
of each input artifact (its manifest, whose sha256 list covers every file loading reads), the recipe's
model and data files by content, and any other files it names. Its outputs are recorded by content
too, and checked again before a skip: a tampered, missing or half-replaced output makes the stage run
again, with one line saying why. Because keys are contents, a stage whose input was re-made bit for bit
(a deterministic re-run after tampering or a kill) is still skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typing_extensions import TypedDict

from edgeptm.errors import EdgeptmError
from edgeptm.fsutil import file_sha256, fingerprint


class KeyParts(TypedDict):
    """What a stage's cache key is made of, each part a content hash (kept in ``state.json`` to say why a
    stage runs again)."""

    version: str
    options: str
    inputs: dict[str, str]
    model: str | None
    data: str
    files: str


def key(parts: KeyParts) -> str:
    return fingerprint(dict(parts))


def rerun_reason(previous: dict[str, Any] | None, parts: KeyParts) -> str | None:
    """Why a stage whose last run is ``previous`` (its ``state.json`` entry) must run again with ``parts``;
    ``None`` when its key is unchanged (its outputs still to be checked)."""
    if not previous:
        return None
    old = previous.get("parts")
    if not isinstance(old, dict):
        return "its record is from an older edgeptm"
    if previous.get("fingerprint") == key(parts):
        return None
    if old.get("version") != parts["version"]:
        return f"edgeptm changed ({old.get('version')} -> {parts['version']})"
    reasons = []
    if old.get("options") != parts["options"]:
        reasons.append("its options changed")
    old_inputs = old.get("inputs") or {}
    changed = [n for n, digest in parts["inputs"].items() if old_inputs.get(n) != digest]
    if changed:
        reasons.append(f"the content of {', '.join(changed)} changed")
    if old.get("model") != parts["model"]:
        reasons.append("the recipe's model changed")
    if old.get("data") != parts["data"]:
        reasons.append("its data changed")
    if old.get("files") != parts["files"]:
        reasons.append("a file it reads changed")
    return "; ".join(reasons) or "its inputs changed"


def content_digest(path: Path) -> str:
    """A hash of what ``path`` holds, checked on the way.

    An artifact folder (``edgeptm.json``) is loaded as a runner would (:func:`edgeptm.deploy.artifact_manifest`:
    every listed file against its sha256, paths inside the folder, labels the model's own) and identified by
    its manifest (the sha256 of each file, labels, options; not where it came from); another folder or a file is hashed whole. A one-line :class:`EdgeptmError` says what is wrong.
    """
    from edgeptm.manifest import has_manifest

    path = Path(path)
    if path.is_dir() and has_manifest(path):
        from edgeptm.deploy.runners import artifact_manifest

        manifest = artifact_manifest(path)
        # ``source`` says where it came from, not what it is: the same content made elsewhere is the same
        return fingerprint(manifest.model_dump(mode="json", exclude={"source"}))
    if path.is_dir():
        return fingerprint(path)
    if path.is_file():
        return file_sha256(path)[:16]
    raise EdgeptmError(f"{path}: missing")


def output_digests(paths: list[Path], root: Path) -> dict[str, str]:
    """The content of a stage's outputs, by path relative to the run folder."""
    return {str(Path(p).relative_to(root)): content_digest(p) for p in paths}


def output_problem(recorded: dict[str, str] | None, root: Path) -> str | None:
    """What is wrong with a stage's recorded outputs now (``None``: all intact)."""
    if not recorded:
        return "no record of its outputs"
    for name, digest in recorded.items():
        path = root / name
        try:
            now = content_digest(path)
        except EdgeptmError as exc:
            return str(exc)
        if now != digest:
            return f"{path}: changed since this stage wrote it"
    return None
