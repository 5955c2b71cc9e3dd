"""Which labelled data a command or recipe reads: columns, languages, training languages and split files.

One :class:`DataSelection` carries what the shared data options say (``edgeptm.cli.options.data_options``
on the command line, the ``data`` section of a recipe), so every command that reads labelled data reads
it the same way:

* ``languages`` keeps only those languages, in every split;
* ``train_languages`` are the languages the model learns from: the train split keeps only them,
  fine-tuning selects its checkpoint on their eval examples only (so the other languages stay truly
  zero-shot), and evaluations report the other languages apart as zero-shot;
* ``split_files`` names the file that holds a split (``eval`` → ``valid.csv``) when it is under none of
  the usual names (:data:`edgeptm.data.SPLIT_NAMES`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edgeptm.data.datasets import SPLIT_NAMES, Columns, Dataset, load
from edgeptm.data.languages import canonical_language
from edgeptm.errors import DataError


@dataclass(frozen=True)
class DataSelection:
    columns: Columns = Columns()
    languages: tuple[str, ...] | None = None
    """Keep only these languages, in every split (``None``: all)."""
    train_languages: tuple[str, ...] | None = None
    """The languages the model is trained on (``None``: every language of the train split)."""
    split_files: Mapping[str, str] = field(default_factory=dict)
    """Split (train, eval, test) → the file (or file stem) that holds it in a data folder."""

    def __post_init__(self) -> None:
        for split in self.split_files:
            if split not in SPLIT_NAMES:
                raise DataError(
                    f"split {split!r}: not a split name; use one of {', '.join(SPLIT_NAMES)} (as in eval=valid.csv)"
                )

    def split_languages(self, split: str) -> list[str] | None:
        """The languages kept in ``split``: the training languages in ``train``, ``languages`` everywhere."""
        if split == "train" and self.train_languages:
            if self.languages:
                keep = {canonical_language(x) for x in self.languages}
                outside = [x for x in self.train_languages if canonical_language(x) not in keep]
                if outside:
                    raise DataError(
                        f"--train-languages {','.join(outside)}: not among --languages {','.join(self.languages)}"
                    )
            return list(self.train_languages)
        return list(self.languages) if self.languages else None

    def load(self, path: str | Path, split: str) -> Dataset:
        """The ``split`` of ``path`` with these columns, languages and split file."""
        return load(
            path,
            split=split,
            columns=self.columns,
            languages=self.split_languages(split),
            split_file=self.split_files.get(split),
        )

    def selection_data(self, eval_data: Dataset, log: Callable[[str], None] = lambda m: None) -> Dataset:
        """The eval examples that pick a fine-tuning checkpoint: only the training languages' when they are
        given, so the others stay zero-shot (their labels never steer the training)."""
        return training_language_subset(eval_data, self.train_languages, log)


def training_language_subset(
    eval_data: Dataset, train_languages: Sequence[str] | None, log: Callable[[str], None] = lambda m: None
) -> Dataset:
    """The examples of ``eval_data`` in ``train_languages`` (matched by code or English name); all of it when
    ``train_languages`` is empty or none of its examples are in them (said through ``log``)."""
    if not train_languages:
        return eval_data
    wanted = {canonical_language(lang) for lang in train_languages}
    keep = [lang for lang in eval_data.language_set() if canonical_language(lang) in wanted]
    if not keep:
        log(f"  no eval examples in the training languages ({', '.join(train_languages)}); selecting on all of them")
        return eval_data
    log(f"  selecting the checkpoint on the eval examples in {', '.join(keep)} (the training languages)")
    return eval_data.filter_languages(keep)


def parse_split_files(values: Sequence[str]) -> dict[str, str]:
    """``NAME=FILE`` pairs into a mapping (``dev``, ``valid``… name the eval split), with one-line errors."""
    aliases = {alias: split for split, names in SPLIT_NAMES.items() for alias in names}
    out: dict[str, str] = {}
    for value in values:
        name, sep, file = value.partition("=")
        name, file = name.strip(), file.strip()
        if not sep or not name or not file:
            raise DataError(f"--split {value!r}: expected NAME=FILE, e.g. eval=valid.csv")
        if name not in aliases:
            raise DataError(
                f"--split {value!r}: {name!r} is not a split; use train, eval or test "
                f"(or an alias: {', '.join(sorted(a for a in aliases if a not in SPLIT_NAMES))})"
            )
        out[aliases[name]] = file
    return out
