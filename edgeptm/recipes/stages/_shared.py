"""Helpers the built-in stage kinds share (not a stage kind: its name starts with ``_``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from edgeptm.stage import StageOptions


def loc_path(loc: tuple[Any, ...], skip: tuple[str, ...] = ()) -> str:
    """A pydantic error location as a YAML path: ``stages[2].options.opset``."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(loc[i - 1], int) and part in skip:
            continue  # the discriminator tag pydantic inserts
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def option_errors(where: str, backend: Any, options: dict[str, Any]) -> list[str]:
    """A backend's own options model, checked with YAML paths."""
    try:
        backend.Options.model_validate(options)
    except ValidationError as exc:
        return [f"{where}.options.{loc_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


class MeasureOptions(StageOptions):
    """Options of the stages that run artifacts on a labelled split (evaluate, robustness)."""

    artifacts: list[str] | None = None
    """Default: every classifier made so far."""
    split: Literal["eval", "test"] = "test"
    batch_size: int = Field(32, ge=1)
    threads: int | None = Field(None, ge=1)

    def inputs(self, known: list[str]) -> list[str]:
        return self.artifacts or list(known)


def split_errors(where: str, stage: MeasureOptions, recipe: Any) -> list[str]:
    """The split a measuring stage reads must be set in ``data``."""
    return [f"{where}.split: data.{stage.split} is not set"] if getattr(recipe.data, stage.split) is None else []
