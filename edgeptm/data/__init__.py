"""Labelled multilingual datasets, raw-text corpora, and languages with their scripts.

``from edgeptm import data; data.load(...)`` is the dataset API; corpora live in
:mod:`edgeptm.data.corpus` and language codes and Unicode scripts in :mod:`edgeptm.data.languages`.
"""

from edgeptm.data.datasets import (
    AGGREGATE_FOLDERS,
    BUILTIN_PREFIX,
    SPLIT_NAMES,
    UNKNOWN_LANGUAGE,
    Columns,
    Dataset,
    Example,
    LabelMap,
    describe,
    load,
    read_lines,
    resolve,
    sample_evenly,
    sample_path,
)

__all__ = [
    "AGGREGATE_FOLDERS",
    "BUILTIN_PREFIX",
    "SPLIT_NAMES",
    "UNKNOWN_LANGUAGE",
    "Columns",
    "Dataset",
    "Example",
    "LabelMap",
    "describe",
    "load",
    "read_lines",
    "resolve",
    "sample_evenly",
    "sample_path",
]
