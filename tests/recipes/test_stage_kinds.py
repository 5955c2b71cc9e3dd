"""Stage kinds: the built-in ones come from the registry, and a plugin's kind (the example of
docs/plugins.md) validates, runs, caches and renders like a built-in one."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Literal

import pytest

import edgeptm
from edgeptm.fsutil import write_json
from edgeptm.stage import StageKind, StageOptions


class WordCountStage(StageOptions):
    stage: Literal["word-count"]
    data_splits = ("eval",)


class WordCount(StageKind):
    kind = "word-count"
    Options = WordCountStage

    def run(self, ctx, stage, out: Path) -> dict:
        words: dict[str, int] = {}
        for e in ctx.dataset("eval").examples:
            words[e.language] = words.get(e.language, 0) + len(e.text.split())
        write_json(out, words)
        return {"words": words}

    def render(self, name, result):
        return ["## Words", "", *[f"- {k}: {v}" for k, v in result["words"].items()], ""]

    def summarize(self, name, result):
        return {"words": result["words"]}


def _plugin() -> types.ModuleType:
    module = types.ModuleType("wordcount_plugin")

    @edgeptm.hookimpl
    def edgeptm_register_stages(register):
        register(WordCount())

    module.edgeptm_register_stages = edgeptm_register_stages
    return module


def test_builtin_kinds_are_registered_in_order(plugins) -> None:
    assert list(plugins.stage_kinds()) == [
        "finetune",
        "export",
        "quantize",
        "evaluate",
        "bench",
        "robustness",
        "pretrain",
        "trim-vocab",
        "bundle",
        "distill",
    ]


def test_core_stages_load_under_an_allow_list(monkeypatch) -> None:
    from edgeptm.plugins import load_plugins

    monkeypatch.setenv("EDGEPTM_PLUGINS", "onnx")
    assert "export" in load_plugins().stage_kinds()
    monkeypatch.setenv("EDGEPTM_BLOCK_PLUGINS", "stages")
    assert load_plugins().stage_kinds() == {}


def test_a_plugin_stage_kind_runs_caches_and_renders(tmp_path: Path, sample) -> None:
    from edgeptm.errors import RecipeError
    from edgeptm.plugins import load_plugins
    from edgeptm.recipes.pipeline import run_recipe

    plugins = load_plugins(allow=["torch"], extra=[_plugin()])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: wc\noutput: out\nmodel: builtin:tiny-multilingual\n"
        "data: {eval: builtin:sample}\nstages:\n  - {stage: word-count}\n",
        encoding="utf-8",
    )
    logs: list[str] = []
    summary = run_recipe(recipe, plugins, log=logs.append)
    expected: dict[str, int] = {}
    for e in sample["eval"].examples:
        expected[e.language] = expected.get(e.language, 0) + len(e.text.split())
    assert summary["words"] == expected
    assert json.loads((tmp_path / "out" / "word-count-0.json").read_text()) == expected
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "## Words" in md and f"- en: {expected['en']}" in md
    assert logs[0] == "run word-count 0"

    logs.clear()
    run_recipe(recipe, plugins, log=logs.append)
    assert logs[0] == "skip word-count 0: inputs unchanged"

    recipe.write_text(recipe.read_text().replace("{stage: word-count}", "{stage: word-count, colour: red}"))
    with pytest.raises(RecipeError, match=r"stages\[0\]\.colour: Extra inputs are not permitted"):
        run_recipe(recipe, plugins, log=logs.append)
    recipe.write_text(recipe.read_text().replace("{stage: word-count, colour: red}", "{stage: word-count}"))
    with pytest.raises(RecipeError, match="does not match any of the expected tags: 'finetune',"):
        run_recipe(recipe, load_plugins(allow=["torch"]), log=logs.append)
