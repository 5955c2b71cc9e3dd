"""Saturation-safe dynamic int8: which weights (s8, u8, 7-bit s8) are stored is chosen for the CPU, by
measurement where s8 can saturate, recorded with the reason, and is what the graph really holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeptm import deploy
from edgeptm.errors import BackendError
from edgeptm.measure.machine import cpu_features
from edgeptm_onnx.weights import Candidate, choose_weights, pick, weight_dtypes

AVX2 = cpu_features(["avx", "avx2", "fma"], arch="x86_64")
VNNI = cpu_features(["avx2", "avx512f", "avx512_vnni"], arch="x86_64")
AMX = cpu_features(["avx2", "avx512f", "amx_tile"], arch="x86_64")
ARM = cpu_features(["asimd", "asimddp"], arch="aarch64")


def graph_weights(artifact: Path) -> dict[str, int]:
    import onnx

    return weight_dtypes(onnx.load(str(artifact / "model.onnx")))


def quantized_weight_range(artifact: Path) -> tuple[int, int]:
    """The smallest and largest stored value over the int8 weights of the matrix products."""
    import onnx
    from onnx import numpy_helper

    from edgeptm_onnx.static import INTEGER_MATMUL_OPS

    model = onnx.load(str(artifact / "model.onnx"))
    consumed = {name for node in model.graph.node if node.op_type in INTEGER_MATMUL_OPS for name in node.input}
    values = [
        numpy_helper.to_array(t)
        for t in model.graph.initializer
        if t.data_type == onnx.TensorProto.INT8 and len(t.dims) >= 2 and t.name in consumed
    ]
    return min(int(v.min()) for v in values), max(int(v.max()) for v in values)


def test_cpu_flags_are_parsed_into_the_features_that_decide_int8() -> None:
    assert AVX2.avx2 and not AVX2.vnni and not AVX2.avx512 and AVX2.int8_saturates
    assert VNNI.avx512 and VNNI.vnni and not VNNI.int8_saturates
    assert AMX.amx and not AMX.vnni and not AMX.int8_saturates
    assert not ARM.x86 and not ARM.int8_saturates and ARM.flags == ("neon-dotprod",)
    assert cpu_features(["avx2", "avx_vnni"], arch="x86_64").vnni
    assert "no VNNI" in AVX2.describe() and "no VNNI" not in VNNI.describe()
    here = cpu_features()
    assert here.source in ("/proc/cpuinfo", "sysctl", "numpy", "unknown")


def fake(measured: dict[str, tuple[float, float]]):
    calls: list[str] = []

    def measure(weights):
        calls.append(weights)
        diff, agree = measured[weights]
        return Candidate(weights, diff, agree, 64)

    return measure, calls


@pytest.mark.parametrize("cpu", [VNNI, AMX, ARM], ids=["vnni", "amx", "arm"])
def test_where_s8_cannot_saturate_it_is_chosen_without_measuring(cpu) -> None:
    measure, calls = fake({})
    choice = choose_weights(cpu, measure)
    assert choice.chosen == "s8" and calls == [] and "cannot saturate" in choice.reason


def test_without_vnni_the_fastest_candidate_as_accurate_as_the_best_is_chosen() -> None:
    saturating = {"s8": (0.045, 98.4), "s8-reduce-range": (0.012, 100.0), "u8": (0.010, 100.0)}
    measure, calls = fake(saturating)
    choice = choose_weights(AVX2, measure)
    assert calls == ["s8", "s8-reduce-range", "u8"]
    assert choice.chosen == "s8-reduce-range"
    assert "s8 saturate" in choice.reason and "no VNNI" in choice.reason and "0.045" in choice.reason
    assert [c.weights for c in choice.candidates] == calls

    # 7-bit weights too coarse: u8 is the one that is as accurate as the best
    assert (
        pick(
            [
                Candidate("s8", 0.05, 98.0, 64),
                Candidate("s8-reduce-range", 0.03, 99.0, 64),
                Candidate("u8", 0.01, 100.0, 64),
            ],
            "avx2",
        ).chosen
        == "u8"
    )
    # no measurable saturation: the fast s8 stays
    assert (
        pick(
            [
                Candidate("s8", 0.011, 100.0, 64),
                Candidate("s8-reduce-range", 0.02, 100.0, 64),
                Candidate("u8", 0.010, 100.0, 64),
            ],
            "avx2",
        ).chosen
        == "s8"
    )


def test_an_explicit_weight_type_wins_and_says_so() -> None:
    measure, calls = fake({})
    choice = choose_weights(AVX2, measure, requested="s8")
    assert choice.chosen == "s8" and calls == [] and "weight_type option" in choice.reason
    assert "saturating" in choice.reason


@pytest.fixture
def on_cpu(monkeypatch):
    """Make the quantizer see ``cpu`` instead of this machine's CPU."""

    def use(cpu) -> None:
        monkeypatch.setattr("edgeptm.measure.machine.cpu_features", lambda *a, **k: cpu)

    return use


