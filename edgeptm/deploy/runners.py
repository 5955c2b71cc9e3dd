"""Load any artifact (or plain fine-tuned model folder) through its backend's runner."""

from __future__ import annotations

from pathlib import Path

from edgeptm.backend import Runner
from edgeptm.errors import BackendError, ModelError
from edgeptm.manifest import (
    MANIFEST,
    Manifest,
    config_labels,
    has_manifest,
    model_manifest,
    read_config,
    read_manifest,
    usable_positions,
    verify_files,
)
from edgeptm.plugins import Plugins


def artifact_manifest(path: Path) -> Manifest:
    """The manifest of an artifact or of a plain fine-tuned model folder, checked against the files.

    Every hashed file must match its sha256 (:func:`~edgeptm.manifest.verify_files`), and the labels must
    be the model's own (``config.json``'s ``id2label``), so a tampered or mixed-up artifact is refused with
    one line before anything runs it."""
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"{path}: no such artifact folder")
    if not has_manifest(path):
        return model_manifest(path)
    manifest = read_manifest(path)
    verify_files(path, manifest)
    config = path / "config.json"
    if config.is_file():
        model_config = read_config(config)
        if manifest.max_length > usable_positions(model_config):
            raise ModelError(
                f"{path / MANIFEST}: max_length {manifest.max_length} exceeds the {usable_positions(model_config)} "
                "positions the model reads (config.json); make the artifact again"
            )
        labels = config_labels(config, model_config)
        if labels and labels != manifest.labels:
            raise ModelError(
                f"{path / MANIFEST}: labels {manifest.labels} differ from the model's own {labels} (config.json); "
                "make the artifact again"
            )
    return manifest


def load_runner(plugins: Plugins, artifact: Path, *, device: str | None = None, threads: int | None = None) -> Runner:
    """Load any artifact through its backend's runner (on the backend's default device when ``None``)."""
    manifest = artifact_manifest(artifact)
    backend = plugins.available_backend(manifest.backend)
    try:  # the values of the options the backend knows (a manifest may also record others, e.g. training's)
        backend.parse_options({k: v for k, v in manifest.options.items() if k in backend.Options.model_fields})
    except BackendError as exc:
        raise ModelError(f"{Path(artifact) / MANIFEST}: {exc}; make the artifact again") from None
    if device is None:
        return backend.load(Path(artifact), manifest, threads=threads)
    return backend.load(Path(artifact), manifest, device=device, threads=threads)
