"""``edgeptm robustness`` end to end through the runners, its exact errors, the recipe stage, and
cross-lingual transfer in ``edgeptm evaluate``."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from edgeptm.errors import PerturbationError, RecipeError

LANGS = ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]


def invoke(cli, *args):
    return CliRunner().invoke(cli, ["robustness", *map(str, args)])


def test_list_shows_every_perturbation(cli, plugins) -> None:
    r = invoke(cli, "--list")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["name", "family", "applies", "to", "default", "strength", "description"]
    rows = {re.split(r"\s{2,}", line)[0]: re.split(r"\s{2,}", line) for line in lines[2:]}
    assert list(rows) == list(plugins.perturbations())
    assert len(rows) == 29
    assert rows["arabic_tatweel"] == [
        "arabic_tatweel",
        "script",
        "Arabic",
        "0.3",
        "0-1 share of joins stretched",
        "stretch joins with tatweel (كـــتاب)",
    ]
    assert rows["truncate"][2:5] == ["any script", "0.5", "0-0.95 share of words cut from the end"]


def test_bad_input_errors(cli, tmp_path: Path, finetuned: Path, onnx_int8: Path) -> None:
    out = tmp_path / "report"
    base = ["--artifact", onnx_int8, "--eval", "builtin:sample", "--out", out]
    r = invoke(cli, *base, "-p", "char_swapp")
    assert (r.exit_code, r.stderr) == (
        1,
        "Error: unknown perturbation 'char_swapp'; did you mean 'char_swap'? "
        "`edgeptm robustness --list` shows the 29 registered\n",
    )
    r = invoke(cli, *base, "-p", "char_swap:2")
    assert (r.exit_code, r.stderr) == (
        1,
        "Error: perturbation 'char_swap': strength 2 is out of range; "
        "use 0 to 1 (share of letters changed, default 0.1)\n",
    )
    r = invoke(cli, *base, "-p", "truncate:5")
    assert (
        r.stderr
        == "Error: perturbation 'truncate': strength 5 is out of range; use 0 to 0.95 (share of words cut from the end, default 0.5)\n"
    )
    r = invoke(cli, *base, "-p", "arabic_tatweel", "--languages", "en,zh")
    assert (r.exit_code, r.stderr.splitlines()[-1]) == (
        1,
        "Error: none of the perturbations applies to the languages present (en, zh); "
        "`edgeptm robustness --list` shows where each applies",
    )

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "So-so, really.", "label": "mixed", "language": "en"}\n')
    r = invoke(cli, "--artifact", finetuned, "--eval", bad, "--out", out)
    assert (r.exit_code, r.stderr) == (
        1,
        f"Error: {bad}: label(s) mixed are not among the labels of {finetuned} "
        "(negative, neutral, positive); evaluate with data labelled like the training set\n",
    )
    relabelled = tmp_path / "relabelled"
    shutil.copytree(onnx_int8, relabelled)
    manifest = json.loads((relabelled / "edgeptm.json").read_text())
    manifest["labels"] = ["positive", "neutral", "negative"]
    (relabelled / "edgeptm.json").write_text(json.dumps(manifest))
    r = invoke(cli, *base, "--artifact", relabelled)
    assert (r.exit_code, r.stderr) == (  # reordered labels are caught at load, against the model's own
        1,
        f"Error: {relabelled / 'edgeptm.json'}: labels ['positive', 'neutral', 'negative'] differ from the model's "
        "own ['negative', 'neutral', 'positive'] (config.json); make the artifact again\n",
    )
    assert not out.exists(), "nothing is written on error"

    r = invoke(cli, "--eval", "builtin:sample")
    assert (
        r.exit_code == 2
        and r.stderr.splitlines()[-1] == "Error: pass --artifact (one or more) and --eval DATA, or --list"
    )


def test_warns_for_a_perturbation_that_applies_to_no_language(cli, onnx_int8: Path) -> None:
    r = invoke(
        cli,
        "--artifact",
        onnx_int8,
        "--eval",
        "builtin:sample",
        "--languages",
        "de,en",
        "-p",
        "arabic_tatweel",
        "-p",
        "punct_remove",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert (
        "warning: perturbation 'arabic_tatweel' applies to none of the languages present: de (Latin), en (Latin); "
        "it applies to Arabic; skipped"
    ) in r.stderr.splitlines()
    result = json.loads(r.stdout)
    assert [p["label"] for p in result["perturbations"]] == ["punct_remove"]


def test_end_to_end_torch_fp32_vs_onnx_int8(
    cli, tmp_path: Path, plugins, finetuned: Path, onnx_int8: Path, sample
) -> None:
    from edgeptm.deploy import load_runner
    from edgeptm.measure.evaluate import evaluate, predict_logits
    from edgeptm.measure.robustness import perturb
    from edgeptm.perturb import resolve_specs

    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("keep")
    specs = ["char_swap", "word_drop:0.3", "arabic_tatweel", "width_half", "code_switch"]
    refused = invoke(cli, "--artifact", finetuned, "--eval", "builtin:sample", "--out", users, "-p", "char_swap")
    assert refused.exit_code == 1 and "exists and was not made by edgeptm" in refused.stderr
    assert [p.name for p in users.iterdir()] == ["notes.txt"] and (users / "notes.txt").read_text() == "keep"
    out = tmp_path / "report"
    args = ["--artifact", finetuned, "--artifact", onnx_int8, "--eval", "builtin:sample", "--out", out, "--seed", "3"]
    r = invoke(cli, *args, *[x for s in specs for x in ("-p", s)])
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[-1] == (
        f"wrote {out}: report.json, report.md, heatmap-finetuned.png, heatmap-onnx-int8.png, diff-onnx-int8-vs-finetuned.png"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        ".edgeptm-output",  # what edgeptm made, and so may replace with --force
        "diff-onnx-int8-vs-finetuned.png",
        "heatmap-finetuned.png",
        "heatmap-onnx-int8.png",
        "report.json",
        "report.md",
    ]
    for png in out.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["language", "artifact", "clean_f1", "most"]
    assert [line.split()[:2] for line in lines[2:4]] == [["ar", "finetuned"], ["ar", "onnx-int8"]]

    result = json.loads((out / "report.json").read_text())
    assert [p["label"] for p in result["perturbations"]] == [
        "char_swap",
        "word_drop@0.3",
        "arabic_tatweel",
        "width_half",
        "code_switch",
    ]
    assert result["data"]["languages"]["hi"] == {"n": 18, "scripts": ["Devanagari"], "code": "hi"}
    torch_, int8 = result["artifacts"]
    assert (torch_["backend"], torch_["precision"], int8["backend"], int8["precision"]) == (
        "torch",
        "fp32",
        "onnx",
        "int8",
    )
    cells = int8["perturbations"]
    assert list(cells["arabic_tatweel"]["per_language"]) == ["ar"] and list(cells["width_half"]["per_language"]) == [
        "zh"
    ]
    assert list(cells["char_swap"]["per_language"]) == LANGS
    assert cells["char_swap"]["overall"]["changed"] == 1.0

    # The clean figures are evaluate()'s, and the flip rates are what the runner gives on the perturbed texts.
    clean = evaluate(plugins, onnx_int8, sample["test"], reference=onnx_int8)
    assert int8["clean"]["per_language"]["de"]["macro_f1"] == pytest.approx(clean["per_language"]["de"]["macro_f1"])
    done, _ = perturb(sample["test"], resolve_specs(plugins.perturbations(), ["word_drop:0.3"]), seed=3)
    with load_runner(plugins, onnx_int8) as runner:
        before = predict_logits(runner, sample["test"].texts).argmax(-1)
        after = predict_logits(runner, done[0].texts).argmax(-1)
    langs = np.asarray(sample["test"].languages)
    for lang in ("en", "zh"):
        flips = float(np.mean(before[langs == lang] != after[langs == lang]))
        assert cells["word_drop@0.3"]["per_language"][lang]["flip_rate"] == pytest.approx(flips)
        top = int8["most_damaging"][lang]
        assert len(top) == {"en": 3, "zh": 4}[lang] and [t["macro_f1_drop"] for t in top] == sorted(
            (t["macro_f1_drop"] for t in top), reverse=True
        )

    diff = result["differences"][0]
    assert (diff["artifact"], diff["baseline"]) == ("onnx-int8", "finetuned")
    d = diff["perturbations"]["char_swap"]["fr"]
    expected = (
        cells["char_swap"]["per_language"]["fr"]["flip_rate"]
        - torch_["perturbations"]["char_swap"]["per_language"]["fr"]["flip_rate"]
    )
    assert d["flip_rate"] == pytest.approx(expected)
    assert sorted(diff["per_language"]) == LANGS and 0 <= diff["per_language"]["ru"]["mean_disagreement"] <= 1
    md = (out / "report.md").read_text()
    assert "## onnx-int8 vs finetuned" in md and "![finetuned](heatmap-finetuned.png)" in md
    assert "| arabic_tatweel | " in md

    # Seeded: the same command gives the same report.
    again = invoke(
        cli, "--artifact", onnx_int8, "--eval", "builtin:sample", "--seed", "3", "-p", "word_drop:0.3", "--json"
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["artifacts"][0]["perturbations"]["word_drop@0.3"] == cells["word_drop@0.3"]


def test_recipe_stage_and_its_checks(plugins, tmp_path: Path, finetuned: Path) -> None:
    from edgeptm.recipes.pipeline import run_recipe
    from edgeptm.recipes.schema import validate_recipe

    recipe = {
        "name": "robust",
        "output": "out",
        "model": str(finetuned),
        "data": {"eval": "builtin:sample", "test": "builtin:sample"},
        "stages": [
            {"stage": "robustness", "perturbations": ["nope", "char_swap:3", "punct_remove"], "artifacts": ["onnx"]}
        ],
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(RecipeError) as err:
        validate_recipe(path, plugins)
    assert str(err.value).splitlines() == [
        f"{path}: 3 errors",
        "  stages[0].artifacts[0]: no earlier artifact 'onnx' (known: model)",
        "  stages[0].perturbations[0]: unknown perturbation 'nope'; `edgeptm robustness --list` shows the 29 registered",
        "  stages[0].perturbations[1]: perturbation 'char_swap': strength 3 is out of range; use 0 to 1 "
        "(share of letters changed, default 0.1)",
    ]
    recipe["stages"][0].update(perturbations=["char_swap", "punct_remove"], artifacts=None, max_per_language=6)
    path.write_text(yaml.safe_dump(recipe))
    logs: list[str] = []
    summary = run_recipe(path, plugins, log=logs.append)
    out = tmp_path / "out"
    assert (out / "robustness-0" / "report.md").is_file() and (out / "robustness-0" / "heatmap-model.png").is_file()
    saved = json.loads((out / "robustness-0.json").read_text())
    assert saved["data"]["n"] == 48 and [a["name"] for a in saved["artifacts"]] == ["model"]
    assert summary["robustness"] == saved
    md = (out / "summary.md").read_text()
    assert "## Robustness (through each backend's runner)" in md and "`robustness-0/report.md`" in md
    run_recipe(path, plugins, log=logs.append)
    assert logs[-2] == "skip robustness 0: inputs unchanged"


def test_evaluate_reports_zero_shot_transfer_by_language_name(cli, onnx_int8: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--artifact",
            str(onnx_int8),
            "--data",
            "builtin:sample",
            "--train-languages",
            "english,french",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    transfer = json.loads(r.stdout)[0]["transfer"]
    assert transfer["train_languages"] == ["english", "french"]
    assert list(transfer["in_language"]["per_language"]) == ["en", "fr"]
    assert list(transfer["zero_shot"]["per_language"]) == ["ar", "de", "es", "hi", "ru", "zh"]
    assert transfer["zero_shot"]["overall"]["n"] == 108
    r = CliRunner().invoke(
        cli, ["evaluate", "--artifact", str(onnx_int8), "--data", "builtin:sample", "--train-languages", "en"]
    )
    assert r.stdout.splitlines()[-1].startswith(f"{onnx_int8} zero_shot: n 126, accuracy ")
    assert r.stdout.splitlines()[-1].endswith(" (ar, de, es, fr, hi, ru, zh)")


def test_zero_shot_recipe_picks_the_checkpoint_on_the_training_languages(plugins, tmp_path: Path) -> None:
    from edgeptm.recipes.context import Context
    from edgeptm.recipes.schema import parse_recipe
    from edgeptm.recipes.stages.finetune import selection_data

    def selection(train_languages):
        recipe = parse_recipe(
            {
                "name": "zs",
                "output": "out",
                "model": "builtin:tiny-multilingual",
                "data": {"train": "builtin:sample", "eval": "builtin:sample", "train_languages": train_languages},
                "stages": [{"stage": "finetune"}],
            },
            tmp_path / "zs.yaml",
            plugins,
        )
        logs: list[str] = []
        chosen = selection_data(Context(recipe, tmp_path, tmp_path, plugins, logs.append))
        return chosen.language_set(), logs

    assert selection(["en"]) == (
        ["en"],
        ["  selecting the checkpoint on the eval examples in en (the training languages)"],
    )
    assert selection(None)[0] == LANGS


def test_a_perturbation_that_raises_is_reported_against_its_example(sample) -> None:
    from edgeptm.measure.robustness import perturb
    from edgeptm.perturb import Perturbation, Spec

    def broken(text, strength, rng, context):
        raise ValueError("no idea")

    data = sample["test"]
    with pytest.raises(PerturbationError) as err:
        perturb(data, [Spec(Perturbation("broken", "raises", broken), 0.1)])
    assert str(err.value) == f"perturbation 'broken' failed on {data.locations[0]}: ValueError: no idea"


def test_differences_name_where_the_second_artifact_lost_more() -> None:
    from edgeptm.measure.robustness import Perturbed, differences
    from edgeptm.perturb import Perturbation, Spec

    def cell(drop, flip):
        return {"macro_f1_drop": drop, "flip_rate": flip}

    def result(name, en, de):
        return {
            "name": name,
            "clean": {"per_language": {"en": {"macro_f1": 0.5}, "de": {"macro_f1": 0.6}}},
            "perturbations": {"p": {"per_language": {"en": cell(*en), "de": cell(*de)}}},
        }

    spec = Spec(Perturbation("p", "p", lambda t, s, r, c: t), 0.1)
    done = [Perturbed(spec, [], np.zeros(4, bool), ["en", "de"])]
    by_lang = {"en": np.array([0, 1]), "de": np.array([2, 3])}
    predictions = {
        "a": {"clean": np.array([0, 1, 2, 2]), "p": np.array([0, 0, 2, 2])},
        "b": {"clean": np.array([0, 1, 2, 2]), "p": np.array([1, 0, 2, 2])},
    }
    diff = differences(
        [result("a", (0.1, 0.2), (0.0, 0.1)), result("b", (0.3, 0.5), (0.0, 0.0))], predictions, done, by_lang
    )
    (d,) = diff
    assert d["perturbations"]["p"]["en"] == pytest.approx({"macro_f1_drop": 0.2, "flip_rate": 0.3, "disagreement": 0.5})
    assert d["per_language"]["en"]["worst"] == pytest.approx(
        {"perturbation": "p", "macro_f1_drop": 0.2, "flip_rate": 0.3, "disagreement": 0.5}
    )
    assert d["per_language"]["de"]["worst"] is None, "b lost nothing in German that a didn't"
    assert d["per_language"]["en"]["mean_flip_rate"] == pytest.approx({"a": 0.2, "b": 0.5})


def test_figures_say_when_a_perturbation_changed_nothing_the_model_sees(
    cli, tmp_path: Path, onnx_int8: Path, sample
) -> None:
    out = tmp_path / "report"
    args = ["--artifact", onnx_int8, "--eval", "builtin:sample", "--out", out, "--max-per-language", "6"]
    r = invoke(
        cli,
        *args,
        *("-p", "zero_width", "-p", "strip_diacritics", "-p", "char_swap"),
        *("--languages", "en,fr,zh", "--train-languages", "en"),
    )
    assert r.exit_code == 0, r.output
    result = json.loads((out / "report.json").read_text())
    assert [v["zero_shot"] for v in result["data"]["languages"].values()] == [False, True, True]
    cells = result["artifacts"][0]["perturbations"]
    # the tokenizer strips zero-width characters: every text altered, no token id changed, nothing re-run
    zw = cells["zero_width"]["per_language"]["en"]
    assert (zw["status"], zw["changed"], zw["tokens_changed"], zw["flip_rate"]) == (
        "no effect after tokenization",
        1.0,
        0.0,
        0.0,
    )
    # English has no accents to strip: not applicable, no figures rather than a 0.0 drop
    en = cells["strip_diacritics"]["per_language"]["en"]
    assert en["status"] == "not applicable" and en["macro_f1_drop"] is None and en["changed"] == 0.0
    fr = cells["strip_diacritics"]["per_language"]["fr"]
    assert fr["status"] == "measured" and 0 < fr["tokens_changed"] <= fr["changed"]
    assert cells["char_swap"]["per_language"]["zh"]["status"] == "measured"
    ranked = {d["perturbation"] for top in result["artifacts"][0]["most_damaging"].values() for d in top}
    assert "zero_width" not in ranked
    md = (out / "report.md").read_text()
    assert "| zero_width | no effect | no effect | no effect | no effect |" in md
    assert "| strip_diacritics | " in md and " n/a " in md
    assert "| char_swap | character | 0.1 | share of letters changed | en, fr, zh |" in md
    assert "untested: onnx-int8: zero_width: no effect in en, fr, zh" in r.stderr
    assert "untested: onnx-int8: strip_diacritics: n/a in en" in r.stderr
