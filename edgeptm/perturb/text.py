"""Word units that work across scripts: whitespace-separated words, and single characters in
scripts written without spaces (Han, Hiragana, Katakana, Thai)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from edgeptm.data.languages import char_script

UNSPACED_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar"})
Unit = tuple[str, str]
"""A word and the whitespace after it."""

_WORD = re.compile(r"(\S+)(\s*)")


def _pieces(word: str) -> list[str]:
    """A whitespace-free word split so each character of an unspaced script stands alone."""
    out: list[str] = []
    run = ""
    for ch in word:
        if char_script(ch) in UNSPACED_SCRIPTS:
            if run:
                out.append(run)
                run = ""
            out.append(ch)
        else:
            run += ch
    if run:
        out.append(run)
    return out


def split_units(text: str) -> tuple[str, list[Unit]]:
    """Leading whitespace and the ``(word, following whitespace)`` units of ``text``."""
    lead = text[: len(text) - len(text.lstrip())]
    units: list[Unit] = []
    for m in _WORD.finditer(text):
        pieces = _pieces(m.group(1))
        units += [(p, "") for p in pieces[:-1]]
        units.append((pieces[-1], m.group(2)))
    return lead, units


def join_units(lead: str, units: Sequence[Unit]) -> str:
    return lead + "".join(word + space for word, space in units)


def insert_words(text: str, k: int, make: Callable[[random.Random], str], rng: random.Random) -> str:
    """``text`` with ``k`` words from ``make(rng)`` inserted, space-separated, at random word boundaries."""
    lead, units = split_units(text)
    if not units:
        return text
    for _ in range(k):
        i = rng.randint(0, len(units))
        at_end = i == len(units)
        if i > 0 and not units[i - 1][1]:
            units[i - 1] = (units[i - 1][0], " ")
        units.insert(i, (make(rng), "" if at_end else " "))
    return join_units(lead, units)


def positions(text: str, keep: Callable[[str], bool]) -> list[int]:
    """Indices of the characters for which ``keep`` holds."""
    return [i for i, ch in enumerate(text) if keep(ch)]


def is_letter(ch: str) -> bool:
    return char_script(ch) is not None
