"""The built-in perturbation suite, registered through ``edgeptm_register_perturbations`` like a
plugin's (entry point ``perturbations`` in the ``edgeptm`` group)."""

from __future__ import annotations

from edgeptm import hookimpl
from edgeptm.data.languages import CASED_SCRIPTS, CJK_SCRIPTS
from edgeptm.perturb import chars, mixing, orthography, social, surface, words
from edgeptm.perturb.base import Perturbation

KEYBOARD_SCRIPTS = frozenset(chars.LAYOUTS)
HOMOGLYPH_SCRIPTS = frozenset({"Latin", "Cyrillic", "Greek"})
LETTERS = "share of letters changed"
WORDS = "share of words changed"
"""In scripts written without spaces (Han, Kana, Thai, Lao, Khmer, Myanmar) each character counts as a word."""
INSERTED = "insertions per word"


def builtin_perturbations() -> list[Perturbation]:
    P = Perturbation
    return [
        P(
            "char_swap",
            "swap adjacent letters (teh)",
            chars.char_swap,
            "character",
            default_strength=0.1,
            strength_unit=LETTERS,
        ),
        P("char_drop", "drop letters", chars.char_drop, "character", default_strength=0.1, strength_unit=LETTERS),
        P(
            "char_insert",
            "insert letters of the text's own script",
            chars.char_insert,
            "character",
            default_strength=0.1,
            strength_unit=LETTERS,
        ),
        P(
            "keyboard_typo",
            "hit a neighbouring key (QWERTY, ЙЦУКЕН, Greek, Arabic layouts)",
            chars.keyboard_typo,
            "character",
            scripts=KEYBOARD_SCRIPTS,
            default_strength=0.1,
            strength_unit=LETTERS,
        ),
        P("word_drop", "drop words", words.word_drop, "word", default_strength=0.2, strength_unit=WORDS),
        P(
            "word_shuffle",
            "move words by one or two places",
            words.word_shuffle,
            "word",
            default_strength=0.2,
            strength_unit=WORDS,
        ),
        P("word_duplicate", "repeat words", words.word_duplicate, "word", default_strength=0.2, strength_unit=WORDS),
        P(
            "lowercase",
            "lower-case words",
            surface.lowercase,
            "surface",
            scripts=CASED_SCRIPTS,
            default_strength=1.0,
            strength_unit=WORDS,
        ),
        P(
            "uppercase",
            "upper-case words",
            surface.uppercase,
            "surface",
            scripts=CASED_SCRIPTS,
            default_strength=1.0,
            strength_unit=WORDS,
        ),
        P(
            "random_case",
            "flip the case of letters (hElLo)",
            surface.random_case,
            "surface",
            scripts=CASED_SCRIPTS,
            default_strength=0.3,
            strength_unit=LETTERS,
        ),
        P(
            "punct_remove",
            "remove punctuation",
            surface.punct_remove,
            "surface",
            default_strength=1.0,
            strength_unit="share of marks removed",
        ),
        P(
            "punct_duplicate",
            "repeat punctuation (!!!)",
            surface.punct_duplicate,
            "surface",
            default_strength=0.5,
            strength_unit="share of marks repeated",
        ),
        P(
            "extra_whitespace",
            "extra spaces, tabs, no-break and ideographic spaces between words",
            surface.extra_whitespace,
            "surface",
            default_strength=0.3,
            strength_unit="share of gaps widened",
        ),
        P(
            "zero_width",
            "invisible zero-width characters between characters",
            surface.zero_width,
            "surface",
            default_strength=0.1,
            strength_unit="insertions per character",
        ),
        P(
            "unicode_nfc",
            "Unicode NFC (composed) form",
            surface.unicode_nfc,
            "surface",
            default_strength=1.0,
            strength_unit=WORDS,
        ),
        P(
            "unicode_nfd",
            "Unicode NFD (decomposed) form",
            surface.unicode_nfd,
            "surface",
            default_strength=1.0,
            strength_unit=WORDS,
        ),
        P(
            "unicode_nfkc",
            "Unicode NFKC (compatibility) form",
            surface.unicode_nfkc,
            "surface",
            default_strength=1.0,
            strength_unit=WORDS,
        ),
        P(
            "strip_diacritics",
            "strip accents from Latin letters (é → e)",
            orthography.strip_diacritics,
            "script",
            scripts={"Latin"},
            default_strength=1.0,
            strength_unit="share of accents stripped",
        ),
        P(
            "width_full",
            "ASCII as full-width forms (Ａ１！)",
            orthography.width_full,
            "script",
            scripts=CJK_SCRIPTS,
            default_strength=1.0,
            strength_unit="share of ASCII characters widened",
        ),
        P(
            "width_half",
            "full-width forms and CJK punctuation as half-width",
            orthography.width_half,
            "script",
            scripts=CJK_SCRIPTS,
            default_strength=1.0,
            strength_unit="share of wide characters narrowed",
        ),
        P(
            "arabic_tatweel",
            "stretch joins with tatweel (كـــتاب)",
            orthography.arabic_tatweel,
            "script",
            scripts={"Arabic"},
            default_strength=0.3,
            strength_unit="share of joins stretched",
        ),
        P(
            "arabic_harakat",
            "add harakat to bare letters",
            orthography.arabic_harakat,
            "script",
            scripts={"Arabic"},
            default_strength=0.3,
            strength_unit=LETTERS,
        ),
        P(
            "arabic_harakat_strip",
            "remove harakat",
            orthography.arabic_harakat_strip,
            "script",
            scripts={"Arabic"},
            default_strength=1.0,
            strength_unit="share of marks removed",
        ),
        P(
            "homoglyphs",
            "Latin/Cyrillic/Greek lookalikes (a → а)",
            orthography.homoglyphs,
            "script",
            scripts=HOMOGLYPH_SCRIPTS,
            default_strength=0.3,
            strength_unit=LETTERS,
        ),
        P(
            "code_switch",
            "insert words from another language's sample",
            mixing.code_switch,
            "mixing",
            default_strength=0.2,
            strength_unit=INSERTED,
            needs_other_languages=True,
        ),
        P(
            "truncate",
            "cut the end of the text (a share of its words, so languages compare fairly)",
            mixing.truncate,
            "length",
            strength_range=(0, 0.95),
            default_strength=0.5,
            strength_unit="share of words cut from the end",
        ),
        P(
            "emoji",
            "insert emoji (objects, no faces or hearts)",
            social.emoji,
            "social",
            default_strength=0.1,
            strength_unit=INSERTED,
        ),
        P("urls", "insert URLs", social.urls, "social", default_strength=0.1, strength_unit=INSERTED),
        P("mentions", "insert @mentions", social.mentions, "social", default_strength=0.1, strength_unit=INSERTED),
    ]


@hookimpl
def edgeptm_register_perturbations(register):
    for perturbation in builtin_perturbations():
        register(perturbation)
