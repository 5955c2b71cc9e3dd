"""The TF-IDF baseline end to end on the packaged sample: scikit-learn trains it, its ONNX graph gives
scikit-learn's logits through edgeptm's runner, `evaluate` scores it per language, and its bundle runs
in `edgeptm-runtime` (no edgeptm, no scikit-learn) with the same labels; a tampered bundle is refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeptm.data import Dataset, LabelMap
from edgeptm.errors import BackendError
from edgeptm.train.baseline import BaselineOptions, fit_pipeline, logits_of, train_baseline

OPTIONS = BaselineOptions(max_features=5000, seed=3)


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    out = tmp_path_factory.mktemp("baseline") / "baseline"
    train_baseline(sample["train"], out, OPTIONS, eval_data=sample["eval"], log=lambda m: None)
    return out


def _sklearn(train: Dataset, options: BaselineOptions):
    """The same pipeline fitted here, independently of train_baseline (the reference the ONNX must equal)."""
    from edgeptm_runtime.text import TextEncoder

    encoder = TextEncoder(options.max_length, options.normalize())
    pipeline = fit_pipeline(encoder.tokenize(train.texts), LabelMap.from_dataset(train).encode(train), options)
    return pipeline, encoder


def test_onnx_artifact_equals_sklearn_and_evaluates_per_language(plugins, baseline: Path, sample) -> None:
    from edgeptm.deploy import artifact_manifest, load_runner
    from edgeptm.measure.evaluate import evaluate, predict_logits
    from edgeptm.measure.metrics import classification_report

    manifest = artifact_manifest(baseline)
    assert (manifest.backend, manifest.precision, manifest.kind) == ("onnx", "fp32", "tfidf-linear")
    assert manifest.sha256 and "tokenizer.json" not in manifest.sha256
    assert set(manifest.export_info["not_carried"]) >= {"analyzer=char_wb", "sublinear_tf"}
    test = sample["test"]
    pipeline, encoder = _sklearn(sample["train"], OPTIONS)
    want = logits_of(pipeline, encoder.tokenize(test.texts))
    with load_runner(plugins, baseline) as runner:
        got = predict_logits(runner, test.texts, batch_size=7)  # length-sorted batches of raw text
    np.testing.assert_allclose(got, want, atol=1e-4)
    labels = LabelMap(manifest.labels)
    result = evaluate(plugins, baseline, test)
    assert result["kind"] == "tfidf-linear" and "agreement" not in result  # no torch source to agree with
    expected = classification_report(labels.encode(test), want.argmax(-1), test.languages, len(labels.names))
    assert result["per_language"] == expected["per_language"] and len(result["per_language"]) == 8
    assert result["overall"]["macro_f1"] > 0.45  # three balanced classes: chance is about 0.33


def test_same_data_and_seed_give_the_same_bytes(baseline: Path, sample, tmp_path: Path) -> None:
    again = train_baseline(sample["train"], tmp_path / "again", OPTIONS, log=lambda m: None)
    digest = [hashlib.sha256((p / "model.onnx").read_bytes()).hexdigest() for p in (baseline, again.path)]
    assert digest[0] == digest[1]


def test_two_labels_give_logits_whose_softmax_is_predict_proba(plugins, sample, tmp_path: Path) -> None:
    from edgeptm.deploy import load_runner
    from edgeptm.measure.evaluate import predict_logits

    def two(data: Dataset) -> Dataset:
        keep = [i for i, e in enumerate(data.examples) if e.label != "neutral"]
        return Dataset([data.examples[i] for i in keep], data.source, [data.locations[i] for i in keep])

    train, test = two(sample["train"]), two(sample["test"])
    result = train_baseline(train, tmp_path / "binary", OPTIONS, log=lambda m: None)
    assert result.labels == ["negative", "positive"]
    with load_runner(plugins, result.path) as runner:
        logits = predict_logits(runner, test.texts)
    pipeline, encoder = _sklearn(train, OPTIONS)
    softmax = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(softmax, pipeline.predict_proba(encoder.tokenize(test.texts)), atol=1e-5)


def test_bundle_runs_in_the_runtime_alone_and_tampering_is_refused(
    plugins, baseline: Path, sample, tmp_path: Path
) -> None:
    import edgeptm_runtime
    from edgeptm.deploy import load_runner
    from edgeptm.deploy.bundle import bundle
    from edgeptm.measure.evaluate import predict_logits

    folder = bundle(plugins, baseline, tmp_path / "baseline-bundle").path
    meta = edgeptm_runtime.verify_bundle(folder)
    assert meta.format_version == 2 and meta.tokenizer is None and meta.preprocessing.inputs == ("text",)
    assert meta.preprocessing.normalize == ("collapse_whitespace", "lowercase")
    assert sorted(meta.files) == ["README.md", "model.onnx"] and "characters" in (folder / "README.md").read_text()
    texts = sample["test"].texts[:24] + ["  MIXED   Case\n\tand  WHITESPACE  "]
    with load_runner(plugins, baseline) as runner:
        want = [runner.labels[i] for i in predict_logits(runner, texts).argmax(-1)]
    blocker = (
        "import importlib.abc, runpy, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('edgeptm', 'sklearn', 'skl2onnx', 'torch', 'scipy'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['edgeptm-runtime', *sys.argv[1:]]\n"
        "from edgeptm_runtime.cli import main\n"
        "sys.exit(main())\n"
    )
    inputs = tmp_path / "texts.jsonl"
    inputs.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", blocker, "predict", str(folder), "--input", str(inputs)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["label"] for line in out.stdout.splitlines()] == want

    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "model.onnx").write_bytes(bytes(data))
    refused = subprocess.run(
        [sys.executable, "-c", blocker, "predict", str(folder), "--text", "hello"], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "sha256" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


def test_a_baseline_is_not_quantized(plugins, baseline: Path, tmp_path: Path) -> None:
    from edgeptm import deploy

    with pytest.raises(BackendError, match="baseline is not quantized"):
        deploy.quantize(plugins, baseline, tmp_path / "q", precision="int8")
    assert not (tmp_path / "q").exists()


def test_cli_trains_and_evaluate_shows_it_beside_a_model(cli, baseline: Path, onnx_fp32: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "cli-baseline"
    made = runner.invoke(
        cli,
        [
            "baseline",
            "--train",
            "builtin:sample",
            "--eval",
            "builtin:sample",
            "--out",
            str(out),
            "--max-features",
            "2000",
        ],
    )
    assert made.exit_code == 0, made.output
    assert "ONNX vs scikit-learn on 120 texts" in made.output and "\nar " in made.output
    shown = runner.invoke(
        cli, ["evaluate", "--artifact", str(onnx_fp32), "--baseline", str(out), "--data", "builtin:sample"]
    )
    assert shown.exit_code == 0, shown.output
    table = shown.output.split("the baseline beside each model:")[1].splitlines()
    assert table[1].split()[:2] == ["language", "n"] and table[3].split()[:2] == ["all", "144"]
    assert len([line for line in table if line.strip()]) == 2 + 1 + 8  # header, rule, all, eight languages
    again = runner.invoke(cli, ["baseline", "--train", "builtin:sample", "--out", str(out)])
    assert again.exit_code == 1 and "--force" in again.output
    bad = runner.invoke(
        cli,
        ["baseline", "--train", "builtin:sample", "--out", str(tmp_path / "x"), "--ngram-min", "5", "--ngram-max", "2"],
    )
    assert bad.exit_code == 2 and "ngram_max (2) is below ngram_min (5)" in bad.output
