"""Word noise: drops, local shuffles and duplicates. Strength is the share of words touched
(at least one when above zero); characters of unspaced scripts count as words."""

from __future__ import annotations

import random

from edgeptm.data.languages import char_script
from edgeptm.perturb.base import Context, count
from edgeptm.perturb.text import UNSPACED_SCRIPTS, join_units, split_units


def word_drop(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Drop words, always keeping at least one."""
    lead, units = split_units(text)
    if len(units) < 2:
        return text
    drop = set(rng.sample(range(len(units)), min(count(strength, len(units)), len(units) - 1)))
    kept = [u for i, u in enumerate(units) if i not in drop]
    if len(units) - 1 in drop:  # the new last word takes the old trailing whitespace
        kept[-1] = (kept[-1][0], units[-1][1])
    return join_units(lead, kept)


def word_shuffle(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Move words by one or two places (a shuffle within a window of three), spacing kept in place."""
    lead, units = split_units(text)
    words = [w for w, _ in units]
    n = len(words)
    movable = [i for i in range(n - 1) if words[i] != words[i + 1]]
    for i in rng.sample(movable, min(len(movable), count(strength, n))):
        j = min(n - 1, i + rng.choice((1, 1, 2)))
        words[i], words[j] = words[j], words[i]
    return join_units(lead, [(w, space) for w, (_, space) in zip(words, units)])


def word_duplicate(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Repeat words in place (``the the``)."""
    lead, units = split_units(text)
    twice = set(rng.sample(range(len(units)), count(strength, len(units))))
    out = []
    for i, (word, space) in enumerate(units):
        if i in twice:
            glue = "" if char_script(word[0]) in UNSPACED_SCRIPTS else " "
            out.append((word, space or glue))
        out.append((word, space))
    return join_units(lead, out)
