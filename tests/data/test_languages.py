"""Scripts come from the Unicode Script property, languages from langcodes' tables."""

from __future__ import annotations

import pytest

from edgeptm.data.languages import canonical_language, char_script, dominant_scripts, language_scripts, usual_scripts


@pytest.mark.parametrize(
    ("ch", "script"),
    [
        ("a", "Latin"),
        ("ʰ", "Latin"),  # MODIFIER LETTER SMALL H: its name says "Modifier", its script is Latin
        ("ꟹ", "Latin"),
        ("𝐀", "Common"),  # MATHEMATICAL BOLD CAPITAL A: Common, not "Mathematical"
        ("Ａ", "Latin"),  # FULLWIDTH LATIN CAPITAL LETTER A
        ("中", "Han"),
        ("あ", "Hiragana"),
        ("ｱ", "Katakana"),  # HALFWIDTH KATAKANA LETTER A
        ("한", "Hangul"),
        ("ب", "Arabic"),
        ("ह", "Devanagari"),
        ("ё", "Cyrillic"),
        ("ሀ", "Ethiopic"),
        ("ก", "Thai"),
        ("ª", "Latin"),
        ("1", None),
        (" ", None),
        ("\u0301", None),  # a combining mark is no letter
    ],
)
def test_char_script_is_the_unicode_script_property(ch: str, script: str | None) -> None:
    assert char_script(ch) == script


def test_no_letter_is_named_after_its_character_name() -> None:
    """Every letter of the BMP maps to a real script name, none to a word of its character name."""
    import unicodedata

    from fontTools import unicodedata as ucd

    names = {ucd.script_name(code) for code in ucd.Scripts.VALUES if code not in ("Zzzz",)}
    bad = {
        chr(cp)
        for cp in range(0x10000)
        if unicodedata.category(chr(cp)).startswith("L") and char_script(chr(cp)) not in names
    }
    assert not bad


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("english", "en"),
        ("English", "en"),
        ("eng", "en"),
        ("en", "en"),
        ("en_US", "en"),
        ("pt-BR", "pt"),
        ("portuguese", "pt"),
        ("zh-Hans", "zh"),
        ("amharic", "am"),
        ("swahili", "sw"),
        ("hau", "ha"),  # MasakhaNER's folder names are ISO 639-3
        ("tweets", "tweets"),
        ("", ""),
    ],
)
def test_canonical_language(given: str, code: str) -> None:
    assert canonical_language(given) == code


def test_usual_scripts_and_reading_scripts_from_texts() -> None:
    assert usual_scripts("arabic") == ("Arabic",)
    assert usual_scripts("am") == ("Ethiopic",)
    assert usual_scripts("ja") == ("Han", "Hiragana", "Katakana")
    assert dominant_scripts(["Привет мир", "hello"]) == ["Cyrillic", "Latin"]
    # romanised Hindi is read as Latin; a language with no letters falls back to its usual script
    assert language_scripts({"hindi": ["mera naam"], "th": ["123"]}) == {"hindi": ["Latin"], "th": ["Thai"]}
