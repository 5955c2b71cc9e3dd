"""``report.html``: one self-contained page per run (inline CSS, inline SVG and data-URI PNGs, no
network, no JavaScript) with the headline, the Pareto plot, per-language bars with intervals, the
robustness heatmaps, the bench table with its spread, rejected candidates and stage timings.

Without matplotlib (the ``report`` extra) the page still renders every table and says the plots
need the extra.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeptm.report import charts
from edgeptm.report.compact import as_evaluation, fold_repeats, language_table, name_of
from edgeptm.report.headline import Headline, first_measurement, from_run, from_tune
from edgeptm.report.tables import seq_cell

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.headline{font-size:1.15rem;background:#f1f6fb;border-left:4px solid #1f77b4;padding:.7rem 1rem;margin:1rem 0}
.note{color:#555;font-size:.9rem}.warn{background:#fff6e0;border-left:4px solid #e0a800;padding:.5rem .8rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}svg{max-width:100%;height:auto}img{max-width:100%}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _cell(value: Any) -> str:
    if value is None:
        return "<td>-</td>"
    if isinstance(value, float):
        return f'<td class="num">{value:.2f}</td>'
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    return f"<td>{_e(value)}</td>"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def headline_html(h: Headline | None) -> str:
    if h is None:
        return '<p class="headline" id="headline">No headline: the run has no evaluated variant besides fp32.</p>'
    timing = f'<br><span class="note">Latency: {_e(h.timing)}.</span>' if h.timing else ""
    return f'<p class="headline" id="headline">{_e(h.text())}{timing}</p>'


def png_img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def pareto_html(points: Sequence[charts.PlotPoint], title: str) -> str:
    rows = [
        [p.name, p.latency_ms, p.worst_f1, p.size_mb, "yes" if p.on_front else "", "chosen" if p.chosen else ""]
        for p in points
    ]
    tab = table(["variant", "p50 ms", "worst-language macro-F1", "size MB", "on front", ""], rows)
    if not points:
        return "<p>No variant was both evaluated and timed.</p>"
    if not charts.available():
        return f'<p class="warn" id="plots-missing">{_e(charts.MISSING)}</p>{tab}'
    svg = charts.pareto_svg(points, title)
    return f'<figure id="pareto" data-points="{len(points)}">{svg}</figure>{tab}'


def language_html(evaluations: Sequence[Mapping[str, Any]]) -> str:
    tab = table(*language_table(evaluations))
    if not charts.available():
        return f'<p class="warn">{_e(charts.MISSING)}</p>{tab}'
    series = []
    for e, same in fold_repeats(evaluations):
        scores = {}
        for lang, block in e["per_language"].items():
            ci = e.get("intervals", {}).get(lang)
            mid = 100 * block["macro_f1"]
            scores[lang] = (mid, 100 * ci["low"], 100 * ci["high"]) if ci else (mid, mid, mid)
        series.append(charts.LanguageBar(name_of(e) + (f" (= {', '.join(same)})" if same else ""), scores))
    svg = charts.language_bars_svg(series, "macro-F1 per language, 95% bootstrap intervals")
    return f'<figure id="languages">{svg}</figure>{tab}'


def bench_html(bench: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for r in bench:
        for m in r["measurements"]:
            spread = m["p99_ms"] / m["p50_ms"] if m["p50_ms"] else None
            rows.append(
                [r["name"], r["backend"], r["precision"], m["batch_size"], seq_cell(r, m), m["p50_ms"], m["p90_ms"],
                 m["p99_ms"], spread, m["throughput_items_per_s"], r["peak_rss_mb"], r["size_mb"]]
            )  # fmt: skip
    machine = next((r.get("machine", {}).get("description") for r in bench if r.get("machine")), None)
    where = f'<p class="note">Measured on {_e(machine)}.</p>' if machine else ""
    headers = ["artifact", "backend", "precision", "batch", "seq", "p50 ms", "p90 ms", "p99 ms", "p99/p50",
               "items/s", "peak RSS MB", "size MB"]  # fmt: skip
    return where + table(headers, rows)


def tune_points(result: Mapping[str, Any]) -> list[charts.PlotPoint]:
    from edgeptm.tune.pareto import worst_f1

    return [
        charts.PlotPoint(
            c["name"],
            c["timing"]["p50_ms"],
            100 * worst_f1(c["accuracy"]),
            c["size_mb"],
            bool(c.get("on_front")),
            c["status"] == "chosen",
            c["status"] in ("chosen", "fits"),
        )  # fmt: skip
        for c in result["candidates"]
        if "timing" in c
    ]


def tune_html(result: Mapping[str, Any]) -> str:
    """The search's section: where it was timed, the front, every candidate and why it was rejected."""
    from edgeptm.tune.render import baseline_line

    p = result["profile"]
    out = [
        f"<h2>Search for {_e(p['name'])}</h2>",
        f'<p class="note">{_e(p.get("description", ""))}. Limits: macro-F1 drop ≤ {p["max_drop"]:g} overall and '
        f"≤ {p['max_language_drop']:g} in any language; p50 ≤ {p['latency_ms']:g} ms at batch {p['batch_size']} × "
        f"{p['seq_length']} tokens; RAM ≤ {p['ram_mb']:g} MB; storage ≤ {p['storage_mb']:g} MB. "
        f"Accuracy on {result['eval_n']} examples of {_e(result['eval_source'])}.</p>",
        f'<p class="note">Latency and RSS measured on this machine, {_e(result["machine"])} (load '
        f"{result.get('load_1min')}).</p>",
    ]
    if result.get("measured_elsewhere"):
        out.append(
            f'<p class="warn measured-elsewhere">This profile describes another device ({_e(p["cpu"])}): '
            f"{_e(result['measured_elsewhere'])}. These latencies are this machine's, not the device's.</p>"
        )
    out.append(pareto_html(tune_points(result), f"{p['name']}: latency × worst-language macro-F1 (area: size)"))
    rows = []
    for c in result["candidates"]:
        acc = c.get("accuracy")
        worst = acc["per_language"][acc["worst_language"]] if acc else None
        rows.append(
            [c["name"], c["status"], c.get("reason", ""), 100 * acc["overall"]["macro_f1"] if acc else None,
             f"{acc['worst_language']} {worst['drop']:+.1f}" if acc and worst else None,
             c["timing"]["p50_ms"] if "timing" in c else None, c.get("size_mb")]
        )  # fmt: skip
    out.append("<h3>Candidates</h3>")
    out.append(table(["candidate", "status", "why", "macro-F1", "largest drop (points)", "p50 ms", "size MB"], rows))
    baseline = baseline_line(result)
    if baseline:
        out.append(f'<p class="note baseline">{_e(baseline)}</p>')
    chosen = next((c for c in result["candidates"] if c["status"] == "chosen"), None)
    if chosen is not None:
        out.append("<h3>Chosen variant against fp32, per language</h3>")
        out.append(language_html([as_evaluation(result["reference"]["name"], result["reference"]["accuracy"]),
                                  as_evaluation(chosen["name"], chosen["accuracy"])]))  # fmt: skip
    rejected = [c for c in result["candidates"] if c["status"] not in ("chosen", "fits")]
    if rejected:
        out.append('<h3>Rejected</h3><ul class="rejections">')
        out += [f"<li><code>{_e(c['name'])}</code>: {_e(c.get('reason', c['status']))}</li>" for c in rejected]
        out.append("</ul>")
    return "\n".join(out)


