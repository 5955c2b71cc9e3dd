"""Tokenizer coverage: unknown tokens and tokens per word per language, and the warning above the threshold."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from edgeptm.measure.coverage import count_words, coverage_rows, measure_coverage

AMHARIC = ["ሰላም ነው እንዴት ነህ", "ዛሬ ጥሩ ቀን ነው", "ይህ መጽሐፍ በጣም ጥሩ ነው"]
THAI = ["ที่นี่อากาศดีมาก", "ฉันชอบหนังเรื่องนี้"]


def tokenizer_of(model: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model / "tokenizer.json"))


def test_words_are_spaced_runs_or_characters_of_unspaced_scripts() -> None:
    assert count_words("Hello, world!") == (2, 0)
    assert count_words("我喜欢 this 电影") == (6, 5)  # five Han characters and one Latin word
    assert count_words("ที่นี่") == (2, 2)  # combining vowel and tone marks belong to their consonant
    assert count_words("abc中def") == (3, 1)


def test_coverage_finds_the_scripts_the_tokenizer_cannot_read(tiny_base: Path, sample) -> None:
    # the tokenizer's vocabulary was trained on the train split, so it reads that text
    en = [e.text for e in sample["train"].examples if e.language == "en"]
    zh = [e.text for e in sample["train"].examples if e.language == "zh"]
    coverage = measure_coverage(tokenizer_of(tiny_base), {"am": AMHARIC, "th": THAI, "en": en, "zh": zh})
    c = coverage.per_language
    assert c["am"].unk_rate > 0.9 and c["th"].unk_rate > 0.9
    assert c["en"].unk_rate < 0.05 and c["zh"].unk_rate < 0.05
    assert c["en"].word_unit == "words" and c["zh"].word_unit == "characters" and c["th"].word_unit == "characters"
    assert c["en"].words == sum(len(t.split()) for t in en)
    assert 1.0 <= c["en"].tokens_per_word < 4  # a vocabulary trained on this text splits few words
    poor = coverage.poor()
    assert {x.language for x in poor} == {"am", "th"} and poor[0].unk_rate >= poor[1].unk_rate
    warning = coverage.warning("m")
    assert warning is not None
    named = re.match(
        r"warning: the tokenizer of m turns over 5% of the tokens into its unknown token in (.*?): ", warning
    )
    assert named and named.group(1) in ("am 100%, th 100%", "th 100%, am 100%")
    assert "`edgeptm pretrain" in warning and "`edgeptm trim-vocab`" in warning
    headers, rows = coverage_rows(coverage.to_json())
    assert headers[:4] == ["language", "texts", "unk %", "tokens/word"]
    assert {r[0]: r[4] for r in rows} == {"am": "above 5%", "en": "ok", "th": "above 5%", "zh": "ok"}
    # the threshold is the caller's
    assert measure_coverage(tokenizer_of(tiny_base), {"am": AMHARIC}, max_unk_rate=1.0).warning("m") is None


def test_evaluate_reports_coverage_and_warns_above_the_threshold(cli, finetuned: Path, sample, tmp_path) -> None:
    rows = [{"text": t, "label": "neutral", "language": "am"} for t in AMHARIC]
    rows += [{"text": e.text, "label": e.label, "language": e.language} for e in sample["test"].examples[:40]]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = CliRunner().invoke(cli, ["evaluate", "--artifact", str(finetuned), "--data", str(path), "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)[0]
    assert result["coverage"]["per_language"]["am"]["unk_rate"] > 0.9
    warning = r.stderr.strip().splitlines()[-1]
    assert warning.startswith(
        f"warning: the tokenizer of {finetuned} turns over 5% of the tokens into its unknown token in am 1"
    )
    # the sample's own test Chinese has characters its 2000-token vocabulary never saw: also named, after Amharic
    assert result["coverage"]["per_language"]["zh"]["unk_rate"] > 0.05 and ", zh " in warning
    r = CliRunner().invoke(
        cli, ["evaluate", "--artifact", str(finetuned), "--data", str(path), "--max-unk-rate", "1", "--json"]
    )
    assert r.exit_code == 0 and "unknown token" not in r.stderr
