"""Each built-in perturbation: what it does, determinism under a seed, strength bounds, where it applies."""

from __future__ import annotations

import random
import textwrap
import unicodedata
from collections import Counter

import pytest

from edgeptm.data.languages import canonical_language, char_script, dominant_scripts, language_scripts
from edgeptm.errors import PerturbationError
from edgeptm.perturb import Context, Perturbation, example_rng, resolve_specs
from edgeptm.perturb.builtin import builtin_perturbations
from edgeptm.perturb.chars import NEIGHBOURS
from edgeptm.perturb.orthography import HARAKAT, HOMOGLYPHS, TATWEEL
from edgeptm.perturb.social import EMOJI
from edgeptm.perturb.surface import ZERO_WIDTH
from edgeptm.perturb.text import split_units

BUILTIN = {p.name: p for p in builtin_perturbations()}
DONORS = Context("en", {"en": ["house"], "de": ["Haus", "Wetter", "schön"], "zh": ["天气"]})
EN = "The soup was delicious and the staff were kind."
# A text each perturbation has something to do on, in a script it applies to.
SAMPLES = {
    "keyboard_typo": "Врач был добрым и всё понятно объяснил.",
    "lowercase": "Das Museum öffnet um Zehn Uhr.",
    "uppercase": "das museum öffnet um zehn uhr.",
    "punct_remove": "Great, really great!",
    "punct_duplicate": "Great, really great!",
    "unicode_nfc": unicodedata.normalize("NFD", "très bien, ça marche"),
    "unicode_nfd": "très bien, ça marche",
    "unicode_nfkc": "ｆｕｌｌ width ﬁne",
    "strip_diacritics": "très bien, ça marche à l'école",
    "width_full": "价格 100 元!",
    "width_half": "服务很好，谢谢！",
    "arabic_tatweel": "يقع المقهى في زاوية الساحة.",
    "arabic_harakat": "يقع المقهى في زاوية الساحة.",
    "arabic_harakat_strip": "كَتَبَ الوَلَدُ الدَّرْسَ",
    "truncate": "one two three four five six seven eight nine ten",
}


def run(name: str, text: str | None = None, strength: float | None = None, seed: int = 0) -> str:
    text = SAMPLES.get(name, EN) if text is None else text
    return BUILTIN[name].apply(text, strength, example_rng(seed, name, text), DONORS)


# --- properties every built-in has ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_deterministic_under_seed_and_changes_its_sample(name: str) -> None:
    assert run(name) == run(name), "same seed, same text: same result"
    assert run(name) != SAMPLES.get(name, EN), f"{name} left its sample unchanged"


@pytest.mark.parametrize("name", sorted(n for n, p in BUILTIN.items() if p.strength_range == (0.0, 1.0)))
def test_zero_strength_is_identity_and_bounds_are_enforced(name: str) -> None:
    assert run(name, strength=0) == SAMPLES.get(name, EN)
    with pytest.raises(PerturbationError) as err:
        run(name, strength=1.5)
    p = BUILTIN[name]
    assert str(err.value) == (
        f"perturbation {name!r}: strength 1.5 is out of range; use 0 to 1 ({p.strength_unit}, default {p.default_strength:g})"
    )
    with pytest.raises(PerturbationError):
        run(name, strength=-0.1)


def test_seeds_give_different_noise() -> None:
    outputs = {run("char_swap", seed=s) for s in range(6)}
    assert len(outputs) > 1
    assert example_rng(1, "a", "x").random() == example_rng(1, "a", "x").random()
    assert example_rng(1, "a", "x").random() != example_rng(1, "b", "x").random()


# --- character noise ----------------------------------------------------------------------------


def test_char_swap_keeps_the_letters() -> None:
    out = run("char_swap", strength=0.3)
    assert Counter(out) == Counter(EN) and out != EN
    assert run("char_swap", "ab") == "ba"


def test_char_drop_removes_letters_only() -> None:
    out = run("char_drop", strength=0.2)
    assert len(out) == len(EN) - round(0.2 * sum(ch.isalpha() for ch in EN))
    assert out.count(" ") == EN.count(" ") and out.endswith(".")
    assert run("char_drop", "a") == "a", "never empties a one-letter text"


