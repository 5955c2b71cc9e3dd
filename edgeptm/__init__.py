"""edgeptm: fine-tune a multilingual BERT once, deploy it on pluggable backends.

This namespace is the plugin contract: ``edgeptm.hookimpl`` plus the names below, each defined in a
top-level module (``edgeptm.backend``, ``edgeptm.manifest``, ``edgeptm.stage``, ...) and loaded on
first use, so ``import edgeptm`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("edgeptm")
"""Marker for plugin hook implementations: ``@edgeptm.hookimpl``."""

_EXPORTS = {
    "Availability": "edgeptm.backend",
    "Backend": "edgeptm.backend",
    "ExportResult": "edgeptm.backend",
    "NoOptions": "edgeptm.backend",
    "QuantizeRequest": "edgeptm.backend",
    "REFERENCE_BACKEND": "edgeptm.backend",
    "Runner": "edgeptm.backend",
    "Encoder": "edgeptm.encoding",
    "TruncationWarning": "edgeptm.encoding",
    "BackendError": "edgeptm.errors",
    "DataError": "edgeptm.errors",
    "EdgeptmError": "edgeptm.errors",
    "ModelError": "edgeptm.errors",
    "PerturbationError": "edgeptm.errors",
    "RecipeError": "edgeptm.errors",
    "Manifest": "edgeptm.manifest",
    "copy_tokenizer": "edgeptm.manifest",
    "read_manifest": "edgeptm.manifest",
    "Plugins": "edgeptm.plugins",
    "get_plugins": "edgeptm.plugins",
    "load_plugins": "edgeptm.plugins",
    "RunContext": "edgeptm.stage",
    "StageKind": "edgeptm.stage",
    "StageOptions": "edgeptm.stage",
}

__all__ = ["__version__", "hookimpl", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'edgeptm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
