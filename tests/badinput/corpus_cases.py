"""The bad-input corpus: one row per case (id, setup, command line, what the one-line error must name).

Groups: data files, CLI options, recipes, output paths and permissions, artifacts and manifests, model
folders, plugins, the quantize gate. What the corpus finds on an older commit is counted by running it there
with ``$EDGEPTM_CORPUS_REPORT`` set (see ``corpus_harness.record``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from corpus_harness import Case, Work

EVAL = ("evaluate", "--artifact", "{art}", "--data")
"""Data cases run through ``evaluate``: it reads the data before it loads anything."""


def finetune(model: str, out: str, *extra: str) -> tuple[str, ...]:
    """``finetune`` on the built-in sample (train and eval), from ``model`` into ``out``."""
    return ("finetune", "--model", model, "--train", "builtin:sample", "--eval", "builtin:sample", "--out", out, *extra)


ROWS = [
    {"text": "Great phone, I love it.", "label": "positive", "language": "en"},
    {"text": "Terrible service.", "label": "negative", "language": "en"},
    {"text": "The shop opens at nine.", "label": "neutral", "language": "en"},
]


def _w(name: str, content: str | bytes):
    return lambda w: w.write(name, content)


def _rows(name: str, rows: list[object]):
    return lambda w: w.jsonl(name, rows)


def data(id: str, name: str, content: str | bytes | list[object], mention: str, *extra: str) -> Case:
    setup = _rows(name, content) if isinstance(content, list) else _w(name, content)
    return Case(id, (*EVAL, f"{{root}}/{name}", *extra), mention, setup)


def _folder(files: dict[str, str | bytes]):
    def setup(w: Work) -> None:
        for name, content in files.items():
            w.write(name, content)

    return setup


BIG = "x" * (5 * 2**20)

DATA = [
    data("data-empty-csv", "d.csv", "", "{root}/d.csv"),
    data("data-empty-tsv", "d.tsv", "", "{root}/d.tsv"),
    data("data-empty-jsonl", "d.jsonl", "", "{root}/d.jsonl"),
    data("data-header-only-csv", "d.csv", "text,label\n", "{root}/d.csv"),
    data("data-blank-lines-jsonl", "d.jsonl", "\n\n\n", "{root}/d.jsonl"),
    data("data-no-header-csv", "d.csv", "I like it,positive\nBad,negative\n", "'text'"),
    data("data-duplicated-header-csv", "d.csv", "text,label,label\nhi,positive,negative\n", "'label'"),
    data("data-duplicated-header-tsv", "d.tsv", "text\tlabel\tlabel\nhi\tpositive\tnegative\n", "'label'"),
    data("data-duplicated-text-header", "d.csv", "text,text,label\na,b,positive\n", "'text'"),
    data("data-missing-label-column", "d.csv", "text,language\nhi,en\n", "'label'"),
    data("data-missing-text-key", "d.jsonl", [{"label": "positive"}], "'text'"),
    data("data-missing-label-line-3", "d.jsonl", [*ROWS[:2], {"text": "no label"}], "{root}/d.jsonl:3"),
    data("data-latin1-csv", "d.csv", b"text,label\ncaf\xe9 ok,positive\n", "{root}/d.csv:2"),
    data("data-latin1-jsonl", "d.jsonl", b'{"text": "caf\xe9", "label": "positive"}\n', "{root}/d.jsonl:1"),
    data("data-utf16-csv", "d.csv", "text,label\nhi,positive\n".encode("utf-16"), "{root}/d.csv:1"),
    data("data-5mb-field-csv", "d.csv", f"text,label\n{BIG},positive\n", "{root}/d.csv"),
    data("data-5mb-field-tsv", "d.tsv", f"text\tlabel\n{BIG}\tpositive\n", "{root}/d.tsv"),
    data("data-5mb-field-jsonl", "d.jsonl", [{"text": BIG, "label": "positive"}], "{root}/d.jsonl:1"),
    data("data-unclosed-quote-csv", "d.csv", f'text,label\n"{BIG[: 2**21]},positive\nok,negative\n', "{root}/d.csv"),
    data("data-extra-fields-csv", "d.csv", "text,label\nhi, there,positive\n", "{root}/d.csv:2"),
    data("data-mixed-labels-csv", "d.csv", "text,label\na,1\nb,positive\n", "'label'"),
    data(
        "data-mixed-labels-jsonl",
        "d.jsonl",
        [{"text": "a", "label": 0}, {"text": "b", "label": "negative"}],
        "{root}/d.jsonl:2",
    ),
    data("data-fraction-label", "d.jsonl", [{"text": "a", "label": 0.5}], "{root}/d.jsonl:1"),
    data("data-nan-label-jsonl", "d.jsonl", ['{"text": "a", "label": NaN}'], "{root}/d.jsonl:1"),
    data("data-nan-label-csv", "d.csv", "text,label\na,nan\nb,NaN\n", "{root}/d.csv:2"),
    data("data-inf-label-csv", "d.csv", "text,label\na,inf\n", "{root}/d.csv:2"),
    data("data-bool-label", "d.jsonl", [{"text": "a", "label": True}], "{root}/d.jsonl:1"),
    data("data-list-label", "d.jsonl", [{"text": "a", "label": [1]}], "{root}/d.jsonl:1"),
    data("data-object-label", "d.jsonl", [{"text": "a", "label": {"x": 1}}], "{root}/d.jsonl:1"),
    data("data-null-label", "d.jsonl", [{"text": "a", "label": None}], "{root}/d.jsonl:1"),
    data("data-empty-label-csv", "d.csv", "text,label\nhi,\n", "{root}/d.csv:2"),
    data("data-blank-label-tsv", "d.tsv", "text\tlabel\nhi\t   \n", "{root}/d.tsv:2"),
    data("data-empty-text-csv", "d.csv", "text,label\n,positive\n", "{root}/d.csv:2"),
    data("data-number-text", "d.jsonl", [{"text": 5, "label": "positive"}], "{root}/d.jsonl:1"),
    data("data-null-text", "d.jsonl", [{"text": None, "label": "positive"}], "{root}/d.jsonl:1"),
    data("data-invalid-json", "d.jsonl", ['{"text": "a", "label": '], "{root}/d.jsonl:1"),
    data("data-json-array-line", "d.jsonl", ['["a", "positive"]'], "{root}/d.jsonl:1"),
    data("data-json-string-line", "d.jsonl", ['"just text"'], "{root}/d.jsonl:1"),
    data("data-language-not-text", "d.jsonl", [{**ROWS[0], "language": 5}], "{root}/d.jsonl:1"),
    data("data-txt-extension", "d.txt", "hello\n", "{root}/d.txt"),
    data("data-no-extension", "d", "text,label\nhi,positive\n", "{root}/d"),
    Case("data-missing-file", (*EVAL, "{root}/nosuch.csv"), "{root}/nosuch.csv"),
    Case("data-empty-folder", (*EVAL, "{root}/empty"), "{root}/empty", lambda w: w.path("empty").mkdir()),
    Case(
        "data-folder-without-the-split",
        (*EVAL, "{root}/f", "--split", "test"),
        "{root}/f",
        _folder({"f/train.jsonl": json.dumps(ROWS[0]) + "\n"}),
    ),
    Case(
        "data-tweeteval-line-mismatch",
        (*EVAL, "{root}/f"),
        "{root}/f/en/test_labels.txt",
        _folder({"f/en/test_text.txt": "a\nb\nc\n", "f/en/test_labels.txt": "positive\nnegative\n"}),
    ),
    Case(
        "data-tweeteval-empty-label",
        (*EVAL, "{root}/f"),
        "{root}/f/en/test_labels.txt:2",
        _folder({"f/en/test_text.txt": "a\nb\n", "f/en/test_labels.txt": "positive\n \n"}),
    ),
    Case(
        "data-tweeteval-bad-utf8",
        (*EVAL, "{root}/f"),
        "{root}/f/en/test_text.txt:2",
        _folder({"f/en/test_text.txt": b"a\n\xff\xfe\n", "f/en/test_labels.txt": "positive\nnegative\n"}),
    ),
    Case(
        "data-tweeteval-nan-label",
        (*EVAL, "{root}/f"),
        "{root}/f/en/test_labels.txt:1",
        _folder({"f/en/test_text.txt": "a\n", "f/en/test_labels.txt": "nan\n"}),
    ),
    Case(
        "data-mixed-labels-across-languages",
        (*EVAL, "{root}/f"),
        "'label'",
        _folder(
            {
                "f/en/test.jsonl": json.dumps({"text": "a", "label": 1}) + "\n",
                "f/fr/test.jsonl": json.dumps({"text": "b", "label": "positive"}) + "\n",
            }
        ),
    ),
    Case("data-builtin-unknown", (*EVAL, "builtin:nosuch"), "builtin:nosuch"),
    Case("data-language-absent", (*EVAL, "builtin:sample", "--languages", "xx"), "xx"),
    Case("data-text-column-absent", (*EVAL, "builtin:sample", "--text-column", "body"), "'body'"),
    Case("data-label-column-absent", (*EVAL, "builtin:sample", "--label-column", "y"), "'y'"),
    data("data-label-not-the-models", "d.jsonl", [*ROWS, {"text": "Hmm.", "label": "sarcastic"}], "sarcastic"),
    data(
        "data-integer-labels-for-a-named-model",
        "d.jsonl",
        [{"text": "a", "label": 0}, {"text": "b", "label": 2}],
        "{root}/d.jsonl",
    ),
]


def _train(id: str, rows: list[object], mention: str, *extra: str, eval_rows: list[object] | None = None):
    def setup(w: Work) -> None:
        w.jsonl("train.jsonl", rows)
        if eval_rows is not None:
            w.jsonl("eval.jsonl", eval_rows)

    evaluation = "{root}/eval.jsonl" if eval_rows is not None else "builtin:sample"
    argv = ("finetune", "--model", "{model}", "--train", "{root}/train.jsonl", "--eval", evaluation)
    return Case(id, (*argv, "--out", "{root}/out", *extra), mention, setup, out="{root}/out")


TRAINING = [
    _train("train-one-class", [{**r, "label": "positive"} for r in ROWS * 4], "{root}/train.jsonl"),
    _train("train-eval-label-unknown", ROWS, "{root}/eval.jsonl:1", eval_rows=[{"text": "x", "label": "meh"}]),
    _train(
        "train-integer-and-named-labels",
        [{"text": "a", "label": 1}, {"text": "b", "label": "positive"}],
        "{root}/train.jsonl",
    ),
    _train("train-nan-label", ['{"text": "a", "label": NaN}', *ROWS], "{root}/train.jsonl:1"),
    _train("train-languages-absent", ROWS, "xx", "--languages", "xx"),
]


def opt(id: str, argv: tuple[str, ...], mention: str, setup=None, out: str | None = None) -> Case:
    return Case(id, argv, mention, setup or (lambda w: None), out=out)


EV = ("evaluate", "--artifact", "{art}", "--data", "builtin:sample")
BENCH = ("bench", "--artifact", "{art}")
EXPORT = ("export", "--model", "{model}", "--backend", "onnx", "--out", "{root}/out")
QUANT = ("quantize", "--artifact", "{art}", "--precision", "int8", "--out", "{root}/out")
TRAIN = finetune("{model}", "{root}/o")
ROBUST = ("robustness", "--artifact", "{art}", "--eval", "builtin:sample")

OPTIONS = [
    opt("evaluate-batch-size-0", (*EV, "--batch-size", "0"), "--batch-size"),
    opt("evaluate-batch-size-negative", (*EV, "--batch-size", "-1"), "--batch-size"),
    opt("evaluate-batch-size-text", (*EV, "--batch-size", "many"), "--batch-size"),
    opt("evaluate-threads-0", (*EV, "--threads", "0"), "--threads"),
    opt("evaluate-threads-negative", (*EV, "--threads", "-1"), "--threads"),
    opt("evaluate-split-bad-choice", (*EV, "--split", "holdout"), "--split"),
    opt("evaluate-device-absent", (*EV, "--device", "tpu9"), "tpu9"),
    opt(
        "evaluate-artifact-missing",
        ("evaluate", "--artifact", "{root}/nosuch", "--data", "builtin:sample"),
        "{root}/nosuch",
    ),
    opt("evaluate-reference-missing", (*EV, "--reference", "{root}/nosuch"), "{root}/nosuch"),
    opt("evaluate-no-data-option", ("evaluate", "--artifact", "{art}"), "--data"),
    opt("evaluate-unknown-option", (*EV, "--frobnicate"), "--frobnicate"),
    opt("bench-batch-sizes-0", (*BENCH, "--batch-sizes", "0"), "--batch-sizes"),
    opt("bench-batch-sizes-negative", (*BENCH, "--batch-sizes=-4"), "--batch-sizes"),
    opt("bench-batch-sizes-text", (*BENCH, "--batch-sizes", "a,b"), "--batch-sizes"),
    opt("bench-batch-sizes-empty", (*BENCH, "--batch-sizes", ""), "--batch-sizes"),
    opt("bench-seq-lengths-0", (*BENCH, "--seq-lengths", "0"), "--seq-lengths"),
    opt("bench-seq-lengths-huge", (*BENCH, "--seq-lengths", "100000"), "sequence length 100000"),
    opt("bench-iterations-0", (*BENCH, "--iterations", "0"), "--iterations"),
    opt("bench-warmup-negative", (*BENCH, "--warmup", "-1"), "--warmup"),
    opt("bench-threads-0", (*BENCH, "--threads", "0"), "--threads"),
    opt("bench-device-absent", (*BENCH, "--device", "tpu9"), "tpu9"),
    opt("bench-artifact-missing", ("bench", "--artifact", "{root}/nosuch"), "{root}/nosuch"),
    opt(
        "export-backend-unknown", ("export", "--model", "{model}", "--backend", "nosuch", "--out", "{root}/o"), "nosuch"
    ),
    opt("export-max-length-0", (*EXPORT, "--max-length", "0"), "--max-length"),
    opt("export-max-length-negative", (*EXPORT, "--max-length", "-5"), "--max-length"),
    opt("export-max-length-huge", (*EXPORT, "--max-length", "100000"), "max_length 100000"),
    opt("export-option-without-value", (*EXPORT, "--option", "per_channel"), "--option"),
    opt("export-option-unknown", (*EXPORT, "--option", "per_chanel=true"), "per_chanel"),
    opt("export-option-out-of-range", (*EXPORT, "--option", "opset=3"), "opset"),
    opt("export-option-bad-yaml", (*EXPORT, "--option", "opset=[1"), "--option"),
    opt("export-option-wrong-type", (*EXPORT, "--option", "optimize=[1, 2]"), "optimize"),
    opt("export-validate-on-missing", (*EXPORT, "--validate-on", "{root}/nosuch.csv"), "{root}/nosuch.csv"),
    opt(
        "quantize-precision-unknown",
        ("quantize", "--artifact", "{art}", "--precision", "int4", "--out", "{root}/o"),
        "int4",
    ),
    opt("quantize-calibration-size-0", (*QUANT, "--calibration-size", "0"), "--calibration-size"),
    opt("quantize-min-agreement-over-100", (*QUANT, "--min-agreement", "101"), "--min-agreement"),
    opt("quantize-max-drop-negative", (*QUANT, "--max-drop=-1"), "--max-drop"),
    opt("quantize-calibration-missing", (*QUANT, "--calibration", "{root}/nosuch.jsonl"), "{root}/nosuch.jsonl"),
    opt("quantize-eval-data-missing", (*QUANT, "--eval-data", "{root}/nosuch.jsonl"), "{root}/nosuch.jsonl"),
    opt("quantize-option-unknown", (*QUANT, "--option", "bits=4"), "bits"),
    opt(
        "quantize-artifact-missing",
        ("quantize", "--artifact", "{root}/x", "--precision", "int8", "--out", "{root}/o"),
        "{root}/x",
    ),
    opt("quantize-an-int8", ("quantize", "--artifact", "{int8}", "--precision", "int8", "--out", "{root}/o"), "{int8}"),
    opt("quantize-to-fp32", ("quantize", "--artifact", "{art}", "--precision", "fp32", "--out", "{root}/o"), "fp32"),
    opt("quantize-exclude-nodes-for-int8", (*QUANT, "--option", "nodes_to_exclude=A"), "nodes_to_exclude"),
    opt(
        "quantize-validate-on-is-calibration",
        (*QUANT, "--validate-on", "{root}/d.jsonl", "--calibration", "{root}/d.jsonl"),
        "{root}/d.jsonl",
        _rows("d.jsonl", ROWS),
    ),
    opt("finetune-epochs-0", (*TRAIN, "--epochs", "0"), "epochs"),
    opt("finetune-learning-rate-negative", (*TRAIN, "--lr=-0.1"), "learning"),
    opt("finetune-batch-size-0", (*TRAIN, "--batch-size", "0"), "--batch-size"),
    opt("finetune-max-length-0", (*TRAIN, "--max-length", "0"), "max"),
    opt("finetune-max-length-huge", (*TRAIN, "--max-length", "100000"), "max"),
    opt("finetune-threads-0", (*TRAIN, "--threads", "0"), "--threads"),
    opt("finetune-warmup-ratio-2", (*TRAIN, "--warmup-ratio", "2"), "warmup"),
    opt("finetune-weight-decay-negative", (*TRAIN, "--weight-decay=-1"), "weight"),
    opt("finetune-freeze-layers-negative", (*TRAIN, "--freeze-layers=-1"), "freeze"),
    opt("finetune-freeze-layers-too-many", (*TRAIN, "--freeze-layers", "99"), "--freeze-layers"),
    opt("finetune-patience-0", (*TRAIN, "--patience", "0"), "patience"),
    opt(
        "finetune-train-missing",
        ("finetune", "--model", "{model}", "--train", "{root}/no.csv", "--eval", "builtin:sample", "--out", "{root}/o"),
        "{root}/no.csv",
    ),
    opt("robustness-perturbation-unknown", (*ROBUST, "-p", "nosuch"), "nosuch"),
    opt("robustness-max-per-language-0", (*ROBUST, "--max-per-language", "0"), "--max-per-language"),
    opt("robustness-batch-size-0", (*ROBUST, "--batch-size", "0"), "--batch-size"),
    opt("bundle-split-bad-choice", ("bundle", "{art}", "--out", "{root}/b", "--split", "nosuch"), "--split"),
    opt("bundle-artifact-missing", ("bundle", "{root}/nosuch", "--out", "{root}/b"), "{root}/nosuch"),
    opt("backends-unknown-name", ("backends", "nosuch"), "nosuch"),
    opt("command-unknown", ("frobnicate",), "frobnicate"),
]


def _recipe(text: str | bytes):
    """Write ``r.yaml``, with ``MODEL`` standing for the session's fine-tuned model folder."""
    return lambda w: w.write(
        "r.yaml", text if isinstance(text, bytes) else text.replace("MODEL", str(w.fixtures.model))
    )


