"""``bench``: latency, throughput, RSS, load time and size of each artifact, in a fresh process each."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from edgeptm.fsutil import write_json
from edgeptm.measure.bench import BenchOptions
from edgeptm.report.tables import bench_rows, markdown_table
from edgeptm.stage import RunContext, StageKind, StageOptions, StageResult


class BenchStage(BenchOptions, StageOptions):
    stage: Literal["bench"]
    artifacts: list[str] | None = None

    def inputs(self, known: list[str]) -> list[str]:
        return self.artifacts or list(known)


class Bench(StageKind):
    kind = "bench"
    Options = BenchStage

    def run(self, ctx: RunContext, stage: BenchStage, out: Path) -> StageResult:
        from edgeptm.measure.bench import bench

        names = stage.inputs(ctx.deployable())
        options = BenchOptions.model_validate(stage.model_dump(include=set(BenchOptions.model_fields)))
        results = bench([(n, ctx.artifacts[n]) for n in names], options)
        write_json(out, results)
        return {"bench": results}

    def render(self, name: str, result: StageResult) -> list[str]:
        return ["## Benchmark", "", markdown_table(*bench_rows(result["bench"])), ""]

    def summarize(self, name: str, result: StageResult) -> dict:
        return {"bench": result["bench"]}


KIND = Bench()
