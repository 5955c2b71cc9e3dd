"""``edgeptm profiles`` and ``edgeptm tune``: device profiles and the search for one."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edgeptm.cli.options import data_options, data_selection, force_option

PROFILE_HELP = "A built-in profile name (`edgeptm profiles`) or a profile YAML file."


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
def profiles(as_json: bool) -> None:
    """List the built-in device profiles."""
    from edgeptm.profiles import load_builtin_profiles
    from edgeptm.report.tables import text_table

    found = load_builtin_profiles()
    if as_json:
        click.echo(json.dumps([p.model_dump(mode="json") for p in found], indent=2))
        return
    rows = [
        [p.name, p.arch, f"{p.threads}/{p.cores}", f"{p.ram_mb:g}", f"{p.storage_mb:g}", ",".join(b.label() for b in p.backends),
         f"{p.latency_ms:g} ms @ {p.batch_size}x{p.seq_length}", f"{p.max_drop:g}/{p.max_language_drop:g}"]
        for p in found
    ]  # fmt: skip
    headers = [
        "profile",
        "arch",
        "threads/cores",
        "ram_mb",
        "storage_mb",
        "backends",
        "latency budget",
        "max drop all/lang",
    ]
    click.echo(text_table(headers, rows))


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--profile", "profile_name", required=True, help=PROFILE_HELP)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Override a profile field (repeatable), e.g. latency_ms=50.",
)
@click.option("--threads", type=click.IntRange(1), default=None, help="Override the profile's threads.")
@click.option(
    "--latency-ms", type=click.FloatRange(min=0, min_open=True), default=None, help="Override the latency budget."
)
@click.option(
    "--train",
    "train_path",
    default="builtin:sample",
    show_default=True,
    help="Calibration and vocabulary data (train split).",
)
@click.option(
    "--eval", "eval_path", default="builtin:sample", show_default=True, help="Labelled data for accuracy (eval split)."
)
@data_options
@click.option(
    "--space",
    "space_file",
    type=click.Path(path_type=Path),
    default=None,
    help="A YAML search space (the tune stage's `space`).",
)
@click.option(
    "--backend", "backends", multiple=True, help="Only these BACKEND[:DEVICE] (repeatable; default: the profile's)."
)
@click.option("--precision", "precisions", multiple=True, help="Only these precisions (repeatable).")
@click.option(
    "--no-baseline",
    is_flag=True,
    help="Leave out the TF-IDF baseline candidate (the space's `baseline: false`).",
)
@click.option(
    "--budget-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop starting candidates after this long.",
)
@click.option("--objective", type=click.Choice(["latency", "size", "accuracy"]), default="latency", show_default=True)
@click.option("--iterations", type=click.IntRange(1), default=30, show_default=True, help="Timed runs per candidate.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for tune.json, tune.md, report.html and the chosen artifact.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@force_option
def tune(model: Path, profile_name: str, overrides: tuple[str, ...], threads: int | None, latency_ms: float | None,
         train_path: str, eval_path: str, space_file: Path | None, backends: tuple[str, ...], precisions: tuple[str, ...],
         no_baseline: bool, budget_minutes: float | None, objective: str, iterations: int, out: Path, no_progress: bool,
         force: bool, **kw) -> None:  # fmt: skip
    """Search deployment variants of the fine-tuned MODEL for a device profile; print the front and the choice.

    Candidates are built once into a content-keyed cache (a re-run builds only what is new) and
    evaluated per language first; only those within the profile's accuracy limits are timed, on
    this machine with the profile's threads. The char n-gram TF-IDF + logistic regression baseline,
    trained on the same train split, is a candidate too (on onnx CPU), so it is chosen when it wins.
    """
    from edgeptm.cli.options import current_plugins
    from edgeptm.fsutil import atomic_dir, atomic_write_text, check_output, write_json
    from edgeptm.profiles import load_profile, parse_overrides
    from edgeptm.report.html import tune_report
    from edgeptm.tune.build import BuildCache
    from edgeptm.tune.progress import click_progress
    from edgeptm.tune.render import markdown_report, text_report
    from edgeptm.tune.search import Settings, search
    from edgeptm.tune.search import no_progress as quiet
    from edgeptm.tune.space import load_space

    check_output(out, "tune", force=force, inputs=(model,))
    values = parse_overrides(overrides)
    if threads is not None:
        values["threads"] = threads
    if latency_ms is not None:
        values["latency_ms"] = latency_ms
    profile = load_profile(profile_name, values)
    space = load_space(
        space_file,
        backends=list(backends) or None,
        precisions=list(precisions) or None,
        baseline=False if no_baseline else None,
    )
    selection, _ = data_selection(kw)
    train, evaluation = selection.load(train_path, "train"), selection.load(eval_path, "eval")
    plugins = current_plugins()
    log = lambda m: click.echo(m, err=True)  # noqa: E731
    cache = BuildCache(plugins, train, evaluation, log=log)
    result = search(
        plugins, model, profile, space, train, evaluation,
        Settings(budget_minutes=budget_minutes, objective=objective, iterations=iterations),  # type: ignore[arg-type]
        cache=cache, log=log, progress=quiet if no_progress else click_progress,
    )  # fmt: skip
    with atomic_dir(out, kind="tune", inputs=(model,)) as tmp:
        write_json(tmp / "tune.json", result)
        atomic_write_text(tmp / "tune.md", "\n".join(markdown_report(result)) + "\n")
        atomic_write_text(tmp / "report.html", tune_report(result))
    chosen = next((c for c in result["candidates"] if c["status"] == "chosen"), None)
    if chosen is not None:
        cache.copy(Path(chosen["artifact"]), out / "chosen")
    click.echo(text_report(result))
    click.echo(f"wrote {out} (tune.json, tune.md, report.html{', chosen/' if chosen else ''})")
