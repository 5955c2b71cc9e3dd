"""Export, quantize, validate and run artifacts through the torch and onnx backends."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgeptm import deploy
from edgeptm.encoding import Encoder, TruncationWarning
from edgeptm.errors import BackendError, ModelError
from edgeptm.manifest import read_manifest


def test_onnx_export_is_validated_and_fused(onnx_fp32: Path, finetuned: Path) -> None:
    m = read_manifest(onnx_fp32)
    assert (m.backend, m.precision, m.files) == ("onnx", "fp32", ["model.onnx"])
    assert m.labels == ["negative", "neutral", "positive"] and m.max_length == 64
    assert m.source == str(finetuned.resolve())
    assert m.validation["max_abs_logit_diff"] < 1e-4 and m.validation["agreement_pct"] == 100.0
    assert m.validation["n"] == 120 and m.validation["tolerance"] == 1e-4
    assert m.export_info["fusions"]["Attention"] == 2 and m.export_info["fusions"]["SkipLayerNormalization"] >= 2


def test_dynamic_int8_is_per_channel_smaller_and_close(onnx_int8: Path, onnx_fp32: Path) -> None:
    m = read_manifest(onnx_int8)
    assert m.precision == "int8" and m.options["per_channel"] is True and m.export_info["scheme"] == "dynamic"
    assert (onnx_int8 / "model.onnx").stat().st_size < 0.5 * (onnx_fp32 / "model.onnx").stat().st_size
    assert m.validation["tolerance"] is None
    assert m.validation["max_abs_logit_diff"] < 0.1


def test_dynamic_int8_flips_only_near_ties(plugins, onnx_int8: Path, finetuned: Path, sample) -> None:
    """Agreement alone says little about a tiny model whose logits are nearly tied: wherever fp32's
    top-2 margin exceeds twice the largest |Δlogit| int8 shows, int8 must predict the same label."""
    import numpy as np

    texts = sample["eval"].texts
    with deploy.load_runner(plugins, finetuned) as fp32, deploy.load_runner(plugins, onnx_int8) as int8:
        want, got = fp32.predict(texts), int8.predict(texts)
    delta = float(np.abs(got - want).max())
    top2 = np.sort(want, axis=-1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * delta
    assert delta < 0.1
    assert (got.argmax(-1) == want.argmax(-1))[clear].all()


def test_static_int8_calibrates_across_languages(tmp_path: Path, plugins, onnx_fp32: Path, sample) -> None:
    from edgeptm.data import sample_evenly

    calibration = [e.text for e in sample_evenly(sample["train"], 32)]
    m = deploy.quantize(
        plugins,
        onnx_fp32,
        tmp_path / "static",
        precision="int8-static",
        calibration=calibration,
        validation_texts=sample["eval"].texts,
    )
    assert m.export_info["scheme"] == "static-qdq" and m.export_info["calibration_texts"] == 32
    assert m.validation["agreement_pct"] >= 80.0
    with deploy.load_runner(plugins, tmp_path / "static") as runner:
        assert runner.predict(["Le film était génial."]).shape == (1, 3)


def test_export_failing_validation_writes_nothing(tmp_path: Path, plugins, finetuned: Path, monkeypatch) -> None:
    backend = plugins.backend("onnx")
    monkeypatch.setattr(type(backend), "tolerance", lambda self, precision: 1e-12)
    out = tmp_path / "onnx"
    with pytest.raises(
        ModelError,
        match=r"^onnx fp32 artifact disagrees with the torch reference: max \|Δlogit\| .* > tolerance 1e-12 on 3 texts; nothing was written$",
    ):
        deploy.export(plugins, "onnx", finetuned, out, validation_texts=["a", "b", "Привет"])
    assert list(tmp_path.iterdir()) == []


def test_quantize_rejects_unknown_precision_and_non_fp32_input(
    tmp_path: Path, plugins, onnx_fp32: Path, onnx_int8: Path
) -> None:
    with pytest.raises(BackendError) as err:
        deploy.quantize(plugins, onnx_fp32, tmp_path / "x", precision="int4")
    assert (
        str(err.value)
        == "backend 'onnx' does not support precision 'int4' (supported: fp32, int8, int8-static, int8-portable)"
    )
    with pytest.raises(BackendError, match="quantize an fp32 ONNX artifact, not a int8 one"):
        deploy.quantize(plugins, onnx_int8, tmp_path / "y", precision="int8")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_bad_backend_option(tmp_path: Path, plugins, finetuned: Path) -> None:
    with pytest.raises(BackendError) as err:
        deploy.export(plugins, "onnx", finetuned, tmp_path / "x", options={"per_chanel": True, "opset": 3})
    assert str(err.value) == (
        "backend 'onnx' options: opset: Input should be greater than or equal to 11; "
        "per_chanel: Extra inputs are not permitted"
    )


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_torch_half_precisions(tmp_path: Path, plugins, finetuned: Path, sample, precision: str) -> None:
    m = deploy.quantize(
        plugins, finetuned, tmp_path / precision, precision=precision, validation_texts=sample["eval"].texts[:40]
    )
    assert m.backend == "torch" and m.precision == precision
    assert m.validation["agreement_pct"] >= 90.0
    assert (tmp_path / precision / "model.safetensors").stat().st_size < 0.7 * (
        finetuned / "model.safetensors"
    ).stat().st_size


def test_runner_batches_mixed_lengths_one_and_empty(plugins, onnx_fp32: Path, finetuned: Path) -> None:
    texts = ["Bien.", "Поезд прибыл вовремя, и все пассажиры были довольны поездкой.", "这家餐厅很好。"]
    with deploy.load_runner(plugins, onnx_fp32) as onnx, deploy.load_runner(plugins, finetuned) as ref:
        batch = onnx.predict(texts)
        singles = np.concatenate([onnx.predict([t]) for t in texts])
        np.testing.assert_allclose(batch, singles, atol=1e-4)
        np.testing.assert_allclose(batch, ref.predict(texts), atol=1e-4)
        assert onnx.predict([]).shape == (0, 3)
        with pytest.raises(TypeError):
            onnx.predict("not a batch")


def test_encoder_truncates_with_warning(finetuned: Path) -> None:
    encoder = Encoder.from_dir(finetuned, 16)
    with pytest.warns(TruncationWarning, match="1 input\\(s\\) longer than max_length 16 tokens were truncated"):
        enc = encoder(["short", "a much longer text " * 20])
    assert enc["input_ids"].shape == (2, 16)
    sep = encoder.tokenizer.token_to_id("[SEP]")
    assert enc["input_ids"][1, -1] == sep, "truncation keeps the final [SEP]"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encoder(["short"], pad_to=10)["input_ids"].shape == (1, 10)


def test_onnx_runner_needs_no_torch(onnx_int8: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from edgeptm.deploy import load_runner\nfrom edgeptm.plugins import load_plugins\n"
        f"r = load_runner(load_plugins(), {str(onnx_int8)!r})\n"
        "print(r.predict(['Das Hotel war schmutzig.', 'كان الطعام لذيذا']).shape)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2, 3)"


def test_unknown_and_unavailable_backends(plugins, finetuned: Path, tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"^unknown backend 'tpu9' \(registered: .*onnx.*torch"):
        deploy.export(plugins, "tpu9", finetuned, tmp_path / "x")


def test_missing_artifact(plugins, tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        deploy.load_runner(plugins, tmp_path / "nope")
    assert str(err.value) == f"{tmp_path / 'nope'}: no such artifact folder"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError) as err:
        deploy.load_runner(plugins, tmp_path / "empty")
    assert (
        str(err.value) == f"{tmp_path / 'empty'}: not a model folder (no config.json); pass a `save_pretrained` folder"
    )
