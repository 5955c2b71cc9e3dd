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
