"""Checks that a classifier can be, and was, trained: more than one class in the training data, and a model
that does not end up predicting a single class for everything (a silent failure that accuracy hides when
one class dominates)."""

from __future__ import annotations

from collections.abc import Sequence

from edgeptm.data import Dataset
from edgeptm.errors import DataError


def check_classes(train: Dataset, names: Sequence[str]) -> None:
    """A classifier needs at least two classes in its training data; a one-line error names the file."""
    if len(names) < 2:
        only = names[0] if names else "none"
        raise DataError(
            f"{train.source}: the training data has one label ({only!r}); a classifier needs at least two - "
            "check the label column (--label-column) or the file"
        )


def single_class_warning(predicted: Sequence[int], names: Sequence[str], split: str) -> str | None:
    """A warning naming the class when every prediction on ``split`` is the same one, else ``None``."""
    seen = set(int(p) for p in predicted)
    if len(predicted) < 2 or len(seen) != 1 or len(names) < 2:
        return None
    only = names[seen.pop()]
    return (
        f"warning: the fine-tuned model predicts one class, {only!r}, for all {len(predicted)} {split} examples; "
        "it has not learned the task - train longer, raise the learning rate, or balance the labels"
    )
