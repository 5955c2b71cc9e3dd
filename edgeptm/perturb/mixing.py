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
    """Keep the first N words (characters in unspaced scripts); strength is N."""
    lead, units = split_units(text)
    if len(units) <= strength:
        return text
    kept = units[: int(strength)]
    kept[-1] = (kept[-1][0], "")
    return join_units(lead, kept)
