"""How a bad-input case is set up, run and judged. The cases themselves are data (``corpus_cases.py``).

A case writes what it needs into its own folder, runs one ``edgeptm`` command line (in-process with
click's ``CliRunner``, or in a subprocess when it needs a fresh interpreter: plugin loading), and must end
the way a careful tool ends on bad input: a non-zero exit, exactly one ``Error:`` line that names the file
or field at fault, no traceback, and no file changed anywhere but the command's intended output.
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Fixtures:
    """The session's shared, expensive things. Cases read them; the snapshot proves none is changed."""

    model: Path
    """A tiny fine-tuned ``save_pretrained`` folder (labels negative, neutral, positive)."""
    art: Path
    """Its ONNX fp32 export."""
    int8: Path
    """Its dynamic int8 quantization."""


@dataclass
class Work:
    """One case's folder and the helpers a setup function uses to fill it."""

    root: Path
    fixtures: Fixtures

    def path(self, name: str) -> Path:
        return self.root / name

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def jsonl(self, name: str, rows: list[object]) -> Path:
        return self.write(name, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))

    def copy_model(self, name: str = "model") -> Path:
        return Path(shutil.copytree(self.fixtures.model, self.root / name))

    def copy_art(self, name: str = "art", source: Path | None = None) -> Path:
        """A copy of an artifact whose manifest names its source model by absolute path (as older manifests
        did): the copy moved away from the relative path the original stores."""
        from edgeptm.manifest import read_manifest

        original = source or self.fixtures.art
        copy = Path(shutil.copytree(original, self.root / name))
        self.edit_json(copy / "edgeptm.json", lambda m: m.update(source=read_manifest(original).source))
        return copy

    def edit_json(self, path: Path, change: Callable[[dict], object]) -> None:
        """Apply ``change`` to a JSON file in place (``change`` mutates, or returns a replacement)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        replaced = change(data)
        path.write_text(json.dumps(data if replaced is None else replaced), encoding="utf-8")

    def rehash(self, artifact: Path) -> None:
        """Record the current content of an artifact's files in its manifest: a file made bad *before* edgeptm
        hashed it (a corrupt export), not tampered after."""
        from edgeptm.fsutil import file_sha256

        self.edit_json(
            artifact / "edgeptm.json",
            lambda m: m["sha256"].update(
                {n: file_sha256(artifact / n) for n in m["sha256"] if (artifact / n).is_file()}
            ),
        )


def nothing(w: Work) -> None:
    """A case that needs no setup."""


@dataclass(frozen=True)
class Case:
    """One bad input: ``argv`` and ``mention`` are templates over ``{root}`` (the case folder) and the
    fixtures ``{model}``, ``{art}``, ``{int8}``."""

    id: str
    argv: tuple[str, ...]
    mention: str
    """Text the ``Error:`` line must contain: the file, line or field at fault."""
    setup: Callable[[Work], None] = nothing
    out: str | None = None
    """The command's intended output (template): the only place a change would be allowed."""
    env: Mapping[str, str] = field(default_factory=dict)
    subprocess: bool = False
    readonly: tuple[str, ...] = ()
    """Folders (templates) the case makes read-only before running."""
    patch: Callable[[object], None] | None = None
    """Given pytest's ``monkeypatch`` before an in-process run (the gate cases force the figures it judges)."""

    def fill(self, text: str, w: Work) -> str:
        f = w.fixtures
        return text.format(root=w.root, model=f.model, art=f.art, int8=f.int8)


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    output: str
    exception: BaseException | None = None


def run_in_process(cli, argv: list[str], env: Mapping[str, str]) -> Outcome:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, argv, env=dict(env), catch_exceptions=True)
    exception = None if isinstance(result.exception, SystemExit) else result.exception
    return Outcome(result.exit_code, result.output, exception)