def recipe(id: str, text: str | bytes, mention: str, command: str = "validate") -> Case:
    argv = ("recipes", "validate", "{root}/r.yaml") if command == "validate" else ("run", "{root}/r.yaml")
    return Case(id, argv, mention, _recipe(text), out="{root}/out" if command == "run" else None)


HEAD = "name: r\noutput: out\nmodel: MODEL\ndata: {train: builtin:sample, eval: builtin:sample, test: builtin:sample}\n"


def stages(*lines: str) -> str:
    return HEAD + "stages:\n" + "".join(f"  - {line}\n" for line in lines)


FT = "{stage: finetune, epochs: 1}"
EXP = "{stage: export, name: onnx, backend: onnx}"

RECIPES = [
    recipe("recipe-bad-yaml", "name: [unclosed\n", "{root}/r.yaml"),
    recipe("recipe-tab-indent", "name: r\nstages:\n\t- stage: finetune\n", "{root}/r.yaml"),
    recipe("recipe-a-list", "- a\n- b\n", "{root}/r.yaml"),
    recipe("recipe-empty", "", "{root}/r.yaml"),
    recipe("recipe-a-scalar", "just text\n", "{root}/r.yaml"),
    recipe("recipe-bad-utf8", b"name: r\xff\xfe\n", "{root}/r.yaml"),
    recipe("recipe-python-tag", "!!python/object/apply:os.system ['echo owned']\n", "{root}/r.yaml"),
    recipe("recipe-no-name", stages(FT).replace("name: r\n", ""), "name"),
    recipe("recipe-unknown-top-key", stages(FT) + "colour: blue\n", "colour"),
    recipe("recipe-no-stages", HEAD, "stages"),
    recipe("recipe-unknown-stage-kind", stages(FT, "{stage: frobnicate, name: x}"), "frobnicate"),
    recipe("recipe-stage-without-kind", stages("{name: x}"), "stages[0]"),
    recipe("recipe-duplicate-names", stages(FT, EXP, EXP), "onnx"),
    recipe("recipe-bad-reference", stages(FT, "{stage: quantize, name: q, from: nosuch, precision: int8}"), "nosuch"),
    recipe(
        "recipe-self-reference",
        stages(FT, EXP, "{stage: quantize, name: q, from: q, precision: int8}"),
        "stages[2].from",
    ),
    recipe(
        "recipe-forward-reference",
        stages(FT, "{stage: quantize, name: q, from: onnx, precision: int8}", EXP),
        "stages[1].from",
    ),
    recipe("recipe-bad-type", stages("{stage: finetune, epochs: many}"), "epochs"),
    recipe("recipe-negative-batch-size", stages("{stage: finetune, batch_size: -1}"), "batch_size"),
    recipe("recipe-evaluate-threads-0", stages(FT, "{stage: evaluate, threads: 0}"), "threads"),
    recipe("recipe-bench-batch-sizes-0", stages(FT, EXP, "{stage: bench, batch_sizes: [0]}"), "batch_sizes"),
    recipe(
        "recipe-quantize-min-agreement-150",
        stages(FT, EXP, "{stage: quantize, name: q, from: onnx, precision: int8, min_agreement: 150}"),
        "min_agreement",
    ),
    recipe(
        "recipe-quantize-max-drop-negative",
        stages(FT, EXP, "{stage: quantize, name: q, from: onnx, precision: int8, max_drop: -1}"),
        "max_drop",
    ),
    recipe(
        "recipe-quantize-unknown-precision",
        stages(FT, EXP, "{stage: quantize, name: q, from: onnx, precision: int4}"),
        "int4",
    ),
    recipe(
        "recipe-backend-option-unknown",
        stages(FT, "{stage: export, name: onnx, backend: onnx, options: {bits: 4}}"),
        "bits",
    ),
    recipe("recipe-backend-unknown", stages(FT, "{stage: export, name: x, backend: nosuch}"), "nosuch"),
    recipe(
        "recipe-quantize-the-model", stages(FT, "{stage: quantize, name: q, from: model, precision: int8}"), "stages[1]"
    ),
    recipe(
        "recipe-evaluate-split-unset",
        HEAD.replace(", test: builtin:sample", "")
        + "stages:\n  - {stage: finetune}\n  - {stage: evaluate, split: test}\n",
        "data.test",
    ),
    recipe(
        "recipe-data-file-missing",
        stages(FT).replace("train: builtin:sample", "train: nosuch.csv"),
        "nosuch.csv",
        command="run",
    ),
    Case("recipe-file-missing", ("recipes", "validate", "{root}/nosuch.yaml"), "{root}/nosuch.yaml"),
    Case("recipe-is-a-folder", ("recipes", "validate", "{root}"), "{root}"),
    Case("run-recipe-missing", ("run", "{root}/nosuch.yaml"), "{root}/nosuch.yaml"),
]


