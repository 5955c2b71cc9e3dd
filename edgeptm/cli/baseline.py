"""``edgeptm baseline``: the char n-gram TF-IDF + logistic regression every model should beat."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeptm.cli.options import data_options, data_selection, force_option


@click.command()
@click.option("--train", "train_path", required=True, help="Training data: file or per-language folder.")
@click.option("--eval", "eval_path", default=None, help="Evaluation data: scores per language, and the ONNX check.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output artifact folder (ONNX).")
@data_options
@click.option("--ngram-min", default=1, show_default=True, type=click.IntRange(min=1), help="Shortest char n-gram.")
@click.option("--ngram-max", default=4, show_default=True, type=click.IntRange(1, 8), help="Longest char n-gram.")
@click.option(
    "--max-features",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Keep the most frequent n-grams.",
)
@click.option("--min-df", default=2, show_default=True, type=click.IntRange(min=1), help="Ignore rarer n-grams.")
@click.option(
    "--c", "c", default=4.0, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Inverse L2 strength."
)
@click.option(
    "--max-length",
    default=1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Characters read of each text.",
)
@click.option("--lowercase/--no-lowercase", default=True, show_default=True)
@click.option("--seed", default=42, show_default=True, type=int)
@force_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def baseline(train_path, eval_path, out, force, as_json, **kw) -> None:
    """Train a char n-gram TF-IDF + logistic regression on the training split and write it as an ONNX
    artifact that `evaluate`, `bench`, `bundle` and edgeptm-runtime run (raw text in, no tokenizer)."""
    from pydantic import ValidationError

    from edgeptm.report.tables import text_table
    from edgeptm.train.baseline import BaselineOptions, train_baseline

    try:  # every option named like a BaselineOptions field is one
        options = BaselineOptions(**{k: kw.pop(k) for k in list(kw) if k in BaselineOptions.model_fields})
    except ValidationError as exc:
        raise click.BadParameter(
            exc.errors()[0]["msg"].removeprefix("Value error, "), param_hint="--ngram-max"
        ) from None
    selection, _ = data_selection(kw)
    train = selection.load(train_path, "train")
    eval_data = selection.load(eval_path, "eval") if eval_path else None
    log = (lambda message: None) if as_json else (lambda message: click.echo(message, err=True))
    result = train_baseline(train, out, options, eval_data=eval_data, force=force, log=log)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    check = result.onnx_check
    click.echo(
        f"{out}: onnx fp32 tfidf-linear, {result.features} features, {result.size_bytes / 2**20:.2f} MB; "
        f"ONNX vs scikit-learn on {check['n']} texts: max |Δlogit| {check['max_abs_logit_diff']:.2g}, "
        f"agreement {check['agreement_pct']:.1f}%"
    )
    if result.eval is not None:
        rows = [
            [
                "all",
                result.eval["overall"]["n"],
                100 * result.eval["overall"]["accuracy"],
                100 * result.eval["overall"]["macro_f1"],
            ]
        ]
        rows += [
            [lang, s["n"], 100 * s["accuracy"], 100 * s["macro_f1"]] for lang, s in result.eval["per_language"].items()
        ]
        click.echo(text_table(["language", "n", "accuracy", "macro_f1"], rows))
    click.echo("not carried to ONNX (edgeptm.json export_info.not_carried): char_wb, sublinear_tf, strip_accents")
