"""The recipe summary, in Markdown and JSON: each stage kind renders its own section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeptm.fsutil import atomic_write_text, dir_size, write_json
from edgeptm.manifest import has_manifest, read_manifest
from edgeptm.recipes.schema import Recipe
from edgeptm.report.tables import markdown_table
from edgeptm.stage import StageKind


def _artifact_rows(artifacts: dict[str, Path]) -> list[dict[str, Any]]:
    rows = []
    for name, path in artifacts.items():
        if not has_manifest(path):
            continue
        m = read_manifest(path)
        v: dict[str, Any] = dict(m.validation or {})
        rows.append(
            {
                "name": name,
                "path": str(path),
                "backend": m.backend,
                "precision": m.precision,
                "size_mb": dir_size(path, m.files) / 2**20,
                "max_abs_logit_diff": v.get("max_abs_logit_diff"),
                "agreement_pct": v.get("agreement_pct"),
            }
        )
    return rows


def _merge(summary: dict[str, Any], entries: dict[str, Any]) -> None:
    """Merge a stage's summary entries one level deep (several ``pretrain`` stages share a key)."""
    for key, value in entries.items():
        if isinstance(value, dict) and isinstance(summary.get(key), dict):
            summary[key].update(value)
        else:
            summary[key] = value


def write_summary(
    out: Path, recipe: Recipe, kinds: dict[str, StageKind], artifacts: dict[str, Path], results: dict[str, Any]
) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.md`` into ``out``; return the JSON.

    Sections of the stages that make artifacts come first, then the artifact table, then the
    report stages' sections, each in recipe order.
    """
    summary: dict[str, Any] = {
        "recipe": recipe.name,
        "model": recipe.model,
        "artifacts": _artifact_rows(artifacts),
        "stages": {k: v.get("seconds") for k, v in results.items()},
    }
    md = [f"# {recipe.name}", ""]
    if recipe.description:
        md += [recipe.description, ""]
    md += [f"Model: `{recipe.model}`", ""]
    makers: list[list[str]] = []
    reports: list[list[str]] = []
    for stage, (stage_id, result) in zip(recipe.stages, results.items()):
        kind, name = kinds[stage.stage], stage_id.split(":", 1)[1]
        _merge(summary, kind.summarize(name, result))
        (makers if stage.produces() is not None else reports).append(kind.render(name, result))
    for section in makers:
        md += section
    if summary["artifacts"]:
        md += ["## Artifacts", ""]
        rows = [
            [a["name"], a["backend"], a["precision"], a["size_mb"], a["max_abs_logit_diff"], a["agreement_pct"]]
            for a in summary["artifacts"]
        ]
        md += [
            markdown_table(["artifact", "backend", "precision", "size MB", "max abs Δlogit", "agreement %"], rows),
            "",
        ]
    for section in reports:
        md += section
    md += [
        "## Stages",
        "",
        markdown_table(["stage", "seconds (this run)"], [[k, v] for k, v in summary["stages"].items()]),
        "",
    ]
    md[md.index(f"Model: `{recipe.model}`") + 2 : md.index(f"Model: `{recipe.model}`") + 2] = _headline(recipe, summary)
    write_json(Path(out) / "summary.json", summary)
    atomic_write_text(Path(out) / "summary.md", "\n".join(md))
    atomic_write_text(Path(out) / "report.html", _html(recipe, summary, results))
    return summary


def _variant(recipe: Recipe) -> str | None:
    """The run's headline variant: what it bundles (the last bundle stage's source), else the last evaluated."""
    bundled = [s.from_ for s in recipe.stages if s.stage == "bundle" and getattr(s, "from_", None)]
    return bundled[-1] if bundled else None


def _headline(recipe: Recipe, summary: dict[str, Any]) -> list[str]:
    from edgeptm.report.headline import from_run, from_tune

    tunes = list((summary.get("tune") or {}).values())
    h = (
        from_tune(tunes[0])
        if tunes
        else from_run(summary.get("evaluation") or [], summary.get("bench") or [], _variant(recipe))
    )
    if h is None:
        return []
    return [f"**{h.text()}**", ""] + ([f"Latency: {h.timing}.", ""] if h.timing else [])


def _html(recipe: Recipe, summary: dict[str, Any], results: dict[str, Any]) -> str:
    from edgeptm.report.html import run_report

    folders = [
        Path(r["report"]) for r in results.values() if isinstance(r, dict) and "robustness" in r and r.get("report")
    ]
    return run_report(recipe.name, recipe.description, summary, _variant(recipe), folders[0] if folders else None)
