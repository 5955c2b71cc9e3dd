"""``trim-vocab``: trim a torch model's vocabulary to a corpus (default: the training text) before export."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeptm.recipes.stages._model import torch_source_errors
from edgeptm.report.tables import markdown_table
from edgeptm.stage import NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult


class TrimVocabStage(StageOptions):
    """Trim a torch model's vocabulary to a corpus (default: the training text) before export."""

    stage: Literal["trim-vocab"]
    name: str = Field("trimmed", pattern=NAME_PATTERN)
    from_: str = Field("model", alias="from")
    corpus: list[str] | None = Field(None, description="[LANG=]PATH specs (default: the training text of data.train)")
    oov_text: list[str] | None = Field(None, description="second text for the OOV report (default: data.eval)")
    top_k: int | None = Field(None, ge=1, description="total vocabulary size")
    keep_scripts: list[str] = []
    max_unk_rate: float = Field(0.05, ge=0, le=1)
    verify_texts: int = Field(256, ge=1)
    data_splits = ("train", "eval")

    def files(self) -> list[str]:
        from edgeptm.data.corpus import spec_paths

        return [str(p) for p in spec_paths([*(self.corpus or []), *(self.oov_text or [])])]


class TrimVocab(StageKind):
    kind = "trim-vocab"
    Options = TrimVocabStage
    makes = "same"
    needs_classifier = False

    def check(self, where, stage, recipe, plugins, known):
        errors = torch_source_errors(where, stage, known)
        if stage.corpus is None and recipe.data.train is None:
            errors.append(f"{where}.corpus: required when data.train is not set (by default the training text is kept)")
        return errors + super().check(where, stage, recipe, plugins, known)

    def run(self, ctx: RunContext, stage: TrimVocabStage, out: Path) -> StageResult:
        from edgeptm.data.corpus import from_dataset, read_corpus
        from edgeptm.train.trim import trim_vocab

        corpus = (
            read_corpus([ctx.spec(s) for s in stage.corpus]) if stage.corpus else from_dataset(ctx.dataset("train"))
        )
        oov: dict[str, list[str]] | None
        if stage.oov_text:
            oov = read_corpus([ctx.spec(s) for s in stage.oov_text], role="oov text")
        else:
            oov = from_dataset(ctx.dataset("eval")) if ctx.recipe.data.eval else None
        report = trim_vocab(
            ctx.artifacts[stage.from_],
            corpus,
            out,
            top_k=stage.top_k,
            keep_scripts=stage.keep_scripts,
            oov_texts=oov,
            max_unk_rate=stage.max_unk_rate,
            verify_texts=stage.verify_texts,
            log=lambda m: ctx.log(f"  {m}"),
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
        )
        return {"trim_vocab": report}

    def render(self, name: str, result: StageResult) -> list[str]:
        from edgeptm.train.trim import oov_rows, size_rows

        r = result["trim_vocab"]
        v = r["verification"]
        md = [f"## Vocabulary trimming ({name})", "", markdown_table(*size_rows(r)), ""]
        md += [
            f"Same tokens on {v['same_tokens']} of {v['texts']} corpus texts; max |Δlogit| "
            f"{v['max_abs_logit_diff']:.3g} on {v['logit_texts']} texts.",
            "",
        ]
        if r.get("oov"):
            md += ["**second text (out of vocabulary)**", "", markdown_table(*oov_rows(r)), ""]
        return md

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"trim_vocab": {name: result["trim_vocab"]}}


KIND = TrimVocab()
