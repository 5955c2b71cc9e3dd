"""Load and validate labelled multilingual text: CSV, TSV, JSONL, or per-language folders.

A folder holds one subfolder per language (the name is the language), each in
TweetEval layout (``train_text.txt`` + ``train_labels.txt``) or one file per
split (``train.jsonl``/``.csv``/``.tsv``). A subfolder named ``all`` is an
aggregate of the others and is skipped. A folder may also hold the split files
directly, with the language in a column.

**Labels** are strings, normalised by one rule (:func:`normalise_label`): a label that is a whole number
(a JSON integer, a JSON float with an integer value such as ``1.0``, or text such as ``"1"``, ``"01"``,
``"1.0"``) means that integer, written ``"1"``; anything else is a name, kept as written (trimmed). So
``0``, ``"0"`` and ``0.0`` are one class. A label that is a number but not a whole one (``0.5``, ``NaN``,
``inf``), a boolean, a list or an object is an error naming the file, line and field, and so is a split
that mixes integer labels with names (``1`` beside ``positive``), which the rule can't reconcile.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edgeptm.errors import DataError

UNKNOWN_LANGUAGE = "und"
BUILTIN_PREFIX = "builtin:"
SPLIT_NAMES = {
    "train": ("train",),
    "eval": ("eval", "valid", "validation", "dev", "val"),
    "test": ("test",),
}
AGGREGATE_FOLDERS = {"all"}


_INTEGER = re.compile(r"[+-]?\d+")


def normalise_label(value: object) -> str:
    """The label ``value`` (as read from a file) by the module's rule: whole numbers as ``"1"``, names as written.

    Raises :class:`ValueError` saying why for a value the rule refuses (a fraction, NaN, a boolean, a list)."""
    if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
        raise ValueError(f"{json.dumps(value)} is not a label (use an integer or a name)")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        number = value
    else:
        text = str(value).strip()
        if _INTEGER.fullmatch(text):
            return str(int(text))
        try:
            number = float(text)
        except ValueError:
            return text  # a name
    if not math.isfinite(number) or number != int(number):
        raise ValueError(f"{value!r} is a number but not a whole one; labels are integers or names")
    return str(int(number))


def is_integer_label(label: str) -> bool:
    """Whether a normalised label is an integer one (``"1"``, ``"-1"``) rather than a name."""
    return bool(_INTEGER.fullmatch(label))


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    language: str


@dataclass(frozen=True)
class Columns:
    """Column (or JSON key) names in tabular files."""

    text: str = "text"
    label: str = "label"
    language: str = "language"


@dataclass
class Dataset:
    examples: list[Example]
    source: str
    locations: list[str] = field(default_factory=list)
    """``file:line`` of each example, for error messages."""

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.examples]

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self.examples]

    @property
    def languages(self) -> list[str]:
        return [e.language for e in self.examples]

    def language_set(self) -> list[str]:
        return sorted(set(self.languages))

    def filter_languages(self, keep: Iterable[str]) -> Dataset:
        keep = set(keep)
        pairs = [(e, loc) for e, loc in zip(self.examples, self.locations) if e.language in keep]
        return Dataset([e for e, _ in pairs], self.source, [loc for _, loc in pairs])


def sample_path() -> Path:
    """Folder of the built-in multilingual sample (train/eval/test JSONL)."""
    return Path(__file__).parent / "sample"


def resolve(path: str | Path) -> Path:
    """Turn ``builtin:sample`` into the packaged sample folder; leave paths alone."""
    text = str(path)
    if text.startswith(BUILTIN_PREFIX):
        name = text[len(BUILTIN_PREFIX) :]
        if name != "sample":
            raise DataError(f"{text}: unknown built-in dataset (the only one is builtin:sample)")
        return sample_path()
    return Path(text).expanduser()


def load(
    path: str | Path,
    *,
    split: str,
    columns: Columns = Columns(),
    languages: Sequence[str] | None = None,
    split_file: str | None = None,
) -> Dataset:
    """Load the ``split`` (train, eval or test) of a file or folder.

    In a folder the split is found under its usual names (:data:`SPLIT_NAMES`), or under ``split_file``
    when given: a file name such as ``valid.csv``, or a stem such as ``valid`` (then ``valid.jsonl``,
    ``.csv``, ``.tsv`` or ``valid_text.txt`` + ``valid_labels.txt``), directly or in each language subfolder.
    """
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {sorted(SPLIT_NAMES)}")
    root = resolve(path)
    if not root.exists():
        raise DataError(f"{path}: no such file or folder")
    if root.is_file():
        examples, locations = _read_table(root, columns, UNKNOWN_LANGUAGE)
    else:
        examples, locations = _read_folder(root, split, columns, split_file)
    _check_label_kinds(examples, locations, columns)
    data = Dataset(examples, str(path), locations)
    if languages:
        present = set(data.languages)
        missing = [lang for lang in languages if lang not in present]
        if missing:
            raise DataError(
                f"{path}: no {split} examples in language(s) {', '.join(missing)} "
                f"(present: {', '.join(sorted(present))})"
            )
        data = data.filter_languages(languages)
    if not data.examples:
        raise DataError(f"{path}: no {split} examples")
    return data


def _check_label_kinds(examples: list[Example], locations: list[str], columns: Columns) -> None:
    """Integer labels and names in one split can't be reconciled: a one-line error naming one of each."""
    first: dict[bool, int] = {}
    for i, example in enumerate(examples):
        first.setdefault(is_integer_label(example.label), i)
        if len(first) == 2:
            number, name = first[True], first[False]
            raise DataError(
                f"{locations[name]}: field {columns.label!r} mixes names ({examples[name].label!r}) with integer labels "
                f"({examples[number].label!r} at {locations[number]}); use one kind throughout"
            )


