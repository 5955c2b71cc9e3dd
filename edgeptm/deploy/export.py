"""Export a fine-tuned model with a backend, validated against the torch model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeptm.backend import REFERENCE_BACKEND
from edgeptm.deploy.validate import validate
from edgeptm.errors import ModelError
from edgeptm.fsutil import atomic_dir, check_output
from edgeptm.manifest import Manifest, check_model_folder, config_labels, model_manifest
from edgeptm.plugins import Plugins


def export(
    plugins: Plugins,
    backend_name: str,
    model_dir: Path,
    out: Path,
    *,
    options: Mapping[str, Any] | None = None,
    max_length: int | None = None,
    validation_texts: Sequence[str] = (),
    force: bool = False,
) -> Manifest:
    """Export the fine-tuned ``model_dir`` with a backend into ``out``, validated against torch.

    An existing artifact at ``out`` is replaced only with ``force``; anything else there is refused.
    """
    model_dir = Path(model_dir)
    backend = plugins.available_backend(backend_name)
    check_output(Path(out), "artifact", force=force, inputs=(model_dir,))
    config = check_model_folder(model_dir)
    source = model_manifest(model_dir, max_length)
    labels = config_labels(model_dir / "config.json", config)
    if labels != source.labels:
        raise ModelError(
            f"{model_dir / 'config.json'}: id2label {labels or 'is missing'} differs from the labels "
            f"{source.labels} the model was trained with; save the model again"
        )
    opts = backend.parse_options(options)
    with atomic_dir(Path(out), kind="artifact", inputs=(model_dir,)) as tmp:
        result = backend.export(model_dir, tmp, options=opts, max_length=source.max_length)
        manifest = Manifest(
            backend=backend.name,
            precision=backend.export_precision,
            labels=source.labels,
            max_length=source.max_length,
            files=result.files,
            source=source.source or str(model_dir.resolve()),
            options=opts.model_dump(mode="json"),
            export_info=dict(result.info or {}),
        )
        if validation_texts and backend.name != REFERENCE_BACKEND:
            manifest.validation = validate(plugins, tmp, manifest, validation_texts)
        manifest.save(tmp)
    return manifest