def _user_folder(w: Work) -> None:
    w.write("user/notes.txt", "my notes")


def _file(w: Work) -> None:
    w.write("afile", "precious")


def _dangling(w: Work) -> None:
    os.symlink(w.root / "gone", w.root / "link")


def out_case(id: str, argv: tuple[str, ...], mention: str, setup=None, readonly: tuple[str, ...] = ()) -> Case:
    return Case(id, argv, mention, setup or (lambda w: None), readonly=readonly)


EXPORT_TO = ("export", "--model", "{model}", "--backend", "onnx", "--out")
QUANT_TO = ("quantize", "--artifact", "{art}", "--precision", "int8", "--out")


def _readonly(w: Work) -> None:
    w.path("ro").mkdir()


OUTPUTS = [
    out_case("export-into-a-user-folder", (*EXPORT_TO, "{root}/user"), "{root}/user", _user_folder),
    out_case("export-onto-a-file", (*EXPORT_TO, "{root}/afile"), "{root}/afile", _file),
    out_case(
        "export-onto-its-model",
        ("export", "--model", "{root}/model", "--backend", "onnx", "--out", "{root}/model"),
        "{root}/model",
        lambda w: w.copy_model(),
    ),
    out_case(
        "export-inside-its-model",
        ("export", "--model", "{root}/model", "--backend", "onnx", "--out", "{root}/model/x"),
        "{root}/model",
        lambda w: w.copy_model(),
    ),
    out_case("export-under-a-file", (*EXPORT_TO, "{root}/afile/x"), "{root}/afile", _file),
    out_case("export-onto-a-dangling-link", (*EXPORT_TO, "{root}/link"), "{root}/link", _dangling),
    out_case("export-onto-an-artifact-without-force", (*EXPORT_TO, "{root}/art"), "--force", lambda w: w.copy_art()),
    out_case(
        "export-into-a-read-only-folder",
        (*EXPORT_TO, "{root}/ro/out"),
        "{root}/ro",
        _readonly,
        ("{root}/ro",),
    ),
    out_case(
        "quantize-onto-its-artifact",
        ("quantize", "--artifact", "{root}/art", "--precision", "int8", "--out", "{root}/art", "--force"),
        "{root}/art",
        lambda w: w.copy_art(),
    ),
    out_case(
        "quantize-onto-a-model-folder", (*QUANT_TO, "{root}/model", "--force"), "{root}/model", lambda w: w.copy_model()
    ),
    out_case("quantize-into-a-user-folder", (*QUANT_TO, "{root}/user"), "{root}/user", _user_folder),
    out_case(
        "quantize-into-a-read-only-folder",
        (*QUANT_TO, "{root}/ro/out"),
        "{root}/ro",
        _readonly,
        ("{root}/ro",),
    ),
    out_case(
        "finetune-into-a-user-folder", finetune("{model}", "{root}/user", "--epochs", "1"), "{root}/user", _user_folder
    ),
    out_case(
        "finetune-onto-its-model",
        finetune("{root}/model", "{root}/model"),
        "{root}/model",
        lambda w: w.copy_model(),
    ),
    out_case("finetune-onto-a-file", finetune("{model}", "{root}/afile", "--epochs", "1"), "{root}/afile", _file),
    out_case(
        "finetune-into-a-read-only-folder",
        finetune("{model}", "{root}/ro/out", "--epochs", "1"),
        "{root}/ro",
        _readonly,
        ("{root}/ro",),
    ),
    out_case("bundle-onto-a-file", ("bundle", "{art}", "--out", "{root}/afile"), "{root}/afile", _file),
    out_case("bundle-into-a-user-folder", ("bundle", "{art}", "--out", "{root}/user"), "{root}/user", _user_folder),
    out_case(
        "bundle-into-a-read-only-folder",
        ("bundle", "{art}", "--out", "{root}/ro/b"),
        "{root}/ro",
        _readonly,
        ("{root}/ro",),
    ),
    out_case(
        "bundle-archive-into-a-read-only-folder",
        ("bundle", "{art}", "--archive", "--out", "{root}/ro/b.tar.gz"),
        "{root}/ro",
        _readonly,
        ("{root}/ro",),
    ),
    out_case("robustness-out-onto-a-user-folder", (*ROBUST, "--out", "{root}/user"), "{root}/user", _user_folder),
    out_case(
        "run-into-a-user-folder",
        ("run", "{root}/r.yaml", "--output", "{root}/user"),
        "{root}/user",
        lambda w: (_user_folder(w), _recipe(stages(FT))(w)),
    ),
    out_case(
        "run-onto-a-file",
        ("run", "{root}/r.yaml", "--output", "{root}/afile"),
        "{root}/afile",
        lambda w: (_file(w), _recipe(stages(FT))(w)),
    ),
    out_case(
        "run-into-a-read-only-folder",
        ("run", "{root}/r.yaml", "--output", "{root}/ro/run"),
        "{root}/ro",
        lambda w: (_readonly(w), _recipe(stages(FT))(w)),
        ("{root}/ro",),
    ),
]


