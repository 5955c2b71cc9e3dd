"""Options and helpers shared by the commands: data columns and languages, backend options, integer lists."""

from __future__ import annotations

from typing import Any

import click


def current_plugins():
    """The process-wide plugins (built on first use)."""
    from edgeptm.plugins import get_plugins

    return get_plugins()


def warn_problems(plugins) -> None:
    for problem in plugins.problems:
        click.echo(f"warning: {problem}", err=True)


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint=["--option"])
        options[key.strip()] = yaml.safe_load(value)
    return options


def int_list(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        items = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected comma-separated integers") from None
    if not items or min(items) < 1:
        raise click.BadParameter(f"{value!r}: expected positive integers")
    return items


def columns(text_column: str, label_column: str, language_column: str):
    from edgeptm.data import Columns

    return Columns(text_column, label_column, language_column)


def force_option(f):
    """``--force``: replace an output edgeptm made before (never a folder it did not make)."""
    return click.option("--force", is_flag=True, help="Replace an output edgeptm made before (never anything else).")(f)


def data_options(f):
    """Column names and a language filter, shared by commands that read datasets."""
    f = click.option("--languages", default=None, help="Comma-separated languages to keep (default: all).")(f)
    f = click.option("--language-column", default="language", show_default=True)(f)
    f = click.option("--label-column", default="label", show_default=True)(f)
    f = click.option("--text-column", default="text", show_default=True)(f)
    return f


def load_data(path: str, split: str, kw: dict[str, Any]):
    from edgeptm import data

    langs = [x.strip() for x in kw["languages"].split(",")] if kw.get("languages") else None
    return data.load(
        path,
        split=split,
        columns=columns(kw["text_column"], kw["label_column"], kw["language_column"]),
        languages=langs,
    )


TRAINING_FLAGS = (
    "max_length",
    "epochs",
    "learning_rate",
    "batch_size",
    "warmup_ratio",
    "weight_decay",
    "seed",
    "threads",
)


def training_options(f):
    """The training flags ``finetune`` and ``distill`` share, then ``--resume`` and ``--no-progress``."""
    for option in reversed(
        [
            click.option("--max-length", default=128, show_default=True, type=int),
            click.option("--epochs", default=3.0, show_default=True, type=float),
            click.option("--learning-rate", "--lr", default=5e-5, show_default=True, type=float),
            click.option("--batch-size", default=16, show_default=True, type=int),
            click.option("--warmup-ratio", default=0.0, show_default=True, type=float),
            click.option("--weight-decay", default=0.01, show_default=True, type=float),
            click.option("--seed", default=42, show_default=True, type=int),
            click.option(
                "--threads", default=None, type=int, help="torch threads while training (default: the physical cores)."
            ),
            click.option(
                "--freeze-layers", default=None, type=int, help="Freeze the embeddings and the lowest N encoder layers."
            ),
            click.option(
                "--patience", default=3, show_default=True, type=int, help="Early-stopping patience in epochs."
            ),
            click.option("--resume", is_flag=True, help="Continue an interrupted run from its last checkpoint."),
            click.option("--no-progress", is_flag=True, help="Hide progress bars."),
        ]
    ):
        f = option(f)
    return f


def training_options_from(cls: Any, kw: dict[str, Any], **extra: Any) -> Any:
    """``cls`` (FinetuneOptions or a subclass) from the shared flags plus ``extra``; a bad value is a
    click error naming its flag."""
    from pydantic import ValidationError

    try:
        return cls(
            **{k: kw[k] for k in TRAINING_FLAGS},
            freeze_layers=kw["freeze_layers"],
            early_stopping_patience=kw["patience"],
            **extra,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = str(err["loc"][0]).replace("_", "-") if err["loc"] else "options"
        raise click.BadParameter(err["msg"], param_hint=[f"--{flag}"]) from None
