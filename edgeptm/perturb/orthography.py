"""Script-specific noise: Latin diacritics, CJK full/half-width forms, Arabic tatweel and harakat,
and Latin/Cyrillic/Greek homoglyphs. Strength is the share of eligible characters changed."""

from __future__ import annotations

import random
import unicodedata

from edgeptm.data.languages import char_script
from edgeptm.perturb.base import Context, count
from edgeptm.perturb.text import positions

# Latin letters without a canonical decomposition, and their bare forms.
_UNDECOMPOSABLE = str.maketrans("łŁøØđĐħĦıŧŦ", "lLoOdDhHitT")
_FULL_OFFSET = 0xFEE0  # U+FF01..U+FF5E are U+0021..U+007E shifted by this
_HALF_PUNCT = {"\u3000": " ", "。": "｡", "「": "｢", "」": "｣", "、": "､", "・": "･"}
TATWEEL = "\u0640"
HARAKAT = "".join(chr(c) for c in range(0x064B, 0x0653))  # fathatan … sukun
_HARAKAT_ALL = set(HARAKAT) | {chr(c) for c in range(0x0653, 0x0660)} | {"\u0670"}
_NO_JOIN_AFTER = set("اأإآٱدذرزژوؤةءى" + TATWEEL)
# Lookalikes across Latin, Cyrillic and Greek, one group per shape.
_CONFUSABLES = [
    "aа",
    "cсϲ",
    "eе",
    "iіι",
    "jј",
    "oоο",
    "pрρ",
    "sѕ",
    "xх",
    "yу",
    "hһ",
    "dԁ",
    "qԛ",
    "wԝ",
    "vνѵ",
    "AАΑ",
    "BВΒ",
    "CСϹ",
    "EЕΕ",
    "HНΗ",
    "IІΙ",
    "JЈ",
    "KКΚ",
    "MМΜ",
    "NΝ",
    "OОΟ",
    "PРΡ",
    "SЅ",
    "TТΤ",
    "XХΧ",
    "YҮΥ",
    "ZΖ",
]
HOMOGLYPHS = {ch: group.replace(ch, "") for group in _CONFUSABLES for ch in group}


def _strip_marks(ch: str) -> str:
    decomposed = unicodedata.normalize("NFD", ch)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_UNDECOMPOSABLE)


def _latin_mark(text: str, i: int) -> bool:
    """A precomposed accented Latin letter, or a combining mark on a Latin letter."""
    ch = text[i]
    if unicodedata.combining(ch):
        j = i
        while j > 0 and unicodedata.combining(text[j - 1]):
            j -= 1
        return j > 0 and char_script(text[j - 1]) == "Latin"
    return char_script(ch) == "Latin" and _strip_marks(ch) != ch


def strip_diacritics(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Strip accents from Latin letters (``é`` → ``e``, ``ł`` → ``l``), precomposed or combining."""
    marked = [i for i in range(len(text)) if _latin_mark(text, i)]
    bare = set(rng.sample(marked, count(strength, len(marked))))
    return "".join(
        ("" if unicodedata.combining(ch) else _strip_marks(ch)) if i in bare else ch for i, ch in enumerate(text)
    )


def width_full(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """ASCII letters, digits and punctuation as full-width forms (``Ａ１！``), as CJK input methods type them."""
    ascii_ = positions(text, lambda ch: "!" <= ch <= "~")
    wide = set(rng.sample(ascii_, count(strength, len(ascii_))))
    return "".join(chr(ord(ch) + _FULL_OFFSET) if i in wide else ch for i, ch in enumerate(text))


def _half(ch: str) -> str:
    if "\uff01" <= ch <= "\uff5e":
        return chr(ord(ch) - _FULL_OFFSET)
    return _HALF_PUNCT.get(ch, ch)


def width_half(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Full-width forms and CJK punctuation as half-width (``，`` → ``,``, ``。`` → ``｡``)."""
    wide = positions(text, lambda ch: _half(ch) != ch)
    narrow = set(rng.sample(wide, count(strength, len(wide))))
    return "".join(_half(ch) if i in narrow else ch for i, ch in enumerate(text))


def arabic_tatweel(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Stretch joins between Arabic letters with tatweel (``كـــتاب``)."""
    joins = [
        i
        for i in range(len(text) - 1)
        if char_script(text[i]) == "Arabic" and text[i] not in _NO_JOIN_AFTER and char_script(text[i + 1]) == "Arabic"
    ]
    stretched = set(rng.sample(joins, count(strength, len(joins))))
    return "".join(ch + TATWEEL * rng.randint(1, 3) if i in stretched else ch for i, ch in enumerate(text))


def arabic_harakat(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Add harakat (short-vowel marks, tanwin, shadda, sukun) to bare Arabic letters."""
    bare = [
        i
        for i, ch in enumerate(text)
        if char_script(ch) == "Arabic" and ch != TATWEEL and (i + 1 == len(text) or text[i + 1] not in _HARAKAT_ALL)
    ]
    marked = set(rng.sample(bare, count(strength, len(bare))))
    return "".join(ch + rng.choice(HARAKAT) if i in marked else ch for i, ch in enumerate(text))


def arabic_harakat_strip(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Remove harakat from vocalised Arabic (most real text is unvocalised)."""
    marks = positions(text, lambda ch: ch in _HARAKAT_ALL)
    drop = set(rng.sample(marks, count(strength, len(marks))))
    return "".join(ch for i, ch in enumerate(text) if i not in drop)


def homoglyphs(text: str, strength: float, rng: random.Random, context: Context) -> str:
    """Swap letters for lookalikes from another script (Latin ``a`` → Cyrillic ``а``, Greek ``ο`` → Latin ``o``)."""
    swappable = positions(text, lambda ch: ch in HOMOGLYPHS)
    chars = list(text)
    for i in rng.sample(swappable, count(strength, len(swappable))):
        chars[i] = rng.choice(HOMOGLYPHS[chars[i]])
    return "".join(chars)