def run_subprocess(argv: list[str], env: Mapping[str, str], cwd: Path) -> Outcome:
    full_env = {**os.environ, **env}
    if "PYTHONPATH" in env and os.environ.get("PYTHONPATH"):
        full_env["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + os.environ["PYTHONPATH"]
    done = subprocess.run(
        [sys.executable, "-c", "from edgeptm.cli import main; main()", *argv],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
    )
    return Outcome(done.returncode, done.stdout + done.stderr)


def snapshot(*roots: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file and folder under ``roots`` (not following links) by path: its content hash, or its kind."""
    found: dict[str, str] = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            if skip is not None and (here == skip or skip in here.parents):
                dirnames[:] = []
                continue
            found[str(here)] = "dir"
            for name in sorted(filenames + [d for d in dirnames if (here / d).is_symlink()]):
                path = here / name
                if skip is not None and path == skip:
                    continue
                if path.is_symlink():
                    found[str(path)] = f"link:{os.readlink(path)}"
                elif path.is_file():
                    found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    found[str(path)] = "other"
    return found


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@contextmanager
def read_only(folders: list[Path]) -> Iterator[None]:
    """Make ``folders`` read-only for the run. A normal user gets the real thing (mode 0555). Root ignores
    permission bits, so for root every call that would create, replace or remove something in them fails
    with the EACCES the kernel gives a normal user (the same exception edgeptm has to handle)."""
    modes = {f: f.stat().st_mode for f in folders}
    for f in folders:
        f.chmod(0o555)
    if os.geteuid() != 0:
        try:
            yield
        finally:
            for f, mode in modes.items():
                f.chmod(stat.S_IMODE(mode))
        return

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return False
        p = Path(os.fsdecode(path)).absolute()
        return any(p.parent == f or f in p.parents for f in folders)

    def denied(path: object) -> OSError:
        return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))  # type: ignore[arg-type]

    real = {name: getattr(os, name) for name in ("mkdir", "open", "rename", "replace", "rmdir", "unlink", "chmod")}
    real_open, real_io_open = builtins.open, io.open

    def guard(name: str) -> Callable[..., object]:
        def wrapped(path, *args, **kwargs):
            if name == "open" and not (args[0] if args else kwargs.get("flags", 0)) & WRITE_FLAGS:
                return real[name](path, *args, **kwargs)
            if inside(path):
                raise denied(path)
            return real[name](path, *args, **kwargs)

        return wrapped

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and inside(file):
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)

    try:
        for name in real:
            setattr(os, name, guard(name))
        builtins.open = io.open = guarded_open  # type: ignore[assignment]
        yield
    finally:
        for name, fn in real.items():
            setattr(os, name, fn)
        builtins.open, io.open = real_open, real_io_open  # type: ignore[assignment]
        for f, mode in modes.items():
            f.chmod(stat.S_IMODE(mode))


def judge(case: Case, outcome: Outcome, w: Work) -> list[str]:
    """What is wrong with how the command ended (empty: it ended well)."""
    problems = []
    if outcome.exception is not None:
        problems.append(f"uncaught {type(outcome.exception).__name__}: {str(outcome.exception)[:200]}")
    if "Traceback" in outcome.output:
        problems.append("a traceback in the output")
    if outcome.exit_code == 0:
        problems.append("exit code 0")
    errors = [line for line in outcome.output.splitlines() if line.startswith("Error:")]
    if len(errors) != 1:
        problems.append(f"{len(errors)} 'Error:' lines")
    elif case.fill(case.mention, w) not in errors[0]:
        problems.append(f"the Error line does not mention {case.fill(case.mention, w)!r}: {errors[0]!r}")
    return problems


def record(case: Case, outcome: Outcome, problems: list[str], changed: bool) -> None:
    """With ``$EDGEPTM_CORPUS_REPORT`` set, append how the case ended to that JSON-lines file: ``harmful``
    (something outside the output changed), ``traceback``, ``silent`` (exit 0: a result without a word),
    ``unclear`` (an error that doesn't name the file or field), or ``ok``. Used to count what the corpus
    finds on an older commit."""
    report = os.environ.get("EDGEPTM_CORPUS_REPORT")
    if not report:
        return
    if changed:
        verdict = "harmful"
    elif outcome.exception is not None or "Traceback" in outcome.output:
        verdict = "traceback"
    elif outcome.exit_code == 0:
        verdict = "silent"
    else:
        verdict = "unclear" if problems else "ok"
    with open(report, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": case.id, "verdict": verdict, "problems": problems}) + "\n")
