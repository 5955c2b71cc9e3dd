"""The TF-IDF baseline as a candidate of the search: where it is offered, its cache, and the search
choosing it when it wins under the profile's limits (and rejecting it, with why, when it loses)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm.errors import EdgeptmError
from edgeptm.profiles import load_profile
from edgeptm.tune.space import BASELINE_NAME, SearchSpace, candidates, load_space

FAST = ["--backend", "onnx", "--precision", "fp32", "--iterations", "3", "--no-progress", "--set", "latency_ms=10000"]
"""One transformer candidate (onnx-fp32) beside the baseline; a latency budget no run can miss, so the
outcome rests on accuracy and size (deterministic), never on this machine's load."""


def _names(space: SearchSpace, profile: str, plugins) -> list[str]:
    made, _ = candidates(space, load_profile(profile), plugins.backends())
    return [c.name for c in made]


def test_the_baseline_is_a_candidate_where_onnx_runs_on_the_cpu(plugins) -> None:
    made, unavailable = candidates(SearchSpace(precisions=["fp32"]), load_profile("rpi4"), plugins.backends())
    assert [c.name for c in made] == [BASELINE_NAME, "onnx-fp32"] and unavailable == []
    baseline = made[0].to_dict()
    assert baseline["kind"] == "tfidf-linear" and baseline["backend"] == "onnx" and baseline["precision"] == "fp32"
    assert baseline["baseline_options"]["ngram_max"] == 4 and baseline["transforms"] == {}
    assert made[1].to_dict()["kind"] == "transformer" and "baseline_options" not in made[1].to_dict()
    # the space's switch, a precision list without fp32, backends without onnx on the CPU
    assert BASELINE_NAME not in _names(SearchSpace(precisions=["fp32"], baseline=False), "rpi4", plugins)
    assert BASELINE_NAME not in _names(SearchSpace(precisions=["int8"]), "rpi4", plugins)
    assert BASELINE_NAME not in _names(SearchSpace(backends=["openvino:CPU"]), "x86-avx2-2core", plugins)
    assert BASELINE_NAME not in _names(SearchSpace(backends=["onnx:cuda"]), "x86-avx2-2core", plugins)
    # one baseline however many dimensions the transformer has, and its options from the space
    space = SearchSpace(precisions=["fp32", "int8"], trim_vocab=[False, True], baseline={"ngram_max": 3})
    made, _ = candidates(space, load_profile("x86-avx2-2core"), plugins.backends())
    baselines = [c for c in made if c.is_baseline]
    assert len(baselines) == 1 and dict(baselines[0].baseline)["ngram_max"] == 3


def test_baseline_options_in_a_space_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("baseline: {ngram_maxx: 3, c: -1}\n")
    with pytest.raises(EdgeptmError) as caught:
        load_space(path)
    assert str(caught.value) == (
        f"{path}: baseline: c: Input should be greater than 0; ngram_maxx: Extra inputs are not permitted"
    )
    assert load_space(None, baseline=False).baseline is False
    assert load_space(None).baseline_options() == load_space(None).model_validate({"baseline": {}}).baseline


