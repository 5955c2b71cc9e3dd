"""`edgeptm bundle`: a verified bundle that edgeptm-runtime runs without torch, with the same labels as
`edgeptm evaluate`; tampering is refused; rebuilding gives the same bytes; nothing of the user's is touched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeptm.deploy.bundle import bundle
from edgeptm.errors import BackendError, ModelError


@pytest.fixture(scope="module")
def int8_bundle(tmp_path_factory, plugins, onnx_int8: Path) -> Path:
    return bundle(plugins, onnx_int8, tmp_path_factory.mktemp("bundles") / "tiny-int8").path


def test_bundle_holds_checksummed_relative_files(int8_bundle: Path, onnx_int8: Path) -> None:
    import edgeptm_runtime

    meta = json.loads((int8_bundle / "bundle.json").read_text())
    assert sorted(meta["files"]) == ["README.md", "model.onnx", "tokenizer.json"]
    assert (
        meta["engine"] == "onnx"
        and meta["precision"] == "int8"
        and meta["labels"] == ["negative", "neutral", "positive"]
    )
    assert meta["operators"]["com.microsoft"] >= 1  # the fused int8 graph needs onnxruntime's contrib ops
    assert meta["extra"]["batch_invariant"] is False  # dynamic int8: scales over the batch, so serve runs texts alone
    assert str(onnx_int8.parent) not in (int8_bundle / "bundle.json").read_text()  # no absolute paths
    assert all(not Path(name).is_absolute() and ".." not in Path(name).parts for name in meta["files"])
    assert edgeptm_runtime.verify_bundle(int8_bundle).name == "tiny-int8"
    card = (int8_bundle / "README.md").read_text()
    assert "## Agreement with the fp32 model" in card and "pip install 'edgeptm-runtime[onnx]'" in card


def test_runtime_predicts_the_labels_evaluate_reports(plugins, int8_bundle: Path, onnx_int8: Path, sample) -> None:
    import edgeptm_runtime
    from edgeptm.deploy import load_runner
    from edgeptm.measure.evaluate import predict_logits

    texts = sample["test"].texts
    with load_runner(plugins, onnx_int8) as runner:
        want = predict_logits(runner, texts)
    with edgeptm_runtime.load(int8_bundle) as clf:
        got = clf.logits(texts)
        labels = [p.label for p in clf.predict(texts)]  # batched as evaluate batches (dynamic int8 scales per batch)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert labels == [clf.labels[i] for i in want.argmax(-1)]


def test_runtime_needs_no_torch_nor_edgeptm(int8_bundle: Path, sample) -> None:
    """In a process where torch, transformers, pydantic, click, pluggy, matplotlib and edgeptm can't be
    imported, the bundle loads, verifies and predicts."""
    blocked = ["torch", "transformers", "pydantic", "click", "pluggy", "matplotlib", "yaml", "edgeptm"]
    code = f"""
import importlib.abc, json, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Block())
import edgeptm_runtime
with edgeptm_runtime.load(sys.argv[1]) as clf:
    print(json.dumps([p.label for p in clf.predict(json.loads(sys.argv[2]))]))
