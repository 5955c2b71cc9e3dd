"""Raw-text corpora for pre-training and vocabulary trimming: one text per line, grouped by language.

A corpus is given as ``[LANG=]PATH`` specs. ``PATH`` is a UTF-8 text file or a folder; in a
folder each ``*.txt`` file is one language, named by its stem (``corpus/fr.txt``), unless
``LANG=`` names the language of the whole folder. A file without ``LANG=`` is the language
of its stem. Blank lines are skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edgeptm.data.datasets import Dataset, read_lines
from edgeptm.errors import DataError

Corpus = dict[str, list[str]]
"""Language -> lines of text, in file order."""


def parse_spec(spec: str) -> tuple[str | None, Path]:
    """``LANG=PATH`` or ``PATH`` -> (language or None, path)."""
    lang, sep, path = spec.partition("=")
    if sep and lang and "/" not in lang and not Path(spec).exists():
        return lang.strip(), Path(path).expanduser()
    return None, Path(spec).expanduser()


def spec_paths(specs: Sequence[str]) -> list[Path]:
    """The files and folders named by ``specs`` (for fingerprints)."""
    return [parse_spec(s)[1] for s in specs]


def _files(spec: str, role: str) -> list[tuple[str, Path]]:
    lang, path = parse_spec(spec)
    if not path.exists():
        raise DataError(f"{role} {spec}: no such file or folder")
    if path.is_file():
        return [(lang or path.stem, path)]
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"{role} {spec}: no .txt files in the folder (expected one LANG.txt per language)")
    return [(lang or p.stem, p) for p in files]


def read_corpus(specs: Sequence[str], *, role: str = "corpus") -> Corpus:
    """Read every spec; a clear error for a missing path or a corpus without text."""
    if not specs:
        raise DataError(
            f"no {role} given; pass --{role.replace(' ', '-')} [LANG=]PATH (a text file or a folder of LANG.txt files)"
        )
    corpus: Corpus = {}
    for spec in specs:
        for lang, path in _files(spec, role):
            lines = [line.strip() for line in read_lines(path)]
            lines = [line for line in lines if line]
            if not lines:
                raise DataError(f"{role} {path}: empty (no text lines); pass a UTF-8 file with one text per line")
            corpus.setdefault(lang, []).extend(lines)
    return corpus


def from_dataset(data: Dataset) -> Corpus:
    """The texts of a labelled dataset, grouped by language."""
    corpus: Corpus = {}
    for example in data.examples:
        corpus.setdefault(example.language, []).append(example.text)
    return corpus


def describe(corpus: Corpus) -> str:
    """One line: languages with their line counts."""
    total = sum(len(v) for v in corpus.values())
    return f"{total} lines in {len(corpus)} languages: " + ", ".join(f"{k} {len(v)}" for k, v in sorted(corpus.items()))
