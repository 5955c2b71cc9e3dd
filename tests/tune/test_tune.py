"""The search end to end on the tiny fine-tuned model, and its parts: the space, the limits, the front."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm.profiles import load_profile
from edgeptm.tune.pareto import choose, front, nondominated
from edgeptm.tune.search import accuracy_of, accuracy_problem
from edgeptm.tune.space import SearchSpace, candidates

ARGS = ["--profile", "x86-avx2-2core", "--backend", "onnx", "--precision", "fp32", "--precision", "int8",
        "--iterations", "3", "--no-progress", "--set", "max_drop=100", "--set", "max_language_drop=100",
        "--no-baseline"]  # fmt: skip
"""Accuracy limits out of the way (a tiny model's per-language F1 on 15 examples moves in big steps):
this test is about the cache, size limits and the choice; the limits have their own test. Without the
baseline (``--no-baseline``; it has its own tests in test_baseline_candidate.py), whose speed would decide
the choice here."""


def test_space_drops_duplicates_and_names_variants(plugins) -> None:
    profile = load_profile("x86-avx2-2core")
    space = SearchSpace(
        backends=["onnx"], per_channel=[True, False], calibration=["minmax", "entropy"], trim_vocab=[False, True]
    )
    made, unavailable = candidates(space, profile, plugins.backends())
    names = [c.name for c in made]
    # per_channel applies to int8 and int8-static, calibration only to int8-static; fp32 appears once per trim choice
    assert names == [
        "baseline-tfidf-linear",  # once, first: no dimension or transform applies to it
        "onnx-fp32", "onnx-fp32-trim",
        "onnx-int8", "onnx-int8-trim", "onnx-int8-per-tensor", "onnx-int8-per-tensor-trim",
        "onnx-int8-static", "onnx-int8-static-trim", "onnx-int8-static-entropy", "onnx-int8-static-entropy-trim",
        "onnx-int8-static-per-tensor", "onnx-int8-static-per-tensor-trim",
        "onnx-int8-static-per-tensor-entropy", "onnx-int8-static-per-tensor-entropy-trim",
        "onnx-int8-portable", "onnx-int8-portable-trim",
    ]  # fmt: skip
    assert dict(made[5].options) == {"per_channel": False, "weight_type": "auto"}
    assert made[2].transforms == (("trim_vocab", True),)
    assert unavailable == []


def test_space_says_why_a_profile_backend_cannot_run_here(plugins) -> None:
    made, unavailable = candidates(SearchSpace(precisions=["fp16"]), load_profile("jetson-orin"), plugins.backends())
    assert made == [] or all(c.backend == "onnx" for c in made)
    assert unavailable and unavailable[0].name == "cuda:cuda"
    assert (
        unavailable[0].reason.startswith("backend cuda is unavailable here: ") or "device cuda" in unavailable[0].reason
    )


def _acc(overall: float, per: dict[str, tuple[float, int]]) -> dict:
    return {"overall": {"macro_f1": overall, "accuracy": overall, "n": sum(n for _, n in per.values())},
            "per_language": {k: {"macro_f1": f, "accuracy": f, "n": n} for k, (f, n) in per.items()}}  # fmt: skip


def test_accuracy_limits_name_the_worst_language() -> None:
    profile = load_profile("x86-avx2-2core", {"max_language_drop": 1.0})
    ref = accuracy_of(_acc(0.80, {"ar": (0.70, 40), "en": (0.90, 40)}), None)  # type: ignore[arg-type]
    cand = accuracy_of(_acc(0.795, {"ar": (0.682, 40), "en": (0.905, 40)}), ref)  # type: ignore[arg-type]
    assert cand["worst_language"] == "ar"
    assert accuracy_problem(cand, profile) == "worst-language drop 1.8 > 1 (ar, n=40)"
    assert accuracy_problem(cand, load_profile("x86-avx2-2core", {"max_language_drop": 2.0, "max_drop": 0.4})) == (
        "overall drop 0.5 > 0.4"
    )
    assert accuracy_problem(cand, load_profile("x86-avx2-2core", {"max_language_drop": 2.0})) is None


def test_front_and_choice() -> None:
    points = {"a": (1.0, -0.8, 10.0), "b": (2.0, -0.9, 5.0), "c": (2.0, -0.8, 12.0), "d": (0.5, -0.5, 20.0)}
    assert nondominated(points) == ["d", "a", "b"]  # c: a is faster, as accurate and smaller

    def cand(name: str, p: tuple[float, float, float]) -> dict:
        return {"name": name, "timing": {"p50_ms": p[0]}, "size_mb": p[2],
                "accuracy": {"per_language": {"x": {"macro_f1": -p[1]}}, "worst_language": "x"}}  # fmt: skip

    cands = [cand(n, p) for n, p in points.items()]
    assert front(cands) == ["d", "a", "b"]  # type: ignore[arg-type]
    assert choose(cands, "latency")["name"] == "d"  # type: ignore[arg-type,index]
    assert choose(cands, "accuracy")["name"] == "b"  # type: ignore[arg-type,index]
    assert choose(cands, "size")["name"] == "b"  # type: ignore[arg-type,index]
    # within 5% of the fastest counts as a tie: the more accurate (then smaller) one wins
    tied = [cand("fast", (1.0, -0.80, 9.0)), cand("close", (1.03, -0.85, 9.0)), cand("far", (1.2, -0.9, 1.0))]
    assert choose(tied, "latency")["name"] == "close"  # type: ignore[arg-type,index]


@pytest.mark.slow
def test_tune_twice_reuses_the_cache_and_explains_rejections(cli, tmp_path: Path, finetuned: Path) -> None:
    first = tmp_path / "first"
    r = CliRunner().invoke(cli, ["tune", str(finetuned), *ARGS, "--out", str(first)])
    assert r.exit_code == 0, r.output
    one = json.loads((first / "tune.json").read_text())
    sizes = {c["name"]: c["size_mb"] for c in one["candidates"]}
    assert set(sizes) == {"onnx-fp32", "onnx-int8"} and sizes["onnx-int8"] < sizes["onnx-fp32"]
    assert one["chosen"] in sizes and (first / "chosen" / "edgeptm.json").is_file()
    reference = "fp32 (torch)" if one["chosen"] == "onnx-fp32" else "onnx-fp32"  # the same backend's fp32 when timed
    assert "chosen: " + one["chosen"] + f" vs {reference}: " in r.stdout
    # every timed candidate is on the front or dominated by one on it
    assert set(one["front"]) <= set(sizes)

    budget = round((sizes["onnx-fp32"] + sizes["onnx-int8"]) / 2, 3)
    second = tmp_path / "second"
    r = CliRunner().invoke(cli, ["tune", str(finetuned), *ARGS, "--set", f"storage_mb={budget}", "--out", str(second)])
    assert r.exit_code == 0, r.output
    two = json.loads((second / "tune.json").read_text())
    assert two["built_steps"] == 0 and two["cached_evaluations"] == 2  # nothing built or evaluated again
    assert all("timing" in c for c in two["candidates"] if c["name"] == "onnx-int8")  # but timed again
    assert f"  onnx-fp32: size {sizes['onnx-fp32']:.1f} MB > {budget:g} MB storage budget" in r.stdout.splitlines()
    assert two["chosen"] == "onnx-int8"
    md = (second / "tune.md").read_text()
    assert "- `onnx-fp32`: size" in md and "Chosen variant against fp32, per language:" in md
    assert (second / "report.html").is_file()


def test_space_has_distilled_students_and_int8_weight_types(plugins) -> None:
    space = SearchSpace(backends=["onnx"], precisions=["fp32", "int8"], weight_type=["auto", "u8"], distill=[None, 1])
    made, _ = candidates(space, load_profile("x86-avx2-2core"), plugins.backends())
    assert [c.name for c in made] == [
        "baseline-tfidf-linear", "onnx-fp32", "onnx-fp32-distill1",
        "onnx-int8", "onnx-int8-distill1", "onnx-int8-wu8", "onnx-int8-wu8-distill1",
    ]  # fmt: skip
    assert dict(made[5].options) == {"per_channel": True, "weight_type": "u8"}
    assert made[2].transforms == (("distill", 1),)


@pytest.mark.slow
def test_a_distilled_candidate_is_built_once_from_the_model(plugins, tmp_path: Path, finetuned: Path, sample) -> None:
    """The distill dimension builds a real student (1 of the teacher's 2 layers), exported like any model,
    and a second build of the same candidate finds it in the cache."""
    from transformers import AutoConfig

    from edgeptm.fsutil import fingerprint
    from edgeptm.manifest import read_manifest
    from edgeptm.tune.build import BuildCache

    space = SearchSpace(backends=["onnx"], precisions=["fp32"], distill=[1], baseline=False)
    (candidate,), _ = candidates(space, load_profile("x86-avx2-2core"), plugins.backends())
    cache = BuildCache(plugins, sample["train"], sample["eval"], log=lambda m: None, root=tmp_path / "cache")
    built = cache.artifact(candidate, finetuned, fingerprint("model", finetuned))
    assert built.steps_built == 2  # the student, then its export
    student = Path(read_manifest(built.path).source)
    assert AutoConfig.from_pretrained(student).num_hidden_layers == 1
    assert AutoConfig.from_pretrained(finetuned).num_hidden_layers == 2
    again = cache.artifact(candidate, finetuned, fingerprint("model", finetuned))
    assert again.steps_built == 0 and again.path == built.path
