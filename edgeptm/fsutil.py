"""Write artifacts to a temporary path and rename at the end, so nothing is half-written."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_dir(dest: Path) -> Iterator[Path]:
    """Yield an empty temp folder beside ``dest``; on success it replaces ``dest``.

    On any exception the temp folder is removed and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if dest.exists():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
    tmp.rename(dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def dir_size(path: Path, names: list[str] | None = None) -> int:
    """Bytes on disk of the files in ``path`` (only ``names`` when given)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    files = [path / n for n in names] if names else [p for p in path.rglob("*") if p.is_file()]
    return sum(f.stat().st_size for f in files if f.exists())


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able parts, files and folders (by content)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            h.update(_path_digest(part).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _path_digest(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                h.update(str(p.relative_to(path)).encode())
                h.update(_file_digest(p).encode())
    elif path.is_file():
        h.update(_file_digest(path).encode())
    else:
        h.update(b"missing")
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
