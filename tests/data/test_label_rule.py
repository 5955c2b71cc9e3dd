"""One documented rule for labels (edgeptm.data.datasets): whole numbers however written are one class;
what the rule can't reconcile is an error naming the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeptm import data
from edgeptm.data import LabelMap
from edgeptm.data.datasets import normalise_label
from edgeptm.errors import DataError


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        (0, "0"),
        ("0", "0"),
        (0.0, "0"),
        ("0.0", "0"),
        (" 01 ", "1"),
        (-2, "-2"),
        ("2.000", "2"),
        ("positive", "positive"),
    ],
)
def test_whole_numbers_however_written_are_one_label(raw, label) -> None:
    assert normalise_label(raw) == label


@pytest.mark.parametrize("raw", [0.5, "0.5", float("nan"), "NaN", "inf", True, [1], {"a": 1}])
def test_what_is_not_a_label_is_refused(raw) -> None:
    with pytest.raises(ValueError):
        normalise_label(raw)


def test_zero_as_int_string_and_float_trains_three_classes_not_six(tmp_path: Path) -> None:
    """The issue's case: 0, "0" and 0.0 (and 1, "1.0", ...) made a 6-class model."""
    rows = [{"text": f"t{i}", "label": label} for i, label in enumerate([0, "0", 0.0, 1, "1", 1.0, 2, "2.0", 2])]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    csv = tmp_path / "eval.csv"
    csv.write_text("text,label\na,0.0\nb,1\nc,02\n")
    train = data.load(path, split="train")
    labels = LabelMap.from_dataset(train)
    assert labels.names == ["0", "1", "2"]
    assert labels.encode(data.load(csv, split="eval")) == [0, 1, 2]


def test_integers_beside_names_is_an_error_naming_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,1\nb,2\nc,positive\n")
    with pytest.raises(DataError) as err:
        data.load(path, split="train")
    assert str(err.value) == (
        f"{path}:4: field 'label' mixes names ('positive') with integer labels ('1' at {path}:2); use one kind "
        "throughout"
    )
