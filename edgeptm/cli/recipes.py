"""``edgeptm run`` and ``edgeptm recipes validate``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Override the recipe's output folder.")
@click.option("--force", is_flag=True, help="Re-run every stage even when its inputs are unchanged.")
def run(recipe: Path, output: Path | None, force: bool) -> None:
    """Run a recipe's stages in order into one output folder."""
    from edgeptm.cli.options import current_plugins
    from edgeptm.recipes.pipeline import run_recipe

    run_recipe(recipe, current_plugins(), output=output, force=force, log=lambda m: click.echo(m, err=True))
    out = output or (recipe.resolve().parent / _output_of(recipe))
    click.echo((Path(out) / "summary.md").read_text(encoding="utf-8"))


def _output_of(recipe: Path) -> str:
    from edgeptm.recipes.schema import load_recipe

    return load_recipe(recipe).output


@click.group()
def recipes() -> None:
    """Work with recipe files."""


@recipes.command()
@click.argument("recipe", type=click.Path(path_type=Path))
def validate(recipe: Path) -> None:
    """Check RECIPE against the schema and the installed backends; print every error."""
    from edgeptm.cli.options import current_plugins
    from edgeptm.recipes.schema import validate_recipe

    r = validate_recipe(recipe, current_plugins())
    click.echo(f"{recipe}: ok ({len(r.stages)} stages: {', '.join(s.stage for s in r.stages)})")
