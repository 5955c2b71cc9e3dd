"""Checkpoints that are safe to resume: each carries the fingerprint of the run that wrote it, and each is
sealed with the sha256 of its files once it is complete.

A training run writes its checkpoints to ``<out>.checkpoints`` with a record of what identifies it
(:class:`RunRecord`: the options that affect training, the initial model and the data, by content). A
resume with a different record is refused, or started over when asked (the recipe does, saying why), so a
changed learning rate never continues a stale run. A checkpoint a kill cut short (no seal, a file missing
or changed) is skipped for the newest complete one, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from typing_extensions import TypedDict

from edgeptm.errors import ModelError, OutputError
from edgeptm.fsutil import OUTPUT_MARKER, file_sha256, fingerprint, output_kind, write_json

SEAL = "edgeptm-checkpoint.json"
"""Written into a checkpoint folder after Trainer has saved it: the sha256 of each of its files."""
CHECKPOINTS_KIND = "checkpoints"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")

OnChange = Literal["refuse", "restart"]
"""What a resume does when the checkpoints belong to a different run: refuse (the CLI's ``--resume``), or
start over saying why (the recipe, and ``--resume --force``)."""


class RunRecord(TypedDict):
    """What identifies a training run: its options, the model it starts from and its data, by content."""

    options: dict[str, Any]
    model: str | None
    model_sha256: str | None
    data: dict[str, str]


def model_digest(model: str | None) -> str | None:
    """The content hash of a local model folder (``None`` for a hub id or none: the name identifies it)."""
    if model is None:
        return None
    path = Path(model).expanduser()
    return fingerprint(path) if path.exists() else None


def texts_digest(rows: list[tuple[str, ...]]) -> str:
    """A content hash of rows of strings (texts, labels, languages)."""
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps(row, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def record_changes(old: dict[str, Any], new: RunRecord) -> list[str]:
    """What differs between two records, in words (``learning_rate 0.001 -> 0.002``, ``data train``)."""
    old_options = old.get("options", {})
    changes = [f"{k} {old_options.get(k)!r} -> {v!r}" for k, v in new["options"].items() if old_options.get(k) != v]
    changes += [f"option {k} dropped" for k in old_options if k not in new["options"]]
    if old.get("model") != new["model"]:
        changes.append(f"model {old.get('model')!r} -> {new['model']!r}")
    elif old.get("model_sha256") != new["model_sha256"]:
        changes.append(f"the content of model {new['model']}")
    splits = sorted(set(old.get("data", {})) | set(new["data"]))
    changed = [s for s in splits if old.get("data", {}).get(s) != new["data"].get(s)]
    if changed:
        changes.append(f"data {', '.join(changed)}")
    return changes


def _prepare_work(
    work: Path, record: RunRecord, resume: bool, on_change: OnChange, record_file: str, log: Callable[[str], None]
) -> bool:
    """Make ``work`` ready for this run and say whether to resume from it.

    Without ``resume`` (or when the checkpoints are of another run and ``on_change`` is ``restart``) the
    folder is emptied; with a different record and ``refuse``, a one-line :class:`ModelError`. Only a folder
    edgeptm made is ever emptied.
    """
    work = Path(work)
    path = work / record_file
    if work.exists():
        _check_ours(work, record_file)
    if resume and not (work.is_dir() and any(work.iterdir())):
        log(f"no checkpoint in {work}; starting from the beginning")
    elif resume:
        if path.is_file():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                old = {"options": {}}
            differs = record_changes(old, record)
        else:
            differs = [f"no {record_file}, so its config is unknown"]
        if not differs:
            return True
        if on_change == "refuse":
            raise ModelError(
                f"--resume: {work} holds a run with a different config ({'; '.join(differs)}); "
                "resume with the original options, or pass --force to start over"
            )
        log(f"{work} holds checkpoints of a different config ({'; '.join(differs)}); starting over")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    write_json(work / OUTPUT_MARKER, {"kind": CHECKPOINTS_KIND})
    write_json(path, record)
    return False


def _check_ours(work: Path, record_file: str) -> None:
    """Refuse a checkpoints folder edgeptm did not make (it would be emptied)."""
    if not work.is_dir():
        raise OutputError(f"{work}: exists and is a file, where edgeptm keeps its checkpoints; move it away")
    if output_kind(work) == CHECKPOINTS_KIND:
        return
    known = {record_file, "tokenizer", SEAL}
    if all(_CHECKPOINT.match(p.name) or p.name in known for p in work.iterdir()):
        return  # made by an edgeptm from before the marker
    raise OutputError(
        f"{work}: holds files edgeptm did not make, where it keeps the checkpoints of this output; "
        "move them away or choose another output (nothing was changed)"
    )


def seal_callback() -> Any:
    """A ``TrainerCallback`` that seals each checkpoint once Trainer has written it (rank 0 only)."""
    from transformers import TrainerCallback

    class Seal(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                seal(Path(args.output_dir) / f"checkpoint-{state.global_step}")

    return Seal()


def seal(checkpoint: Path) -> None:
    """Record the sha256 of every file in ``checkpoint`` (written last: a kill before it leaves no seal)."""
    files = sorted(p for p in checkpoint.rglob("*") if p.is_file() and p.name != SEAL)
    write_json(checkpoint / SEAL, {str(p.relative_to(checkpoint)): file_sha256(p) for p in files})


def damage(checkpoint: Path) -> str | None:
    """Why ``checkpoint`` can't be resumed from (in words), or ``None`` when it is complete."""
    path = checkpoint / SEAL
    if not path.is_file():
        return f"no {SEAL}: it was cut short"
    try:
        digests = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"{SEAL} is unreadable"
    if not isinstance(digests, dict) or "trainer_state.json" not in digests:
        return f"{SEAL} lists no trainer_state.json"
    for name, digest in digests.items():
        file = checkpoint / name
        if not file.is_file():
            return f"{name} is missing"
        if file_sha256(file) != digest:
            return f"{name} changed since it was written"
    return None


def _checkpoints(work: Path) -> list[Path]:
    """The ``checkpoint-N`` folders in ``work``, oldest (smallest N) first."""
    found = [(int(m.group(1)), p) for p in Path(work).iterdir() if (m := _CHECKPOINT.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found)]


def resumable_checkpoint(work: Path, log: Callable[[str], None]) -> str | None:
    """The newest complete checkpoint in ``work``; damaged newer ones are removed with a warning."""
    found = _checkpoints(work)
    if not found:
        log(f"no checkpoint in {work}; starting from the beginning")
        return None
    chosen: Path | None = None
    damaged: list[tuple[Path, str]] = []
    for checkpoint in reversed(found):
        why = damage(checkpoint)
        if why is None:
            chosen = checkpoint
            break
        damaged.append((checkpoint, why))
    for checkpoint, why in damaged:
        then = f"resuming from {chosen.name}" if chosen else "starting over"
        log(f"warning: {checkpoint} is damaged ({why}); {then}")
        shutil.rmtree(checkpoint)
    return str(chosen) if chosen else None


def checkpoint_to_resume(
    args: Any,
    work: Path,
    record: RunRecord,
    *,
    resume: bool,
    on_change: OnChange,
    record_file: str,
    log: Callable[[str], None],
) -> str | None:
    """The checkpoint to resume from (``None``: start from the beginning), with ``work`` prepared.

    Rank 0 prepares the folder and drops damaged checkpoints (see :func:`_prepare_work` and
    :func:`resumable_checkpoint`); under DDP the other ranks then take the newest checkpoint left."""
    checkpoint = None
    with args.main_process_first(desc="checkpoints"):
        if args.process_index == 0:
            resuming = _prepare_work(work, record, resume, on_change, record_file, log)
            checkpoint = resumable_checkpoint(work, log) if resuming else None
        else:
            found = _checkpoints(work)
            checkpoint = str(found[-1]) if found else None
    return checkpoint