def test_the_graph_holds_the_chosen_weights_and_the_manifest_says_why(
    tmp_path: Path, plugins, onnx_fp32: Path, sample, on_cpu
) -> None:
    calibration = sample["train"].texts[:24]
    validation = sample["eval"].texts[:16]

    on_cpu(VNNI)
    vnni = deploy.quantize(
        plugins, onnx_fp32, tmp_path / "vnni", precision="int8", calibration=calibration, validation_texts=validation
    )
    assert vnni.export_info["weights"]["chosen"] == "s8" and vnni.export_info["weights"]["candidates"] == []
    assert set(graph_weights(tmp_path / "vnni")) == {"int8"}
    assert "int8 weights: s8" in deploy.quantize_notes(vnni)[0]

    on_cpu(AVX2)
    auto = deploy.quantize(
        plugins, onnx_fp32, tmp_path / "avx2", precision="int8", calibration=calibration, validation_texts=validation
    )
    info = auto.export_info["weights"]
    assert [c["weights"] for c in info["candidates"]] == ["s8", "s8-reduce-range", "u8"]
    assert all(c["n"] == len(calibration) for c in info["candidates"])
    assert "no VNNI" in info["cpu"] and info["reason"]
    want = {"s8": {"int8"}, "s8-reduce-range": {"int8"}, "u8": {"uint8"}}[info["chosen"]]
    assert set(graph_weights(tmp_path / "avx2")) == want

    u8 = deploy.quantize(
        plugins,
        onnx_fp32,
        tmp_path / "u8",
        precision="int8",
        options={"weight_type": "u8"},
        calibration=calibration,
        validation_texts=validation,
    )
    assert set(graph_weights(tmp_path / "u8")) == {"uint8"} and u8.export_info["weights"]["candidates"] == []
    assert u8.validation is not None and u8.validation["agreement_pct"] > 80

    deploy.quantize(
        plugins, onnx_fp32, tmp_path / "rr", precision="int8", options={"reduce_range": True}, calibration=calibration
    )
    low, high = quantized_weight_range(tmp_path / "rr")
    assert -64 <= low and high <= 64, "7-bit weights must fit where u8×s8 pairs cannot saturate"
    low8, high8 = quantized_weight_range(tmp_path / "vnni")
    assert high8 > 64 or low8 < -64, "full-range s8 uses the 8th bit"


def test_contradicting_weight_options_are_refused(tmp_path: Path, plugins, onnx_fp32: Path) -> None:
    with pytest.raises(BackendError, match="contradict"):
        deploy.quantize(
            plugins, onnx_fp32, tmp_path / "x", precision="int8", options={"reduce_range": True, "weight_type": "u8"}
        )
    assert not (tmp_path / "x").exists()
    with pytest.raises(BackendError, match="weight_type applies to int8"):
        deploy.quantize(
            plugins,
            onnx_fp32,
            tmp_path / "y",
            precision="int8-static",
            calibration=["a b"],
            options={"weight_type": "u8"},
        )