def test_char_insert_uses_the_texts_own_script() -> None:
    text = "Врач был добрым"
    out = run("char_insert", text, strength=0.3)
    assert len(out) == len(text) + round(0.3 * 13)
    assert {char_script(ch) for ch in out if ch != " "} == {"Cyrillic"}


def test_keyboard_typo_hits_neighbouring_keys_and_keeps_case() -> None:
    out = run("keyboard_typo", "Hello", strength=1.0)
    assert len(out) == 5 and out[0].isupper() and out[1:].islower()
    for a, b in zip("hello", out.lower()):
        assert b in NEIGHBOURS[a]
    assert set(NEIGHBOURS["ф"]) >= {"ы", "я", "й"} and "ش" in NEIGHBOURS["س"]
    assert BUILTIN["keyboard_typo"].scripts == {"Latin", "Cyrillic", "Greek", "Arabic"}


# --- word noise ---------------------------------------------------------------------------------


def test_word_drop_keeps_at_least_one_word() -> None:
    out = run("word_drop", strength=0.25)
    assert len(out.split()) == 9 - 2 and set(out.split()) <= set(EN.split())
    assert run("word_drop", "hello", strength=1.0) == "hello"
    assert len(run("word_drop", "a b c", strength=1.0).split()) == 1


def test_word_shuffle_moves_words_locally() -> None:
    out = run("word_shuffle", strength=0.3)
    assert sorted(out.split()) == sorted(EN.split()) and out != EN


def test_word_duplicate_repeats_in_place() -> None:
    out = run("word_duplicate", "one two three four five", strength=0.2)
    assert out.split() in (
        ["one", "one", "two", "three", "four", "five"],
        ["one", "two", "two", "three", "four", "five"],
        ["one", "two", "three", "three", "four", "five"],
        ["one", "two", "three", "four", "four", "five"],
        ["one", "two", "three", "four", "five", "five"],
    )


def test_word_units_split_unspaced_scripts_into_characters() -> None:
    lead, units = split_units("  我喜欢 this 餐厅。")
    assert lead == "  " and [w for w, _ in units] == ["我", "喜", "欢", "this", "餐", "厅", "。"]
    assert len(run("word_drop", "我喜欢这家餐厅", strength=0.3)) == 7 - 2


# --- surface forms ------------------------------------------------------------------------------


def test_casing() -> None:
    assert run("lowercase") == "das museum öffnet um zehn uhr."
    assert run("uppercase") == "DAS MUSEUM ÖFFNET UM ZEHN UHR."
    out = run("random_case", "abcdefghij", strength=0.3)
    assert out.lower() == "abcdefghij" and sum(ch.isupper() for ch in out) == 3
    assert BUILTIN["lowercase"].applies_to("ru", ["Cyrillic"]) and not BUILTIN["lowercase"].applies_to("zh", ["Han"])


def test_punctuation_removal_and_duplication() -> None:
    assert run("punct_remove") == "Great really great"
    assert run("punct_remove", "这很好，谢谢。") == "这很好谢谢"
    out = run("punct_duplicate", strength=1.0)
    assert out.replace(",", "").replace("!", "") == "Great really great" and ",," in out and "!!" in out


def test_extra_whitespace_and_zero_width() -> None:
    out = run("extra_whitespace", strength=1.0)
    assert out.split() == EN.split() and len(out) > len(EN)
    out = run("zero_width", strength=0.2)
    assert "".join(ch for ch in out if ch not in ZERO_WIDTH) == EN
    assert sum(ch in ZERO_WIDTH for ch in out) == round(0.2 * (len(EN) - 1))


def test_unicode_normal_forms() -> None:
    assert run("unicode_nfc") == "très bien, ça marche"
    assert run("unicode_nfd") == unicodedata.normalize("NFD", SAMPLES["unicode_nfd"])
    assert run("unicode_nfkc") == "full width fine"
    assert run("unicode_nfd", "plain ascii") == "plain ascii"


# --- script-specific ----------------------------------------------------------------------------


