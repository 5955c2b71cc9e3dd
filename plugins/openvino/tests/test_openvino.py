"""OpenVINO backend specifics beyond the conformance kit: device strings, static shapes, the
performance hint, the model cache, f32 by default, fp16/int8 sizes and accuracy-controlled int8."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeptm.encoding import TruncationWarning
from edgeptm.errors import BackendError
from edgeptm.manifest import MANIFEST, read_manifest

pytest.importorskip("openvino", reason="openvino is not installed (pip install 'edgeptm-openvino[export]')")

from edgeptm_openvino.devices import device_family, parse_device  # noqa: E402


@pytest.mark.parametrize(
    ("device", "available", "canonical"),
    [
        ("cpu", ["CPU"], "CPU"),
        ("GPU", ["CPU", "GPU.0", "GPU.1"], "GPU"),
        ("gpu.1", ["CPU", "GPU.0", "GPU.1"], "GPU.1"),
        ("AUTO", ["CPU"], "AUTO"),
        ("AUTO:GPU,CPU", ["CPU", "GPU"], "AUTO:GPU,CPU"),
        ("HETERO:NPU,CPU", ["CPU", "NPU"], "HETERO:NPU,CPU"),
        ("MULTI:CPU", ["CPU"], "MULTI:CPU"),
        ("FPGA", ["CPU", "FPGA"], "FPGA"),  # any device an OpenVINO plugin exposes
    ],
)
def test_device_strings(device, available, canonical):
    assert parse_device(device, available) == canonical


@pytest.mark.parametrize("device", ["NPU", "GPU.2", "HETERO:NPU,CPU", "HETERO", "MULTI:", "CPU:0", "tpu"])
def test_absent_devices_list_what_is_present(device):
    with pytest.raises(BackendError) as caught:
        parse_device(device, ["CPU", "GPU.0"])
    assert str(caught.value) == (
        f"device {device!r} is not available to backend 'openvino' here (present: CPU, GPU.0; "
        "also AUTO, or AUTO:/HETERO:/MULTI: with a comma-separated list of those)"
    )


def test_device_family():
    assert [device_family(d) for d in ("CPU", "GPU.1", "HETERO:NPU,CPU", "AUTO:GPU,CPU", "NPU")] == [
        "CPU",
        "GPU",
        "NPU",
        "AUTO",
        "NPU",
    ]


@pytest.fixture(scope="module")
def openvino(edgeptm_kit):
    return edgeptm_kit.plugins.available_backend("openvino")


def _with_options(artifact: Path, out: Path, **options) -> Path:
    """A copy of ``artifact`` whose manifest carries other runtime options."""
    shutil.copytree(artifact, out)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["options"].update(options)
    (out / MANIFEST).write_text(json.dumps(manifest))
    return out


def test_f32_by_default_even_where_the_cpu_would_pick_bf16(edgeptm_kit, openvino):
    runner = edgeptm_kit.runner(openvino, "fp32")
    assert str(runner.compiled.get_property("INFERENCE_PRECISION_HINT")) in ("<Type: 'float32'>", "f32")


def test_static_shape_pads_and_truncates(edgeptm_kit, openvino, tmp_path):
    static = _with_options(edgeptm_kit.artifact(openvino, "fp32"), tmp_path / "static", static_shape=True, batch_size=4)
    texts = edgeptm_kit.texts()[:10]
    with openvino.load(static, read_manifest(static)) as runner:
        assert runner.static_shape == (4, read_manifest(static).max_length)
        assert all(p.get_partial_shape().is_static for p in runner.compiled.inputs)
        got = runner.predict(texts)
        with pytest.warns(TruncationWarning):
            long = runner.predict(["word " * 500])
    want = edgeptm_kit.predict(edgeptm_kit.runner(openvino, "fp32"), texts)
    assert got.shape == (10, 3) and long.shape == (1, 3)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_throughput_hint_runs_a_batch_as_parallel_requests(edgeptm_kit, openvino, tmp_path):
    fast = _with_options(edgeptm_kit.artifact(openvino, "fp32"), tmp_path / "tput", performance_hint="THROUGHPUT")
    texts = edgeptm_kit.texts()[:24]
    with openvino.load(fast, read_manifest(fast), threads=2) as runner:
        assert str(runner.compiled.get_property("PERFORMANCE_HINT")).endswith("THROUGHPUT")
        got = runner.predict(texts)
    np.testing.assert_allclose(
        got, edgeptm_kit.predict(edgeptm_kit.runner(openvino, "fp32"), texts, batch_size=24), atol=1e-5
    )


def test_model_cache_dir_is_filled_under_the_cache_root(edgeptm_kit, openvino, tmp_path):
    from edgeptm.fsutil import cache_dir

    cached = _with_options(edgeptm_kit.artifact(openvino, "fp32"), tmp_path / "cached", cache_dir="ov-blobs")
    with openvino.load(cached, read_manifest(cached)) as runner:
        runner.predict(["hello"])
    assert any((cache_dir() / "openvino" / "ov-blobs").iterdir())


@pytest.mark.parametrize("where", ["/tmp/elsewhere", "../../escape", "~/x"])
def test_a_manifest_cache_dir_cannot_point_outside_the_cache_root(edgeptm_kit, openvino, tmp_path, where):
    from edgeptm.errors import ModelError

    planted = _with_options(edgeptm_kit.artifact(openvino, "fp32"), tmp_path / "planted", cache_dir=where)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ModelError, match=r"edgeptm.json: invalid openvino options \(cache_dir: Value error, "):
        openvino.load(planted, read_manifest(planted))
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not Path("/tmp/elsewhere").exists()


def test_fp16_and_int8_are_smaller(edgeptm_kit, openvino):
    def size(precision: str) -> int:
        return (edgeptm_kit.artifact(openvino, precision) / "openvino_model.bin").stat().st_size

    assert size("fp16") < 0.6 * size("fp32")
    assert size("int8") < 0.8 * size("fp32")  # embeddings stay fp32 in a tiny model
    info = read_manifest(edgeptm_kit.artifact(openvino, "int8")).export_info
    assert info["scheme"] == "nncf-ptq" and info["calibration_texts"] == 64 and info["fake_quantize_ops"] > 0


def test_accuracy_control_keeps_the_drop_within_max_drop(edgeptm_kit, openvino):
    m = read_manifest(edgeptm_kit.artifact(openvino, "int8-acc"))
    info = {**m.options, **m.export_info}
    assert info["scheme"] == "nncf-ptq-accuracy-control" and info["eval_texts"] == 120
    assert info["eval_macro_f1_fp32"] - info["eval_macro_f1_int8"] <= info["max_drop"] + 1e-6


def test_recipe_checks_openvino_options(plugins, tmp_path):
    from edgeptm.recipes.schema import check_recipe, load_recipe

    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\noutput: out\nmodel: m\ndata: {eval: builtin:sample, train: builtin:sample}\nstages:\n"
        "  - {stage: export, name: ov, backend: openvino, from: model, options: {performance_hint: THROUGHPUT, cache_dir: c}}\n"
        "  - {stage: quantize, name: ov8, from: ov, precision: int8-acc, options: {max_drop: 0.5, static_shape: yes}}\n"
        "  - {stage: quantize, name: bad, from: ov, precision: int4, options: {hint: LATENCY}}\n"
    )
    errors = check_recipe(load_recipe(recipe), plugins)
    assert errors == [
        "stages[2].precision: backend 'openvino' does not support 'int4' (supported: fp32, fp16, int8, int8-acc)",
        "stages[2].options.hint: Extra inputs are not permitted",
    ]


def test_export_is_validated_against_torch(edgeptm_kit, openvino):
    validation = read_manifest(edgeptm_kit.artifact(openvino, "fp32")).validation
    assert validation["tolerance"] == 1e-4 and validation["max_abs_logit_diff"] <= 1e-4


def test_runner_needs_no_torch(edgeptm_kit, openvino):
    import subprocess
    import sys

    artifact = edgeptm_kit.artifact(openvino, "int8")
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any torch import now fails
        "from edgeptm.deploy import load_runner; from edgeptm.plugins import get_plugins\n"
        f"print(load_runner(get_plugins(), {str(artifact)!r}).predict(['bonjour']).shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 3)"


def test_int8_records_its_cpu_kernels_and_warns_where_int8_cannot_win(edgeptm_kit, openvino):
    from edgeptm.deploy import quantize_notes
    from edgeptm.measure.machine import cpu_features
    from edgeptm_openvino.quantize import int8_speed_warning

    manifest = read_manifest(edgeptm_kit.artifact(openvino, "int8"))
    kernels = manifest.export_info["cpu_matmul_kernels"]
    assert sum(kernels.values()) > 0 and any(k.lower().endswith(("_i8", "_u8")) for k in kernels), kernels
    want = int8_speed_warning(cpu_features(), kernels)  # what this machine warrants, from what it really ran
    assert manifest.export_info.get("warnings", []) == ([want] if want else [])
    assert [n for n in quantize_notes(manifest) if n.startswith("Warning: ")] == ([f"Warning: {want}"] if want else [])

    avx2 = cpu_features(["avx2"], arch="x86_64")
    vnni = cpu_features(["avx2", "avx512f", "avx512_vnni"], arch="x86_64")
    fallback = {"brgemm_avx2_f32": 2, "jit_gemm_I8": 12}
    fast = {"brgemm_avx512_core_vnni_I8": 14}
    line = int8_speed_warning(avx2, fallback)
    assert line and "12 of 12 int8 matrix products run on oneDNN's generic jit_gemm" in line and "no VNNI" in line
    assert "\n" not in line
    assert int8_speed_warning(vnni, fast) is None
    assert "saturating" in (int8_speed_warning(avx2, fast) or "")
    assert "jit_gemm" in (int8_speed_warning(vnni, fallback) or "")


def test_the_command_line_moves_the_cache_root(edgeptm_kit, openvino, tmp_path, monkeypatch):
    """`edgeptm --cache-dir DIR`: the user's choice on the command line is where a manifest's cache_dir
    lands (a manifest alone still can't leave the root)."""
    from click.testing import CliRunner

    from edgeptm.cli import cli, register_all

    monkeypatch.setenv("EDGEPTM_CACHE", str(tmp_path / "default-root"))  # restored after the test
    cached = _with_options(edgeptm_kit.artifact(openvino, "fp32"), tmp_path / "cached", cache_dir="ov-blobs")
    root = tmp_path / "chosen-root"
    argv = [
        "--cache-dir",
        str(root),
        "evaluate",
        "--artifact",
        str(cached),
        "--data",
        "builtin:sample",
        "--split",
        "test",
    ]
    r = CliRunner().invoke(register_all(cli), [*argv, "--reference", str(edgeptm_kit.model)])
    assert r.exit_code == 0, r.output
    assert any((root / "openvino" / "ov-blobs").iterdir())
    assert not (tmp_path / "default-root" / "openvino").exists()
