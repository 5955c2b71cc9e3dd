"""Character noise: adjacent swaps, drops, inserts and keyboard-neighbour typos.

Strength is the share of letters touched (at least one when above zero); only letters are
edited, so punctuation, digits, emoji and spacing stay put.
"""

from __future__ import annotations

import random

from edgeptm.perturb.base import Context, count
from edgeptm.perturb.text import is_letter, positions

# Keyboard rows, with each row's horizontal offset in key widths.
LAYOUTS: dict[str, list[tuple[str, float]]] = {
    "Latin": [("qwertyuiop", 0.0), ("asdfghjkl", 0.25), ("zxcvbnm", 0.75)],
    "Cyrillic": [("йцукенгшщзхъ", 0.0), ("фывапролджэ", 0.25), ("ячсмитьбю", 0.75)],
    "Greek": [("ςερτυθιοπ", 1.0), ("ασδφγηξκλ", 0.25), ("ζχψωβνμ", 0.75)],
    "Arabic": [("ضصثقفغعهخحجد", 0.0), ("شسيبلاتنمكط", 0.25), ("ئءؤرىةوزظ", 0.75)],
}


def _neighbours() -> dict[str, str]:
    """Keys within about one key width of each other, per layout."""
    out: dict[str, str] = {}
    for rows in LAYOUTS.values():
        keys = [(ch, x + offset, y) for y, (row, offset) in enumerate(rows) for x, ch in enumerate(row)]
        for ch, x, y in keys:
            out[ch] = "".join(o for o, ox, oy in keys if o != ch and abs(oy - y) <= 1 and abs(ox - x) <= 1.0)
    return out


NEIGHBOURS = _neighbours()


def char_swap(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Swap adjacent, different letters (``teh`` for ``the``)."""
    chars = list(text)
    pairs = [
        i for i in range(len(chars) - 1) if is_letter(chars[i]) and is_letter(chars[i + 1]) and chars[i] != chars[i + 1]
    ]
    rng.shuffle(pairs)
    used: set[int] = set()
    for i in pairs[: count(strength, len(positions(text, is_letter)))]:
        if i in used or i + 1 in used:
            continue
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
        used.update((i, i + 1))
    return "".join(chars)


def char_drop(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Drop letters."""
    letters = positions(text, is_letter)
    drop = set(rng.sample(letters, count(strength, len(letters)))) if len(letters) > 1 else set()
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def char_insert(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Insert letters drawn from the text itself (so in its own script) after random letters."""
    letters = positions(text, is_letter)
    after = set(rng.sample(letters, count(strength, len(letters))))
    pool = [text[i] for i in letters]
    return "".join(ch + (rng.choice(pool) if i in after else "") for i, ch in enumerate(text))


def keyboard_typo(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Replace letters with a neighbouring key (QWERTY, ЙЦУКЕН, Greek and Arabic layouts), keeping case."""
    keyed = positions(text, lambda ch: ch.lower() in NEIGHBOURS)
    chars = list(text)
    for i in rng.sample(keyed, count(strength, len(keyed))):
        new = rng.choice(NEIGHBOURS[chars[i].lower()])
        chars[i] = new.upper() if chars[i].isupper() else new
    return "".join(chars)
