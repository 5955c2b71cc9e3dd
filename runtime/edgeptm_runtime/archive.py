"""Bundle archives: a reproducible ``.tar.gz`` writer and a safe reader.

The reader never calls ``tarfile.extractall``: it writes each plain file itself after checking
its name, so a crafted archive cannot put anything outside the temp folder.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from edgeptm_runtime.bundle import MANIFEST_NAME, path_problem, verify_bundle
from edgeptm_runtime.errors import BundleError

_CHUNK = 1 << 20


def _archive_root(name: str) -> str:
    """The single top-level folder of an archive, from the bundle's name (so it depends on content only)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "bundle"


def _parents(names: Iterable[str]) -> list[str]:
    dirs = {str(parent) for n in names for parent in PurePosixPath(n).parents if str(parent) != "."}
    return sorted(dirs)


def write_archive(folder: Path, out_path: Path) -> Path:
    """A byte-reproducible ``.tar.gz`` of a verified bundle: same files in, same bytes out.

    Members are ``bundle.json`` and the listed files only, under one folder named after the bundle,
    sorted, with mtime 0, uid/gid 0, no owner names, modes 0644/0755; the gzip header has mtime 0 and
    no file name. (The compressed bytes also depend on the zlib build, so compare on one machine.)
    """
    root = Path(folder)
    manifest = verify_bundle(root)
    out = Path(out_path)
    try:
        out.resolve().relative_to(root.resolve())
    except ValueError:
        pass
    else:
        raise BundleError(f"{out}: inside the bundle folder; write the archive next to it instead")
    top = _archive_root(manifest.name)
    names = sorted([MANIFEST_NAME, *manifest.files])
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-partial")  # edgeptm removes it if this process dies
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for directory in ["", *_parents(names)]:
                        tar.addfile(_tarinfo(f"{top}/{directory}".rstrip("/"), tarfile.DIRTYPE, 0o755, 0))
                    for name in names:
                        path = root / name
                        with open(path, "rb") as f:
                            tar.addfile(_tarinfo(f"{top}/{name}", tarfile.REGTYPE, 0o644, path.stat().st_size), f)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _tarinfo(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, size
    info.mtime = info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def extract_archive(archive: Path, dest: Path) -> Path:
    """Safely unpack a bundle archive into ``dest`` and return the bundle folder inside it.

    Refuses members with absolute paths, ``..``, links, devices or FIFOs, and duplicate names;
    files are written by this function (never ``tarfile.extractall``), so nothing lands outside ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{archive.name}: not a readable bundle archive ({exc}); expected a .tar.gz") from None
    with tar:
        try:
            for member in tar:
                _extract_member(tar, member, archive.name, dest)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise BundleError(f"{archive.name}: damaged archive ({exc}); copy it again") from None
    if (dest / MANIFEST_NAME).is_file():
        return dest
    entries = list(dest.iterdir())
    if len(entries) == 1 and (entries[0] / MANIFEST_NAME).is_file():
        return entries[0]
    raise BundleError(f"{archive.name}: no {MANIFEST_NAME} at its top or in its single top-level folder")


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: str, dest: Path) -> None:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if name in ("", "."):
        return
    if not (member.isfile() or member.isdir()):
        kind = "link" if member.issym() or member.islnk() else "special file"
        raise BundleError(f"{archive}: member {member.name!r} is a {kind}; a bundle archive holds plain files only")
    problem = path_problem(name)
    if problem:
        raise BundleError(f"{archive}: member {member.name!r} is {problem}; refusing the archive")
    target = dest.joinpath(*name.split("/"))
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise BundleError(f"{archive}: member {member.name!r} cannot be read")
    try:
        with source, open(target, "xb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
    except FileExistsError:
        raise BundleError(f"{archive}: member {member.name!r} appears twice; refusing the archive") from None


class BundleDir:
    """A bundle as a folder: the folder itself, or a temp folder holding an unpacked archive.

    The temp folder lives until :meth:`cleanup` (or garbage collection): engines may map model
    files (OpenVINO maps its weights), so they must stay on disk while a model is loaded.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if path.is_file() and path.name == MANIFEST_NAME:
            path = path.parent
        if path.is_dir():
            self.path = path
        elif path.is_file():
            self._tmp = tempfile.TemporaryDirectory(prefix="edgeptm-bundle-")
            try:
                self.path = extract_archive(path, Path(self._tmp.name))
            except BaseException:
                self.cleanup()
                raise
        else:
            raise BundleError(f"{path}: no such bundle (a folder or a .tar.gz)")
        self.source = path

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> BundleDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
