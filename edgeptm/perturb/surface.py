"""Surface forms: casing, punctuation, whitespace and zero-width characters, Unicode normalisation."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable

from edgeptm.perturb.base import Context, PerturbFn, count
from edgeptm.perturb.text import join_units, positions, split_units

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
"""Zero-width space, non-joiner, joiner, word joiner, and the BOM used as a zero-width no-break space."""
SPACES = (" ", "  ", "\t", "\u00a0", "\u3000")


def _per_word(transform: Callable[[str], str]) -> PerturbFn:
    """A perturbation applying ``transform`` to a share of the words it changes."""

    def fn(text: str, strength: float, rng: random.Random, context: Context) -> str:
        lead, units = split_units(text)
        eligible = [i for i, (w, _) in enumerate(units) if transform(w) != w]
        picked = set(rng.sample(eligible, count(strength, len(eligible))))
        return join_units(lead, [(transform(w) if i in picked else w, s) for i, (w, s) in enumerate(units)])

    return fn


lowercase = _per_word(str.lower)
uppercase = _per_word(str.upper)
unicode_nfc = _per_word(lambda w: unicodedata.normalize("NFC", w))
unicode_nfd = _per_word(lambda w: unicodedata.normalize("NFD", w))
unicode_nfkc = _per_word(lambda w: unicodedata.normalize("NFKC", w))


def random_case(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Flip the case of letters (``hElLo``)."""
    cased = positions(text, lambda ch: ch.swapcase() != ch and len(ch.swapcase()) == 1)
    flip = set(rng.sample(cased, count(strength, len(cased))))
    return "".join(ch.swapcase() if i in flip else ch for i, ch in enumerate(text))


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith("P")


def punct_remove(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Remove punctuation marks (any script's: ``,`` ``،`` ``。`` ``¿``)."""
    marks = positions(text, _is_punct)
    drop = set(rng.sample(marks, count(strength, len(marks))))
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def punct_duplicate(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Repeat punctuation marks two to four times (``great!!!``)."""
    marks = positions(text, _is_punct)
    repeat = set(rng.sample(marks, count(strength, len(marks))))
    return "".join(ch * rng.randint(2, 4) if i in repeat else ch for i, ch in enumerate(text))


def extra_whitespace(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Add spaces, tabs, no-break and ideographic spaces between words (or characters in unspaced scripts)."""
    lead, units = split_units(text)
    gaps = list(range(len(units) - 1))
    wide = set(rng.sample(gaps, count(strength, len(gaps))))
    return join_units(lead, [(w, s + rng.choice(SPACES) if i in wide else s) for i, (w, s) in enumerate(units)])


def zero_width(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Insert invisible zero-width characters between characters."""
    inner = list(range(1, len(text)))
    at = set(rng.sample(inner, count(strength, len(inner))))
    return "".join((rng.choice(ZERO_WIDTH) if i in at else "") + ch for i, ch in enumerate(text))
