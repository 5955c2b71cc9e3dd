"""One data-options group: every command that reads labelled data takes the same columns, languages,
training languages and split files, and reads a folder whose splits and columns have other names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm import data
from edgeptm.cli.options import DATA_KEYS
from edgeptm.data.selection import DataSelection
from edgeptm.errors import DataError

LABELLED_DATA_COMMANDS = ("finetune", "evaluate", "quantize", "export", "robustness", "bundle")


def invoke(cli, *args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def topic_folder(tmp_path_factory, sample) -> Path:
    """The sample as a downloaded set would come: per-language TSVs, `category` labels, `valid` and `heldout` splits."""
    root = tmp_path_factory.mktemp("topics")
    for split, name in (("train", "train.tsv"), ("eval", "valid.tsv"), ("test", "heldout.tsv")):
        for lang in sample[split].language_set():
            folder = root / lang
            folder.mkdir(exist_ok=True)
            with (folder / name).open("w", newline="", encoding="utf-8") as f:
                w = csv.writer(f, delimiter="\t")
                w.writerow(["sentence", "category"])
                w.writerows([e.text, e.label] for e in sample[split].examples if e.language == lang)
    return root


def test_every_labelled_data_command_has_the_same_data_options(cli) -> None:
    def shape(name: str) -> list[tuple]:
        params = {p.name: p for p in cli.commands[name].params}
        return [(k, tuple(params[k].opts), params[k].multiple) for k in DATA_KEYS]

    first = shape(LABELLED_DATA_COMMANDS[0])
    assert [opts for _, opts, _ in first] == [
        ("--text-column",),
        ("--label-column",),
        ("--language-column",),
        ("--languages",),
        ("--train-languages",),
        ("--split",),
    ]
    for name in LABELLED_DATA_COMMANDS[1:]:
        assert shape(name) == first, name


def test_valid_is_an_eval_split_and_split_files_name_the_others(topic_folder: Path, sample) -> None:
    cols = data.Columns(text="sentence", label="category")
    assert len(data.load(topic_folder, split="eval", columns=cols)) == len(sample["eval"])
    with pytest.raises(DataError, match=r"no test split found .*; name its file with --split test=FILE"):
        data.load(topic_folder, split="test", columns=cols)
    selection = DataSelection(columns=cols, split_files={"test": "heldout.tsv"}, languages=("de", "zh"))
    test = selection.load(topic_folder, "test")
    assert test.language_set() == ["de", "zh"] and test.texts[0] in sample["test"].texts
    # a stem finds the file of any extension
    assert len(DataSelection(columns=cols, split_files={"test": "heldout"}).load(topic_folder, "test")) == len(
        sample["test"]
    )


def test_train_languages_keep_the_train_split_and_pick_the_selection_data(sample) -> None:
    train = DataSelection(train_languages=("en", "de")).load("builtin:sample", "train")
    assert train.language_set() == ["de", "en"]
    assert (
        DataSelection(train_languages=("en", "de")).load("builtin:sample", "test").language_set()
        == sample["test"].language_set()
    )
    chosen = DataSelection(train_languages=("en", "german")).selection_data(sample["eval"])
    assert chosen.language_set() == ["de", "en"]  # matched by code or English name
    with pytest.raises(DataError, match=r"--train-languages fr: not among --languages de,en"):
        DataSelection(languages=("de", "en"), train_languages=("fr",)).load("builtin:sample", "train")


def test_evaluate_reads_a_renamed_split_with_renamed_columns(cli, topic_folder: Path, finetuned: Path) -> None:
    args = ["evaluate", "--artifact", finetuned, "--data", topic_folder, "--text-column", "sentence"]
    args += ["--label-column", "category", "--json"]
    r = invoke(cli, *args, "--split", "eval", "--languages", "ar,hi", "--train-languages", "ar")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)[0]
    assert list(result["per_language"]) == ["ar", "hi"] and result["overall"]["n"] == 30
    assert list(result["transfer"]["zero_shot"]["per_language"]) == ["hi"]
    r = invoke(cli, *args, "--split", "dev=heldout.tsv", "--split", "test=heldout.tsv")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["overall"]["n"] == 144


def test_export_validates_on_data_with_other_columns(cli, topic_folder: Path, finetuned: Path, tmp_path) -> None:
    out = tmp_path / "numpy"
    r = invoke(cli, "export", "--model", finetuned, "--backend", "numpy", "--out", out, "--validate-on", topic_folder)
    assert r.exit_code != 0
    assert "no 'text' field" in r.stderr and "name the column with --text-column" in r.stderr
    r = invoke(
        cli,
        "export",
        "--model",
        finetuned,
        "--backend",
        "numpy",
        "--out",
        out,
        "--validate-on",
        topic_folder,
        "--text-column",
        "sentence",
        "--label-column",
        "category",
        "--languages",
        "en,ru",
    )
    assert r.exit_code == 0, r.output
    assert "on 30 texts" in r.stdout  # the 15 + 15 eval texts of en and ru, found in valid.tsv


def test_quantize_calibrates_on_the_training_languages(cli, topic_folder: Path, onnx_fp32: Path, tmp_path) -> None:
    r = invoke(
        cli,
        "quantize",
        "--artifact",
        onnx_fp32,
        "--precision",
        "int8-static",
        "--out",
        tmp_path / "q",
        "--calibration",
        topic_folder,
        "--validate-on",
        topic_folder,
        "--text-column",
        "sentence",
        "--label-column",
        "category",
        "--train-languages",
        "en",
        "--calibration-size",
        "16",
    )
    assert r.exit_code == 0, r.output
    assert f"calibrated on 16 texts of {topic_folder}; validated on 120 other texts" in r.stderr


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (
            "evaluate",
            ["--split", "holdout=x.csv"],
            "'holdout' is not a split; use train, eval or test (or an alias: dev",
        ),
        ("evaluate", ["--split", "eval="], "expected NAME=FILE, e.g. eval=valid.csv"),
        ("evaluate", ["--split", "holdout"], "'holdout': expected NAME=FILE or a split name (train, eval, test)"),
        ("export", ["--split", "dev"], "'dev': expected NAME=FILE"),
    ],
)
def test_bad_split_options_are_one_line_errors(cli, finetuned: Path, tmp_path, command, args, message) -> None:
    where = {
        "evaluate": ["--artifact", finetuned, "--data", "builtin:sample"],
        "export": ["--model", finetuned, "--backend", "torch", "--out", tmp_path / "x"],
    }[command]
    r = invoke(cli, command, *where, *args)
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert message in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x").exists()


def test_recipes_take_the_same_data_options(plugins, topic_folder: Path, tmp_path: Path) -> None:
    from edgeptm.recipes.context import Context
    from edgeptm.recipes.schema import parse_recipe

    raw = {
        "name": "topics",
        "output": "out",
        "model": "builtin:tiny-multilingual",
        "data": {
            "train": str(topic_folder),
            "eval": str(topic_folder),
            "test": str(topic_folder),
            "columns": {"text": "sentence", "label": "category"},
            "languages": ["en", "fr", "zh"],
            "train_languages": ["en"],
            "splits": {"test": "heldout.tsv"},
        },
        "stages": [{"stage": "evaluate"}],
    }
    recipe = parse_recipe(raw, tmp_path / "r.yaml", plugins)
    ctx = Context(recipe, tmp_path, tmp_path / "out", plugins, lambda m: None)
    assert ctx.dataset("train").language_set() == ["en"]
    assert ctx.dataset("eval").language_set() == ["en", "fr", "zh"]  # from valid.tsv
    assert ctx.dataset("test").language_set() == ["en", "fr", "zh"] and len(ctx.dataset("test")) == 54
    assert recipe.data.selection("eval").selection_data(ctx.dataset("eval")).language_set() == ["en"]
