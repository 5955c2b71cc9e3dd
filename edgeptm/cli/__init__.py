"""The ``edgeptm`` command line: one module per command group, heavy libraries imported inside commands.

* :mod:`.backends`: ``backends``
* :mod:`.train`: ``finetune``, ``pretrain``, ``trim-vocab``
* :mod:`.distill`: ``distill``
* :mod:`.deploy`: ``export``, ``quantize``, ``bundle``
* :mod:`.measure`: ``evaluate``, ``bench``, ``robustness``
* :mod:`.recipes`: ``run``, ``recipes validate``
* :mod:`.baseline`: ``baseline``
* :mod:`.tune`: ``profiles``, ``tune``

Plugins add commands through ``edgeptm_register_commands``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from edgeptm import __version__
from edgeptm.errors import EdgeptmError, describe_os_error


class Group(click.Group):
    """A click group that turns domain errors into one-line ``Error: …`` messages, and captures third-party
    warnings: one line at the end by default, each in full with ``-v`` (see :mod:`edgeptm.capture`)."""

    def invoke(self, ctx: click.Context) -> Any:
        from edgeptm.capture import capture_third_party

        echo = lambda m: click.echo(m, err=True)  # noqa: E731
        with capture_third_party(verbose=bool(ctx.params.get("verbose")), echo=echo) as capture:
            try:
                return super().invoke(ctx)
            except EdgeptmError as exc:
                raise click.ClickException(str(exc)) from None
            except OSError as exc:  # a folder that can't be written, a file that can't be read: say which
                raise click.ClickException(describe_os_error(exc)) from None
            finally:
                _report_captured(capture, ctx.invoked_subcommand or "COMMAND")


def _report_captured(capture: Any, command: str) -> None:
    """Keep what was captured in a log file (unless a recipe run's log has it) and print the summary line."""
    import click

    from edgeptm.fsutil import cache_dir

    if capture.messages and capture.log_path is None and not capture.verbose:
        path = cache_dir() / "logs" / f"{command}.log"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(m.line() + "\n" for m in capture.messages), encoding="utf-8")
            capture.log_path = path
        except OSError:
            pass  # the summary then says only -v
    if line := capture.summary(command):
        click.echo(line, err=True)


def verbose_option(f: Any) -> Any:
    """``-v``: print third-party warnings in full (also accepted after the command name)."""

    def turn_on(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        from edgeptm.capture import active

        capture = active()
        if value and capture is not None:
            capture.verbose = True
        return value

    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        callback=turn_on,
        expose_value=False,
        is_eager=True,
        help="Print third-party warnings (ONNX, transformers, torch...) in full instead of one summary line.",
    )(f)


@click.group(cls=Group)
@click.version_option(__version__, prog_name="edgeptm")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Print third-party warnings (ONNX, transformers, torch...) in full instead of one summary line.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The cache root for this command (built-in model, verified hashes, compiled OpenVINO blobs, tune "
    "builds); default $EDGEPTM_CACHE or ~/.cache/edgeptm. Options read from a manifest stay under it.",
)
def cli(verbose: bool, cache_dir: Path | None) -> None:
    """Fine-tune a multilingual BERT once; export, quantize, evaluate and benchmark it on
    pluggable backends."""
    if cache_dir is not None:  # the user's own choice on the command line: every cache path follows it
        os.environ["EDGEPTM_CACHE"] = str(cache_dir.expanduser().resolve())


def register_all(group: click.Group) -> click.Group:
    """Add the core commands and the plugins' commands to ``group``."""
    from edgeptm.cli import backends, baseline, deploy, distill, measure, recipes, train, tune
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
        baseline.baseline,
        tune.profiles,
        tune.tune,
        distill.distill,
    ):
        group.add_command(command)
    get_plugins().register_commands(group)
    for command in group.commands.values():
        if not any(p.name == "verbose" for p in command.params):
            verbose_option(command)
    return group


def main() -> None:
    register_all(cli)
    cli(prog_name="edgeptm")


if __name__ == "__main__":
    main()
