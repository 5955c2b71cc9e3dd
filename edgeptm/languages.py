"""Unicode scripts of characters and texts, and language codes versus English names.

Languages appear as ISO 639-1 codes (``en``, ``ar``, ``zh``) or English names (``english``,
``arabic``, from per-language folder names); :func:`canonical_language` maps both to the code.
A language's scripts are read from its texts (UMSAB's Hindi, for one, is romanised), and fall
back to the table below when its texts hold no letters.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

# code: (English name, usual scripts)
LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ar": ("arabic", ("Arabic",)),
    "bg": ("bulgarian", ("Cyrillic",)),
    "bn": ("bengali", ("Bengali",)),
    "ca": ("catalan", ("Latin",)),
    "cs": ("czech", ("Latin",)),
    "da": ("danish", ("Latin",)),
    "de": ("german", ("Latin",)),
    "el": ("greek", ("Greek",)),
    "en": ("english", ("Latin",)),
    "es": ("spanish", ("Latin",)),
    "fa": ("persian", ("Arabic",)),
    "fi": ("finnish", ("Latin",)),
    "fr": ("french", ("Latin",)),
    "he": ("hebrew", ("Hebrew",)),
    "hi": ("hindi", ("Devanagari",)),
    "hu": ("hungarian", ("Latin",)),
    "id": ("indonesian", ("Latin",)),
    "it": ("italian", ("Latin",)),
    "ja": ("japanese", ("Han", "Hiragana", "Katakana")),
    "ko": ("korean", ("Hangul",)),
    "mr": ("marathi", ("Devanagari",)),
    "nl": ("dutch", ("Latin",)),
    "no": ("norwegian", ("Latin",)),
    "pl": ("polish", ("Latin",)),
    "pt": ("portuguese", ("Latin",)),
    "ro": ("romanian", ("Latin",)),
    "ru": ("russian", ("Cyrillic",)),
    "sr": ("serbian", ("Cyrillic", "Latin")),
    "sv": ("swedish", ("Latin",)),
    "sw": ("swahili", ("Latin",)),
    "ta": ("tamil", ("Tamil",)),
    "th": ("thai", ("Thai",)),
    "tr": ("turkish", ("Latin",)),
    "uk": ("ukrainian", ("Cyrillic",)),
    "ur": ("urdu", ("Arabic",)),
    "vi": ("vietnamese", ("Latin",)),
    "zh": ("chinese", ("Han",)),
}
_BY_NAME = {name: code for code, (name, _) in LANGUAGES.items()}
CJK_SCRIPTS = frozenset({"Han", "Hiragana", "Katakana", "Hangul"})
CASED_SCRIPTS = frozenset({"Latin", "Cyrillic", "Greek", "Armenian", "Georgian"})
_SCRIPT_WORDS = {"CJK": "Han", "IDEOGRAPHIC": "Han"}
_WIDTH_PREFIXES = ("FULLWIDTH ", "HALFWIDTH ")


def canonical_language(language: str) -> str:
    """The ISO 639-1 code for a code or English name (``english`` → ``en``); others lower-cased."""
    key = language.strip().lower().replace("_", "-")
    if key in LANGUAGES:
        return key
    if key in _BY_NAME:
        return _BY_NAME[key]
    base = key.split("-", 1)[0]  # en-US, zh-Hans
    return base if base in LANGUAGES else key


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """The Unicode script of a letter (``Latin``, ``Cyrillic``, ``Han`` …); ``None`` for non-letters."""
    if not unicodedata.category(ch).startswith("L"):
        return None
    name = unicodedata.name(ch, "")
    for prefix in _WIDTH_PREFIXES:
        name = name.removeprefix(prefix)
    word = name.split(" ", 1)[0]
    if not word:
        return None
    return _SCRIPT_WORDS.get(word.split("-", 1)[0], word.title())


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
            found = list(LANGUAGES.get(canonical_language(language), ("", ()))[1])
        out[language] = found
    return out
