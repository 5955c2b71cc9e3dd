"""Load any artifact (or plain fine-tuned model folder) through its backend's runner."""

from __future__ import annotations

from pathlib import Path

from edgeptm.backend import Runner
from edgeptm.errors import ModelError
from edgeptm.manifest import Manifest, has_manifest, model_manifest, read_manifest
from edgeptm.plugins import Plugins


def artifact_manifest(path: Path) -> Manifest:
    """The manifest of an artifact or of a plain fine-tuned model folder."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such artifact folder")
    return read_manifest(path) if has_manifest(path) else model_manifest(path)


def load_runner(plugins: Plugins, artifact: Path, *, device: str | None = None, threads: int | None = None) -> Runner:
    """Load any artifact through its backend's runner (on the backend's default device when ``None``)."""
    manifest = artifact_manifest(artifact)
    backend = plugins.available_backend(manifest.backend)
    if device is None:
        return backend.load(Path(artifact), manifest, threads=threads)
    return backend.load(Path(artifact), manifest, device=device, threads=threads)
