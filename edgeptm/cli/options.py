"""Options and helpers shared by the commands: data columns and languages, backend options, integer lists."""

from __future__ import annotations

from typing import Any

import click


def current_plugins():
    """The process-wide plugins (built on first use)."""
    from edgeptm.plugins import get_plugins

    plugins = get_plugins()
    plugins.check_selection()
    return plugins


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
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise click.BadParameter(f"{pair!r}: the value is not valid YAML", param_hint=["--option"]) from None
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


DATA_KEYS = ("text_column", "label_column", "language_column", "languages", "train_languages", "split")


def data_options(f=None, *, read_split: str | None = None):
    """The data options of every command that reads labelled data (one definition, so they all agree):
    column names, ``--languages``, ``--train-languages`` and ``--split``.

    ``--split NAME=FILE`` names the file that holds a split in a data folder (``eval=valid.csv``; the
    aliases valid, validation, dev and val name ``eval``). With ``read_split`` (commands that read one
    split), a bare ``--split NAME`` chooses that split, ``read_split`` by default. Turn the values into a
    :class:`~edgeptm.data.selection.DataSelection` with :func:`data_selection`.
    """

    def decorate(f):
        chooser = f" A bare NAME chooses the split to read (default: {read_split})." if read_split else ""
        f = click.option(
            "--split",
            "split",
            multiple=True,
            metavar="NAME=FILE" if not read_split else "[NAME=FILE|NAME]",
            help="The file holding a split in a data folder, e.g. eval=valid.csv (repeatable; dev, valid, "
            "validation and val name eval; default: train, eval/valid/validation/dev/val, test)." + chooser,
        )(f)
        f = click.option(
            "--train-languages",
            default=None,
            help="Comma-separated languages the model trains on: the train split keeps only them, fine-tuning "
            "selects its checkpoint on their eval examples, evaluations report the others as zero-shot.",
        )(f)
        f = click.option("--languages", default=None, help="Comma-separated languages to keep, in every split.")(f)
        f = click.option("--language-column", default="language", show_default=True)(f)
        f = click.option("--label-column", default="label", show_default=True)(f)
        f = click.option("--text-column", default="text", show_default=True)(f)
        return f

    return decorate(f) if f is not None else decorate


def _langs(value: str | None) -> tuple[str, ...] | None:
    items = tuple(x.strip() for x in (value or "").split(",") if x.strip())
    return items or None


def data_selection(kw: dict[str, Any], read_split: str | None = None) -> tuple[Any, str | None]:
    """Take the data options out of a command's ``kw``: the :class:`DataSelection`, and the split a
    one-split command reads (``read_split`` unless a bare ``--split NAME`` chose another)."""
    from edgeptm.data import SPLIT_NAMES
    from edgeptm.data.selection import DataSelection, parse_split_files

    values = [kw.pop(k) for k in DATA_KEYS]
    text, label, language, languages, train_languages, splits = values
    chosen = read_split
    pairs = []
    aliases = {alias: split for split, names in SPLIT_NAMES.items() for alias in names}
    for value in splits or ():
        if "=" in value:
            pairs.append(value)
        elif read_split is not None and value.strip() in aliases:
            chosen = aliases[value.strip()]
        else:
            expected = "NAME=FILE or a split name (train, eval, test)" if read_split else "NAME=FILE"
            raise click.BadParameter(f"{value!r}: expected {expected}", param_hint=["--split"])
    selection = DataSelection(
        columns=columns(text, label, language),
        languages=_langs(languages),
        train_languages=_langs(train_languages),
        split_files=parse_split_files(pairs),
    )
    return selection, chosen


TRAINING_FLAGS = (
    "max_length",
    "epochs",
    "learning_rate",
    "batch_size",
    "warmup_ratio",
    "weight_decay",
    "seed",
    "threads",
    "max_unk_rate",
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
            click.option(
                "--max-unk-rate",
                default=0.05,
                show_default=True,
                type=click.FloatRange(0, 1),
                help="Warn when a language has a larger share of unknown tokens.",
            ),
            click.option(
                "--resume",
                is_flag=True,
                help="Continue an interrupted run from its last complete checkpoint (same options and data only; "
                "with --force, a different run starts over).",
            ),
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
