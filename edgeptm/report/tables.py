"""Plain-text and Markdown tables for the CLI and the recipe summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return (
            f"{value:.4g}"
            if abs(value) < 1e-2 and value != 0
            else f"{value:.2f}"
            if abs(value) < 1e4
            else f"{value:.0f}"
        )
    return str(value)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A fixed-width table with a dashed rule under the header."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def evaluation_rows(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """One row per artifact and language (``all`` first): accuracy, macro-F1, agreement, and the share of
    unknown tokens the artifact's tokenizer makes of that language."""
    headers = ["artifact", "language", "n", "accuracy", "macro_f1", "agree_%", "max_dlogit", "unk_%"]
    rows = []
    for r in results:
        name = r.get("name") or f"{r['backend']} {r['precision']}"
        agree = r.get("agreement", {})
        blocks = [("all", r["overall"], agree.get("overall"))] + [
            (lang, m, agree.get("per_language", {}).get(lang)) for lang, m in r["per_language"].items()
        ]
        coverage = r.get("coverage", {}).get("per_language", {})
        for lang, m, a in blocks:
            unk = coverage.get(lang, {}).get("unk_rate")
            rows.append(
                [
                    name,
                    lang,
                    m["n"],
                    100 * m["accuracy"],
                    100 * m["macro_f1"],
                    a["agreement_pct"] if a else None,
                    a["max_abs_logit_diff"] if a else None,
                    None if unk is None else 100 * unk,
                ]
            )
    return headers, rows


def macro_f1_by_language(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Macro-F1 (%) of every result side by side, one row per language (``all`` first) with its n: the view
    that shows where a linear baseline beats a transformer. ``best`` names the highest in each row."""
    names = [r.get("name") or f"{r['backend']} {r['precision']}" for r in results]
    languages = ["all", *sorted({lang for r in results for lang in r["per_language"]})]
    rows = []
    for lang in languages:
        blocks = [r["overall"] if lang == "all" else r["per_language"].get(lang) for r in results]
        n = next((b["n"] for b in blocks if b), None)
        scores = [100 * b["macro_f1"] if b else None for b in blocks]
        known = [(s, name) for s, name in zip(scores, names) if s is not None]
        rows.append([lang, n, *scores, max(known)[1] if known else None])
    return ["language", "n", *names, "best"], rows


def seq_cell(result: Mapping[str, Any], measurement: Mapping[str, Any]) -> Any:
    """A measurement's sequence length: tokens, or ``"N chars"`` for a model that reads raw text (the baseline,
    timed on that many characters of the same benchmark text)."""
    if result.get("seq_unit") == "characters":
        return f"{measurement['seq_length']} chars"
    return measurement["seq_length"]


def bench_rows(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "artifact",
        "backend",
        "precision",
        "batch",
        "seq",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "items_per_s",
        "load_s",
        "peak_rss_mb",
        "size_mb",
    ]
    rows = []
    for r in results:
        for m in r["measurements"]:
            rows.append(
                [
                    r["name"],
                    r["backend"],
                    r["precision"],
                    m["batch_size"],
                    seq_cell(r, m),
                    m["p50_ms"],
                    m["p90_ms"],
                    m["p99_ms"],
                    m["throughput_items_per_s"],
                    r["load_s"],
                    r["peak_rss_mb"],
                    r["size_mb"],
                ]
            )
    return headers, rows
