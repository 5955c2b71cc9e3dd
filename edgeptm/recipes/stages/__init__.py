"""The built-in stage kinds, one module each, registered through ``edgeptm_register_stages``
(entry point ``stages``) like a plugin's.

Every submodule that defines ``KIND`` (a :class:`~edgeptm.stage.StageKind` instance) is a stage
kind: adding a kind is adding a module here.
"""

from __future__ import annotations

import importlib
import pkgutil

from edgeptm import hookimpl


def builtin_kinds() -> list:
    """The ``KIND`` of every submodule, in module order of :data:`ORDER` then alphabetical."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    names.sort(key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    kinds = []
    for name in names:
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "KIND"):
            kinds.append(module.KIND)
    return kinds


ORDER = ["finetune", "export", "quantize", "evaluate", "bench", "robustness", "pretrain", "trim_vocab", "bundle"]
"""Kinds listed first in schema errors, in the order users meet them; new modules follow."""


@hookimpl
def edgeptm_register_stages(register):
    for kind in builtin_kinds():
        register(kind)
