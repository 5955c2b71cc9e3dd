"""A classifier needs two classes to learn, and a run that ends predicting one class for everything says so."""

from __future__ import annotations

import pytest

from edgeptm.data import Dataset, Example
from edgeptm.errors import DataError
from edgeptm.train.collapse import check_classes, single_class_warning


def test_one_training_label_is_refused_naming_the_file() -> None:
    data = Dataset([Example("a", "positive", "en")] * 3, "train.csv")
    with pytest.raises(DataError, match=r"^train.csv: the training data has one label \('positive'\)"):
        check_classes(data, ["positive"])


def test_predicting_one_class_for_everything_is_named() -> None:
    names = ["negative", "neutral", "positive"]
    assert single_class_warning([2, 2, 2, 2], names, "eval.jsonl") == (
        "warning: the fine-tuned model predicts one class, 'positive', for all 4 eval.jsonl examples; it has not "
        "learned the task - train longer, raise the learning rate, or balance the labels"
    )
    assert single_class_warning([2, 0, 2], names, "eval.jsonl") is None
    assert single_class_warning([1], names, "eval.jsonl") is None  # one example says nothing
