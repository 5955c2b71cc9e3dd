"""``edgeptm distill``: a shallower student taught by a fine-tuned teacher (layer dropping + distillation)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from edgeptm.cli.options import data_options, data_selection, force_option, training_options, training_options_from


def _layer_numbers(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        numbers = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 0:
        raise click.BadParameter(
            f"{value!r}: expected comma-separated layer numbers from 0", param_hint=["--teacher-layers"]
        )
    return numbers


@click.command()
@click.option("--teacher", required=True, help="A fine-tuned classifier folder (edgeptm finetune's output).")
@click.option("--layers", required=True, type=int, help="Encoder layers of the student (fewer than the teacher's).")
@click.option(
    "--teacher-layers",
    default=None,
    callback=lambda ctx, param, value: _layer_numbers(value),
    help="Comma-separated 0-based teacher layers the student starts from (default: evenly spaced, ending at the top).",
)
@click.option("--train", "train_path", required=True, help="Labelled training data: file or per-language folder.")
@click.option("--eval", "eval_path", required=True, help="Evaluation data (early stopping, best checkpoint).")
@click.option("--test", "test_path", default=None, help="Optional test data, reported in metrics.json.")
@click.option(
    "--unlabelled",
    "unlabelled_specs",
    multiple=True,
    metavar="[LANG=]PATH",
    help="Extra unlabelled text, one per line, taught by the teacher's logits only (repeatable).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output save_pretrained folder.")
@click.option("--temperature", default=2.0, show_default=True, type=float, help="Softmax temperature of the soft loss.")
@click.option(
    "--kd-weight",
    default=0.5,
    show_default=True,
    type=float,
    help="Weight of the teacher's logits (KL); 1 minus it weighs the labels (cross-entropy).",
)
@click.option(
    "--hidden-weight", default=0.0, show_default=True, type=float, help="Weight of hidden-state matching (0: off)."
)
@click.option(
    "--language-alpha",
    default=0.0,
    show_default=True,
    type=float,
    help="Language sampling exponent p ∝ n^alpha (0: even across languages, 1: as given).",
)
@data_options
@training_options
@force_option
def distill(
    teacher,
    layers,
    teacher_layers,
    train_path,
    eval_path,
    test_path,
    unlabelled_specs,
    out,
    resume,
    no_progress,
    force,
    **kw,
) -> None:
    """Distil TEACHER into a student with --layers encoder layers and save it to OUT."""
    from edgeptm.cli.train import print_split_tables
    from edgeptm.data import describe
    from edgeptm.data.corpus import describe as describe_corpus
    from edgeptm.data.corpus import read_corpus
    from edgeptm.train.distill import DistillOptions
    from edgeptm.train.distill import distill as run_distill

    options = training_options_from(
        DistillOptions,
        kw,
        layers=layers,
        teacher_layers=teacher_layers,
        temperature=kw["temperature"],
        kd_weight=kw["kd_weight"],
        hidden_weight=kw["hidden_weight"],
        language_alpha=kw["language_alpha"],
    )
    selection, _ = data_selection(kw)
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    train = selection.load(train_path, "train")
    eval_data = selection.selection_data(selection.load(eval_path, "eval"), log)
    test = selection.load(test_path, "test") if test_path else None
    unlabelled = read_corpus(unlabelled_specs, role="unlabelled") if unlabelled_specs else None
    main_process = os.environ.get("RANK", "0") == "0"
    if main_process:
        click.echo(f"train: {describe(train)}", err=True)
        if unlabelled:
            click.echo(f"unlabelled: {describe_corpus(unlabelled)}", err=True)
    result = run_distill(
        teacher,
        train,
        eval_data,
        out,
        options,
        unlabelled=unlabelled,
        test=test,
        resume=resume,
        on_change="restart" if force else "refuse",
        progress=not no_progress,
        log=log,
        force=force,
    )
    if main_process:
        m = result.metrics
        click.echo(
            f"student: {m['student_layers']} layers (teacher layers {', '.join(map(str, m['teacher_layers']))}), "
            f"{m['train']['parameters']:,} parameters (teacher {m['train']['teacher_parameters']:,})"
        )
        print_split_tables(m, ("eval", "teacher_eval", "test", "teacher_test"))
        click.echo(f"saved {out} (metrics.json inside)")
