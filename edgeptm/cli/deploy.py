"""``edgeptm export`` and ``edgeptm quantize``: artifacts validated against the torch reference."""

from __future__ import annotations

from pathlib import Path

import click

from edgeptm.cli.options import current_plugins, data_options, data_selection, force_option, parse_options


@click.command()
@click.option("--model", required=True, type=click.Path(path_type=Path), help="Fine-tuned save_pretrained folder.")
@click.option("--backend", "backend_name", required=True, help="Backend name (see `edgeptm backends`).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Backend option (repeatable).")
@click.option(
    "--max-length",
    default=None,
    type=click.IntRange(min=1),
    help="Max tokens (default: the model's, at most its positions).",
)
@click.option(
    "--validate-on",
    default="builtin:sample",
    show_default=True,
    help="Data (its eval split) whose texts check the export against torch.",
)
@data_options
@force_option
def export(model, backend_name, out, options, max_length, validate_on, force, **kw) -> None:
    """Export a fine-tuned model with a backend, validated against the torch model."""
    from edgeptm import deploy

    selection, _ = data_selection(kw)
    texts = deploy.validation_texts(selection.load(validate_on, "eval"))
    manifest = deploy.export(
        current_plugins(),
        backend_name,
        model,
        out,
        options=parse_options(options),
        max_length=max_length,
        validation_texts=texts,
        force=force,
    )
    print_artifact(out, manifest)


def print_artifact(out: Path, manifest) -> None:
    from edgeptm.fsutil import dir_size

    size = dir_size(out, manifest.files) / 2**20
    line = f"wrote {out}: {manifest.backend} {manifest.precision}, {size:.2f} MB"
    if manifest.validation:
        v = manifest.validation
        line += f"; vs torch fp32: max |Δlogit| {v['max_abs_logit_diff']:.3g}, agreement {v['agreement_pct']:.1f}% on {v['n']} texts"
    click.echo(line)


@click.command()
@click.option("--artifact", required=True, type=click.Path(path_type=Path), help="An exported fp32 artifact.")
@click.option("--precision", required=True, help="Target precision, e.g. int8 or int8-static.")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option(
    "--calibration",
    default="builtin:sample",
    show_default=True,
    help="Calibration data (its train split), sampled evenly across languages.",
)
@click.option(
    "--calibration-size", default=256, show_default=True, type=click.IntRange(min=1), help="Calibration texts."
)
@click.option(
    "--validate-on",
    default="builtin:sample",
    show_default=True,
    help="Data (its eval split) to check the variant against torch; calibration texts are never used.",
)
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Backend option (repeatable).")
@click.option(
    "--eval-data",
    default=None,
    help="Labelled eval data, for precisions that measure accuracy while quantizing (e.g. openvino int8-acc).",
)
@click.option(
    "--min-agreement",
    default=None,
    type=click.FloatRange(0, 100),
    help="Gate: least %% of validation texts predicted as torch fp32 does (default 90); below it nothing is written.",
)
@click.option(
    "--max-drop",
    default=None,
    type=click.FloatRange(0, 100),
    help="Gate: most accuracy points lost against torch fp32 on the validation texts (default 3); "
    "above it nothing is written.",
)
@data_options
@force_option
def quantize(
    artifact,
    precision,
    out,
    calibration,
    calibration_size,
    validate_on,
    options,
    eval_data,
    min_agreement,
    max_drop,
    force,
    **kw,
) -> None:
    """Quantize an exported artifact with the backend that made it; refused (nothing written) when the
    variant misses the validation gate against torch fp32."""
    from edgeptm import deploy

    selection, _ = data_selection(kw)
    texts = deploy.quantize_texts(
        selection.load(calibration, "train"), selection.load(validate_on, "eval"), calibration_size=calibration_size
    )
    evaluation = selection.load(eval_data, "eval") if eval_data else None
    manifest = deploy.quantize(
        current_plugins(),
        artifact,
        out,
        precision=precision,
        options=parse_options(options),
        texts=texts,
        evaluation=evaluation,
        gate=deploy.QualityGate.with_defaults(min_agreement, max_drop),
        force=force,
    )
    click.echo(texts.describe(manifest.export_info.get("calibration_texts")), err=True)
    for line in deploy.quantize_notes(manifest):
        click.echo(line, err=True)
    print_artifact(out, manifest)


@click.command()
@click.argument("artifact", type=click.Path(path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Bundle folder, or NAME.tar.gz with --archive."
)
@click.option("--archive", is_flag=True, help="Write a byte-reproducible .tar.gz instead of a folder.")
@click.option("--name", default=None, help="Bundle name (default: the --out name).")
@click.option("--eval-data", default=None, help="Labelled data: evaluate the artifact per language for the model card.")
@click.option("--force", is_flag=True, help="Replace a bundle already at --out.")
@data_options(read_split="test")
def bundle(artifact, out, archive, name, eval_data, force, **kw) -> None:
    """Package an artifact for a device: model, tokenizer, model card and checksummed bundle.json."""
    from edgeptm.deploy.bundle import bundle as make_bundle
    from edgeptm.report.card import CardInputs

    selection, split = data_selection(kw, read_split="test")
    evaluation = None
    if eval_data:
        from edgeptm.measure.evaluate import evaluate

        evaluation = evaluate(
            current_plugins(),
            artifact,
            selection.load(eval_data, split or "test"),
            train_languages=selection.train_languages,
        )
    result = make_bundle(
        current_plugins(),
        artifact,
        out,
        name=name,
        archive=archive,
        force=force,
        card=CardInputs(evaluation=evaluation),
    )
    click.echo(
        f"wrote {result.path}: {result.engine} bundle, {len(result.files)} files, {result.size_bytes / 2**20:.2f} MB; "
        f"run it with `edgeptm-runtime predict {result.path} --text ...`"
    )
