"""docs/plugins.md documents every hook in hookspecs.py, with its signature, and no hook that isn't there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hookspecs() -> dict[str, str]:
    """Hook name -> ``name(arg, ...)`` for every ``@hookspec`` function in hookspecs.py."""
    tree = ast.parse((ROOT / "edgeptm" / "hookspecs.py").read_text(encoding="utf-8"))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            (isinstance(d, ast.Name) and d.id == "hookspec")
            or (isinstance(d, ast.Call) and getattr(d.func, "id", "") == "hookspec")
            for d in node.decorator_list
        ):
            args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            found[node.name] = f"{node.name}({', '.join(args)})"
    return found


def test_every_hook_is_documented_with_its_signature():
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `(edgeptm_\w+\([^)]*\))`", doc, re.MULTILINE))
    specs = _hookspecs()
    assert specs, "no hookspecs found"
    missing = sorted(sig for sig in specs.values() if sig not in headings)
    assert not missing, f"docs/plugins.md lacks a `### `signature`` section for: {', '.join(missing)}"
    stale = sorted(h for h in headings if h.split("(")[0] not in specs or h not in specs.values())
    assert not stale, f"docs/plugins.md documents hooks that hookspecs.py doesn't define as such: {', '.join(stale)}"