"""
    texts = sample["test"].texts[:20]
    out = subprocess.run(
        [sys.executable, "-c", code, str(int8_bundle), json.dumps(texts)], capture_output=True, text=True, check=True
    )
    import edgeptm_runtime

    with edgeptm_runtime.load(int8_bundle) as clf:
        assert json.loads(out.stdout) == [p.label for p in clf.predict(texts)]


def test_tampering_is_refused_with_one_line(tmp_path: Path, plugins, onnx_int8: Path) -> None:
    import edgeptm_runtime

    def fresh(name: str) -> Path:
        return bundle(plugins, onnx_int8, tmp_path / name).path

    flipped = fresh("flipped")
    data = bytearray((flipped / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (flipped / "model.onnx").write_bytes(bytes(data))
    deleted = fresh("deleted")
    (deleted / "tokenizer.json").unlink()
    escaping = fresh("escaping")
    absolute = fresh("absolute")
    for folder, name in ((escaping, "../x"), (absolute, "/etc/passwd")):
        meta = json.loads((folder / "bundle.json").read_text())
        meta["files"][name] = {"sha256": "0" * 64, "size": 1}
        (folder / "bundle.json").write_text(json.dumps(meta))
    for folder, needle in (
        (flipped, "model.onnx"),
        (deleted, "tokenizer.json"),
        (escaping, "../x"),
        (absolute, "/etc/passwd"),
    ):
        with pytest.raises(edgeptm_runtime.BundleError) as caught:
            edgeptm_runtime.load(folder)
        assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_rebuilding_gives_a_byte_identical_archive(tmp_path: Path, plugins, onnx_int8: Path) -> None:
    import edgeptm_runtime

    first = bundle(plugins, onnx_int8, tmp_path / "a" / "tiny.tar.gz", archive=True).path
    second = bundle(plugins, onnx_int8, tmp_path / "b" / "tiny.tar.gz", archive=True).path
    assert first.read_bytes() == second.read_bytes()
    with edgeptm_runtime.load(first) as clf:
        assert clf.metadata["name"] == "tiny"


def test_outputs_are_safe(tmp_path: Path, plugins, onnx_int8: Path, finetuned: Path) -> None:
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    with pytest.raises(ModelError, match="exists and is not an edgeptm bundle"):
        bundle(plugins, onnx_int8, user)
    assert (user / "notes.txt").read_text() == "keep me" and sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    made = bundle(plugins, onnx_int8, tmp_path / "b").path
    with pytest.raises(ModelError, match="pass --force to replace it"):
        bundle(plugins, onnx_int8, made)
    assert bundle(plugins, onnx_int8, made, force=True).path == made
    with pytest.raises(ModelError, match="into the artifact it is made from"):
        bundle(plugins, onnx_int8, onnx_int8 / "b")
    with pytest.raises(BackendError, match="needs torch to run, so it can't be bundled"):
        bundle(plugins, finetuned, tmp_path / "torch")
    assert not list(tmp_path.glob(".*tmp*")), "no temp folders are left behind"


def test_bundle_command_with_per_language_card(cli, tmp_path: Path, onnx_int8: Path) -> None:
    out = tmp_path / "cli-bundle"
    r = CliRunner().invoke(cli, ["bundle", str(onnx_int8), "--out", str(out), "--eval-data", "builtin:sample"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"wrote {out}: onnx bundle, 3 files, ")
    card = (out / "README.md").read_text()
    assert "## Accuracy of this bundle, per language" in card and "| zh |" in card
    again = CliRunner().invoke(cli, ["bundle", str(onnx_int8), "--out", str(out)])
    assert (
        again.exit_code == 1
        and again.stderr == f"Error: {out}: a bundle is already there; pass --force to replace it\n"
    )


def test_bench_runs_a_bundle_through_the_runtime_alone(cli, int8_bundle: Path) -> None:
    args = ["bench", "--artifact", str(int8_bundle), "--batch-sizes", "1", "--seq-lengths", "16", "--iterations", "2"]
    r = CliRunner().invoke(cli, [*args, "--warmup", "0", "--json"])
    assert r.exit_code == 0, r.output
    (result,) = json.loads(r.stdout)
    assert result["backend"] == "onnx bundle (onnx engine)" and result["precision"] == "int8"
    assert 0 < result["import_s"] < result["cold_start_s"] and result["load_s"] < result["cold_start_s"]
    assert result["machine"]["arch"] and "cores" in result["machine"]["description"]
    assert result["size_mb"] > 0 and result["measurements"][0]["batch_size"] == 1
    text = CliRunner().invoke(cli, [*args, "--warmup", "0"])
    assert text.exit_code == 0, text.output
    assert f"{int8_bundle}: cold start " in text.stdout and text.stdout.splitlines()[-1].startswith("measured on ")
