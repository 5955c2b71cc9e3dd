"""Mixing and length: code-switching with another language's words, and truncation."""

from __future__ import annotations

import random

from edgeptm.data.languages import canonical_language
from edgeptm.perturb.base import Context, count
from edgeptm.perturb.text import insert_words, join_units, split_units


def code_switch(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Insert words from one other language's sample; strength is their share of the text's word count."""
    mine = canonical_language(context.language)
    others = sorted(lang for lang, words in context.donors.items() if words and canonical_language(lang) != mine)
    if not others:
        return text
    words = context.donors[rng.choice(others)]
    return insert_words(text, count(strength, len(split_units(text)[1])), lambda r: r.choice(words), rng)


def truncate(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Cut the last share ``strength`` of the text's words, keeping at least one.

    A share, not a count, so that languages compare fairly: in scripts written without spaces (Han, Thai...)
    each character is a unit, and a text has several times more characters than another language's has
    words; keeping "the first 6 words" kept 6 characters of Chinese, a far harsher cut than 6 English words.
    """
    lead, units = split_units(text)
    keep = max(1, round(len(units) * (1 - strength)))
    if keep >= len(units):
        return text
    kept = units[:keep]
    kept[-1] = (kept[-1][0], "")
    return join_units(lead, kept)
