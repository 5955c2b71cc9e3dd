"""Compact per-language tables: languages down, artifacts across, each macro-F1 with its 95% interval.

An artifact whose per-language scores all equal an earlier one's (an fp32 export of the model, a
quantization that changed no prediction) is folded into that column's heading instead of repeating
its rows, so the table stays as long as the language list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _scores(e: Mapping[str, Any]) -> tuple:
    return tuple(
        (lang, round(b["macro_f1"], 12), round(b.get("accuracy", -1.0), 12), b["n"])
        for lang, b in [("all", e["overall"]), *e["per_language"].items()]
    )


def fold_repeats(evaluations: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], list[str]]]:
    """Each distinct evaluation with the names of the later ones that repeat its scores exactly."""
    kept: list[tuple[Mapping[str, Any], list[str]]] = []
    for e in evaluations:
        same = next((k for k in kept if _scores(k[0]) == _scores(e)), None)
        if same is not None:
            same[1].append(name_of(e))
        else:
            kept.append((e, []))
    return kept


def name_of(e: Mapping[str, Any]) -> str:
    return e.get("name") or f"{e['backend']} {e['precision']}"


def interval_text(e: Mapping[str, Any], lang: str) -> str:
    block = e["overall"] if lang == "all" else e["per_language"].get(lang)
    if block is None:
        return "-"
    ci = e.get("intervals", {}).get(lang)
    mid = f"{100 * block['macro_f1']:.1f}"
    return f"{mid} [{100 * ci['low']:.1f}, {100 * ci['high']:.1f}]" if ci else mid


def language_table(evaluations: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """``language, n, <artifact> macro-F1 [95% CI]...`` with repeated artifacts folded (see module doc)."""
    kept = fold_repeats(evaluations)
    headers = ["language", "n"] + [
        name_of(e) + (f" (= {', '.join(same)})" if same else "") + " macro-F1 [95% CI]" for e, same in kept
    ]
    first = evaluations[0]
    langs = ["all", *first["per_language"]]
    rows = []
    for lang in langs:
        n = first["overall"]["n"] if lang == "all" else first["per_language"][lang]["n"]
        rows.append([lang, n, *[interval_text(e, lang) for e, _ in kept]])
    return headers, rows


def agreement_lines(evaluations: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per artifact compared with its fp32 source: predictions unchanged and max |Δlogit|, and the
    languages where predictions changed."""
    lines = []
    for e in evaluations:
        a = e.get("agreement")
        if not a:
            continue
        changed = [
            f"{lang} {b['agreement_pct']:.1f}%" for lang, b in a["per_language"].items() if b["agreement_pct"] < 100
        ]
        lines.append(
            f"- {name_of(e)}: {a['overall']['agreement_pct']:.1f}% of predictions unchanged vs fp32, max |Δlogit| "
            f"{a['overall']['max_abs_logit_diff']:.3g}" + (f"; changed in {', '.join(changed)}" if changed else "")
        )
    return lines + [""] if lines else []


def as_evaluation(name: str, accuracy: Mapping[str, Any]) -> dict[str, Any]:
    """A search's :class:`~edgeptm.tune.result.Accuracy` in the shape of an evaluation (for the tables)."""
    blocks = {"all": accuracy["overall"], **accuracy["per_language"]}
    return {
        "name": name,
        "overall": accuracy["overall"],
        "per_language": accuracy["per_language"],
        "intervals": {lang: b["interval"] for lang, b in blocks.items() if "interval" in b},
    }