ART = ("evaluate", "--artifact", "{root}/art", "--data", "builtin:sample")


def tamper(id: str, change, mention: str, argv: tuple[str, ...] = ART) -> Case:
    def setup(w: Work) -> None:
        change(w, w.copy_art())

    return Case(id, argv, mention, setup)


def _manifest(change):
    return lambda w, a: w.edit_json(a / "edgeptm.json", change)


def _rewrite(name: str, content: bytes, rehash: bool):
    def change(w: Work, a: Path) -> None:
        (a / name).write_bytes(content)
        if rehash:
            w.rehash(a)

    return change


def _swap_model(w: Work, a: Path) -> None:
    (a / "model.onnx").write_bytes((w.fixtures.int8 / "model.onnx").read_bytes())


M = "{root}/art/edgeptm.json"

ARTIFACTS = [
    tamper("artifact-without-manifest", lambda w, a: (a / "edgeptm.json").unlink(), "{root}/art"),
    tamper("manifest-invalid-json", lambda w, a: (a / "edgeptm.json").write_text("{"), M),
    tamper("manifest-empty", lambda w, a: (a / "edgeptm.json").write_text(""), M),
    tamper("manifest-a-list", _manifest(lambda m: [m]), M),
    tamper("manifest-binary", lambda w, a: (a / "edgeptm.json").write_bytes(b"\xff\xfe\x00"), M),
    tamper("manifest-without-labels", _manifest(lambda m: m.__delitem__("labels")), "labels"),
    tamper("manifest-unknown-field", _manifest(lambda m: m.update(colour="blue")), "colour"),
    tamper("manifest-reversed-labels", _manifest(lambda m: m["labels"].reverse()), M),
    tamper("manifest-two-labels", _manifest(lambda m: m.update(labels=["negative", "positive"])), M),
    tamper("manifest-max-length-0", _manifest(lambda m: m.update(max_length=0)), "max_length"),
    tamper("manifest-max-length-huge", _manifest(lambda m: m.update(max_length=100000)), "max_length"),
    tamper("manifest-files-climb-out", _manifest(lambda m: m["files"].append("../../etc/passwd")), "files"),
    tamper("manifest-files-absolute", _manifest(lambda m: m["files"].append("/etc/shadow")), "files"),
    tamper(
        "manifest-hashes-climb-out", _manifest(lambda m: m["sha256"].update({"../../etc/hostname": "0" * 64})), "sha256"
    ),
    tamper("manifest-backend-unknown", _manifest(lambda m: m.update(backend="nosuch")), "nosuch"),
    tamper("manifest-precision-unknown", _manifest(lambda m: m.update(precision="int3")), "int3"),
    tamper("manifest-option-bad-value", _manifest(lambda m: m["options"].update(optimize="maybe")), "optimize"),
    tamper("model-onnx-corrupt", _rewrite("model.onnx", b"not a model", rehash=True), "{root}/art"),
    tamper(
        "model-onnx-truncated",
        lambda w, a: (a / "model.onnx").write_bytes((a / "model.onnx").read_bytes()[:1000]),
        "{root}/art/model.onnx",
    ),
    tamper(
        "model-onnx-flipped-byte",
        lambda w, a: (a / "model.onnx").write_bytes(b"\x00" + (a / "model.onnx").read_bytes()[1:]),
        "{root}/art/model.onnx",
    ),
    tamper("model-onnx-deleted", lambda w, a: (a / "model.onnx").unlink(), "{root}/art/model.onnx"),
    tamper("model-onnx-swapped", _swap_model, "{root}/art/model.onnx"),
    tamper("tokenizer-corrupt", _rewrite("tokenizer.json", b"{", rehash=True), "tokenizer.json"),
    tamper(
        "tokenizer-not-a-tokenizer",
        _rewrite("tokenizer.json", b'{"version": "1.0"}', rehash=True),
        "tokenizer.json",
    ),
    tamper("tokenizer-deleted", lambda w, a: (a / "tokenizer.json").unlink(), "{root}/art/tokenizer.json"),
    tamper("config-invalid-json", _rewrite("config.json", b"{", rehash=True), "{root}/art/config.json"),
    tamper(
        "config-id2label-not-ids",
        lambda w, a: (w.edit_json(a / "config.json", lambda c: c.update(id2label={"a": "x"})), w.rehash(a)),
        "id2label",
    ),
    tamper("source-model-gone", _manifest(lambda m: m.update(source="../gone")), "{root}/gone"),
    tamper(
        "bench-without-manifest",
        lambda w, a: (a / "edgeptm.json").unlink(),
        "{root}/art",
        argv=("bench", "--artifact", "{root}/art", "--iterations", "1"),
    ),
    tamper(
        "bench-corrupt-model",
        _rewrite("model.onnx", b"not a model", rehash=True),
        "{root}/art",
        argv=("bench", "--artifact", "{root}/art", "--iterations", "1"),
    ),
    tamper(
        "bundle-corrupt-model",
        _rewrite("model.onnx", b"not a model", rehash=False),
        "{root}/art/model.onnx",
        argv=("bundle", "{root}/art", "--out", "{root}/b"),
    ),
    tamper(
        "openvino-cache-dir-outside",
        _manifest(lambda m: m.update(backend="openvino", options={"cache_dir": "/tmp/edgeptm-planted"})),
        "cache_dir",
    ),
    tamper(
        "openvino-cache-dir-climbs-out",
        _manifest(lambda m: m.update(backend="openvino", options={"cache_dir": "../../x"})),
        "cache_dir",
    ),
    tamper(
        "openvino-hint-unknown",
        _manifest(lambda m: m.update(backend="openvino", options={"performance_hint": "FAST"})),
        "performance_hint",
    ),
    tamper(
        "openvino-batch-size-0",
        _manifest(lambda m: m.update(backend="openvino", options={"batch_size": 0})),
        "batch_size",
    ),
    Case(
        "artifact-is-a-file",
        ("evaluate", "--artifact", "{root}/afile", "--data", "builtin:sample"),
        "{root}/afile",
        _file,
    ),
]

