"""A search's result as text (the CLI) and Markdown (``tune.md``, the recipe summary)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edgeptm.report.compact import as_evaluation, language_table
from edgeptm.report.headline import from_tune
from edgeptm.report.tables import markdown_table, text_table
from edgeptm.tune.pareto import worst_f1
from edgeptm.tune.result import timed_input


def rejection_lines(result: Mapping[str, Any]) -> list[str]:
    """``name: reason`` for each candidate not kept."""
    return [f"{c['name']}: {c['reason']}" for c in result["candidates"] if c["status"] not in ("chosen", "fits")]


def where_line(result: Mapping[str, Any]) -> str:
    line = f"Latency and RSS measured on this machine: {result['machine']} (load {result.get('load_1min')})."
    if result.get("measured_elsewhere"):
        line += (
            f" The profile describes another device ({result['profile']['cpu']}): {result['measured_elsewhere']};"
            " these are not the device's own times."
        )
    return line


def baseline_line(result: Mapping[str, Any]) -> str | None:
    """What the baseline candidate is, how it was timed and how it compares, when the search built one."""
    from edgeptm.manifest import TFIDF_LINEAR

    c = next((c for c in result["candidates"] if c["spec"].get("kind") == TFIDF_LINEAR), None)
    if c is None:
        return None
    line = (
        f"{c['name']} is the baseline: a char n-gram TF-IDF + logistic regression trained on the same training "
        "split (`edgeptm baseline`), an fp32 ONNX model that reads raw text"
    )
    if "accuracy" in c:
        delta = -c["accuracy"]["overall"]["drop"]
        line += f"; macro-F1 {delta:+.1f} points against the model"
    if "timing" in c:
        line += f"; timed on {timed_input(c['timing'])}, the benchmark text the model reads"
    return line + "."


def front_rows(result: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = []
    by_name = {c["name"]: c for c in result["candidates"]}
    for name in result["front"]:
        c = by_name[name]
        acc, t = c["accuracy"], c["timing"]
        rows.append(
            [name, c["status"], t["p50_ms"], t["p99_ms"], t["peak_rss_mb"], c["size_mb"], 100 * acc["overall"]["macro_f1"],
             100 * worst_f1(acc), f"{acc['worst_language']} {acc['per_language'][acc['worst_language']]['drop']:+.1f}"]
        )  # fmt: skip
    headers = [
        "variant",
        "status",
        "p50 ms",
        "p99 ms",
        "peak RSS MB",
        "size MB",
        "macro-F1",
        "worst-lang F1",
        "largest drop",
    ]
    return headers, rows


def _cache_line(result: Mapping[str, Any]) -> str:
    tried = [c for c in result["candidates"] if "key" in c]
    return (
        f"{len(tried)} candidates built or found: {result['built_steps']} build steps made this run, "
        f"{result['cached_evaluations']} evaluations from the cache; {result['seconds']:.0f} s."
    )


def text_report(result: Mapping[str, Any]) -> str:
    h = from_tune(result)
    lines = [
        f"profile {result['profile']['name']}: {result['profile']['description']}",
        where_line(result),
        _cache_line(result),
        "",
    ]
    lines += ["front (latency x worst-language macro-F1 x size):", text_table(*front_rows(result)), ""]
    kept = [c["name"] for c in result["candidates"] if c["status"] == "fits"]
    if kept:
        lines += [f"also fit the profile: {', '.join(kept)}", ""]
    rejected = rejection_lines(result)
    if rejected:
        lines += ["rejected:", *[f"  {r}" for r in rejected], ""]
    baseline = baseline_line(result)
    if baseline:
        lines += [baseline, ""]
    lines.append(f"chosen: {h.text()}" if h else "chosen: none fits the profile (see the reasons above)")
    return "\n".join(lines)


def markdown_report(result: Mapping[str, Any]) -> list[str]:
    h = from_tune(result)
    md = [f"## Search for {result['profile']['name']}", ""]
    md += [
        f"**{h.text()}**" if h else "**No candidate fits the profile.**",
        "",
        where_line(result),
        "",
        _cache_line(result),
        "",
    ]
    md += ["Pareto front (latency × worst-language macro-F1 × size):", "", markdown_table(*front_rows(result)), ""]
    baseline = baseline_line(result)
    if baseline:
        md += [baseline, ""]
    chosen = next((c for c in result["candidates"] if c["status"] == "chosen"), None)
    if chosen:
        evals = [as_evaluation(result["reference"]["name"], result["reference"]["accuracy"]),
                 as_evaluation(chosen["name"], chosen["accuracy"])]  # fmt: skip
        md += ["Chosen variant against fp32, per language:", "", markdown_table(*language_table(evals)), ""]
    rejected = rejection_lines(result)
    if rejected:
        md += ["Rejected:", "", *[f"- `{r.split(': ', 1)[0]}`: {r.split(': ', 1)[1]}" for r in rejected], ""]
    return md
