"""Checks shared by the stages that rework a torch model folder (``pretrain``, ``trim-vocab``)."""

from __future__ import annotations

from typing import Any

from edgeptm.stage import MLM, TORCH


def torch_source_errors(where: str, stage: Any, known: dict[str, str]) -> list[str]:
    """``from`` must be a torch folder (a classifier or a masked LM), not an export."""
    source = known.get(stage.from_) if stage.from_ else None
    if source not in (None, TORCH, MLM):
        return [
            f"{where}.from: {stage.from_!r} is a {source} artifact; {stage.stage} works on a torch model folder, "
            "so place it before export"
        ]
    return []