def test_without_scikit_learn_the_baseline_is_listed_as_unavailable(plugins, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # how Python marks a module that can't be imported
    made, unavailable = candidates(SearchSpace(precisions=["fp32"]), load_profile("rpi4"), plugins.backends())
    assert [c.name for c in made] == ["onnx-fp32"]
    assert [(u.name, u.reason) for u in unavailable] == [
        (BASELINE_NAME, "the baseline needs skl2onnx: pip install 'edgeptm[train]'")
    ]


def test_the_baseline_is_trained_once_whatever_the_model(plugins, sample, tmp_path: Path) -> None:
    """Its key is its options and the data: a second build (from another model) finds it; other options
    train another; and the search's evaluation of it agrees with the trainer's own report."""
    from edgeptm.tune.build import BuildCache

    (baseline,) = [c for c in candidates(SearchSpace(), load_profile("rpi4"), plugins.backends())[0] if c.is_baseline]
    cache = BuildCache(plugins, sample["train"], sample["eval"], log=lambda m: None, root=tmp_path / "cache")
    built = cache.artifact(baseline, tmp_path / "model-a", "key-a")
    assert built.steps_built == 1 and json.loads((built.path / "edgeptm.json").read_text())["kind"] == "tfidf-linear"
    again = cache.artifact(baseline, tmp_path / "model-b", "key-b")
    assert again.steps_built == 0 and (again.key, again.path) == (built.key, built.path)
    (other,) = [
        c
        for c in candidates(SearchSpace(baseline={"ngram_max": 2}), load_profile("rpi4"), plugins.backends())[0]
        if c.is_baseline
    ]
    assert cache.artifact(other, tmp_path / "model-a", "key-a").key != built.key

    evaluation, fresh = cache.evaluation(built.key, built.path, device=None, threads=1)
    trainer = json.loads((built.path / "metrics.json").read_text())["eval"]
    assert fresh and evaluation["kind"] == "tfidf-linear"
    assert evaluation["overall"] == trainer["overall"] and evaluation["per_language"] == trainer["per_language"]
    assert cache.evaluation(built.key, built.path, device=None, threads=1) == (evaluation, False)


def _search(cli, finetuned: Path, out: Path, *args: str) -> tuple[dict, str]:
    """``tune`` with a cache of its own: what it builds doesn't depend on which tests ran before."""
    cache = out.parent / f"{out.name}.cache"
    r = CliRunner().invoke(
        cli,
        ["--cache-dir", str(cache), "tune", str(finetuned), "--profile", "x86-avx2-2core", *FAST, *args]
        + ["--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    return json.loads((out / "tune.json").read_text()), r.stdout


@pytest.mark.slow
def test_the_baseline_wins_is_chosen_and_ships(cli, tmp_path: Path, finetuned: Path, sample) -> None:
    """The fixture model is barely trained (macro-F1 near chance on the sample); the char n-gram baseline beats
    it overall. Chosen for accuracy, ``chosen/`` is the baseline, and it evaluates and bundles as measured."""
    import edgeptm_runtime
    from edgeptm.measure.bench import text_characters
    from edgeptm.report.tables import bench_rows
    from edgeptm.tune.pareto import worst_f1

    out = tmp_path / "tune"
    # zh: the baseline is a few points below the model there; 10 leaves room for it, 1 overall does not
    result, stdout = _search(cli, finetuned, out, "--objective", "accuracy", "--set", "max_language_drop=10")
    by_name = {c["name"]: c for c in result["candidates"]}
    assert set(by_name) == {"onnx-fp32", BASELINE_NAME}
    base, model = by_name[BASELINE_NAME], by_name["onnx-fp32"]
    assert model["status"] == "fits" and base["status"] == "chosen" and result["chosen"] == BASELINE_NAME
    assert worst_f1(base["accuracy"]) > worst_f1(model["accuracy"])
    ref = result["reference"]["accuracy"]
    # a baseline better than the model has a negative drop, in points
    assert base["accuracy"]["overall"]["drop"] == pytest.approx(
        100 * (ref["overall"]["macro_f1"] - base["accuracy"]["overall"]["macro_f1"])
    )
    assert base["accuracy"]["overall"]["drop"] < -1
    assert base["spec"]["kind"] == "tfidf-linear" and base["built_steps"] == 1

    # timed on the benchmark text the model reads as min(profile 128, model max_length 64) tokens, in characters
    timing = base["timing"]
    assert timing["seq_unit"] == "characters" and timing["text_of_tokens"] == 64
    assert timing["seq_length"] == text_characters(finetuned, 64)
    assert model["timing"]["seq_unit"] == "tokens" and model["timing"]["seq_length"] == 64

    # the headline compares it with the torch model, not with the transformer's onnx export
    delta = 100 * (base["accuracy"]["overall"]["macro_f1"] - ref["overall"]["macro_f1"])
    assert f"chosen: {BASELINE_NAME} vs fp32 (torch): " in stdout
    assert f"macro-F1 +{delta:.1f} overall" in stdout
    note = f"{BASELINE_NAME} is the baseline: a char n-gram TF-IDF + logistic regression"
    assert note in stdout and note in (out / "tune.md").read_text() and note in (out / "report.html").read_text()
    assert f"timed on {timing['seq_length']} characters (the text of 64 tokens)" in stdout

    # chosen/ is the baseline: evaluate gives the search's figures, and its bundle predicts the same on the device
    chosen = out / "chosen"
    assert json.loads((chosen / "edgeptm.json").read_text())["kind"] == "tfidf-linear"
    r = CliRunner().invoke(
        cli, ["evaluate", "--artifact", str(chosen), "--data", "builtin:sample", "--split", "eval", "--json"]
    )
    assert r.exit_code == 0, r.output
    evaluated = json.loads(r.stdout)
    evaluated = evaluated[0] if isinstance(evaluated, list) else evaluated
    assert evaluated["overall"]["macro_f1"] == pytest.approx(base["accuracy"]["overall"]["macro_f1"])
    r = CliRunner().invoke(cli, ["bundle", str(chosen), "--out", str(tmp_path / "bundle")])
    assert r.exit_code == 0, r.output
    with edgeptm_runtime.load(tmp_path / "bundle") as clf:
        labels = [p.label for p in clf.predict(sample["eval"].texts)]
    accuracy = sum(a == b for a, b in zip(labels, sample["eval"].labels)) / len(labels)
    assert accuracy == pytest.approx(evaluated["overall"]["accuracy"])

    # bench says what its sequence length counts for a raw-text model, as an artifact and as a bundle
    bench = ["bench", "--artifact", str(chosen), "--artifact", str(tmp_path / "bundle"), "--batch-sizes", "1",
             "--seq-lengths", "50", "--warmup", "0", "--iterations", "2"]  # fmt: skip
    r = CliRunner().invoke(cli, [*bench, "--json"])
    assert r.exit_code == 0, r.output
    measured = json.loads(r.stdout)
    assert [(b["seq_unit"], b["measurements"][0]["seq_length"]) for b in measured] == [("characters", 50)] * 2
    assert [row[4] for row in bench_rows(measured)[1]] == ["50 chars", "50 chars"]


@pytest.mark.slow
def test_a_weak_baseline_is_rejected_with_its_worst_language_drop(cli, tmp_path: Path, finetuned: Path) -> None:
    """Three unigram features: near chance, below the model in some languages; the profile's 2-point
    language limit rejects it before it is timed, naming the language, its drop and n."""
    space = tmp_path / "space.yaml"
    space.write_text("baseline: {ngram_max: 1, max_features: 3, min_df: 1}\n")
    result, stdout = _search(cli, finetuned, tmp_path / "tune", "--space", str(space))
    base = next(c for c in result["candidates"] if c["name"] == BASELINE_NAME)
    ref = result["reference"]["accuracy"]["per_language"]
    drops = {
        lang: 100 * (ref[lang]["macro_f1"] - s["macro_f1"]) for lang, s in base["accuracy"]["per_language"].items()
    }
    worst = base["accuracy"]["worst_language"]
    assert drops[worst] == pytest.approx(max(drops.values())) and drops[worst] > 2
    n = base["accuracy"]["per_language"][worst]["n"]
    reason = f"worst-language drop {drops[worst]:.1f} > 2 ({worst}, n={n})"
    assert base["status"] == "rejected" and base["reason"] == reason and "timing" not in base
    assert f"  {BASELINE_NAME}: {reason}" in stdout.splitlines()
    assert result["chosen"] == "onnx-fp32"


@pytest.mark.slow
def test_tune_reads_data_through_the_shared_options(cli, tmp_path: Path, finetuned: Path, sample) -> None:
    """A folder with ``valid.csv`` and a ``category`` column; ``--languages`` keeps two languages in both
    splits: the accuracy is on their eval examples only, and the baseline trains on their examples only."""
    import csv

    folder = tmp_path / "data"
    folder.mkdir()
    for split, name in (("train", "train.csv"), ("eval", "valid.csv")):
        with (folder / name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "category", "language"])
            writer.writerows(zip(sample[split].texts, sample[split].labels, sample[split].languages))
    data = ["--train", str(folder), "--eval", str(folder), "--label-column", "category", "--split", "eval=valid.csv"]
    result, _ = _search(cli, finetuned, tmp_path / "tune", *data, "--languages", "de,ru", "--set", "max_drop=100",
                        "--set", "max_language_drop=100")  # fmt: skip
    kept = {lang: sample["eval"].languages.count(lang) for lang in ("de", "ru")}
    ref = result["reference"]["accuracy"]
    assert {lang: s["n"] for lang, s in ref["per_language"].items()} == kept
    assert result["eval_n"] == ref["overall"]["n"] == sum(kept.values())
    base = next(c for c in result["candidates"] if c["name"] == BASELINE_NAME)
    assert {lang: s["n"] for lang, s in base["accuracy"]["per_language"].items()} == kept
    manifest = json.loads((Path(base["artifact"]) / "edgeptm.json").read_text())
    assert manifest["export_info"]["train_languages"] == {
        lang: sample["train"].languages.count(lang) for lang in ("de", "ru")
    }
