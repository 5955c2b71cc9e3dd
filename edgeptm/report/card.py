"""The model card (``README.md``) of a bundle: what it is, how it scores per language, how close it is to
fp32, how fast and how large it measured, how robust it is, what it was trained on and by which recipe.

Everything in it comes from its inputs (no clock, no host name unless a benchmark says where it ran), so
the same artifact and figures give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeptm.report.tables import markdown_table, seq_cell


@dataclass(frozen=True)
class CardInputs:
    """Figures measured on the artifact that a card reports; each is optional."""

    evaluation: Mapping[str, Any] | None = None
    """This artifact's :class:`~edgeptm.measure.evaluate.Evaluation` (per language, agreement with fp32)."""
    source_metrics: Mapping[str, Any] | None = None
    """The fp32 source model's ``metrics.json`` (its training languages, its own eval/test figures)."""
    bench: Mapping[str, Any] | None = None
    """This artifact's :class:`~edgeptm.measure.bench.BenchResult`."""
    machine: str | None = None
    """Where ``bench`` ran (CPU model, flags, threads): latency is that machine's, not the device's."""
    robustness: Sequence[str] = field(default_factory=tuple)
    """Markdown lines summarising robustness."""
    recipe: str | None = None
    """The recipe (YAML text) that made the artifact."""


def _scores_table(report: Mapping[str, Any], agreement: Mapping[str, Any] | None = None) -> str:
    headers = ["language", "n", "accuracy %", "macro-F1 %"] + (["agreement with fp32 %"] if agreement else [])
    rows = []
    for lang, m in [("all", report["overall"]), *report["per_language"].items()]:
        row = [lang, m["n"], 100 * m["accuracy"], 100 * m["macro_f1"]]
        if agreement:
            a = agreement["overall"] if lang == "all" else agreement["per_language"].get(lang, {})
            row.append(a.get("agreement_pct"))
        rows.append(row)
    return markdown_table(headers, rows)


def model_card(
    *,
    name: str,
    engine: str,
    backend: str,
    precision: str,
    labels: Sequence[str],
    max_length: int,
    validation: Mapping[str, Any] | None,
    inputs: CardInputs,
    edgeptm_version: str,
    kind: str = "transformer",
) -> str:
    text_input = kind != "transformer"
    what = f"{kind} (char n-gram TF-IDF + linear; reads raw text, no tokenizer)" if text_input else "transformer"
    md = [
        f"# {name}",
        "",
        f"A {backend} {precision} text classifier ({what}) made by edgeptm {edgeptm_version}, run by "
        f"`edgeptm-runtime` with its `{engine}` engine (no torch needed).",
        "",
        f"- labels: {', '.join(f'`{label}`' for label in labels)}",
        f"- max length: {max_length} {'characters' if text_input else 'tokens'} (longer input is truncated)",
        "",
        "```sh",
        f"pip install 'edgeptm-runtime[{engine}]'",
        f'edgeptm-runtime predict {name} --text "..."',
        f"edgeptm-runtime serve {name} --port 8000",
        "```",
        "",
        "Every file is listed in `bundle.json` with its sha256; the runtime checks them all on load.",
        "",
    ]
    if inputs.evaluation is not None:
        e = inputs.evaluation
        md += ["## Accuracy of this bundle, per language", "", _scores_table(e, e.get("agreement")), ""]
    if validation:
        md += [
            "## Agreement with the fp32 model",
            "",
            f"On {validation['n']} validation texts: {validation['agreement_pct']:.1f}% of the predictions unchanged, "
            f"max |Δlogit| {validation['max_abs_logit_diff']:.3g}."
            + (f" Texts from {validation['source']}." if validation.get("source") else ""),
            "",
        ]
        calibration = validation.get("calibration")
        if calibration:
            md += [f"Calibrated on {calibration['n']} other texts of {calibration['source']}.", ""]
    if inputs.source_metrics is not None:
        m = inputs.source_metrics
        train = m.get("train", {})
        if train.get("languages"):
            md += [
                "## Training",
                "",
                f"Fine-tuned on {train.get('examples', '?')} examples in {', '.join(train['languages'])}.",
                "",
            ]
        for split in ("test", "eval"):
            if split in m:
                md += [f"**fp32 source model, {split} split**", "", _scores_table(m[split]), ""]
                break
    if inputs.bench is not None:
        b = inputs.bench
        where = f" on {inputs.machine}" if inputs.machine else ""
        md += [
            "## Speed and memory",
            "",
            f"Measured{where} with {b.get('threads') or 'all'} threads — the figures of that machine, not of the device. "
            f"Load {b['load_s']:.2f} s, peak RSS {b['peak_rss_mb']:.0f} MB, size {b['size_mb']:.2f} MB.",
            "",
            markdown_table(
                ["batch", "seq", "p50 ms", "p99 ms", "items/s"],
                [
                    [x["batch_size"], seq_cell(b, x), x["p50_ms"], x["p99_ms"], x["throughput_items_per_s"]]
                    for x in b["measurements"]
                ],
            ),
            "",
        ]
    if inputs.robustness:
        md += ["## Robustness", "", *inputs.robustness, ""]
    if inputs.recipe:
        md += ["## Recipe", "", "```yaml", inputs.recipe.rstrip(), "```", ""]
    return "\n".join(md)
