"""bundle.json: the writer, verification on load, tampering, and reproducible, safely unpacked archives."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest
from tinymodels import LABELS, MAX_LENGTH, TinyBundle

import edgeptm_runtime as rt
from edgeptm_runtime.archive import write_archive
from edgeptm_runtime.bundle import FORMAT_VERSION, read_manifest, verify_bundle, write_bundle_manifest
from edgeptm_runtime.modelinfo import onnx_opsets


def _edit(folder: Path, **changes: object) -> None:
    data = json.loads((folder / "bundle.json").read_text())
    data.update(changes)
    (folder / "bundle.json").write_text(json.dumps(data))


def _refused(path: Path, match: str) -> str:
    with pytest.raises(rt.BundleError, match=match) as info:
        rt.load(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_writer_hashes_every_file_and_is_deterministic(tiny_copy: Path) -> None:
    before = (tiny_copy / "bundle.json").read_bytes()
    data = json.loads(before)
    assert set(data["files"]) == {"model.onnx", "tokenizer.json", "README.md"}
    for name, entry in data["files"].items():
        content = (tiny_copy / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    assert data["operators"] == {"ai.onnx": 17}  # read from the model file itself
    assert data["format_version"] == FORMAT_VERSION and data["labels"] == LABELS
    assert before.endswith(b"}\n") and before == json.dumps(data, sort_keys=True, indent=2).encode() + b"\n"
    again = write_bundle_manifest(
        tiny_copy,
        name="tiny",
        engine="onnx",
        backend="onnx",
        precision="fp32",
        labels=LABELS,
        max_length=MAX_LENGTH,
        extra={"metrics": {"accuracy": 0.5}},
    )
    assert again == data and (tiny_copy / "bundle.json").read_bytes() == before


def test_onnx_opsets_reader_agrees_with_onnx(tiny: TinyBundle, tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(tiny.path / "model.onnx"))
    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(tmp_path / "m.onnx"))
    want = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    assert onnx_opsets(tmp_path / "m.onnx") == want == {"ai.onnx": 17, "com.microsoft": 1}
    (tmp_path / "junk.onnx").write_bytes(b"\xff" * 64)
    with pytest.raises(ValueError):
        onnx_opsets(tmp_path / "junk.onnx")


def test_writer_refuses_bad_input(tiny_copy: Path) -> None:
    common = dict(name="x", engine="onnx", backend="onnx", precision="fp32", max_length=8)
    with pytest.raises(rt.BundleError, match="labels is empty"):
        write_bundle_manifest(tiny_copy, labels=[], **common)
    with pytest.raises(rt.BundleError, match="an absolute path"):
        write_bundle_manifest(tiny_copy, labels=LABELS, model_files=["/etc/passwd"], **common)
    with pytest.raises(rt.BundleError, match="escapes the bundle folder"):
        write_bundle_manifest(tiny_copy, labels=LABELS, model_files=["../model.onnx"], **common)
    os.symlink("/etc/hostname", tiny_copy / "outside")
    with pytest.raises(rt.BundleError, match="^outside: a symlink pointing outside"):
        write_bundle_manifest(tiny_copy, labels=LABELS, **common)


def test_verified_bundle_loads(tiny: TinyBundle) -> None:
    manifest = verify_bundle(tiny.path)
    assert manifest.model_file == "model.onnx" and manifest.labels == tuple(LABELS)
    with rt.load(tiny.path) as clf:
        assert clf.labels == LABELS and clf.max_length == MAX_LENGTH
        assert clf.metadata["name"] == "tiny" and clf.metadata["extra"] == {"metrics": {"accuracy": 0.5}}


def test_flipped_byte_in_model_is_refused(tiny_copy: Path) -> None:
    model = tiny_copy / "model.onnx"
    content = bytearray(model.read_bytes())
    content[len(content) // 2] ^= 0x01
    model.write_bytes(bytes(content))
    _refused(tiny_copy, r"^model\.onnx: sha256 [0-9a-f]{12}\.\.\. does not match bundle\.json")
    with rt.load(tiny_copy, verify=False) as clf:  # the caller's explicit choice; sizes still match
        assert clf.labels == LABELS


def test_truncated_or_missing_files_are_refused(tiny_copy: Path) -> None:
    with open(tiny_copy / "README.md", "ab") as f:
        f.write(b"more")
    _refused(tiny_copy, r"^README\.md: 31 bytes but bundle\.json says 27;")
    (tiny_copy / "README.md").write_bytes((tiny_copy / "README.md").read_bytes()[:-4])
    (tiny_copy / "tokenizer.json").unlink()
    _refused(tiny_copy, r"^tokenizer\.json: listed in bundle\.json but missing;")
    with pytest.raises(rt.BundleError, match="tokenizer.json: listed in bundle.json but missing"):
        rt.load(tiny_copy, verify=False)


@pytest.mark.parametrize(
    ("name", "problem"), [("../x", "escapes the bundle folder"), ("/etc/passwd", "an absolute path")]
)
def test_unsafe_paths_are_refused(tiny_copy: Path, name: str, problem: str) -> None:
    data = json.loads((tiny_copy / "bundle.json").read_text())
    data["files"][name] = {"sha256": "0" * 64, "size": 1}
    (tiny_copy / "bundle.json").write_text(json.dumps(data))
    message = _refused(tiny_copy, "^bundle.json: files lists")
    assert repr(name) in message and problem in message


def test_symlink_pointing_outside_is_refused(tiny_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.md"
    shutil.copy(tiny_copy / "README.md", outside)
    (tiny_copy / "README.md").unlink()
    os.symlink(outside, tiny_copy / "README.md")  # same bytes, but outside the bundle
    _refused(tiny_copy, r"^README\.md: a symlink pointing outside the bundle folder")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"format_version": 99},
            r"^bundle\.json: bundle format version 99 is newer than this runtime supports \(2\); "
            r"upgrade edgeptm-runtime$",
        ),
        ({"format": "something-else"}, "is not an edgeptm bundle"),
        ({"labels": []}, "labels is empty"),
        ({"labels": ["a", ""]}, "labels must be a list of non-empty strings"),
        ({"max_length": 0}, "max_length must be a positive integer"),
        ({"max_length": "128"}, "max_length must be a positive integer"),
        ({"engine": "tflite"}, "engine 'tflite' is not one of onnx, openvino"),
        ({"model_files": ["weights.onnx"]}, "weights.onnx is not listed in files"),
    ],
)
def test_bad_manifest_fields_are_refused(tiny_copy: Path, changes: dict, match: str) -> None:
    _edit(tiny_copy, **changes)
    _refused(tiny_copy, match)


def test_understated_operators_are_refused(tiny_copy: Path) -> None:
    data = json.loads((tiny_copy / "bundle.json").read_text())
    data["operators"] = {"ai.onnx": 11}
    (tiny_copy / "bundle.json").write_text(json.dumps(data))
    _refused(tiny_copy, "operators lists ai.onnx as 11 but model.onnx imports opset 17")
    data["operators"] = {"ai.onnx": 17, "com.microsoft": 1}
    data["operators"].pop("ai.onnx")
    (tiny_copy / "bundle.json").write_text(json.dumps(data))
    _refused(tiny_copy, "operators does not list ai.onnx, which model.onnx imports")


def test_not_json_and_not_a_bundle(tmp_path: Path, tiny_copy: Path) -> None:
    _refused(tmp_path, "no bundle.json; this is not an edgeptm bundle")
    _refused(tmp_path / "nope", "no such bundle")
    (tiny_copy / "bundle.json").write_text('{"format": ')
    _refused(tiny_copy, r"^bundle\.json: not valid JSON")


def test_archive_is_reproducible_and_loads(tiny: TinyBundle, tmp_path: Path) -> None:
    first = write_archive(tiny.path, tmp_path / "a.tar.gz").read_bytes()
    second = write_archive(tiny.path, tmp_path / "b.tar.gz").read_bytes()
    assert first == second
    rebuilt = Path(shutil.copytree(tiny.path, tmp_path / "rebuilt"))
    os.utime(rebuilt / "model.onnx", (1, 1))  # file times and the folder name do not matter
    assert write_archive(rebuilt, tmp_path / "c.tar.gz").read_bytes() == first
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members if m.isfile()] == [
        "tiny/README.md",
        "tiny/bundle.json",
        "tiny/model.onnx",
        "tiny/tokenizer.json",
    ]
    assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 and m.uname == "" for m in members)
    with rt.load(tmp_path / "a.tar.gz") as clf, rt.load(tiny.path) as direct:
        unpacked = clf.path
        assert (
            unpacked is not None
            and unpacked != tiny.path
            and unpacked.is_dir()
            and clf.logits(["good"]).tolist() == direct.logits(["good"]).tolist()
        )
    assert not unpacked.exists()  # close() deleted the temp folder


def _tarball(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, content in members:
            info.size = len(content) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return path


def test_evil_archives_are_refused(tiny: TinyBundle, tmp_path: Path) -> None:
    good = [(tarfile.TarInfo(f"b/{n}"), (tiny.path / n).read_bytes()) for n in ("bundle.json", "model.onnx")]
    evil = tarfile.TarInfo("../evil")
    message = _refused(_tarball(tmp_path / "dotdot.tar.gz", [*good, (evil, b"x")]), "member '../evil'")
    assert "escapes the bundle folder" in message
    assert not (tmp_path / "evil").exists()
    absolute = tarfile.TarInfo("/tmp/evil")
    _refused(_tarball(tmp_path / "abs.tar.gz", [(absolute, b"x")]), "member '/tmp/evil' is an absolute path")
    link = tarfile.TarInfo("b/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    _refused(_tarball(tmp_path / "link.tar.gz", [*good, (link, b"")]), "member 'b/link' is a link")
    device = tarfile.TarInfo("b/dev")
    device.type = tarfile.CHRTYPE
    _refused(_tarball(tmp_path / "dev.tar.gz", [(device, b"")]), "member 'b/dev' is a special file")
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    _refused(tmp_path / "junk.tar.gz", "not a readable bundle archive")


def test_read_manifest_keeps_unknown_fields(tiny_copy: Path) -> None:
    _edit(tiny_copy, future_field={"x": 1})
    manifest = read_manifest(tiny_copy)
    assert manifest.to_dict()["future_field"] == {"x": 1}


def test_requirement_mismatch_warns_once_per_requirement(tiny_copy: Path) -> None:
    import tokenizers

    _edit(tiny_copy, requirements=["numpy>=1.0", "tokenizers==0.0.1", "onnxruntime>=999", "torch==1.0"])
    with pytest.warns(rt.RequirementWarning) as caught:
        rt.load(tiny_copy).close()
    messages = [str(w.message) for w in caught if w.category is rt.RequirementWarning]
    assert len(messages) == 2  # numpy is new enough; torch is not the runtime's business
    assert f"asks for tokenizers==0.0.1 but tokenizers {tokenizers.__version__} is installed" in messages[0]
    assert "asks for onnxruntime>=999" in messages[1]
    with pytest.warns(rt.RequirementWarning) as caught:
        rt.load(tiny_copy, engine="openvino").close()
    assert ["tokenizers==0.0.1" in str(w.message) for w in caught] == [True]  # onnxruntime is not in use there
