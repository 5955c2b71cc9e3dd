"""Commands registered beside the core ones: recipes and plugin-provided commands."""

from __future__ import annotations

import click


def register_all(cli: click.Group) -> None:
    from edgeptm.plugins import get_plugins
    from edgeptm.recipe_cli import recipes, run
    from edgeptm.pretrain_cli import pretrain
    from edgeptm.trim_cli import trim_vocab
    from edgeptm.robustness_cli import robustness

    cli.add_command(run)
    cli.add_command(recipes)
    cli.add_command(pretrain)
    cli.add_command(trim_vocab)
    cli.add_command(robustness)
    get_plugins().register_commands(cli)
