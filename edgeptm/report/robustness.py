"""The robustness report: Markdown, JSON and PNG heatmaps, written into one folder atomically."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgeptm.fsutil import atomic_dir, atomic_write_text, write_json
from edgeptm.report.tables import markdown_table

INTRO = (
    "Drops are clean − perturbed macro-F1 in points (positive: worse). The flip rate is the share of "
    "predictions that change versus clean on the same example. `all` pools the languages a perturbation "
    "applies to; a dash: it does not apply to that language's script. `n/a` (not applicable): the "
    "perturbation altered none of the texts, so nothing was tested; `no effect`: it altered texts but the "
    "artifact's tokenizer gives the same token ids (e.g. it strips zero-width characters), so the model saw "
    "the clean input. The *altered / retokenized* table gives, per language, the share of texts whose "
    "characters changed and the share whose token ids changed."
)
BLANK = {"not applicable": "n/a", "no effect after tokenization": "no effect"}
"""How the tables and heatmaps mark a cell without figures of its own."""


def _pts(x: float) -> float:
    return 100.0 * x


def _damage(entry: dict[str, Any]) -> str:
    return f"{entry['perturbation']} ({_pts(entry['macro_f1_drop']):+.1f}, flip {_pts(entry['flip_rate']):.0f}%)"


def _languages(result: Mapping[str, Any]) -> list[str]:
    return list(result["data"]["languages"])


def clean_table(result: Mapping[str, Any]) -> str:
    """Clean accuracy and macro-F1 per language, artifacts side by side."""
    arts = result["artifacts"]
    headers = ["language", "n"] + [f"{a['name']} {m}" for a in arts for m in ("accuracy", "macro-F1")]
    rows = []
    for lang in ["all", *_languages(result)]:
        blocks = [a["clean"]["overall"] if lang == "all" else a["clean"]["per_language"][lang] for a in arts]
        rows.append([lang, blocks[0]["n"], *[_pts(b[m]) for b in blocks for m in ("accuracy", "macro_f1")]])
    return markdown_table(headers, rows)


def damage_table(result: Mapping[str, Any], top: int | None = None) -> str:
    """Per language and artifact: clean macro-F1 and the most damaging perturbations (drop, flip rate)."""
    arts = result["artifacts"]
    n = top or max((len(v) for a in arts for v in a["most_damaging"].values()), default=0)
    rows = []
    for lang in _languages(result):
        for a in arts:
            ranked = a["most_damaging"][lang][:n]
            rows.append(
                [
                    lang,
                    a["name"],
                    _pts(a["clean"]["per_language"][lang]["macro_f1"]),
                    *[_damage(e) for e in ranked],
                    *[""] * (n - len(ranked)),
                ]
            )
    return markdown_table(["language", "artifact", "clean macro-F1", *[f"#{i + 1}" for i in range(n)]], rows)


def _blank(cell: Mapping[str, Any]) -> str | None:
    """``n/a`` or ``no effect`` for a cell without figures of its own, ``None`` for a measured one."""
    return BLANK.get(cell.get("status", "measured"))


def matrix(result: Mapping[str, Any], artifact: dict[str, Any], key: str) -> tuple[list[str], list[str], np.ndarray]:
    """Perturbation × (all + languages) matrix of ``key`` in points; NaN where it doesn't apply, and, for the
    drop and the flip rate, where it was not applicable or had no effect after tokenization (see :func:`blanks`)."""
    rows = [p["label"] for p in result["perturbations"]]
    cols = ["all", *_languages(result)]
    m = np.full((len(rows), len(cols)), np.nan)
    share = key in ("changed", "tokens_changed")
    for r, label in enumerate(rows):
        cell = artifact["perturbations"][label]
        blocks = [cell["overall"], *[cell["per_language"].get(lang) for lang in cols[1:]]]
        for c, block in enumerate(blocks):
            if block is not None and (share or _blank(block) is None):
                m[r, c] = _pts(block[key])
    return rows, cols, m


def blanks(result: Mapping[str, Any], artifact: dict[str, Any]) -> np.ndarray:
    """Perturbation × (all + languages) labels of the cells without figures: ``-`` where it doesn't apply,
    ``n/a`` or ``no effect``; empty where measured."""
    rows = [p["label"] for p in result["perturbations"]]
    cols = ["all", *_languages(result)]
    out = np.full((len(rows), len(cols)), "-", dtype=object)
    for r, label in enumerate(rows):
        cell = artifact["perturbations"][label]
        blocks = [cell["overall"], *[cell["per_language"].get(lang) for lang in cols[1:]]]
        for c, block in enumerate(blocks):
            if block is not None:
                out[r, c] = _blank(block) or ""
    return out


def diff_matrix(result: Mapping[str, Any], diff: dict[str, Any], key: str) -> tuple[list[str], list[str], np.ndarray]:
    rows = [p["label"] for p in result["perturbations"]]
    cols = _languages(result)
    m = np.full((len(rows), len(cols)), np.nan)
    for r, label in enumerate(rows):
        for c, lang in enumerate(cols):
            if lang in diff["perturbations"][label]:
                m[r, c] = _pts(diff["perturbations"][label][lang][key])
    return rows, cols, m


def _matrix_table(
    rows: list[str],
    cols: list[str],
    a: np.ndarray,
    b: np.ndarray,
    blank: np.ndarray | None = None,
    fmt: str = "{:.1f} / {:.0f}",
) -> str:
    cells = [
        [
            label,
            *[
                ((blank[i, j] if blank is not None and blank[i, j] else "-") if np.isnan(x) else fmt.format(x, y))
                for j, (x, y) in enumerate(zip(a[i], b[i]))
            ],
        ]
        for i, label in enumerate(rows)
    ]
    return markdown_table(["perturbation", *cols], cells)


def strength_table(result: Mapping[str, Any]) -> str:
    """What each perturbation's strength means, and where it applied."""
    rows = [
        [p["label"], p["family"], f"{p['strength']:g}", p.get("strength_unit", ""), ", ".join(p["languages"])]
        for p in result["perturbations"]
    ]
    return markdown_table(["perturbation", "family", "strength", "strength means", "languages"], rows)


