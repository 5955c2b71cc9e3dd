"""Tokenizer coverage per language: the share of unknown tokens and the tokens per word.

A tokenizer that can't read a script turns its words into the unknown token, and a model fed mostly
unknown tokens can't learn that language, whatever else is done; a high tokens-per-word means short
sequences are cut early and inference costs more. Both are measured on the texts themselves, per
language, so that ``finetune``, ``evaluate`` and ``pretrain`` warn before a figure is trusted.

What a *word* is: a run of non-space characters; in scripts written without spaces (Han, Hiragana,
Katakana, Thai, Lao, Khmer, Myanmar) each character with its combining marks counts as one word
instead, since there is no space to count by. A Chinese character is about a morpheme, so there the
figure is tokens per character; in Thai a word is several characters, so Thai's tokens per word is
low by construction and compares only with itself (e.g. before and after ``pretrain``). Such languages
are marked ``"characters"`` in :attr:`LanguageCoverage.word_unit`.

Works on a ``tokenizers.Tokenizer`` (what every edgeptm model folder and artifact ships as
``tokenizer.json``); special tokens are not counted and nothing is truncated.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from typing_extensions import TypedDict

from edgeptm.data.languages import char_script
from edgeptm.perturb.text import UNSPACED_SCRIPTS

DEFAULT_MAX_UNK_RATE = 0.05
"""Above this share of unknown tokens in a language, commands warn."""
BATCH = 256


@dataclass(frozen=True)
class LanguageCoverage:
    """How well a tokenizer reads one language's texts."""

    language: str
    texts: int
    words: int
    tokens: int
    unknown: int
    word_unit: str
    """``words``, or ``characters`` where most words are in a script written without spaces."""

    @property
    def unk_rate(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    @property
    def tokens_per_word(self) -> float:
        return self.tokens / self.words if self.words else 0.0


class CoverageJSON(TypedDict):
    """What :meth:`Coverage.to_json` writes (into ``metrics.json`` and evaluation results)."""

    max_unk_rate: float
    per_language: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Coverage:
    """A tokenizer's coverage of each language, and the threshold it is judged by."""

    per_language: dict[str, LanguageCoverage]
    max_unk_rate: float = DEFAULT_MAX_UNK_RATE

    def poor(self) -> list[LanguageCoverage]:
        """The languages above the unknown-token threshold, worst first."""
        bad = [c for c in self.per_language.values() if c.unk_rate > self.max_unk_rate]
        return sorted(bad, key=lambda c: (-c.unk_rate, c.language))

    def warning(self, model: str) -> str | None:
        """One line naming the languages the tokenizer of ``model`` can't read, and what to do; ``None`` if none."""
        poor = self.poor()
        if not poor:
            return None
        langs = ", ".join(f"{c.language} {100 * c.unk_rate:.0f}%" for c in poor)
        return (
            f"warning: the tokenizer of {model} turns over {100 * self.max_unk_rate:g}% of the tokens into its unknown "
            f"token in {langs}: the model can't read those words, so figures there measure little; pre-train a "
            "model with its own tokenizer on text in these languages (`edgeptm pretrain --corpus LANG=FILE ...`), "
            "or start from a model whose vocabulary covers them and `edgeptm trim-vocab` it to those languages"
        )

    def to_json(self) -> CoverageJSON:
        return {
            "max_unk_rate": self.max_unk_rate,
            "per_language": {
                lang: {**asdict(c), "unk_rate": c.unk_rate, "tokens_per_word": c.tokens_per_word}
                for lang, c in self.per_language.items()
            },
        }


def coverage_rows(coverage: Mapping[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Table headers and one row per language of a coverage JSON block: texts, unknown %, tokens per word."""
    rows: list[list[Any]] = []
    for lang, c in coverage["per_language"].items():
        per = f"{c['tokens_per_word']:.2f}" + (" per char" if c["word_unit"] == "characters" else "")
        flag = f"above {100 * coverage['max_unk_rate']:g}%" if c["unk_rate"] > coverage["max_unk_rate"] else "ok"
        rows.append([lang, c["texts"], 100 * c["unk_rate"], per, flag])
    return ["language", "texts", "unk %", "tokens/word", "unknown tokens"], rows


def coverage_column(coverage: Mapping[str, Any] | None, language: str) -> str:
    """``unk % / tokens per word`` of one language from a coverage JSON block, for summary tables; ``-`` if absent."""
    if not coverage or language not in coverage.get("per_language", {}):
        return "-"
    c = coverage["per_language"][language]
    unit = "char" if c["word_unit"] == "characters" else ""
    flag = " (above threshold)" if c["unk_rate"] > coverage["max_unk_rate"] else ""
    return f"{100 * c['unk_rate']:.1f}% unk, {c['tokens_per_word']:.2f} tok/{unit or 'word'}{flag}"


def count_words(text: str) -> tuple[int, int]:
    """Words of ``text`` (see the module docstring) and how many of them are characters of an unspaced script."""
    words = chars = 0
    for piece in text.split():
        run = False  # inside a run of spaced-script characters
        for ch in piece:
            if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Mc", "Me"):
                continue  # a combining mark belongs to the character before it
            if char_script(ch) in UNSPACED_SCRIPTS:
                words += 1
                chars += 1
                run = False
            elif not run:
                words += 1
                run = True
    return words, chars


def unknown_id(tokenizer: Any) -> int | None:
    """The id of the tokenizer's unknown token (``None`` for byte-level models, which have none)."""
    model = json.loads(tokenizer.to_str()).get("model", {})
    if isinstance(model.get("unk_id"), int):
        return int(model["unk_id"])
    token = model.get("unk_token")
    return tokenizer.token_to_id(token) if token else None


def measure_coverage(
    tokenizer: Any, texts: Mapping[str, Sequence[str]], max_unk_rate: float = DEFAULT_MAX_UNK_RATE
) -> Coverage:
    """Coverage of ``tokenizer`` (a ``tokenizers.Tokenizer``) on each language's ``texts``."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer.to_str())  # a copy: no truncation, no padding
    tok.no_truncation()
    tok.no_padding()
    unk = unknown_id(tok)
    out: dict[str, LanguageCoverage] = {}
    for lang in sorted(texts):
        lines = list(texts[lang])
        tokens = unknown = words = chars = 0
        for start in range(0, len(lines), BATCH):
            for enc in tok.encode_batch(lines[start : start + BATCH], add_special_tokens=False):
                tokens += len(enc.ids)
                unknown += enc.ids.count(unk) if unk is not None else 0
        for line in lines:
            w, c = count_words(line)
            words, chars = words + w, chars + c
        unit = "characters" if words and chars > words / 2 else "words"
        out[lang] = LanguageCoverage(lang, len(lines), words, tokens, unknown, unit)
    return Coverage(out, max_unk_rate)


def by_language(texts: Sequence[str], languages: Sequence[str]) -> dict[str, list[str]]:
    """Texts grouped by their language."""
    out: dict[str, list[str]] = {}
    for text, lang in zip(texts, languages):
        out.setdefault(lang, []).append(text)
    return out
