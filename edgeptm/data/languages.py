"""Unicode scripts of characters and texts, and language codes versus English names.

Languages appear as BCP 47 / ISO 639 codes (``en``, ``ar``, ``zh-Hans``, ``eng``) or English names
(``english``, ``arabic``, from per-language folder names); :func:`canonical_language` maps both to the
shortest ISO 639 code with ``langcodes`` (its full language tables, not a hand-made list). A letter's
script is its Unicode Script property (Scripts.txt, through fontTools), never a guess from its
character name: ``ʰ`` is Latin and ``𝐀`` is Common. A language's scripts are read from its texts
(UMSAB's Hindi, for one, is romanised) and fall back to the likely script CLDR gives the language
when its texts hold no letters.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

CJK_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Hangul"})
CASED_SCRIPTS = frozenset({"Latin", "Cyrillic", "Greek", "Armenian", "Georgian"})
_COMPOSITE_SCRIPTS = {
    "Hans": ("Han",),
    "Hant": ("Han",),
    "Jpan": ("Han", "Hiragana", "Katakana"),
    "Kore": ("Hangul", "Han"),
}
"""ISO 15924 codes for writing systems that mix scripts (CLDR's likely scripts use them)."""


@lru_cache(maxsize=4096)
def canonical_language(language: str) -> str:
    """The ISO 639 code for a code or English name (``english`` → ``en``, ``eng`` → ``en``,
    ``pt-BR`` → ``pt``); anything else lower-cased."""
    import langcodes

    key = language.strip().lower().replace("_", "-")
    if not key:
        return key
    try:
        if langcodes.tag_is_valid(key):
            code = langcodes.Language.get(key).language
        else:
            code = langcodes.find(key).language
    except (LookupError, ValueError):
        return key
    return code if code and code != "und" else key


def usual_scripts(language: str) -> tuple[str, ...]:
    """The scripts a language is usually written in (CLDR's likely script), e.g. ``ar`` → Arabic."""
    import langcodes
    from fontTools import unicodedata as ucd

    try:
        code = langcodes.Language.get(canonical_language(language)).maximize().script
    except (LookupError, ValueError):
        return ()
    if not code:
        return ()
    if code in _COMPOSITE_SCRIPTS:
        return _COMPOSITE_SCRIPTS[code]
    try:
        return (ucd.script_name(code),)
    except KeyError:
        return ()


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """The Unicode Script property of a letter (``Latin``, ``Cyrillic``, ``Han`` …), ``Common`` for
    letters shared by all scripts (mathematical alphanumerics); ``None`` for non-letters."""
    from fontTools import unicodedata as ucd

    if not unicodedata.category(ch).startswith("L"):
        return None
    return ucd.script_name(ucd.script(ch))


def script_counts(texts: Iterable[str]) -> Counter[str]:
    """Letters per script over ``texts``."""
    counts: Counter[str] = Counter()
    for text in texts:
        for ch in text:
            script = char_script(ch)
            if script is not None:
                counts[script] += 1
    return counts


def dominant_scripts(texts: Iterable[str], min_share: float = 0.1) -> list[str]:
    """Scripts holding at least ``min_share`` of the letters, most frequent first."""
    counts = script_counts(texts)
    total = sum(counts.values())
    return [s for s, n in counts.most_common() if total and n / total >= min_share]


def language_scripts(texts_by_language: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each language's scripts, read from its texts (the table's when they hold no letters)."""
    out = {}
    for language, texts in texts_by_language.items():
        found = dominant_scripts(texts)
        if not found:
            found = list(usual_scripts(language))
        out[language] = found
    return out
