"""The ``edgeptm.json`` manifest every artifact folder carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from edgeptm import __version__
from edgeptm.errors import ModelError
from edgeptm.fsutil import write_json

MANIFEST = "edgeptm.json"


class Manifest(BaseModel):
    """What a runner needs to load an artifact, and where it came from."""

    model_config = ConfigDict(extra="forbid")

    backend: str
    precision: str
    labels: list[str]
    max_length: int
    files: list[str]
    """Model files (relative to the artifact folder) counted as its size on disk."""
    source: str | None = None
    """The fp32 model folder this artifact was made from: the reference for agreement."""
    options: dict[str, Any] = {}
    validation: dict[str, Any] | None = None
    edgeptm_version: str = __version__

    def save(self, folder: Path) -> None:
        write_json(Path(folder) / MANIFEST, self.model_dump(mode="json"))


def has_manifest(folder: Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def read_manifest(folder: Path) -> Manifest:
    """Read ``folder/edgeptm.json`` with a clear error when absent or invalid."""
    path = Path(folder) / MANIFEST
    if not Path(folder).exists():
        raise ModelError(f"{folder}: no such artifact folder")
    if not path.is_file():
        raise ModelError(
            f"{folder}: not an edgeptm artifact (no {MANIFEST}); "
            "make one with `edgeptm finetune`, `edgeptm export` or `edgeptm quantize`"
        )
    try:
        return Manifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"{path}: invalid manifest ({first})") from None