def robustness_html(folder: Path) -> str:
    images = sorted(Path(folder).glob("*.png")) if Path(folder).is_dir() else []
    if not images:
        return f'<p class="note">No heatmaps in {_e(folder)} ({_e(charts.MISSING) if not charts.available() else "none drawn"}).</p>'
    return "\n".join(f"<figure>{png_img(p, p.stem)}<figcaption>{_e(p.stem)}</figcaption></figure>" for p in images)


def page(title: str, body: Sequence[str]) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
        f"<body>\n<h1>{_e(title)}</h1>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def run_points(
    evaluations: Sequence[Mapping[str, Any]], bench: Sequence[Mapping[str, Any]], chosen: str | None
) -> list[charts.PlotPoint]:
    """The run's artifacts that were both evaluated and benchmarked, with their own front."""
    from edgeptm.tune.pareto import nondominated

    timed = {b["name"]: b for b in bench}
    coords: dict[str, tuple[float, float, float]] = {}
    for e in evaluations:
        name = str(e.get("name"))
        if name in timed:
            worst = min(b["macro_f1"] for b in e["per_language"].values())
            coords[name] = (first_measurement(timed[name])["p50_ms"], -100 * worst, timed[name]["size_mb"])
    front = set(nondominated(coords))
    return [charts.PlotPoint(n, c[0], -c[1], c[2], n in front, n == chosen) for n, c in coords.items()]


def run_report(
    title: str, description: str, summary: Mapping[str, Any], variant: str | None, robustness_dir: Path | None
) -> str:
    """The recipe run's page, from its ``summary.json`` content."""
    tunes = list((summary.get("tune") or {}).values())
    evaluations, bench = summary.get("evaluation") or [], summary.get("bench") or []
    headline = from_tune(tunes[0]) if tunes else from_run(evaluations, bench, variant)
    body = [f'<p class="note">{_e(description)}</p>' if description else "", headline_html(headline)]
    for t in tunes:
        body.append(tune_html(t))
    if evaluations:
        if not tunes:
            body += ["<h2>Pareto front of this run's artifacts</h2>",
                     pareto_html(run_points(evaluations, bench, headline.variant if headline else None),
                                 "latency × worst-language macro-F1 (area: size)")]  # fmt: skip
        body += ["<h2>Accuracy per language</h2>", language_html(evaluations)]
    if robustness_dir is not None:
        body += ["<h2>Robustness</h2>", robustness_html(robustness_dir)]
    if bench:
        body += ["<h2>Benchmark</h2>", bench_html(bench)]
    stages = summary.get("stages") or {}
    if stages:
        body += ["<h2>Stage timings</h2>", table(["stage", "seconds (this run)"], [[k, v] for k, v in stages.items()])]
    return page(title, body)


def tune_report(result: Mapping[str, Any]) -> str:
    """``edgeptm tune``'s page."""
    return page(f"edgeptm tune: {result['profile']['name']}", [headline_html(from_tune(result)), tune_html(result)])
