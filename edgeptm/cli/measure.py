"""``edgeptm evaluate`` and ``edgeptm bench``: accuracy per language and speed, through each artifact's runner."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from edgeptm.cli.options import current_plugins, data_options, data_selection, force_option, int_list, warn_problems


@click.command()
@click.option("--artifact", "artifacts", required=True, multiple=True, type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, help="Labelled evaluation data.")
@data_options(read_split="test")
@click.option(
    "--reference",
    default=None,
    type=click.Path(path_type=Path),
    help="fp32 reference (default: the artifact's source model).",
)
@click.option(
    "--baseline",
    "baselines",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A baseline artifact (`edgeptm baseline --out`), evaluated alike and shown beside the others per language.",
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=None, type=click.IntRange(min=1))
@click.option("--device", default=None, help="Device (default: the backend's own, e.g. cpu).")
@click.option(
    "--max-unk-rate",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Warn when the tokenizer turns a larger share of a language's tokens into the unknown token.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(
    artifacts, data_path, reference, batch_size, threads, device, max_unk_rate, baselines, as_json, **kw
) -> None:
    """Accuracy and macro-F1 per language, and agreement with the fp32 model, for each artifact."""
    from edgeptm.measure.evaluate import evaluate as run_evaluate
    from edgeptm.report.tables import evaluation_rows, macro_f1_by_language, text_table

    selection, split = data_selection(kw, read_split="test")
    data = selection.load(data_path, split or "test")
    train_langs = selection.train_languages
    references: dict = {}
    coverages: dict = {}
    results: list[dict[str, Any]] = []
    for a in artifacts:
        result = run_evaluate(
            current_plugins(),
            a,
            data,
            reference=reference,
            batch_size=batch_size,
            threads=threads,
            device=device,
            train_languages=train_langs,
            reference_cache=references,
            max_unk_rate=max_unk_rate,
            coverage_cache=coverages,
        )
        results.append({"name": str(a), **result})
    for coverage in coverages.values():  # one warning per distinct tokenizer
        if warning := coverage.warning(
            ", ".join(str(r["name"]) for r in results if r.get("coverage") == coverage.to_json())
        ):
            click.echo(warning, err=True)
    for b in baselines:
        result = run_evaluate(
            current_plugins(), b, data, batch_size=batch_size, threads=threads, train_languages=train_langs
        )
        results.append({"name": f"baseline {b}", **result})
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        click.echo(text_table(*evaluation_rows(results)))
        if baselines:
            click.echo("\nmacro-F1 per language (%), the baseline beside each model:")
            click.echo(text_table(*macro_f1_by_language(results)))
        for r in results:
            for group in ("in_language", "zero_shot"):
                block = r.get("transfer", {}).get(group)
                if block:
                    o = block["overall"]
                    click.echo(
                        f"{r['name']} {group}: n {o['n']}, accuracy {100 * o['accuracy']:.2f}, "
                        f"macro_f1 {100 * o['macro_f1']:.2f} ({', '.join(block['per_language'])})"
                    )


@click.command()
@click.option("--artifact", "artifacts", required=True, multiple=True, type=click.Path(path_type=Path))
@click.option("--batch-sizes", default="1,8", show_default=True, callback=int_list)
@click.option("--seq-lengths", default="128", show_default=True, callback=int_list)
@click.option("--threads", default=None, type=click.IntRange(min=1), help="Intra-op threads (default: all cores).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--iterations", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default=None, help="Device (default: the backend's own, e.g. cpu).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench(artifacts, batch_sizes, seq_lengths, threads, warmup, iterations, device, as_json) -> None:
    """Latency p50/p90/p99, throughput, peak RSS, load time and size, side by side."""
    from edgeptm.deploy import artifact_manifest
    from edgeptm.measure.bench import BenchOptions, is_bundle
    from edgeptm.measure.bench import bench as run_bench
    from edgeptm.report.tables import bench_rows, text_table

    plugins = current_plugins()
    for a in artifacts:
        if is_bundle(a):
            continue  # run by edgeptm-runtime, with the bundle's own engine
        backend = plugins.available_backend(artifact_manifest(a).backend)
        if device is not None:
            backend.check_device(device)
    options = BenchOptions(
        batch_sizes=batch_sizes,
        seq_lengths=seq_lengths,
        threads=threads,
        warmup=warmup,
        iterations=iterations,
        device=device,
    )
    results = run_bench([(str(a), a) for a in artifacts], options)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        click.echo(text_table(*bench_rows(results)))
        for r in results:
            if "cold_start_s" in r:
                click.echo(
                    f"{r['name']}: cold start {r['cold_start_s']:.2f} s (import {r['import_s']:.2f} s, "
                    f"load {r['load_s']:.2f} s, first prediction), peak RSS {r['peak_rss_mb']:.0f} MB"
                )
        click.echo(
            f"measured on {results[0]['machine']['description']}; 1-min load {results[0]['machine']['load_1min']}"
        )


def artifact_names(paths: tuple[Path, ...]) -> list[tuple[str, Path]]:
    """Name each artifact by its folder, or by its path where folder names clash."""
    counts = Counter(p.name for p in paths)
    return [(p.name if counts[p.name] == 1 else str(p), p) for p in paths]


def _list(plugins) -> None:
    from edgeptm.report.tables import text_table

    rows = [
        [
            p.name,
            p.family,
            p.where(),
            f"{p.default_strength:g}",
            f"{p.strength_range[0]:g}-{p.strength_range[1]:g} {p.strength_unit}",
            p.description,
        ]
        for p in plugins.perturbations().values()
    ]
    click.echo(text_table(["name", "family", "applies to", "default", "strength", "description"], rows))


def _print(result: Mapping[str, Any]) -> None:
    from edgeptm.report.tables import text_table

    arts = result["artifacts"]
    rows = []
    for lang in result["data"]["languages"]:
        for a in arts:
            top = a["most_damaging"][lang]
            damage = ", ".join(
                f"{e['perturbation']} {100 * e['macro_f1_drop']:+.1f}/{100 * e['flip_rate']:.0f}%" for e in top
            )
            rows.append([lang, a["name"], 100 * a["clean"]["per_language"][lang]["macro_f1"], damage])
    click.echo(text_table(["language", "artifact", "clean_f1", "most damaging (macro-F1 drop / flip rate)"], rows))
    for diff in result["differences"]:
        a, b = diff["baseline"], diff["artifact"]
        rows = [
            [
                lang,
                100 * d["clean_macro_f1"][a],
                100 * d["clean_macro_f1"][b],
                100 * d["mean_flip_rate"][a],
                100 * d["mean_flip_rate"][b],
                100 * d["mean_disagreement"],
                f"{d['worst']['perturbation']} {100 * d['worst']['macro_f1_drop']:+.1f}" if d["worst"] else "none",
            ]
            for lang, d in diff["per_language"].items()
        ]
        click.echo(f"\n{b} vs {a}:")
        click.echo(
            text_table(
                ["language", f"f1_{a}", f"f1_{b}", f"flip%_{a}", f"flip%_{b}", "disagree%", "worst_extra_drop"], rows
            )
        )


def warn_skipped(result: Mapping[str, Any], explicit: bool) -> None:
    """One warning per requested perturbation that applies nowhere; one line in all for the default suite."""
    skipped = result["skipped"]
    if explicit:
        for s in skipped:
            click.echo(f"warning: {s['message']}; skipped", err=True)
    elif skipped:
        langs = ", ".join(result["data"]["languages"])
        names = ", ".join(s["label"] for s in skipped)
        click.echo(
            f"warning: {len(skipped)} perturbations apply to none of the languages present ({langs}); skipped: {names}",
            err=True,
        )


@click.command()
@click.option("--list", "list_only", is_flag=True, help="List the registered perturbations and exit.")
@click.option(
    "--artifact",
    "artifacts",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Artifact or fine-tuned model folder (repeatable; the first is the baseline of the comparison).",
)
@click.option("--eval", "eval_path", default=None, help="Labelled evaluation data: file or per-language folder.")
@data_options(read_split="test")
@click.option(
    "--perturbation",
    "-p",
    "perturbations",
    multiple=True,
    metavar="NAME[:STRENGTH]",
    help="A perturbation, optionally at a strength (repeatable; default: the whole suite at default strengths).",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Seed of every perturbation (and of --max-per-language)."
)
@click.option(
    "--max-per-language", default=None, type=click.IntRange(min=1), help="Use at most N examples per language."
)
@click.option(
    "--out", default=None, type=click.Path(path_type=Path), help="Write report.json, report.md and PNG heatmaps here."
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=None, type=click.IntRange(min=1))
@click.option("--device", default=None, help="Device (default: the backend's own, e.g. cpu).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@force_option
def robustness(
    list_only,
    artifacts,
    eval_path,
    perturbations,
    seed,
    max_per_language,
    out,
    batch_size,
    threads,
    device,
    as_json,
    force,
    **kw,
) -> None:
    """Accuracy, macro-F1, drop from clean and flip rate under text perturbations, per artifact and language."""
    from edgeptm.perturb import resolve_specs
    from edgeptm.plugins import get_plugins

    plugins = get_plugins()
    if list_only:
        _list(plugins)
        warn_problems(plugins)
        return
    if not artifacts or not eval_path:
        raise click.UsageError("pass --artifact (one or more) and --eval DATA, or --list")
    from edgeptm.measure.robustness import run_robustness, subsample
    from edgeptm.report.robustness import write_report

    if out is not None:  # before the work: what edgeptm did not make is never replaced
        from edgeptm.fsutil import check_output

        check_output(out, "report", force=force, inputs=tuple(artifacts))
    specs = resolve_specs(plugins.perturbations(), perturbations)
    selection, split = data_selection(kw, read_split="test")
    data = subsample(selection.load(eval_path, split or "test"), max_per_language, seed)
    result = run_robustness(
        plugins,
        artifact_names(artifacts),
        data,
        specs,
        seed=seed,
        batch_size=batch_size,
        threads=threads,
        device=device,
        log=lambda m: click.echo(m, err=True),
        train_languages=selection.train_languages,
    )
    warn_problems(plugins)
    warn_skipped(result, explicit=bool(perturbations))
    from edgeptm.report.robustness import unmeasured

    for line in unmeasured(result):
        click.echo(f"untested: {line}", err=True)
    if out is not None:
        files = write_report(out, result)
        click.echo(f"wrote {out}: {', '.join(files)}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        _print(result)
