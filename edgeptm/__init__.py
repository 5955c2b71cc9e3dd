"""edgeptm: fine-tune a multilingual BERT once, deploy it on pluggable backends."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("edgeptm")
"""Marker for plugin hook implementations: ``@edgeptm.hookimpl``."""

__all__ = ["__version__", "hookimpl"]
