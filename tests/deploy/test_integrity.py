"""Artifacts record the sha256 of the files they need; loading refuses a changed, missing or escaping file,
or labels that are not the model's own, with one line naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm.deploy import artifact_manifest
from edgeptm.errors import ModelError
from edgeptm.manifest import read_manifest


def _copy(onnx_int8: Path, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(onnx_int8, folder)
    return folder


def test_the_manifest_hashes_what_loading_reads(onnx_int8: Path) -> None:
    m = read_manifest(onnx_int8)
    assert {"model.onnx", "tokenizer.json", "config.json"} <= set(m.sha256)
    assert all(len(digest) == 64 for digest in m.sha256.values())
    assert artifact_manifest(onnx_int8) == m


def test_tampering_is_refused_at_load(cli, tmp_path: Path, onnx_int8: Path) -> None:
    flipped = _copy(onnx_int8, tmp_path, "flipped")
    data = bytearray((flipped / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (flipped / "model.onnx").write_bytes(bytes(data))
    deleted = _copy(onnx_int8, tmp_path, "deleted")
    (deleted / "tokenizer.json").unlink()
    relabelled = _copy(onnx_int8, tmp_path, "relabelled")
    manifest = json.loads((relabelled / "edgeptm.json").read_text())
    manifest["labels"] = manifest["labels"][::-1]
    (relabelled / "edgeptm.json").write_text(json.dumps(manifest))
    escaping = _copy(onnx_int8, tmp_path, "escaping")
    manifest = json.loads((escaping / "edgeptm.json").read_text())
    manifest["files"] = ["../../etc/passwd"]
    (escaping / "edgeptm.json").write_text(json.dumps(manifest))
    cases = {
        flipped: "model.onnx: its content changed since edgeptm wrote it",
        deleted: "tokenizer.json: missing, though edgeptm.json lists it",
        relabelled: "differ from the model's own",
        escaping: "is not a path inside the artifact folder",
    }
    for folder, needle in cases.items():
        with pytest.raises(ModelError, match=needle):
            artifact_manifest(folder)
        r = CliRunner().invoke(cli, ["evaluate", "--artifact", str(folder), "--data", "builtin:sample"])
        assert r.exit_code == 1 and needle in r.stderr and r.stderr.count("\n") == 1 and "Traceback" not in r.output


def test_manifests_store_their_source_relative_and_old_absolute_ones_load(tmp_path, onnx_fp32, finetuned) -> None:
    """A run folder (model + artifacts) moved as a whole still finds each artifact's source model."""
    from edgeptm.manifest import read_manifest

    stored = json.loads((onnx_fp32 / "edgeptm.json").read_text())["source"]
    assert not Path(stored).is_absolute()
    assert read_manifest(onnx_fp32).source == str(finetuned.resolve())
    assert json.loads((finetuned / "edgeptm.json").read_text())["source"] == "."

    run = tmp_path / "moved"
    shutil.copytree(finetuned, run / "model")
    shutil.copytree(onnx_fp32, run / "artifacts" / "onnx")
    manifest = json.loads((run / "artifacts" / "onnx" / "edgeptm.json").read_text())
    manifest["source"] = "../../model"
    (run / "artifacts" / "onnx" / "edgeptm.json").write_text(json.dumps(manifest))
    assert read_manifest(run / "artifacts" / "onnx").source == str((run / "model").resolve())

    manifest["source"] = str(finetuned.resolve())  # written by an older edgeptm
    (run / "artifacts" / "onnx" / "edgeptm.json").write_text(json.dumps(manifest))
    assert read_manifest(run / "artifacts" / "onnx").source == str(finetuned.resolve())