PICKLE = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}\x94.  planted"


def model_case(id: str, change, mention: str, command: str = "export") -> Case:
    def setup(w: Work) -> None:
        change(w, w.copy_model())

    if command == "export":
        argv = ("export", "--model", "{root}/model", "--backend", "onnx", "--out", "{root}/out")
    else:
        argv = finetune("{root}/model", "{root}/out", "--epochs", "1")
    return Case(id, argv, mention, setup, out="{root}/out")


def _pickle_only(w: Work, m: Path) -> None:
    (m / "model.safetensors").unlink()
    (m / "pytorch_model.bin").write_bytes(PICKLE)
    w.rehash(m)


def _auto_map(w: Work, m: Path) -> None:
    w.edit_json(m / "config.json", lambda c: c.update(auto_map={"AutoModelForSequenceClassification": "evil.Model"}))
    (m / "evil.py").write_text("raise SystemExit('custom code ran')\n")
    w.rehash(m)


def _without(name: str):
    return lambda w, m: (m / name).unlink()


MODELS = [
    model_case("model-pickle-only-export", _pickle_only, "{root}/model"),
    model_case("model-pickle-only-finetune", _pickle_only, "{root}/model", "finetune"),
    model_case("model-auto-map-export", _auto_map, "{root}/model"),
    model_case("model-auto-map-finetune", _auto_map, "{root}/model", "finetune"),
    model_case("model-without-config-export", _without("config.json"), "{root}/model"),
    model_case("model-without-config-finetune", _without("config.json"), "{root}/model", "finetune"),
    model_case(
        "model-config-invalid-json",
        lambda w, m: (m / "config.json").write_text("{"),
        "{root}/model/config.json",
    ),
    model_case("model-without-tokenizer", _without("tokenizer.json"), "{root}/model"),
    model_case(
        "model-without-labels",
        lambda w, m: w.edit_json(m / "config.json", lambda c: c.__delitem__("id2label")),
        "id2label",
    ),
    model_case(
        "model-weights-corrupt",
        lambda w, m: ((m / "model.safetensors").write_bytes(b"garbage" * 10), w.rehash(m)),
        "{root}/model",
    ),
    model_case(
        "model-positions-not-a-number",
        lambda w, m: (w.edit_json(m / "config.json", lambda c: c.update(max_position_embeddings="many")), w.rehash(m)),
        "max_position_embeddings",
    ),
    model_case(
        "model-weights-missing",
        lambda w, m: ((m / "model.safetensors").unlink(), w.rehash(m)),
        "{root}/model",
    ),
    Case(
        "model-nonexistent-local-path",
        finetune("{root}/nosuch", "{root}/o"),
        "{root}/nosuch",
    ),
    Case(
        "model-nonexistent-relative-path",
        finetune("./nosuch-model", "{root}/o"),
        "nosuch-model",
    ),
    Case(
        "model-nonexistent-hub-id",
        finetune("nosuch-org/nosuch-model", "{root}/o"),
        "nosuch-org/nosuch-model",
    ),
    Case(
        "export-model-nonexistent",
        ("export", "--model", "{root}/nosuch", "--backend", "onnx", "--out", "{root}/o"),
        "{root}/nosuch",
    ),
    Case(
        "export-model-is-a-file",
        ("export", "--model", "{root}/afile", "--backend", "onnx", "--out", "{root}/o"),
        "{root}/afile",
        _file,
    ),
    Case(
        "export-model-empty-folder",
        ("export", "--model", "{root}/m", "--backend", "onnx", "--out", "{root}/o"),
        "{root}/m",
        lambda w: w.path("m").mkdir(),
    ),
]


