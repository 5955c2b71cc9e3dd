"""``edgeptm bundle``: an artifact as a small, verified folder (or ``.tar.gz``) that ``edgeptm-runtime``
runs on a device without torch.

The bundle holds the model file(s), ``tokenizer.json``, a model card (``README.md``) and ``bundle.json``
(the format of :mod:`edgeptm_runtime.bundle`: labels, max length, preprocessing, the operator domains or
OpenVINO version the model needs, the sha256 and size of every file, the runtime requirements). Paths are
relative; the same artifact and figures give a byte-identical archive.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeptm import __version__
from edgeptm.deploy.runners import artifact_manifest
from edgeptm.encoding import runtime_errors
from edgeptm.errors import BackendError, ModelError
from edgeptm.fsutil import atomic_dir, clean_debris
from edgeptm.plugins import Plugins
from edgeptm.report.card import CardInputs, model_card

BUNDLE_FILE = "bundle.json"
ARCHIVE_SUFFIX = ".tar.gz"


@dataclass(frozen=True)
class BundleResult:
    path: Path
    engine: str
    files: dict[str, dict[str, Any]]
    """Every file with its sha256 and size, as ``bundle.json`` lists them."""

    @property
    def size_bytes(self) -> int:
        return sum(f["size"] for f in self.files.values())


def source_metrics(manifest_source: str | None) -> dict[str, Any] | None:
    """The fp32 source model's ``metrics.json``, when it is still there."""
    if not manifest_source:
        return None
    path = Path(manifest_source) / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _check_out(out: Path, artifact: Path, force: bool) -> None:
    """Refuse an output that is the artifact, lies inside it, or is something edgeptm did not make."""
    art, dest = artifact.resolve(), out.resolve()
    if dest == art or art in dest.parents:
        raise ModelError(f"{out}: the bundle can't be written into the artifact it is made from; choose another --out")
    if not out.exists() and not out.is_symlink():
        return
    ours = (out.is_dir() and (out / BUNDLE_FILE).is_file()) or (out.is_file() and out.name.endswith(ARCHIVE_SUFFIX))
    if not ours:
        raise ModelError(f"{out}: exists and is not an edgeptm bundle; choose another --out (nothing was changed)")
    if not force:
        raise ModelError(f"{out}: a bundle is already there; pass --force to replace it")


def bundle(
    plugins: Plugins,
    artifact: Path,
    out: Path,
    *,
    name: str | None = None,
    archive: bool = False,
    force: bool = False,
    card: CardInputs | None = None,
) -> BundleResult:
    """Write the bundle of ``artifact`` to ``out`` (a folder, or a ``.tar.gz`` with ``archive``)."""
    from edgeptm_runtime import Preprocessing, write_archive, write_bundle_manifest
    from edgeptm_runtime.text import TEXT_INPUTS

    artifact, out = Path(artifact), Path(out)
    manifest = artifact_manifest(artifact)
    backend = plugins.backend(manifest.backend)
    engine = backend.bundle_engine
    if engine is None:
        bundlable = ", ".join(n for n, b in plugins.backends().items() if b.bundle_engine) or "none installed"
        raise BackendError(
            f"{artifact}: a {manifest.backend} artifact needs {manifest.backend} to run, so it can't be bundled; "
            f"export it with a backend the device runtime runs ({bundlable})"
        )
    if archive and not out.name.endswith(ARCHIVE_SUFFIX):
        raise ModelError(f"{out}: an archive's name ends in {ARCHIVE_SUFFIX}")
    _check_out(out, artifact, force)
    name = name or out.name.removesuffix(ARCHIVE_SUFFIX)
    inputs = card or CardInputs()
    if inputs.source_metrics is None:
        inputs = CardInputs(**{**inputs.__dict__, "source_metrics": source_metrics(manifest.source)})
    clean_debris(out)
    with tempfile.TemporaryDirectory(
        prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent if out.parent.exists() else None
    ) as work:
        staging = Path(work) / name
        staging.mkdir()
        # A raw-text model (the TF-IDF baseline) tokenizes in its graph: no tokenizer.json, and the
        # bundle records its text normalization instead (format version 2).
        tokenizer = None if manifest.text_input else "tokenizer.json"
        for file in [*manifest.files, *([tokenizer] if tokenizer else [])]:
            if not (artifact / file).is_file():
                raise ModelError(f"{artifact}: no {file}; the artifact is incomplete, make it again")
            shutil.copyfile(artifact / file, staging / file)
        validation = dict(manifest.validation or {}) or None
        (staging / "README.md").write_text(
            model_card(
                name=name,
                engine=engine,
                backend=manifest.backend,
                precision=manifest.precision,
                labels=manifest.labels,
                max_length=manifest.max_length,
                validation=validation,
                inputs=inputs,
                edgeptm_version=__version__,
                kind=manifest.kind,
            ),
            encoding="utf-8",
        )
        extra = {
            "edgeptm_version": __version__,
            "kind": manifest.kind,
            "validation": validation,
            "export_info": manifest.export_info,
            # dynamic int8 computes activation scales over each batch: a text's scores depend on its batch mates
            "batch_invariant": not str(manifest.export_info.get("scheme", "")).startswith("dynamic"),
        }
        with runtime_errors():
            written = write_bundle_manifest(
                staging,
                name=name,
                engine=engine,
                backend=manifest.backend,
                precision=manifest.precision,
                labels=manifest.labels,
                max_length=manifest.max_length,
                model_files=list(manifest.files),
                tokenizer=tokenizer,
                preprocessing=Preprocessing(inputs=TEXT_INPUTS, normalize=tuple(manifest.text_normalize))
                if manifest.text_input
                else None,
                extra=json.loads(json.dumps(extra)),
            )
            if archive:
                out.parent.mkdir(parents=True, exist_ok=True)
                write_archive(staging, out)
            else:
                with atomic_dir(out, kind="bundle", inputs=(artifact,), mark=False) as tmp:
                    for item in staging.iterdir():
                        shutil.copyfile(item, tmp / item.name)
    return BundleResult(out, engine, written["files"])
