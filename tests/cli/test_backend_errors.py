"""One-line errors, never tracebacks, for an unavailable backend, an unknown precision and an absent
device, from `edgeptm backends` and every command that takes --backend/--device/--precision."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm import hookimpl
from edgeptm.backend import Availability
from edgeptm.manifest import Manifest


def _fake_plugin() -> types.ModuleType:
    from edgeptm_numpy.backend import NumpyBackend

    class Fake(NumpyBackend):
        name = "fake"
        install_hint = "pip install edgeptm-fake"

        def availability(self) -> Availability:
            return Availability(False, "fakert is not installed")

    module = types.ModuleType("fake_plugin")

    @hookimpl
    def edgeptm_register_backends(register):
        register(Fake())

    module.edgeptm_register_backends = edgeptm_register_backends
    return module


@pytest.fixture
def run(cli, monkeypatch):
    """Invoke the CLI with torch, numpy, openvino and an unavailable fake backend registered."""
    from edgeptm import plugins

    monkeypatch.setattr(
        plugins, "_default", plugins.load_plugins(allow=["torch", "numpy", "openvino"], extra=[_fake_plugin()])
    )

    def invoke(*args: object):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return invoke


def _artifact(tmp_path: Path, backend: str, precision: str = "fp32") -> Path:
    """An artifact folder as far as the checks before loading go: its manifest."""
    folder = tmp_path / f"{backend}-{precision}"
    folder.mkdir()
    Manifest(
        backend=backend, precision=precision, labels=["negative", "neutral", "positive"], max_length=32, files=[]
    ).save(folder)
    return folder


def _error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


def test_backends_lists_an_unavailable_backend_with_reason_and_hint(run):
    result = run("backends", "--json")
    assert result.exit_code == 0, result.output
    fake = next(b for b in json.loads(result.stdout)["backends"] if b["name"] == "fake")
    assert (fake["available"], fake["devices"]) == (False, [])
    assert fake["reason"] == "fakert is not installed; install: pip install edgeptm-fake"


def test_backends_with_an_unknown_name(run):
    assert _error(run("backends", "nosuch")) == (
        "Error: unknown backend 'nosuch' (registered: fake, numpy, openvino, torch); "
        "`edgeptm backends` lists them and their install hints\n"
    )


def test_export_to_an_unavailable_backend(run, tmp_path):
    result = run("export", "--model", tmp_path, "--backend", "fake", "--out", tmp_path / "out")
    assert _error(result) == (
        "Error: backend 'fake' is unavailable: fakert is not installed; install it with `pip install edgeptm-fake`\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(Path("/proc/driver/nvidia/gpus").is_dir(), reason="this machine has an NVIDIA GPU")
def test_cuda_without_a_gpu_says_why_and_what_to_do(cli, tmp_path):
    from edgeptm import plugins

    plugins.reset_plugins(plugins.load_plugins(allow=["torch", "cuda"]))
    try:
        result = CliRunner().invoke(
            cli, ["export", "--model", str(tmp_path), "--backend", "cuda", "--out", str(tmp_path / "o")]
        )
    finally:
        plugins.reset_plugins()
    assert _error(result) == (
        "Error: backend 'cuda' is unavailable: no NVIDIA GPU (/proc/driver/nvidia/gpus is absent or empty); "
        "run on a machine with an NVIDIA GPU and driver\n"
    )


def test_quantize_to_an_unknown_precision(run, tmp_path):
    result = run(
        "quantize", "--artifact", _artifact(tmp_path, "openvino"), "--precision", "int4", "--out", tmp_path / "q"
    )
    assert _error(result) == (
        "Error: backend 'openvino' does not support precision 'int4' (supported: fp32, fp16, int8, int8-acc)\n"
    )
    assert not (tmp_path / "q").exists()


def test_quantize_with_accuracy_control_needs_eval_data(run, tmp_path):
    result = run(
        "quantize", "--artifact", _artifact(tmp_path, "openvino"), "--precision", "int8-acc", "--out", tmp_path / "q"
    )
    assert _error(result) == (
        "Error: precision 'int8-acc' of backend 'openvino' measures accuracy while quantizing: "
        "give it labelled eval data (--eval-data, or data.eval in a recipe)\n"
    )


def test_evaluate_on_an_absent_device(run, tmp_path):
    result = run("evaluate", "--artifact", _artifact(tmp_path, "numpy"), "--data", "builtin:sample", "--device", "npu")
    assert _error(result) == "Error: device 'npu' is not available to backend 'numpy' here (present: cpu)\n"


def test_bench_on_an_absent_openvino_device(run, tmp_path):
    import openvino as ov

    present = ", ".join(ov.Core().available_devices)
    result = run("bench", "--artifact", _artifact(tmp_path, "openvino"), "--device", "FPGA.7")
    assert _error(result) == (
        f"Error: device 'FPGA.7' is not available to backend 'openvino' here (present: {present}; "
        "also AUTO, or AUTO:/HETERO:/MULTI: with a comma-separated list of those)\n"
    )


def test_bench_with_an_unavailable_backend_artifact(run, tmp_path):
    result = run("bench", "--artifact", _artifact(tmp_path, "fake"))
    assert _error(result) == (
        "Error: backend 'fake' is unavailable: fakert is not installed; install it with `pip install edgeptm-fake`\n"
    )


def test_main_prints_no_traceback(tmp_path, monkeypatch, capsys):
    from edgeptm import cli as cli_module

    monkeypatch.setattr(
        sys,
        "argv",
        [
            "edgeptm",
            "quantize",
            "--artifact",
            str(tmp_path / "none"),
            "--precision",
            "int8",
            "--out",
            str(tmp_path / "q"),
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"Error: {tmp_path / 'none'}: no such artifact folder\n"