PLUGIN_MODULES = {
    "edgeptm_bad_import.py": "raise ImportError('needs libfrob, which is not installed')\n",
    "edgeptm_bad_exit.py": "import sys\nsys.exit(3)\n",
    "edgeptm_bad_flaky.py": """
from edgeptm import hookimpl
from edgeptm.backend import Backend


class Flaky(Backend):
    name = "flaky"
    summary = "availability() raises"

    def availability(self):
        raise RuntimeError("driver crashed")

    def devices(self):
        return ["cpu"]

    def precisions(self):
        return ["fp32"]

    def export(self, model_dir, out, *, options, max_length):
        raise NotImplementedError  # never reached: availability() raises first, which is the case under test

    def load(self, artifact, manifest, *, device="cpu", threads=None):
        raise NotImplementedError


@hookimpl
def edgeptm_register_backends(register):
    register(Flaky())
""",
    "edgeptm_bad_hook.py": """
from edgeptm import hookimpl


@hookimpl
def edgeptm_register_backends(register):
    raise KeyError("hook")
""",
}
ENTRY_POINTS = "[edgeptm]\nbadimport = edgeptm_bad_import\nbadexit = edgeptm_bad_exit\nflaky = edgeptm_bad_flaky\nbadhook = edgeptm_bad_hook\n"


