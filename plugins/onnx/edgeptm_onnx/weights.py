"""Which int8 weights dynamic int8 stores, chosen for the CPU it will run on.

onnxruntime's x86 int8 kernels multiply u8 activations by s8 weights. With VNNI (AVX512-VNNI, AVX-VNNI)
or AMX each product is accumulated in 32 bits. Without them (plain AVX2, AVX-512 before Cascade Lake)
the kernel uses ``vpmaddubsw``, which adds two u8×s8 products in a *saturating 16-bit* lane:
255·127·2 = 64770 does not fit in 32767, so large activations meeting large weights are clipped
silently. Two ways out, both exact about what they cost:

* ``u8`` weights: onnxruntime then runs the U8U8 kernel, which widens to 16 bits before multiplying
  and never saturates, but is slower (Optimum's ``avx2`` config does this);
* ``s8-reduce-range``: 7-bit weights (±64): 255·64·2 = 32640 fits, the fast kernel stays, and the
  weights lose one bit of resolution.

Whether s8 actually saturates depends on the model's activations, so on such a CPU the three are
quantized and measured against the fp32 artifact (max |Δlogit| and top-1 agreement) on the
calibration texts, and the fastest one that is as accurate as the best is kept. The validation texts
stay unseen, so the figures the manifest reports for the choice are not selected on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from edgeptm.measure.machine import CpuFeatures

if TYPE_CHECKING:
    import onnx

WeightType = Literal["s8", "u8", "s8-reduce-range"]
SPEED_ORDER: tuple[WeightType, ...] = ("s8", "s8-reduce-range", "u8")
"""Fastest first on x86: s8 and 7-bit s8 share the u8×s8 kernel; u8 weights take the slower U8U8 kernel."""
AGREEMENT_SLACK = 0.5
"""Points of top-1 agreement a faster candidate may lose to the most agreeing one and still be chosen."""
DIFF_FACTOR = 1.5
"""How many times the smallest max |Δlogit| a faster candidate may reach and still be chosen."""


@dataclass(frozen=True)
class Candidate:
    """One weight type measured against the fp32 artifact."""

    weights: WeightType
    max_abs_logit_diff: float
    agreement_pct: float
    n: int


@dataclass(frozen=True)
class WeightChoice:
    """The weight type quantized, and why: the manifest's ``export_info["weights"]``."""

    chosen: WeightType
    reason: str
    cpu: str
    """The CPU features the choice was made for (:meth:`CpuFeatures.describe`)."""
    candidates: list[Candidate]
    """What was measured (empty when nothing needed measuring)."""

    def to_info(self) -> dict[str, object]:
        return {
            "chosen": self.chosen,
            "reason": self.reason,
            "cpu": self.cpu,
            "candidates": [asdict(c) for c in self.candidates],
        }


def quant_settings(weights: WeightType) -> tuple[str, bool]:
    """(onnxruntime ``QuantType`` name, ``reduce_range``) for a weight type."""
    return ("QUInt8", False) if weights == "u8" else ("QInt8", weights == "s8-reduce-range")


def choose_weights(
    cpu: CpuFeatures, measure: Callable[[WeightType], Candidate], *, requested: WeightType | Literal["auto"] = "auto"
) -> WeightChoice:
    """The weight type for ``cpu``: ``requested`` when it is not ``auto``; s8 when s8 cannot saturate there;
    otherwise the fastest candidate (:data:`SPEED_ORDER`) within :data:`AGREEMENT_SLACK` points of the best
    agreement and :data:`DIFF_FACTOR` times the smallest max |Δlogit| (``measure`` is called once per candidate)."""
    where = cpu.describe()
    if requested != "auto":
        why = "set by the weight_type option"
        if requested == "s8" and cpu.int8_saturates:
            why += f" (this CPU, {where}, sums u8×s8 products in saturating 16 bits)"
        return WeightChoice(requested, why, where, [])
    if not cpu.int8_saturates:
        kind = "not x86" if not cpu.x86 else "VNNI" if cpu.vnni else "AMX"
        return WeightChoice("s8", f"{kind}: u8×s8 products accumulate in 32 bits, s8 cannot saturate", where, [])
    measured = [measure(w) for w in SPEED_ORDER]
    return pick(measured, where)


def pick(measured: Sequence[Candidate], where: str) -> WeightChoice:
    """The fastest of ``measured`` that is as accurate as the best (see :func:`choose_weights`)."""
    best_agreement = max(c.agreement_pct for c in measured)
    least_diff = min(c.max_abs_logit_diff for c in measured)
    ok = [
        c
        for c in measured
        if c.agreement_pct >= best_agreement - AGREEMENT_SLACK and c.max_abs_logit_diff <= DIFF_FACTOR * least_diff
    ]
    chosen = min(ok, key=lambda c: SPEED_ORDER.index(c.weights))
    figures = "; ".join(
        f"{c.weights} max |Δlogit| {c.max_abs_logit_diff:.3g}, agreement {c.agreement_pct:.1f}%" for c in measured
    )
    n = measured[0].n
    if chosen.weights == "s8":
        verdict = "s8 does not saturate measurably on this model"
    else:
        slower = [c.weights for c in measured if SPEED_ORDER.index(c.weights) < SPEED_ORDER.index(chosen.weights)]
        verdict = f"{', '.join(slower)} saturate(s): {chosen.weights} is the fastest as accurate as the best"
    reason = f"{where}: {verdict} (vs fp32 on {n} calibration texts: {figures})"
    return WeightChoice(chosen.weights, reason, where, list(measured))


def weight_dtypes(model: onnx.ModelProto) -> dict[str, int]:
    """How many weight matrices of the integer matrix products (MatMulInteger, QAttention, ...) each integer dtype
    holds. Embedding tables are left out: a lookup cannot saturate (and QEmbedLayerNormalization takes only u8)."""
    import onnx

    from edgeptm_onnx.static import INTEGER_MATMUL_OPS

    consumed = {name for node in model.graph.node if node.op_type in INTEGER_MATMUL_OPS for name in node.input}
    counts: dict[str, int] = {}
    for init in model.graph.initializer:
        integer = init.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
        if integer and len(init.dims) >= 2 and init.name in consumed:
            name = onnx.helper.tensor_dtype_to_np_dtype(init.data_type).name
            counts[name] = counts.get(name, 0) + 1
    return counts