def difference_table(diff: dict[str, Any]) -> str:
    """Per language: clean macro-F1, mean drop and flip rate of both artifacts, and the perturbation that hurt most extra."""
    a, b = diff["baseline"], diff["artifact"]
    rows = []
    for lang, d in diff["per_language"].items():
        w = d["worst"]
        rows.append(
            [
                lang,
                _pts(d["clean_macro_f1"][a]),
                _pts(d["clean_macro_f1"][b]),
                _pts(d["mean_macro_f1_drop"][a]),
                _pts(d["mean_macro_f1_drop"][b]),
                _pts(d["mean_flip_rate"][a]),
                _pts(d["mean_flip_rate"][b]),
                _pts(d["clean_disagreement"]),
                _pts(d["mean_disagreement"]),
                f"{w['perturbation']} ({_pts(w['macro_f1_drop']):+.1f} drop, {_pts(w['flip_rate']):+.1f} flip)"
                if w
                else "none",
            ]
        )
    headers = [
        "language",
        f"clean F1 {a}",
        f"clean F1 {b}",
        f"mean drop {a}",
        f"mean drop {b}",
        f"mean flip % {a}",
        f"mean flip % {b}",
        "disagree % clean",
        "disagree % perturbed",
        f"worst for {b} (Δ vs {a})",
    ]
    return markdown_table(headers, rows)


def markdown(result: Mapping[str, Any], images: dict[str, str] | None = None) -> str:
    """The full report."""
    d = result["data"]
    langs = ", ".join(
        f"{lang} ({'/'.join(v['scripts']) or '?'}, n {v['n']}{', zero-shot' if v.get('zero_shot') else ''})"
        for lang, v in d["languages"].items()
    )
    md = [
        "# Robustness",
        "",
        f"Data: `{d['source']}`, {d['n']} examples; languages: {langs}. Seed {result['seed']}; "
        f"{len(result['perturbations'])} perturbations, measured through each artifact's backend runner.",
        "",
        INTRO,
        "",
    ]
    md += ["## Clean", "", clean_table(result), ""]
    md += [
        "## Most damaging perturbations per language",
        "",
        "Each: macro-F1 drop in points, flip rate.",
        "",
        damage_table(result),
        "",
    ]
    md += ["## Perturbations and their strengths", "", strength_table(result), ""]
    for art in result["artifacts"]:
        rows, cols, drop = matrix(result, art, "macro_f1_drop")
        _, _, flip = matrix(result, art, "flip_rate")
        _, _, altered = matrix(result, art, "changed")
        _, _, retokenized = matrix(result, art, "tokens_changed")
        md += [f"## {art['name']} ({art['backend']} {art['precision']}): macro-F1 drop / flip rate %", ""]
        if images and art["name"] in images:
            md += [f"![{art['name']}]({images[art['name']]})", ""]
        md += [_matrix_table(rows, cols, drop, flip, blanks(result, art)), ""]
        md += [
            f"Texts altered % / token ids changed % ({art['name']}'s tokenizer):",
            "",
            _matrix_table(rows, cols, altered, retokenized, fmt="{:.0f} / {:.0f}"),
            "",
        ]
    for diff in result["differences"]:
        md += [
            f"## {diff['artifact']} vs {diff['baseline']}",
            "",
            "Deltas are artifact − baseline; positive: the artifact loses more robustness.",
            "",
            difference_table(diff),
            "",
        ]
        key = f"{diff['artifact']} vs {diff['baseline']}"
        if images and key in images:
            md += [f"![{key}]({images[key]})", ""]
        rows, cols, drop = diff_matrix(result, diff, "macro_f1_drop")
        _, _, flip = diff_matrix(result, diff, "flip_rate")
        md += ["Δ macro-F1 drop / Δ flip rate, in points:", "", _matrix_table(rows, cols, drop, flip), ""]
    if untested := unmeasured(result):
        md += ["## Untested", "", "`n/a`: no text altered; `no effect`: same token ids as clean.", ""]
        md += [f"- {line}" for line in untested] + [""]
    if result["skipped"]:
        md += ["## Skipped", ""] + [f"- {s['message']}" for s in result["skipped"]] + [""]
    return "\n".join(md)