def _plugins(w: Work) -> None:
    for name, text in PLUGIN_MODULES.items():
        w.write(f"plugins/{name}", text)
    w.write("plugins/edgeptm_bad-0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: edgeptm-bad\nVersion: 0.1\n")
    w.write("plugins/edgeptm_bad-0.1.dist-info/entry_points.txt", ENTRY_POINTS)


def plugin(id: str, backend: str, mention: str, env: dict[str, str] | None = None) -> Case:
    argv = ("export", "--model", "{model}", "--backend", backend, "--out", "{root}/o")
    return Case(id, argv, mention, _plugins, env={"PYTHONPATH": "{root}/plugins", **(env or {})}, subprocess=True)


PLUGINS = [
    plugin("plugin-import-raises", "badimport", "libfrob"),
    plugin("plugin-exits-at-import", "badexit", "badexit"),
    plugin("plugin-availability-raises", "flaky", "driver crashed"),
    plugin("plugin-hook-raises", "badhook", "badhook"),
    plugin("plugins-allow-list-names-nothing-installed", "onnx", "nosuch", {"EDGEPTM_PLUGINS": "nosuch"}),
    plugin("plugins-blocked-backend", "onnx", "'onnx'", {"EDGEPTM_BLOCK_PLUGINS": "onnx"}),
    Case(
        "plugins-backends-with-a-typo",
        ("backends",),
        "nosuch",
        env={"EDGEPTM_PLUGINS": "onnx,nosuch"},
        subprocess=True,
    ),
    Case(
        "plugins-typo-before-a-recipe-run",
        ("run", "{root}/r.yaml"),
        "nosuch",
        _recipe(stages(FT)),
        env={"EDGEPTM_PLUGINS": "nosuch"},
        subprocess=True,
    ),
]


