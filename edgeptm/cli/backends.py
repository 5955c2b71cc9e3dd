"""``edgeptm backends``: what is installed, available, and on which devices."""

from __future__ import annotations

import json

import click

from edgeptm.cli.options import current_plugins, warn_problems


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.argument("names", nargs=-1)
def backends(as_json: bool, names: tuple[str, ...]) -> None:
    """List backends (or only NAMES) with availability, devices and precisions."""
    from edgeptm.report.tables import text_table

    plugins = current_plugins()
    chosen = {name: plugins.backend(name) for name in names} if names else plugins.backends()
    rows = []
    for name, backend in chosen.items():
        status = plugins.availability(backend)
        reason, devices = status.reason, []
        if not status.available:
            reason += f"; {status.hint}" if status.hint else f"; install: {backend.install_hint}"
        else:
            try:  # the full listing stays fast: a backend may defer its device query to `backends NAME`
                devices = backend.devices() if names else backend.listed_devices()
            except Exception as exc:  # a broken install must not take the listing down
                reason += f"; listing its devices failed ({type(exc).__name__}: {exc})"
        rows.append(
            {
                "name": name,
                "available": status.available,
                "reason": reason,
                "devices": devices,
                "precisions": backend.precisions(),
                "summary": backend.summary,
            }
        )
    if as_json:
        problems = [{"plugin": p.plugin, "message": p.message} for p in plugins.problems]
        click.echo(json.dumps({"backends": rows, "problems": problems}, indent=2))
        return
    table = [
        [
            r["name"],
            "yes" if r["available"] else "no",
            f"(`edgeptm backends {r['name']}`)" if r["devices"] is None else ",".join(r["devices"]) or "-",
            ",".join(r["precisions"]),
            r["reason"],
        ]
        for r in rows
    ]
    click.echo(text_table(["backend", "available", "devices", "precisions", "reason"], table))
    warn_problems(plugins)
