"""A click progress bar on stderr for the search's candidates (the CLI and recipe runs share it)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def click_progress(items: list[Any], label: str) -> Iterator[Iterable[Any]]:
    import click

    with click.progressbar(items, label=f"tune: {label}", file=sys.stderr, show_pos=True, item_show_func=_name) as bar:
        yield bar


def _name(item: Any) -> str | None:
    if isinstance(item, tuple):
        item = item[0]
    return getattr(item, "name", None)
