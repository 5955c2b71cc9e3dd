"""``baseline``: a char n-gram TF-IDF + logistic regression on ``data.train``, an ONNX artifact like any other.

Later stages take it by name (``baseline`` by default): ``evaluate`` and ``bench`` list it beside the
transformers, ``bundle`` ships it. See :mod:`edgeptm.train.baseline`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edgeptm.stage import NAME_PATTERN, RunContext, StageKind, StageOptions, StageResult
from edgeptm.train.baseline import BaselineOptions


class BaselineStage(BaselineOptions, StageOptions):
    """The :class:`~edgeptm.train.baseline.BaselineOptions` fields, plus the artifact's name."""

    stage: Literal["baseline"]
    name: str = Field("baseline", pattern=NAME_PATTERN)
    data_splits = ("train", "eval")

    def options(self) -> BaselineOptions:
        return BaselineOptions(**self.model_dump(include=set(BaselineOptions.model_fields)))


class Baseline(StageKind):
    kind = "baseline"
    Options = BaselineStage
    makes = "classifier"

    def check(self, where, stage, recipe, plugins, known):
        errors = super().check(where, stage, recipe, plugins, known)
        if recipe.data.train is None:
            errors.append(f"{where}: data.train is not set; the baseline trains on it")
        return errors

    def artifact_kind(self, stage, known):
        return "onnx"  # bundled and run by the onnx engine like an export

    def run(self, ctx: RunContext, stage: BaselineStage, out: Path) -> StageResult:
        from edgeptm.train.baseline import train_baseline

        eval_data = ctx.dataset("eval") if ctx.recipe.data.eval else None
        result = train_baseline(
            ctx.dataset("train"),
            out,
            stage.options(),
            eval_data=eval_data,
            force=True,  # the run folder is edgeptm's; check_output still refuses anything else
            log=lambda message: ctx.log(f"  {message}"),
        )
        return {"baseline": result.to_dict()}

    def render(self, name: str, result: StageResult) -> list[str]:
        r = result["baseline"]
        check = r["onnx_check"]
        md = [
            f"## Baseline `{name}` (char n-gram TF-IDF + logistic regression)",
            "",
            f"{r['features']} n-gram features from {r['train_examples']} training texts, trained in "
            f"{r['train_seconds']:.1f} s; ONNX {r['size_bytes'] / 2**20:.2f} MB, equal to scikit-learn on "
            f"{check['n']} texts (max |Δlogit| {check['max_abs_logit_diff']:.2g}). Not carried to ONNX, so not used: "
            "char_wb n-grams, sublinear tf, accent stripping (see `export_info.not_carried`). It is evaluated beside "
            "the other artifacts below.",
            "",
        ]
        return md

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"baselines": {name: result["baseline"]}}


KIND = Baseline()