def _read_folder(
    root: Path, split: str, columns: Columns, split_file: str | None = None
) -> tuple[list[Example], list[str]]:
    names = (split_file,) if split_file else SPLIT_NAMES[split]
    direct = _split_file(root, names)
    if direct is not None:
        return _read_split(direct, columns, UNKNOWN_LANGUAGE)
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    langs = [p for p in subdirs if p.name not in AGGREGATE_FOLDERS] or subdirs
    examples: list[Example] = []
    locations: list[str] = []
    for sub in langs:
        found = _split_file(sub, names)
        if found is None:
            continue
        ex, loc = _read_split(found, columns, sub.name)
        examples += ex
        locations += loc
    if not examples:
        looked = " or ".join(f"{n}_text.txt+{n}_labels.txt / {n}.jsonl|csv|tsv" for n in names)
        raise DataError(
            f"{root}: no {split} split found (looked for {looked}, directly or in language subfolders); "
            f"name its file with --split {split}=FILE"
        )
    return examples, locations


def _split_file(folder: Path, names: Sequence[str]) -> Path | tuple[Path, Path] | None:
    for name in names:
        if Path(name).suffix.lower() in (".jsonl", ".csv", ".tsv"):
            if (folder / name).is_file():
                return folder / name
            continue
        text, labels = folder / f"{name}_text.txt", folder / f"{name}_labels.txt"
        if text.is_file() or labels.is_file():
            return text, labels
        for ext in (".jsonl", ".csv", ".tsv"):
            if (folder / f"{name}{ext}").is_file():
                return folder / f"{name}{ext}"
    return None


def _read_split(found: Path | tuple[Path, Path], columns: Columns, language: str) -> tuple[list[Example], list[str]]:
    if isinstance(found, tuple):
        return _read_tweeteval(*found, language)
    return _read_table(found, columns, language)


