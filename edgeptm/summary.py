"""The recipe summary, in Markdown and JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeptm.fsutil import atomic_write_text, dir_size, write_json
from edgeptm.manifest import has_manifest, read_manifest
from edgeptm.recipe import Recipe
from edgeptm.report import bench_rows, evaluation_rows, markdown_table


def _artifact_rows(artifacts: dict[str, Path]) -> list[dict[str, Any]]:
    rows = []
    for name, path in artifacts.items():
        if not has_manifest(path):
            continue
        m = read_manifest(path)
        v = m.validation or {}
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


def _model_stage_sections(results: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """Markdown for ``pretrain`` (held-out perplexity) and ``trim-vocab`` (sizes, OOV) results."""
    md: list[str] = []
    for stage_id, result in results.items():
        name = stage_id.split(":", 1)[1]
        if "pretrain" in result:
            from edgeptm.pretrain import perplexity_rows

            m = result["pretrain"]
            summary.setdefault("pretrain", {})[name] = m
            t = m["train"]
            md += [f"## Pre-training ({name})", "", f"{m['model']['init']} {m['model']['size'] or ''}: {t['steps']} steps, "
                   f"{t['runtime_s']:.1f} s on {t['device']}, {t['parameters']:,} parameters.", ""]
            md += ["**held-out perplexity**", "", markdown_table(*perplexity_rows(m)), ""]
        if "trim_vocab" in result:
            from edgeptm.trim import oov_rows, size_rows

            r = result["trim_vocab"]
            summary.setdefault("trim_vocab", {})[name] = r
            v = r["verification"]
            md += [f"## Vocabulary trimming ({name})", "", markdown_table(*size_rows(r)), ""]
            md += [f"Same tokens on {v['same_tokens']} of {v['texts']} corpus texts; max |Δlogit| "
                   f"{v['max_abs_logit_diff']:.3g} on {v['logit_texts']} texts.", ""]
            if r.get("oov"):
                md += ["**second text (out of vocabulary)**", "", markdown_table(*oov_rows(r)), ""]
    return md


def write_summary(out: Path, recipe: Recipe, artifacts: dict[str, Path], results: dict[str, Any]) -> dict[str, Any]:
    """Write ``summary.json`` and ``summary.md`` into ``out``; return the JSON."""
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
    md += _model_stage_sections(results, summary)
    for stage_id, result in results.items():
        if "metrics" in result:
            metrics = result["metrics"]
            summary["finetune"] = metrics
            md += [f"## Fine-tuning ({stage_id.split(':', 1)[1]})", ""]
            t = metrics["train"]
            md += [
                f"{t['examples']} training examples in {len(t['languages'])} languages; "
                f"{t['epochs']:.0f} epochs, {t['steps']} steps, {t['runtime_s']:.1f} s on {t['device']}.",
                "",
            ]
            for split in ("eval", "test"):
                if split in metrics:
                    m = metrics[split]
                    rows = [["all", m["overall"]["n"], 100 * m["overall"]["accuracy"], 100 * m["overall"]["macro_f1"]]]
                    rows += [[k, v["n"], 100 * v["accuracy"], 100 * v["macro_f1"]] for k, v in m["per_language"].items()]
                    md += [f"**{split}**", "", markdown_table(["language", "n", "accuracy", "macro-F1"], rows), ""]
    if summary["artifacts"]:
        md += ["## Artifacts", ""]
        rows = [
            [a["name"], a["backend"], a["precision"], a["size_mb"], a["max_abs_logit_diff"], a["agreement_pct"]]
            for a in summary["artifacts"]
        ]
        md += [markdown_table(["artifact", "backend", "precision", "size MB", "max abs Δlogit", "agreement %"], rows), ""]
    for stage_id, result in results.items():
        if "evaluations" in result:
            summary["evaluation"] = result["evaluations"]
            md += ["## Evaluation (through each backend's runner)", ""]
            md += [markdown_table(*evaluation_rows(result["evaluations"])), ""]
            for r in result["evaluations"]:
                for group, label in (("in_language", "in-language"), ("zero_shot", "zero-shot")):
                    block = r.get("transfer", {}).get(group)
                    if block:
                        o, langs = block["overall"], ", ".join(block["per_language"])
                        md += [f"- {r['name']}: {label} macro-F1 {100 * o['macro_f1']:.2f} on {o['n']} examples ({langs})"]
            md += [""]
        if "bench" in result:
            summary["bench"] = result["bench"]
            md += ["## Benchmark", "", markdown_table(*bench_rows(result["bench"])), ""]
        if "robustness" in result:
            from edgeptm.robustness_report import summary_markdown

            summary["robustness"] = result["robustness"]
            md += summary_markdown(result["robustness"])
            md += [f"Full report and heatmaps: `{Path(result['report']).name}/report.md`.", ""]
    md += ["## Stages", "", markdown_table(["stage", "seconds (this run)"], [[k, v] for k, v in summary["stages"].items()]), ""]
    write_json(Path(out) / "summary.json", summary)
    atomic_write_text(Path(out) / "summary.md", "\n".join(md))
    return summary
