"""The ``edgeptm`` command line. Heavy libraries are imported inside the commands that need them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from edgeptm import __version__
from edgeptm.errors import EdgeptmError


class Group(click.Group):
    """A click group that turns domain errors into one-line ``Error: …`` messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgeptmError as exc:
            raise click.ClickException(str(exc)) from None


def _plugins():
    from edgeptm.plugins import get_plugins

    plugins = get_plugins()
    return plugins


def _warn_problems(plugins) -> None:
    for problem in plugins.problems:
        click.echo(f"warning: {problem}", err=True)


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint=["--option"])
        options[key.strip()] = yaml.safe_load(value)
    return options


def _int_list(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        items = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated integers") from None
    if not items or min(items) < 1:
        raise click.BadParameter(f"{value!r}: expected positive integers")
    return items


def _columns(text_column: str, label_column: str, language_column: str):
    from edgeptm.data import Columns

    return Columns(text_column, label_column, language_column)


def data_options(f):
    """Column names and a language filter, shared by commands that read datasets."""
    f = click.option("--languages", default=None, help="Comma-separated languages to keep (default: all).")(f)
    f = click.option("--language-column", default="language", show_default=True)(f)
    f = click.option("--label-column", default="label", show_default=True)(f)
    f = click.option("--text-column", default="text", show_default=True)(f)
    return f


def _load(path: str, split: str, kw: dict[str, Any]):
    from edgeptm import data

    langs = [x.strip() for x in kw["languages"].split(",")] if kw.get("languages") else None
    return data.load(
        path,
        split=split,
        columns=_columns(kw["text_column"], kw["label_column"], kw["language_column"]),
        languages=langs,
    )


@click.group(cls=Group)
@click.version_option(__version__, prog_name="edgeptm")
def cli() -> None:
    """Fine-tune a multilingual BERT once; export, quantize, evaluate and benchmark it on
    pluggable backends."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("names", nargs=-1)
def backends(as_json: bool, names: tuple[str, ...]) -> None:
    """List backends (or only NAMES) with availability, devices and precisions."""
    from edgeptm.report import text_table

    plugins = _plugins()
    chosen = {name: plugins.backend(name) for name in names} if names else plugins.backends()
    rows = []
    for name, backend in chosen.items():
        status = backend.availability()
        reason, devices = status.reason, []
        if not status.available:
            reason += f"; {status.hint}" if status.hint else f"; install: {backend.install_hint}"
        else:
            try:  # the full listing stays fast: a backend may defer its device query to `backends NAME`
                devices = backend.devices() if names else backend.listed_devices()
            except Exception as exc:  # a broken install must not take the listing down
                reason += f"; listing its devices failed ({type(exc).__name__}: {exc})"
        rows.append(
            {
                "name": name,
                "available": status.available,
                "reason": reason,
                "devices": devices,
                "precisions": backend.precisions(),
                "summary": backend.summary,
            }
        )
    if as_json:
        problems = [{"plugin": p.plugin, "message": p.message} for p in plugins.problems]
        click.echo(json.dumps({"backends": rows, "problems": problems}, indent=2))
        return
    table = [
        [
            r["name"],
            "yes" if r["available"] else "no",
            f"(`edgeptm backends {r['name']}`)" if r["devices"] is None else ",".join(r["devices"]) or "-",
            ",".join(r["precisions"]),
            r["reason"],
        ]
        for r in rows
    ]
    click.echo(text_table(["backend", "available", "devices", "precisions", "reason"], table))
    _warn_problems(plugins)


@cli.command()
@click.option("--model", required=True, help="Hub id, local save_pretrained folder, or builtin:tiny-multilingual.")
@click.option("--train", "train_path", required=True, help="Training data: file or per-language folder.")
@click.option("--eval", "eval_path", required=True, help="Evaluation data (early stopping, best checkpoint).")
@click.option("--test", "test_path", default=None, help="Optional test data, reported in metrics.json.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output save_pretrained folder.")
@data_options
@click.option("--max-length", default=128, show_default=True, type=int)
@click.option("--epochs", default=3.0, show_default=True, type=float)
@click.option("--learning-rate", "--lr", default=5e-5, show_default=True, type=float)
@click.option("--batch-size", default=16, show_default=True, type=int)
@click.option("--warmup-ratio", default=0.0, show_default=True, type=float)
@click.option("--weight-decay", default=0.01, show_default=True, type=float)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--freeze-layers", default=None, type=int, help="Freeze the embeddings and the lowest N encoder layers.")
@click.option("--patience", default=3, show_default=True, type=int, help="Early-stopping patience in epochs.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint.")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
def finetune(model, train_path, eval_path, test_path, out, resume, no_progress, **kw) -> None:
    """Fine-tune MODEL for sequence classification and save it to OUT."""
    from pydantic import ValidationError

    from edgeptm.data import describe
    from edgeptm.engine import FinetuneOptions, finetune as run_finetune

    try:
        options = FinetuneOptions(
            max_length=kw["max_length"],
            epochs=kw["epochs"],
            learning_rate=kw["learning_rate"],
            batch_size=kw["batch_size"],
            warmup_ratio=kw["warmup_ratio"],
            weight_decay=kw["weight_decay"],
            seed=kw["seed"],
            freeze_layers=kw["freeze_layers"],
            early_stopping_patience=kw["patience"],
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise click.BadParameter(err["msg"], param_hint=[f"--{str(err['loc'][0]).replace('_', '-')}"]) from None
    train = _load(train_path, "train", kw)
    eval_data = _load(eval_path, "eval", {**kw, "languages": None})
    test = _load(test_path, "test", {**kw, "languages": None}) if test_path else None
    main_process = os.environ.get("RANK", "0") == "0"  # under torchrun, only rank 0 reports
    if main_process:
        click.echo(f"train: {describe(train)}", err=True)
    metrics = run_finetune(
        model, train, eval_data, out, options, test=test, resume=resume, progress=not no_progress,
        log=lambda m: click.echo(m, err=True),
    )
    if main_process:
        _print_finetune(metrics, out)


def _print_finetune(metrics: dict[str, Any], out: Path) -> None:
    from edgeptm.report import text_table

    for split in ("eval", "test"):
        if split in metrics:
            m = metrics[split]
            rows = [["all", m["overall"]["n"], 100 * m["overall"]["accuracy"], 100 * m["overall"]["macro_f1"]]]
            rows += [[k, v["n"], 100 * v["accuracy"], 100 * v["macro_f1"]] for k, v in m["per_language"].items()]
            click.echo(f"{split}:")
            click.echo(text_table(["language", "n", "accuracy", "macro_f1"], rows))
    click.echo(f"saved {out} (metrics.json inside)")


@cli.command()
@click.option("--model", required=True, type=click.Path(path_type=Path), help="Fine-tuned save_pretrained folder.")
@click.option("--backend", "backend_name", required=True, help="Backend name (see `edgeptm backends`).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Backend option (repeatable).")
@click.option("--max-length", default=None, type=int, help="Max tokens (default: the model's).")
@click.option("--validate-on", default="builtin:sample", show_default=True, help="Texts to check the export against torch.")
def export(model, backend_name, out, options, max_length, validate_on) -> None:
    """Export a fine-tuned model with a backend, validated against the torch model."""
    from edgeptm import data, deploy

    texts = data.load(validate_on, split="eval").texts
    manifest = deploy.export(
        _plugins(), backend_name, model, out, options=_parse_options(options), max_length=max_length,
        validation_texts=texts,
    )
    _print_artifact(out, manifest)


def _print_artifact(out: Path, manifest) -> None:
    from edgeptm.fsutil import dir_size

    size = dir_size(out, manifest.files) / 2**20
    line = f"wrote {out}: {manifest.backend} {manifest.precision}, {size:.2f} MB"
    if manifest.validation:
        v = manifest.validation
        line += f"; vs torch fp32: max |Δlogit| {v['max_abs_logit_diff']:.3g}, agreement {v['agreement_pct']:.1f}% on {v['n']} texts"
    click.echo(line)


@cli.command()
@click.option("--artifact", required=True, type=click.Path(path_type=Path), help="An exported fp32 artifact.")
@click.option("--precision", required=True, help="Target precision, e.g. int8 or int8-static.")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--calibration", default="builtin:sample", show_default=True, help="Calibration data (static schemes).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Backend option (repeatable).")
@click.option(
    "--eval-data", default=None,
    help="Labelled eval data, for precisions that measure accuracy while quantizing (e.g. openvino int8-acc).",
)
@data_options
def quantize(artifact, precision, out, calibration, options, eval_data, **kw) -> None:
    """Quantize an exported artifact with the backend that made it."""
    from edgeptm import data, deploy

    calib = _load(calibration, "train", kw)
    picked = [e.text for e in data.sample_evenly(calib, 512)]
    evaluation = _load(eval_data, "eval", kw) if eval_data else None
    manifest = deploy.quantize(
        _plugins(), artifact, out, precision=precision, options=_parse_options(options), calibration=picked,
        validation_texts=picked[:256], evaluation=evaluation,
    )
    _print_artifact(out, manifest)


@cli.command()
@click.option("--artifact", "artifacts", required=True, multiple=True, type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, help="Labelled evaluation data.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "eval", "test"]))
@data_options
@click.option("--reference", default=None, type=click.Path(path_type=Path), help="fp32 reference (default: the artifact's source model).")
@click.option("--train-languages", default=None, help="Comma-separated training languages: report zero-shot transfer separately.")
@click.option("--batch-size", default=32, show_default=True, type=int)
@click.option("--threads", default=None, type=int)
@click.option("--device", default=None, help="Device (default: the backend's own, e.g. cpu).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def evaluate(artifacts, data_path, split, reference, train_languages, batch_size, threads, device, as_json, **kw) -> None:
    """Accuracy and macro-F1 per language, and agreement with the fp32 model, for each artifact."""
    from edgeptm.evaluate import evaluate as run_evaluate
    from edgeptm.report import text_table, evaluation_rows

    data = _load(data_path, split, kw)
    train_langs = [x.strip() for x in train_languages.split(",")] if train_languages else None
    references: dict = {}
    results = [
        {
            "name": str(a),
            **run_evaluate(
                _plugins(), a, data, reference=reference, batch_size=batch_size, threads=threads, device=device,
                train_languages=train_langs, reference_cache=references,
            ),
        }
        for a in artifacts
    ]
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        click.echo(text_table(*evaluation_rows(results)))
        for r in results:
            for group in ("in_language", "zero_shot"):
                block = r.get("transfer", {}).get(group)
                if block:
                    o = block["overall"]
                    click.echo(
                        f"{r['name']} {group}: n {o['n']}, accuracy {100*o['accuracy']:.2f}, "
                        f"macro_f1 {100*o['macro_f1']:.2f} ({', '.join(block['per_language'])})"
                    )


@cli.command()
@click.option("--artifact", "artifacts", required=True, multiple=True, type=click.Path(path_type=Path))
@click.option("--batch-sizes", default="1,8", show_default=True, callback=_int_list)
@click.option("--seq-lengths", default="128", show_default=True, callback=_int_list)
@click.option("--threads", default=None, type=click.IntRange(min=1), help="Intra-op threads (default: all cores).")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(min=0))
@click.option("--iterations", default=30, show_default=True, type=click.IntRange(min=1))
@click.option("--device", default=None, help="Device (default: the backend's own, e.g. cpu).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def bench(artifacts, batch_sizes, seq_lengths, threads, warmup, iterations, device, as_json) -> None:
    """Latency p50/p90/p99, throughput, peak RSS, load time and size, side by side."""
    from edgeptm.bench import BenchOptions, bench as run_bench
    from edgeptm.deploy import artifact_manifest
    from edgeptm.report import bench_rows, text_table

    plugins = _plugins()
    for a in artifacts:
        backend = plugins.available_backend(artifact_manifest(a).backend)
        if device is not None:
            backend.check_device(device)
    options = BenchOptions(
        batch_sizes=batch_sizes, seq_lengths=seq_lengths, threads=threads, warmup=warmup, iterations=iterations,
        device=device,
    )
    results = run_bench([(str(a), a) for a in artifacts], options)
    if as_json:
        click.echo(json.dumps(results, indent=2))
    else:
        click.echo(text_table(*bench_rows(results)))


def main() -> None:
    from edgeptm.commands import register_all

    register_all(cli)
    cli(prog_name="edgeptm")


if __name__ == "__main__":
    sys.exit(main())