def test_strip_diacritics_latin_only() -> None:
    assert run("strip_diacritics") == "tres bien, ca marche a l'ecole"
    assert run("strip_diacritics", unicodedata.normalize("NFD", "été")) == "ete"
    assert run("strip_diacritics", "Łódź всё") == "Lodz всё", "Cyrillic ё is a letter of its own, kept"
    p = BUILTIN["strip_diacritics"]
    assert p.applies_to("fr", ["Latin"]) and not p.applies_to("ar", ["Arabic"])


def test_full_and_half_width_forms() -> None:
    assert run("width_full") == "价格 １００ 元！"
    assert run("width_half") == "服务很好,谢谢!"
    assert run("width_half", "「好」。") == "｢好｣｡"
    p = BUILTIN["width_full"]
    assert p.applies_to("zh", ["Han"]) and p.applies_to("ja", ["Hiragana"]) and not p.applies_to("en", ["Latin"])


def test_arabic_tatweel_only_between_joining_letters() -> None:
    text = SAMPLES["arabic_tatweel"]
    out = run("arabic_tatweel", strength=1.0)
    assert out.replace(TATWEEL, "") == text and TATWEEL in out
    before = [out[i - 1] for i, ch in enumerate(out) if ch == TATWEEL and out[i - 1] != TATWEEL]
    assert before and not set(before) & set("اأإآدذرزوؤةءى"), "only after letters that join forward"
    assert not out.endswith(TATWEEL + ".") and " " + TATWEEL not in out


def test_arabic_harakat_add_and_strip() -> None:
    text = SAMPLES["arabic_harakat"]
    out = run("arabic_harakat", strength=0.3)
    letters = sum(ch.isalpha() for ch in text)
    assert letters == 22
    assert "".join(ch for ch in out if ch not in HARAKAT) == text and sum(ch in HARAKAT for ch in out) == round(
        0.3 * 22
    )
    assert run("arabic_harakat_strip") == "كتب الولد الدرس"
    assert BUILTIN["arabic_harakat"].where() == "Arabic"


def test_homoglyphs_cross_scripts_and_look_alike() -> None:
    out = run("homoglyphs", "hello world", strength=1.0)
    assert out != "hello world" and len(out) == 11
    assert {char_script(ch) for ch in out if ch != " "} - {"Latin"}, "some letters now come from another script"
    assert all(o == i or o in HOMOGLYPHS[i] for i, o in zip("hello world", out))
    assert run("homoglyphs", "Врач", strength=1.0) != "Врач"


# --- mixing, length, social media ----------------------------------------------------------------


def test_code_switch_borrows_another_languages_words() -> None:
    out = run("code_switch", strength=0.3)
    added = Counter(out.split()) - Counter(EN.split())
    assert sum(added.values()) == 3
    donor = [lang for lang, words in DONORS.donors.items() if set(added) <= set(words)]
    assert donor and donor != ["en"], "words of one other language, never the text's own"
    assert BUILTIN["code_switch"].apply(EN, 0.3, random.Random(0), Context("en", {"en": ["x"]})) == EN
    p = BUILTIN["code_switch"]
    assert p.applies_to("en", ["Latin"], ["en", "de"]) and not p.applies_to("en", ["Latin"], ["en", "english"])


def test_truncate_cuts_a_share_of_the_words_so_languages_compare_fairly() -> None:
    assert run("truncate") == "one two three four five"
    assert run("truncate", strength=0.8) == "one two"
    assert run("truncate", strength=0.95) == "one"  # at least one word stays
    assert run("truncate", "short one", strength=0.2) == "short one"
    # Chinese counts characters: half of them go, as half of an English text's words do
    assert BUILTIN["truncate"].apply("我很喜欢这部电影", 0.5) == "我很喜欢"
    assert BUILTIN["truncate"].apply("I really like this film a lot", 0.5) == "I really like this"
    with pytest.raises(PerturbationError, match=r"strength 2 is out of range; use 0 to 0.95 \(share of words cut"):
        run("truncate", strength=2)


