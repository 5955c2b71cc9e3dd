"""report.html from a small recipe run: its content, its fallback without matplotlib, and a real
render in headless Chromium (screenshot kept in ``test-artifacts/``)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
"""Kept test output (git-ignored): the report screenshot."""

CHECK = """(async () => {
  const imgs = [...document.images];
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth > 0, () => false)));
  const pareto = document.getElementById('pareto');
  return {
    headline: (document.getElementById('headline') || {}).textContent || null,
    points: document.querySelectorAll('#pareto [id^="pareto-point-"] path, #pareto [id^="pareto-point-"] use').length,
    groups: document.querySelectorAll('#pareto [id^="pareto-point-"]').length,
    paretoHeight: pareto ? pareto.getBoundingClientRect().height : 0,
    images: imgs.map((i, k) => ({alt: i.alt, decoded: decoded[k]})),
    bodyHeight: document.body.scrollHeight,
  };
})()"""


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory, finetuned: Path, plugins) -> Path:
    """A recipe over the tiny fine-tuned model: export, int8, evaluate, robustness, bench and a tune stage."""
    from edgeptm.recipes.pipeline import run_recipe

    root = tmp_path_factory.mktemp("report-run")
    recipe = {
        "name": "report-demo",
        "description": "tiny model, report test",
        "output": "out",
        "model": str(finetuned),
        "data": {"train": "builtin:sample", "eval": "builtin:sample", "test": "builtin:sample"},
        "stages": [
            {"stage": "export", "name": "onnx-fp32", "backend": "onnx"},
            {"stage": "quantize", "name": "onnx-int8", "from": "onnx-fp32", "precision": "int8"},
            {"stage": "evaluate", "split": "test"},
            {"stage": "robustness", "split": "test", "artifacts": ["model", "onnx-int8"],
             "perturbations": ["char_swap", "word_drop"], "max_per_language": 6},
            {"stage": "bench", "batch_sizes": [1], "seq_lengths": [32], "threads": 1, "warmup": 1, "iterations": 3},
            {"stage": "tune", "profile": "x86-avx2-2core", "iterations": 3, "set": {"max_drop": 100, "max_language_drop": 100},
             "space": {"backends": ["onnx"], "precisions": ["fp32", "int8"]}},
        ],
    }  # fmt: skip
    (root / "r.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    run_recipe(root / "r.yaml", plugins, log=lambda m: None)
    return root / "out"


def _timed(out: Path) -> list[dict]:
    tune = json.loads((out / "summary.json").read_text())["tune"]["x86-avx2-2core"]
    return [c for c in tune["candidates"] if "timing" in c]


@pytest.mark.slow
def test_report_is_self_contained_with_headline_plot_and_tables(report_run: Path) -> None:
    page = (report_run / "report.html").read_text()
    summary = json.loads((report_run / "summary.json").read_text())
    tune = summary["tune"]["x86-avx2-2core"]
    # the same backend's fp32 export when timed; the torch model for that export itself and for the baseline
    reference = "onnx-fp32" if tune["chosen"] == "onnx-int8" else "fp32 (torch)"
    assert re.search(rf'id="headline">{tune["chosen"]} vs {re.escape(reference)}: [\d.]+× (smaller|larger), ', page)
    assert len(re.findall(r'id="pareto-point-\d+"', page)) == len(_timed(report_run)) == 3  # with the baseline
    assert "baseline-tfidf-linear is the baseline: a char n-gram TF-IDF" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3  # model and onnx-int8 heatmaps, and their difference
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page and "<link" not in page
    for heading in ("Accuracy per language", "Robustness", "Benchmark", "Stage timings", "p99/p50"):
        assert heading in page
    md = (report_run / "summary.md").read_text()
    assert f"**{tune['chosen']} vs {reference}: " in md
    assert re.search(r"\| all \| 120 \| [\d.]+ \[[\d.]+, [\d.]+\] \|", md)  # intervals in the summary


@pytest.mark.slow
def test_summary_folds_repeated_artifacts(report_run: Path) -> None:
    """``onnx-fp32`` predicts exactly like the torch model here, so it shares its column."""
    from edgeptm.report.compact import language_table

    evals = json.loads((report_run / "summary.json").read_text())["evaluation"]
    headers, rows = language_table(evals)
    same = [
        e["name"]
        for e in evals[1:]
        if e["per_language"] == evals[0]["per_language"] and e["overall"] == evals[0]["overall"]
    ]
    assert len(headers) == 2 + len(evals) - len(same)
    assert len(rows) == 1 + len(evals[0]["per_language"])


@pytest.mark.slow
def test_report_without_matplotlib_keeps_the_tables(report_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeptm.report import charts
    from edgeptm.report.html import run_report

    monkeypatch.setattr(charts, "available", lambda: False)
    summary = json.loads((report_run / "summary.json").read_text())
    page = run_report("t", "", summary, None, None)
    assert "<svg" not in page and 'id="plots-missing"' in page and html.escape(charts.MISSING) in page
    assert "<table" in page and 'id="headline"' in page


def _problems(rendered, expected_points: int) -> list[str]:
    value = rendered.value
    problems = [f"console/page error: {e}" for e in rendered.errors]
    if not value.get("headline") or not re.search(r" vs \S.*: .*macro-F1 ", value["headline"]):
        problems.append(f"no headline: {value.get('headline')!r}")
    if value["groups"] != expected_points or value["points"] < expected_points:
        problems.append(
            f"Pareto plot shows {value['groups']} points ({value['points']} marks), expected {expected_points}"
        )
    if value["paretoHeight"] < 100:
        problems.append(f"Pareto plot is {value['paretoHeight']} px high")
    problems += [f"image {i['alt']!r} does not decode" for i in value["images"] if not i["decoded"]]
    if not rendered.screenshot.startswith(b"\x89PNG"):
        problems.append("no screenshot")
    return problems


def _browser() -> str:
    from edgeptm.testing.browser import find_chromium

    found = find_chromium()
    if found is None:
        if os.environ.get("EDGEPTM_REQUIRE_BROWSER"):
            pytest.fail("EDGEPTM_REQUIRE_BROWSER is set but no chromium is on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (.ci/run installs it)")
    return found


@pytest.mark.slow
def test_report_renders_in_chromium(report_run: Path) -> None:
    from edgeptm.testing.browser import render

    rendered = render(report_run / "report.html", CHECK, browser=_browser())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-screenshot.png").write_bytes(rendered.screenshot)
    assert _problems(rendered, len(_timed(report_run))) == []
    assert len(rendered.value["images"]) == 3 and rendered.value["bodyHeight"] > 1500


@pytest.mark.slow
def test_the_browser_check_catches_a_broken_page(report_run: Path, tmp_path: Path) -> None:
    """The same checks on a broken copy: a corrupt image, a console error, a missing point, no headline."""
    from edgeptm.testing.browser import render

    page = (report_run / "report.html").read_text()
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/]{40}", "data:image/png;base64,AAAA", page, count=1)
    page = page.replace('id="headline"', 'id="lost"').replace('id="pareto-point-0"', 'id="gone"')
    page = page.replace("</body>", "<script>console.error('boom')</script></body>")
    broken = tmp_path / "broken.html"
    broken.write_text(page)
    problems = _problems(render(broken, CHECK, browser=_browser()), len(_timed(report_run)))
    assert any(p.startswith("console/page error: console: boom") for p in problems), problems
    assert any(p.startswith("no headline") for p in problems)
    assert any(p.startswith(f"Pareto plot shows {len(_timed(report_run)) - 1} points") for p in problems)
    assert any(p.endswith("does not decode") for p in problems)
