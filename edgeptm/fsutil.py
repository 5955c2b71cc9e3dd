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

from edgeptm.errors import OutputError


def cache_dir() -> Path:
    """Where edgeptm keeps what it builds or checks once (the built-in model, verified hashes):
    ``$EDGEPTM_CACHE`` or ``~/.cache/edgeptm``."""
    return Path(os.environ.get("EDGEPTM_CACHE", Path.home() / ".cache" / "edgeptm"))


def cache_path(name: str, area: str) -> Path:
    """Where an option that names a cache folder (``name``, e.g. OpenVINO's ``cache_dir``) points: always
    under ``cache_dir() / area``, so an option read from a manifest can't make edgeptm write elsewhere. To
    put the cache somewhere else, set ``$EDGEPTM_CACHE`` or pass ``edgeptm --cache-dir DIR``. Raises :class:`ValueError` for an absolute ``name``
    or one that climbs out with ``..``."""
    check_cache_name(name)
    return cache_dir() / area / name


def check_cache_name(name: str) -> str:
    """``name`` if it is a relative folder name that stays inside the cache root, else :class:`ValueError`."""
    parts = Path(name).parts
    if not name.strip() or Path(name).is_absolute() or name.startswith("~") or ".." in parts or "\\" in name:
        raise ValueError(
            f"{name!r} must be a folder name under the cache root ($EDGEPTM_CACHE, default ~/.cache/edgeptm), "
            "not a path; set EDGEPTM_CACHE to move the root"
        )
    return name


def file_sha256(path: Path) -> str:
    """The sha256 of a file's content, read in 1 MiB chunks."""
    return _file_digest(Path(path))


OUTPUT_MARKER = ".edgeptm-output"
"""Written into every folder edgeptm makes (``{"kind": ...}``): only such folders may be replaced."""
OWN_FILES = ("edgeptm.json", "bundle.json", "state.json")
"""Files that mark a folder made by an edgeptm from before the marker existed."""


def output_kind(path: Path) -> str | None:
    """What edgeptm made at ``path`` (the marker's kind, ``"edgeptm"`` for an older output), else ``None``."""
    marker = path / OUTPUT_MARKER
    if marker.is_file():
        try:
            return str(json.loads(marker.read_text(encoding="utf-8"))["kind"])
        except (OSError, ValueError, KeyError, TypeError):
            return "edgeptm"
    if any((path / name).is_file() for name in OWN_FILES):
        return "edgeptm"
    return None


def check_output(dest: Path, kind: str, *, force: bool = False, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse to write ``dest`` when that would lose something edgeptm did not make.

    A new path, or an empty folder, is fine. An existing output of edgeptm of the same ``kind`` is
    replaced only with ``force``. Anything else (a file, a user's folder, another kind of output, an
    input of this very command, or a folder that holds one) is refused, and nothing is touched.
    """
    dest = Path(dest)
    resolved = dest.resolve()
    for source in inputs:
        src = Path(source).resolve()
        if resolved == src or resolved in src.parents:
            raise OutputError(f"{dest}: writing here would replace the input {source}; choose another output path")
        if src in resolved.parents and src.is_dir():
            raise OutputError(
                f"{dest}: is inside the input {source}, which must stay as it is; choose another output path"
            )
    if dest.is_symlink() and not dest.exists():
        raise OutputError(f"{dest}: a dangling link is in the way; remove it or choose another output path")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise OutputError(
            f"{dest}: exists and is a file, not a folder edgeptm made; choose another output path (nothing was changed)"
        )
    if not any(dest.iterdir()):
        return
    made = output_kind(dest)
    if made is None:
        raise OutputError(
            f"{dest}: exists and was not made by edgeptm; choose another output path (nothing was changed)"
        )
    if made not in (kind, "edgeptm"):
        raise OutputError(
            f"{dest}: holds an edgeptm {made}, not a {kind}; choose another output path (nothing was changed)"
        )
    if not force:
        raise OutputError(f"{dest}: an edgeptm {kind} is already there; pass --force to replace it")


def clean_debris(dest: Path) -> None:
    """Remove temp and half-replaced folders an interrupted run left beside ``dest`` (``.NAME.tmp-PID-*``,
    ``.NAME.old-PID``) when the process that made them is gone."""
    parent = Path(dest).parent
    if not parent.is_dir():
        return
    for debris in parent.glob(f".{Path(dest).name}.*"):
        kind, _, rest = debris.name[len(Path(dest).name) + 2 :].partition("-")
        pid = rest.split("-", 1)[0]
        if kind in ("tmp", "old") and pid.isdigit() and not _alive(int(pid)):
            if debris.is_dir():
                shutil.rmtree(debris, ignore_errors=True)
            else:
                debris.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_dir(
    dest: Path, *, kind: str = "artifact", force: bool = True, inputs: tuple[Path, ...] = (), mark: bool = True
) -> Iterator[Path]:
    """Yield an empty temp folder beside ``dest``; on success it replaces ``dest``.

    ``dest`` is checked first (:func:`check_output`): what edgeptm did not make is never replaced.
    ``force`` defaults to True here because the callers that take user paths check them up front
    with :func:`check_output` and the user's ``--force``. The folder gets the :data:`OUTPUT_MARKER`
    of ``kind`` (unless ``mark`` is False: a bundle lists its files exactly). On any exception the
    temp folder is removed and ``dest`` is left untouched; debris of killed runs is cleaned first.
    """
    dest = Path(dest)
    check_output(dest, kind, force=force, inputs=inputs)
    dest.parent.mkdir(parents=True, exist_ok=True)
    clean_debris(dest)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        yield tmp
        if mark:
            (tmp / OUTPUT_MARKER).write_text(json.dumps({"kind": kind}) + "\n", encoding="utf-8")
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


def final_path(folder: Path) -> Path:
    """Where a folder will end up: ``DEST`` for the temp folder :func:`atomic_dir` made for it
    (``.DEST.tmp-PID-XXXX`` beside it), the folder itself otherwise."""
    folder = Path(folder)
    name = folder.name
    if name.startswith(".") and ".tmp-" in name:
        dest, _, rest = name[1:].rpartition(".tmp-")
        if dest and rest.split("-", 1)[0].isdigit():
            return folder.parent / dest
    return folder


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and a rename (the temp file of a killed writer is
    removed by the next write, see :func:`clean_debris`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_debris(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
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


LOCK_FILE = ".edgeptm-lock"


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder`` for one run: a second run into it is refused while the first is alive; the lock
    of a run that died (its PID gone on this host) is taken over."""
    import socket

    lock = Path(folder) / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(lock.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                holder = {}
            pid, host = holder.get("pid"), holder.get("host")
            if host == me["host"] and isinstance(pid, int) and _alive(pid):
                raise OutputError(
                    f"{folder}: another edgeptm run (pid {pid}) is writing this folder; wait for it, or use another output"
                ) from None
            if host not in (None, me["host"]):
                raise OutputError(
                    f"{folder}: locked by a run on host {host} (pid {pid}); if that run is over, delete {lock}"
                ) from None
            lock.unlink(missing_ok=True)  # a stale lock: its run is gone
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(me, fh)
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