def _forced(agreement: float, accuracy: float | None = None):
    """Make the comparison with torch fp32 report these figures (the quantization itself is real): how a
    quantizer that broke the model looks to the gate."""

    def patch(monkeypatch) -> None:
        from edgeptm.deploy import validate

        real = validate.compare

        def compare(*args, **kwargs):
            result = {**real(*args, **kwargs), "agreement_pct": agreement, "max_abs_logit_diff": 9.25}
            if accuracy is not None:
                result.update(accuracy_pct=accuracy, reference_accuracy_pct=accuracy + 10, accuracy_drop=10.0)
            return result

        monkeypatch.setattr(validate, "compare", compare)

    return patch


def gate(id: str, artifact: str, precision: str, figures: str, patch, *extra: str) -> Case:
    """A real quantization, calibrated and validated on a few labelled texts (kept small: the corpus is fast)."""
    argv = ("quantize", "--artifact", artifact, "--precision", precision, "--out", "{root}/q", *extra)
    argv += ("--calibration-size", "8", "--validate-on", "{root}/v.jsonl")
    return Case(id, argv, figures, _rows("v.jsonl", ROWS * 4), out="{root}/q", patch=patch)


GATE = [
    gate(
        "gate-onnx-int8-25pct",
        "{art}",
        "int8",
        "agreement with torch fp32 25.0% (min 90%)",
        _forced(25.0),
    ),
    gate("gate-onnx-int8-static-drop", "{art}", "int8-static", "drop 10.0 points, max 3", _forced(95.0, 60.0)),
    gate("gate-onnx-int8-custom-min", "{art}", "int8", "(min 99%)", _forced(98.0), "--min-agreement", "99"),
    gate("gate-onnx-int8-custom-drop", "{art}", "int8", "max 5", _forced(95.0, 50.0), "--max-drop", "5"),
    gate("gate-torch-fp16-agreement", "{model}", "fp16", "torch fp16 fails the validation gate", _forced(50.0)),
    gate("gate-torch-bf16-drop", "{model}", "bf16", "accuracy 50.0% vs 60.0%", _forced(99.0, 50.0)),
]

CASES: list[Case] = [*DATA, *TRAINING, *OPTIONS, *RECIPES, *OUTPUTS, *ARTIFACTS, *MODELS, *PLUGINS, *GATE]
