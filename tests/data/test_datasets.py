"""Data loading and validation: formats, per-language folders, and exact error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeptm import data
from edgeptm.errors import DataError


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_csv_tsv_and_jsonl_load_with_languages(tmp_path: Path) -> None:
    csv_file = write(tmp_path / "a.csv", 'text,label,language\n"Hola, amigo",pos,es\nBad day,neg,en\n')
    tsv_file = write(tmp_path / "a.tsv", "text\tlabel\nGood\tpos\n")
    jsonl_file = write(
        tmp_path / "a.jsonl",
        json.dumps({"text": "Привет", "label": 1, "language": "ru"}, ensure_ascii=False) + "\n\n",
    )
    assert data.load(csv_file, split="train").examples == [
        data.Example("Hola, amigo", "pos", "es"),
        data.Example("Bad day", "neg", "en"),
    ]
    assert data.load(tsv_file, split="train").examples == [data.Example("Good", "pos", "und")]
    assert data.load(jsonl_file, split="train").examples == [data.Example("Привет", "1", "ru")]


def test_custom_column_names(tmp_path: Path) -> None:
    f = write(tmp_path / "a.csv", "sentence,sentiment,lang\nNice,pos,en\n")
    loaded = data.load(f, split="train", columns=data.Columns("sentence", "sentiment", "lang"))
    assert loaded.examples == [data.Example("Nice", "pos", "en")]


def test_tweeteval_folder_takes_language_from_subfolder_and_skips_all(tmp_path: Path) -> None:
    for lang, texts, labels in (("english", "good\nbad\n", "2\n0\n"), ("arabic", "جيد\n", "2\n")):
        write(tmp_path / lang / "train_text.txt", texts)
        write(tmp_path / lang / "train_labels.txt", labels)
        write(tmp_path / lang / "val_text.txt", texts)
        write(tmp_path / lang / "val_labels.txt", labels)
    write(tmp_path / "all" / "train_text.txt", "good\nbad\nجيد\n")
    write(tmp_path / "all" / "train_labels.txt", "2\n0\n2\n")
    train = data.load(tmp_path, split="train")
    assert train.languages == ["arabic", "english", "english"]
    assert data.load(tmp_path, split="eval").texts == ["جيد", "good", "bad"]
    assert data.LabelMap.from_dataset(train).names == ["0", "2"]


def test_folder_with_one_file_per_split(tmp_path: Path) -> None:
    write(tmp_path / "de" / "train.jsonl", '{"text": "gut", "label": "pos"}\n')
    write(tmp_path / "de" / "dev.csv", "text,label\nschlecht,neg\n")
    assert data.load(tmp_path, split="train").examples == [data.Example("gut", "pos", "de")]
    assert data.load(tmp_path, split="eval").examples == [data.Example("schlecht", "neg", "de")]


def test_language_filter(sample) -> None:
    en = data.load("builtin:sample", split="train", languages=["en"])
    assert set(en.languages) == {"en"} and len(en) == 60


def test_builtin_sample_covers_eight_languages_and_two_non_latin_scripts(sample) -> None:
    langs = sample["train"].language_set()
    assert langs == ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]
    assert data.LabelMap.from_dataset(sample["train"]).names == ["negative", "neutral", "positive"]


@pytest.mark.parametrize(
    ("files", "split", "message"),
    [
        ({}, "train", "{root}/missing.csv: no such file or folder"),
        (
            {"a.csv": "txt,label\nhi,pos\n"},
            "train",
            "{root}/a.csv:2: no 'text' field (fields: txt, label); name the column with --text-column",
        ),
        (
            {"a.csv": "text,lbl\nhi,pos\n"},
            "train",
            "{root}/a.csv:2: no 'label' field (fields: text, lbl); name the column with --label-column",
        ),
        ({"a.csv": "text,label\n  ,pos\n"}, "train", "{root}/a.csv:2: empty text in field 'text'"),
        (
            {"a.jsonl": '{"text": "ok", "label": "x"}\n{"text": "", "label": "y"}\n'},
            "train",
            "{root}/a.jsonl:2: empty text in field 'text'",
        ),
        (
            {"a.jsonl": '{"text": "ok", "label": "x"}\nnot json\n'},
            "train",
            "{root}/a.jsonl:2: invalid JSON (Expecting value)",
        ),
        (
            {"a.csv": b"text,label\nok,pos\nbad \xff byte,neg\n"},
            "train",
            "{root}/a.csv:3: invalid UTF-8 (byte 0xff at column 5); re-encode the file as UTF-8",
        ),
        ({"a.txt": "x"}, "train", "{root}/a.txt: unsupported file type .txt; use .csv, .tsv or .jsonl"),
        (
            {"en/train_text.txt": "a\nb\n", "en/train_labels.txt": "1\n"},
            "train",
            "{root}/en/train_text.txt has 2 lines but {root}/en/train_labels.txt has 1; they must match line for line",
        ),
        (
            {"en/train_text.txt": "a\n\n", "en/train_labels.txt": "1\n0\n"},
            "train",
            "{root}/en/train_text.txt:2: empty text",
        ),
        ({"en/train_text.txt": "a\n"}, "train", "{root}/en/train_labels.txt: no such file"),
    ],
)
def test_bad_input_errors_name_file_and_line(tmp_path: Path, files: dict, split: str, message: str) -> None:
    for name, content in files.items():
        write(tmp_path / name, content)
    target = (
        tmp_path / (next(iter(files)) if files and "/" not in next(iter(files)) else "")
        if files
        else tmp_path / "missing.csv"
    )
    with pytest.raises(DataError) as err:
        data.load(target, split=split)
    assert str(err.value) == message.format(root=tmp_path)


def test_missing_split_in_folder(tmp_path: Path) -> None:
    write(tmp_path / "en" / "train_text.txt", "a\n")
    write(tmp_path / "en" / "train_labels.txt", "1\n")
    with pytest.raises(DataError, match=r"no test split found \(looked for test_text.txt\+test_labels.txt"):
        data.load(tmp_path, split="test")


def test_eval_label_absent_from_train(tmp_path: Path) -> None:
    train = data.load(write(tmp_path / "t.csv", "text,label\na,pos\nb,neg\n"), split="train")
    test = data.load(write(tmp_path / "e.csv", "text,label\nc,pos\nd,meh\n"), split="test")
    labels = data.LabelMap.from_dataset(train)
    with pytest.raises(DataError) as err:
        labels.encode(test, "test")
    assert str(err.value) == f"{tmp_path}/e.csv:3: test label 'meh' is not among the training labels (neg, pos)"


def test_unknown_language_filter(sample) -> None:
    with pytest.raises(DataError, match=r"no train examples in language\(s\) xx \(present: ar, de"):
        data.load("builtin:sample", split="train", languages=["xx"])


def test_sample_evenly_round_robins_languages(sample) -> None:
    picked = data.sample_evenly(sample["train"], 16, seed=1)
    langs = [e.language for e in picked]
    assert sorted(set(langs)) == sample["train"].language_set()
    assert all(langs.count(lang) == 2 for lang in set(langs))
    assert picked == data.sample_evenly(sample["train"], 16, seed=1)


@pytest.mark.shared_data
def test_umsab_folder_loads_as_is(umsab: Path) -> None:
    root = umsab
    train = data.load(root, split="train")
    assert train.language_set() == [
        "arabic",
        "english",
        "french",
        "german",
        "hindi",
        "italian",
        "portuguese",
        "spanish",
    ]
    assert len(train) == 8 * 1839
    test = data.load(root, split="test")
    labels = data.LabelMap.from_dataset(train)
    assert labels.names == ["0", "1", "2"]
    labels.encode(test, "test")
    assert len(data.load(root, split="eval")) > 8 * 300