def unmeasured(result: Mapping[str, Any]) -> list[str]:
    """One line per artifact and perturbation that went untested somewhere: where it was not applicable
    (it altered no text) and where it had no effect after tokenization."""
    lines = []
    for art in result["artifacts"]:
        for label, cell in art["perturbations"].items():
            by_status: dict[str, list[str]] = {}
            for lang, block in cell["per_language"].items():
                if (mark := _blank(block)) is not None:
                    by_status.setdefault(mark, []).append(lang)
            parts = [f"{mark} in {', '.join(langs)}" for mark, langs in sorted(by_status.items())]
            if parts:
                lines.append(f"{art['name']}: {label}: {'; '.join(parts)}")
    return lines


def summary_markdown(result: Mapping[str, Any]) -> list[str]:
    """A compact version for the recipe summary: clean scores, top three per language, differences."""
    md = [
        "## Robustness (through each backend's runner)",
        "",
        INTRO,
        "",
        clean_table(result),
        "",
        damage_table(result, top=3),
        "",
    ]
    if untested := unmeasured(result):
        md += ["Untested (`n/a`: no text altered; `no effect`: same token ids as clean):", ""]
        md += [f"- {line}" for line in untested] + [""]
    for diff in result["differences"]:
        md += [f"**{diff['artifact']} vs {diff['baseline']}**", "", difference_table(diff), ""]
    return md


def _slug(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "artifact"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}-{i}", i + 1
    taken.add(slug)
    return slug


def write_report(out: Path, result: Mapping[str, Any]) -> list[str]:
    """Write ``report.json``, ``report.md`` and the heatmaps into ``out`` (replaced atomically); return file names."""
    from edgeptm.report import charts
    from edgeptm.report.plots import draw

    taken: set[str] = set()
    images: dict[str, str] = {}
    plots = charts.available()  # without the report extra: the tables alone
    with atomic_dir(Path(out), kind="report") as tmp:
        for art in result["artifacts"] if plots else []:
            rows, cols, drop = matrix(result, art, "macro_f1_drop")
            _, _, flip = matrix(result, art, "flip_rate")
            _, _, retokenized = matrix(result, art, "tokens_changed")
            name = f"heatmap-{_slug(art['name'], taken)}.png"
            draw(
                tmp / name,
                [
                    ("macro-F1 drop (points)", drop, True),
                    ("flip rate (%)", flip, False),
                    ("texts whose token ids changed (%)", retokenized, False),
                ],
                rows,
                cols,
                f"{art['name']} ({art['backend']} {art['precision']})",
                blank=blanks(result, art),
            )
            images[art["name"]] = name
        for diff in result["differences"] if plots else []:
            rows, cols, drop = diff_matrix(result, diff, "macro_f1_drop")
            _, _, flip = diff_matrix(result, diff, "flip_rate")
            key = f"{diff['artifact']} vs {diff['baseline']}"
            name = f"diff-{_slug(diff['artifact'] + '-vs-' + diff['baseline'], taken)}.png"
            draw(
                tmp / name,
                [("Δ macro-F1 drop (points)", drop, True), ("Δ flip rate (points)", flip, True)],
                rows,
                cols,
                f"{key}: positive = {diff['artifact']} loses more",
            )
            images[key] = name
        write_json(tmp / "report.json", result)
        atomic_write_text(tmp / "report.md", markdown(result, images))
    return ["report.json", "report.md", *images.values()]