def test_social_media_noise() -> None:
    out = run("emoji", strength=0.3)
    assert sum(w in EMOJI for w in out.split()) == 3 and [w for w in out.split() if w not in EMOJI] == EN.split()
    out = run("urls", strength=0.2)
    urls = [w for w in out.split() if w.startswith("http")]
    assert len(urls) == 2 and all("://" in u for u in urls)
    out = run("mentions", strength=0.1)
    assert [w for w in out.split() if w.startswith("@")] and len(out.split()) == len(EN.split()) + 1


# --- languages, scripts, registry ---------------------------------------------------------------


def test_languages_as_codes_or_names() -> None:
    assert [
        canonical_language(x) for x in ("english", "EN", "en-US", "arabic", "zh", "hindi", "klingon", "tweets")
    ] == [
        "en",
        "en",
        "en",
        "ar",
        "zh",
        "hi",
        "tlh",  # a real language table knows Klingon
        "tweets",
    ]
    p = Perturbation("x", "x", lambda t, s, r, c: t, languages={"german"})
    assert p.applies_to("de", ["Latin"]) and p.applies_to("German", ["Latin"]) and not p.applies_to("en", ["Latin"])


def test_scripts_read_from_the_texts() -> None:
    assert [char_script(ch) for ch in "aЖωب中あア한क1"] == [
        "Latin",
        "Cyrillic",
        "Greek",
        "Arabic",
        "Han",
        "Hiragana",
        "Katakana",
        "Hangul",
        "Devanagari",
        None,
    ]
    assert dominant_scripts(["Hello мир мир мир"]) == ["Cyrillic", "Latin"]
    # UMSAB's Hindi is romanised: read from the texts, not assumed Devanagari; no letters: the table's.
    assert language_scripts({"hindi": ["ye mast tha :)"], "ar": ["123 !!"]}) == {"hindi": ["Latin"], "ar": ["Arabic"]}


def test_resolve_specs_errors() -> None:
    with pytest.raises(PerturbationError) as err:
        resolve_specs(BUILTIN, ["char_swapp"])
    assert (
        str(err.value)
        == "unknown perturbation 'char_swapp'; did you mean 'char_swap'? `edgeptm robustness --list` shows the 29 registered"
    )
    with pytest.raises(PerturbationError) as err:
        resolve_specs(BUILTIN, ["char_swap:lots"])
    assert str(err.value) == "perturbation 'char_swap:lots': strength 'lots' is not a number; use NAME[:STRENGTH]"
    specs = resolve_specs(BUILTIN, ["char_swap", "char_swap:0.3", "truncate:0.3", "char_swap"])
    assert [s.label for s in specs] == ["char_swap", "char_swap@0.3", "truncate@0.3"]
    assert len(resolve_specs(BUILTIN, [])) == len(BUILTIN)
    with pytest.raises(
        PerturbationError, match="^no perturbations are registered; the built-in suite is the `perturbations` plugin"
    ):
        resolve_specs({}, None)


PLUGIN = """
from edgeptm import hookimpl
from edgeptm.perturb import Perturbation

@hookimpl
def edgeptm_register_perturbations(register):
    register(Perturbation("leet", "letters as digits", lambda t, s, r, c: t.replace("e", "3"), scripts={"Latin"}))
"""
RAISES = """
from edgeptm import hookimpl

@hookimpl
def edgeptm_register_perturbations(register):
    raise RuntimeError("boom")
"""


def test_plugins_register_perturbations_and_a_raising_one_is_reported(tmp_path, monkeypatch) -> None:
    from edgeptm.plugins import load_plugins

    for name, code in (("pt_leet", PLUGIN), ("pt_raises", RAISES)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    monkeypatch.syspath_prepend(str(tmp_path))
    import pt_leet
    import pt_raises

    plugins = load_plugins(extra=[pt_leet, pt_raises])
    found = plugins.perturbations()
    assert [n for n in found if n != "leet"] == list(BUILTIN), "the built-ins come through the same hook"
    assert len(found) == len(BUILTIN) + 1
    assert found["leet"].apply("free") == "fr33"
    assert [str(p) for p in plugins.problems] == [
        "plugin 'pt_raises': edgeptm_register_perturbations raised RuntimeError: boom"
    ]