def read_lines(path: Path) -> list[str]:
    """Decode ``path`` as UTF-8 line by line, naming the line of any bad byte."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    chunks = raw.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    lines = []
    for number, chunk in enumerate(chunks, start=1):
        try:
            lines.append(chunk.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path}:{number}: invalid UTF-8 (byte 0x{chunk[exc.start]:02x} at column {exc.start + 1}); "
                "re-encode the file as UTF-8"
            ) from None
    return lines


def _read_tweeteval(text_file: Path, label_file: Path, language: str) -> tuple[list[Example], list[str]]:
    texts, labels = read_lines(text_file), read_lines(label_file)
    if len(texts) != len(labels):
        raise DataError(
            f"{text_file} has {len(texts)} lines but {label_file} has {len(labels)}; they must match line for line"
        )
    examples, locations = [], []
    for number, (text, label) in enumerate(zip(texts, labels), start=1):
        if not text.strip():
            raise DataError(f"{text_file}:{number}: empty text")
        if not label.strip():
            raise DataError(f"{label_file}:{number}: empty label")
        try:
            label = normalise_label(label)
        except ValueError as exc:
            raise DataError(f"{label_file}:{number}: label {exc}") from None
        examples.append(Example(text, label, language))
        locations.append(f"{text_file}:{number}")
    return examples, locations


def _read_table(path: Path, columns: Columns, language: str) -> tuple[list[Example], list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = _jsonl_rows(path)
    elif suffix in (".csv", ".tsv"):
        rows = _csv_rows(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv, .tsv or .jsonl")
    examples, locations = [], []
    for number, row in rows:
        for col in (columns.text, columns.label):
            if col not in row:
                raise DataError(
                    f"{path}:{number}: no {col!r} field (fields: {', '.join(map(str, row)) or 'none'}); "
                    f"name the column with --{'text' if col == columns.text else 'label'}-column"
                )
        text, label = row[columns.text], row[columns.label]
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{number}: empty text in field {columns.text!r}")
        if len(text) > MAX_FIELD_BYTES:
            raise DataError(
                f"{path}:{number}: field {columns.text!r} is longer than {MAX_FIELD_BYTES >> 20} MiB; shorten the text"
            )
        if label is None or str(label).strip() == "":
            raise DataError(f"{path}:{number}: empty label in field {columns.label!r}")
        try:
            label = normalise_label(label)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: field {columns.label!r}: label {exc}") from None
        lang = row.get(columns.language) or language
        if not isinstance(lang, str) or not lang.strip():
            raise DataError(f"{path}:{number}: field {columns.language!r} must be a language code, not {lang!r}")
        examples.append(Example(text, label, lang.strip()))
        locations.append(f"{path}:{number}")
    return examples, locations


def _jsonl_rows(path: Path) -> list[tuple[int, dict]]:
    rows = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object per line")
        rows.append((number, row))
    return rows


MAX_FIELD_BYTES = 1 << 20
"""Longest field a data file may hold (1 MiB): a text is cut to ``max_length`` tokens anyway, so a longer one
is a broken file (an unclosed quote swallowing the rest) far more often than a text."""


def _csv_rows(path: Path, delimiter: str) -> list[tuple[int, dict]]:
    csv.field_size_limit(MAX_FIELD_BYTES)
    reader = csv.DictReader(io.StringIO("\n".join(read_lines(path))), delimiter=delimiter)
    try:
        fieldnames = reader.fieldnames
        if fieldnames is None:
            raise DataError(f"{path}: empty file (expected a header row)")
        duplicated = sorted({name for name in fieldnames if fieldnames.count(name) > 1})
        if duplicated:
            raise DataError(
                f"{path}:1: the header names column {', '.join(map(repr, duplicated))} more than once; "
                "give each column its own name"
            )
        rows = []
        for row in reader:
            if None in row:
                raise DataError(
                    f"{path}:{reader.line_num}: {len(fieldnames) + len(row[None])} fields but the header has "
                    f"{len(fieldnames)}; quote fields that contain {delimiter!r}"
                )
            rows.append((reader.line_num, dict(row)))
    except csv.Error as exc:
        too_long = "field larger than field limit" in str(exc)
        why = f"a field is longer than {MAX_FIELD_BYTES >> 20} MiB (an unclosed quote?)" if too_long else str(exc)
        raise DataError(f"{path}:{reader.line_num + 1}: {why}; fix the file") from None
    return rows


class LabelMap:
    """Label names to ids, fixed once from the training set."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.ids = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def from_dataset(cls, data: Dataset) -> LabelMap:
        names = set(data.labels)
        if all(n.lstrip("-").isdigit() for n in names):
            return cls(sorted(names, key=int))
        return cls(sorted(names))

    def encode(self, data: Dataset, role: str = "eval") -> list[int]:
        """Label ids of ``data``; a clear error for a label the map doesn't have."""
        ids = []
        for example, location in zip(data.examples, data.locations):
            if example.label not in self.ids:
                raise DataError(
                    f"{location}: {role} label {example.label!r} is not among the training labels "
                    f"({', '.join(self.names)})"
                )
            ids.append(self.ids[example.label])
        return ids


def sample_evenly(data: Dataset, n: int, seed: int = 0) -> list[Example]:
    """Up to ``n`` examples drawn round-robin across languages (for calibration)."""
    rng = random.Random(seed)
    by_lang: dict[str, list[Example]] = defaultdict(list)
    for e in data.examples:
        by_lang[e.language].append(e)
    pools = [rng.sample(v, len(v)) for _, v in sorted(by_lang.items())]
    picked: list[Example] = []
    while len(picked) < n and any(pools):
        for pool in pools:
            if pool and len(picked) < n:
                picked.append(pool.pop())
    return picked


def describe(data: Dataset) -> str:
    """One line: size, languages and labels."""
    langs = Counter(data.languages)
    labels = Counter(data.labels)
    return (
        f"{len(data)} examples; languages: "
        + ", ".join(f"{k} {v}" for k, v in sorted(langs.items()))
        + "; labels: "
        + ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
    )
