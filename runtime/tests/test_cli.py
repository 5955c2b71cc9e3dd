"""The command line, run as a user would: a fresh process, JSON lines out, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tinymodels import HAS_OPENVINO, LABELS, TinyBundle

import edgeptm_runtime as rt


def run_cli(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m edgeptm_runtime ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "edgeptm_runtime", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def _assert_one_error_line(result, match: str) -> None:  # noqa: ANN001 - CompletedProcess
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and match in errors[0], result.stderr


@pytest.fixture(scope="module")
def expected(tiny: TinyBundle) -> dict[str, rt.Prediction]:
    texts = ["I love this movie", "la pelicula es muy mala", "okay", "the plot was boring"]
    with rt.load(tiny.path) as clf:
        return dict(zip(texts, clf.predict(texts), strict=True))


def _check(line: dict, expected: dict[str, rt.Prediction]) -> None:
    want = expected[line["text"]]
    assert line["label"] == want.label and list(line["scores"]) == LABELS
    np.testing.assert_allclose(list(line["scores"].values()), list(want.scores.values()), atol=1e-6)


def test_predict_texts(tiny: TinyBundle, expected: dict[str, rt.Prediction]) -> None:
    result = run_cli("predict", str(tiny.path), "--text", "I love this movie", "--text", "okay")
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert [line["text"] for line in lines] == ["I love this movie", "okay"]
    assert all(set(line) == {"text", "label", "scores"} for line in lines)
    for line in lines:
        _check(line, expected)


def test_predict_jsonl_file_and_stdin(tiny: TinyBundle, expected: dict[str, rt.Prediction], tmp_path: Path) -> None:
    texts = list(expected)
    records = [{"id": f"r{i}", "text": t, "lang": "x"} for i, t in enumerate(texts)]
    content = "\n".join(json.dumps(r) for r in records[:2]) + "\n\n" + "\n".join(json.dumps(r) for r in records[2:])
    (tmp_path / "in.jsonl").write_text(content + "\n")
    for args, stdin in ((["--input", str(tmp_path / "in.jsonl")], None), (["--input", "-"], content)):
        result = run_cli("predict", str(tiny.path), *args, "--batch-size", "2", stdin=stdin)
        assert result.returncode == 0, result.stderr
        lines = _lines(result.stdout)
        assert [(line["id"], line["text"]) for line in lines] == [(r["id"], r["text"]) for r in records]
        assert all(list(line) == ["id", "text", "label", "scores"] for line in lines)
        for line in lines:
            _check(line, expected)


def test_predict_bad_line_is_one_error_with_its_number(tiny: TinyBundle, tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text('{"text": "good"}\n{"text": "bad"}\n{"txt": "oops"}\n{"text": "fine"}\n')
    result = run_cli("predict", str(tiny.path), "--input", str(tmp_path / "in.jsonl"))
    _assert_one_error_line(result, f'{tmp_path / "in.jsonl"}:3: expected an object with a "text" string')
    assert [line["text"] for line in _lines(result.stdout)] == ["good", "bad"]  # what came before is answered
    (tmp_path / "broken.jsonl").write_text('{"text": "good"}\n{"text": \n')
    _assert_one_error_line(
        run_cli("predict", str(tiny.path), "--input", str(tmp_path / "broken.jsonl")), "broken.jsonl:2: not a JSON"
    )
    _assert_one_error_line(
        run_cli("predict", str(tiny.path), "--input", str(tmp_path / "nope.jsonl")), "nope.jsonl: no such input file"
    )


def test_bundle_errors_are_one_line(tiny: TinyBundle, tmp_path: Path) -> None:
    _assert_one_error_line(run_cli("predict", str(tmp_path / "missing"), "--text", "x"), "no such bundle")
    bundle = Path(shutil.copytree(tiny.path, tmp_path / "tampered"))
    content = bytearray((bundle / "model.onnx").read_bytes())
    content[100] ^= 0xFF
    (bundle / "model.onnx").write_bytes(bytes(content))
    _assert_one_error_line(run_cli("predict", str(bundle), "--text", "x"), "model.onnx: sha256")
    _assert_one_error_line(run_cli("verify", str(bundle)), "model.onnx: sha256")


@pytest.mark.skipif(not HAS_OPENVINO, reason="openvino is not installed")
def test_verify_info_and_archives(tiny: TinyBundle, tmp_path: Path) -> None:
    archive = rt.write_archive(tiny.path, tmp_path / "tiny.tar.gz")
    for path in (tiny.path, archive):
        result = run_cli("verify", str(path), "--engine", "openvino")
        assert (result.returncode, result.stdout) == (0, "ok: 3 files verified\n"), result.stderr
    info = run_cli("info", str(archive))
    assert info.returncode == 0 and json.loads(info.stdout) == json.loads((tiny.path / "bundle.json").read_text())
    result = run_cli("predict", str(archive), "--text", "good", "--engine", "openvino", "--threads", "1")
    assert result.returncode == 0 and _lines(result.stdout)[0]["text"] == "good"
