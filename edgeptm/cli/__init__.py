"""The ``edgeptm`` command line: one module per command group, heavy libraries imported inside commands.

* :mod:`.backends`: ``backends``
* :mod:`.train`: ``finetune``, ``pretrain``, ``trim-vocab``
* :mod:`.distill`: ``distill``
* :mod:`.deploy`: ``export``, ``quantize``, ``bundle``
* :mod:`.measure`: ``evaluate``, ``bench``, ``robustness``
* :mod:`.recipes`: ``run``, ``recipes validate``

Plugins add commands through ``edgeptm_register_commands``.
"""

from __future__ import annotations

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


@click.group(cls=Group)
@click.version_option(__version__, prog_name="edgeptm")
def cli() -> None:
    """Fine-tune a multilingual BERT once; export, quantize, evaluate and benchmark it on
    pluggable backends."""


def register_all(group: click.Group) -> click.Group:
    """Add the core commands and the plugins' commands to ``group``."""
    from edgeptm.cli import backends, deploy, distill, measure, recipes, train
    from edgeptm.plugins import get_plugins

    for command in (
        backends.backends,
        train.finetune,
        deploy.export,
        deploy.quantize,
        deploy.bundle,
        measure.evaluate,
        measure.bench,
        recipes.run,
        recipes.recipes,
        train.pretrain,
        train.trim_vocab,
        measure.robustness,
        distill.distill,
    ):
        group.add_command(command)
    get_plugins().register_commands(group)
    return group


def main() -> None:
    register_all(cli)
    cli(prog_name="edgeptm")


if __name__ == "__main__":
    main()
