"""Commands registered beside the core ones: recipes and plugin-provided commands."""

from __future__ import annotations

import click


def register_all(cli: click.Group) -> None:
    from edgeptm.plugins import get_plugins
    from edgeptm.recipe_cli import recipes, run

    cli.add_command(run)
    cli.add_command(recipes)
    get_plugins().register_commands(cli)
