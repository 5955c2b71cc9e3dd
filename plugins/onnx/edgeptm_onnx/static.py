"""Static int8 for the onnx backend: every matrix product takes int8 activations and int8 weights (QDQ).

The fp32 artifact holds the *fused* graph (onnxruntime.transformers: Attention, SkipLayerNormalization, BiasGelu,
EmbedLayerNormalization). Quantized as it is, every product stays float: ONNX shape inference can't see through the
contrib operators, so the quantizer skips the tensors it can't type ("failed to infer the type of tensor"), and a
fused Attention hides three products (Q/K/V projection, QK^T, probabilities·V) that no QDQ pair can reach. So:

1. each Attention node is unfused into standard operators (one Q/K/V MatMul, the QK^T MatMul, Softmax, the
   probabilities·V MatMul), and each Einsum that is a batched matrix product (BERT's relative position scores)
   becomes Transpose/MatMul; the rewritten fp32 graph is checked against the original on the calibration texts;
2. onnxruntime's symbolic shape inference, which knows the remaining contrib operators, types every tensor;
3. embedding tables are stored in int8 as dynamic int8 stores them (QEmbedLayerNormalization, Gather on int8);
4. MatMul and Gemm, and nothing else, are quantized with calibrated ranges, QDQ on both operands (so QK^T and
   probabilities·V are int8 too) and float outputs (onnxruntime runs MatMulIntegerToFloat). LayerNorm, Add,
   Softmax... stay float: quantizing them (Softmax's input holds the -3.4e38 mask) is what ruins accuracy;
5. the products whose activations are still float are counted (the rule of ``shared/tools/float_matmuls.py``):
   any that ``nodes_to_exclude`` does not name fails the quantization;
6. the result's agreement with the fp32 artifact on the calibration texts is recorded; whether it is good enough
   is decided by the one gate every precision passes (``edgeptm.deploy.validate.QualityGate``, on validation
   texts it was not calibrated on).

onnx and onnxruntime are imported inside functions only.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeptm.encoding import Encoder, run_length_sorted
from edgeptm.errors import BackendError

if TYPE_CHECKING:
    import onnx

SCHEME = "static-qdq"
QUANTIZED_OP_TYPES = ("MatMul", "Gemm")
"""What int8-static quantizes with calibrated activations: the matrix products, and nothing else."""
EMBEDDING_OP_TYPES = ("EmbedLayerNormalization", "Gather")
"""Lookups whose float tables int8-static stores in int8 (only tables that are initializers)."""
INTEGER_MATMUL_OPS = frozenset(
    {"MatMulInteger", "QLinearMatMul", "QAttention", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QGemm"}
)
"""Matrix products that take integer activations by construction."""
FLOAT_MATMUL_OPS = frozenset({"MatMul", "Gemm", "Attention"})
"""Matrix products that are int8 only when both operands come from DequantizeLinear (a fused Attention never)."""
REWRITE_TOLERANCE = 1e-4
"""Max |Δlogit| between the fp32 graph and its rewrite for quantization (relative to max(1, max |logit|))."""
HISTOGRAM_METHODS = frozenset({"entropy", "percentile"})
"""Calibration methods whose histograms need every feed of one shape (feeds are padded to max_length)."""
BATCH = 16


@dataclass(frozen=True)
class MatmulCount:
    """The matrix products of a graph, and those whose activations are float."""

    total: int
    float_nodes: list[str] = field(default_factory=list)

    @property
    def floats(self) -> int:
        return len(self.float_nodes)


def node_name(node: onnx.NodeProto, index: int) -> str:
    return node.name or f"{node.op_type}#{index}"


def count_float_matmuls(graph: onnx.GraphProto) -> MatmulCount:
    """Count MatMul/Gemm/Attention and integer matmuls; a MatMul/Gemm is int8 only when both of its operands come
    from DequantizeLinear, a fused float Attention never is (same rule as ``shared/tools/float_matmuls.py``)."""
    producer = {out: node.op_type for node in graph.node for out in node.output}
    total, floats = 0, []
    for i, node in enumerate(graph.node):
        if node.op_type in INTEGER_MATMUL_OPS:
            total += 1
        elif node.op_type in ("MatMul", "Gemm"):
            total += 1
            if not all(producer.get(name) == "DequantizeLinear" for name in node.input[:2]):
                floats.append(node_name(node, i))
        elif node.op_type == "Attention":
            total += 1
            floats.append(node_name(node, i))
    return MatmulCount(total, floats)


def matmul_nodes(graph: onnx.GraphProto) -> list[str]:
    """Names of the nodes :func:`count_float_matmuls` looks at (what ``nodes_to_exclude`` may name)."""
    return [node_name(n, i) for i, n in enumerate(graph.node) if n.op_type in FLOAT_MATMUL_OPS | INTEGER_MATMUL_OPS]


# --- unfusing com.microsoft Attention -------------------------------------------------------------------------

ATTENTION_ATTRIBUTES = {"num_heads", "scale", "mask_filter_value", "unidirectional"}


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 11)


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    """Rank of every tensor, from onnxruntime's symbolic shape inference (which knows the contrib operators)."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=True)
    except Exception as exc:  # onnxruntime raises bare Exceptions here
        raise BackendError(f"int8-static: symbolic shape inference failed: {_one_line(exc)}") from None
    graph = inferred.graph
    values = [*graph.input, *graph.value_info, *graph.output]
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in values if v.type.tensor_type.HasField("shape")}
    ranks.update({i.name: len(i.dims) for i in graph.initializer})
    return ranks


def _unsupported(node: onnx.NodeProto, ranks: dict[str, int], weights: dict[str, Any]) -> str | None:
    """Why this Attention node can't be unfused, or None when it can."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if extra := sorted(set(attrs) - ATTENTION_ATTRIBUTES):
        return f"attributes {', '.join(extra)}"
    if attrs.get("unidirectional", 0):
        return "unidirectional"
    if any(node.input[4:]) or any(node.output[1:]):
        return "past state or attention bias"
    weight = weights.get(node.input[1])
    if weight is None or weight.ndim != 2:
        return "weights that are not a 2-D initializer"
    heads = int(attrs.get("num_heads", 0))
    if heads <= 0 or weight.shape[1] % 3 or (weight.shape[1] // 3) % heads:
        return "Q/K/V sizes that do not split into num_heads"
    if len(node.input) > 3 and node.input[3] and ranks.get(node.input[3]) not in (1, 2):
        return "a mask index that is neither 1-D (lengths) nor 2-D (raw mask)"
    return None


class _Builder:
    """Appends standard-operator nodes named after one Attention node."""

    def __init__(self, prefix: str, opset: int) -> None:
        self.prefix, self.opset = prefix, opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, value: Any, dtype: Any) -> str:
        from onnx import numpy_helper

        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), f"{self.prefix}/{name}")
        self.initializers.append(tensor)
        return tensor.name

    def op(self, op_type: str, inputs: Sequence[str], name: str, *, outputs: int = 1, out: str | None = None, **attrs):
        from onnx import helper

        names = [out] if out else [f"{self.prefix}/{name}_output_{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=f"{self.prefix}/{name}", **attrs))
        return names[0] if outputs == 1 else names

    def unsqueeze(self, x: str, axes: list[int], name: str) -> str:
        if self.opset >= 13:
            return self.op("Unsqueeze", [x, self.const(f"{name}_axes", axes, np.int64)], name)
        return self.op("Unsqueeze", [x], name, axes=axes)

    def split(self, x: str, sizes: list[int], name: str) -> list[str]:
        if self.opset >= 13:
            return self.op("Split", [x, self.const(f"{name}_sizes", sizes, np.int64)], name, outputs=3, axis=-1)
        return self.op("Split", [x], name, outputs=3, axis=-1, split=sizes)


def _unfuse(node: onnx.NodeProto, name: str, ranks: dict[str, int], weight: np.ndarray, opset: int) -> _Builder:
    """Standard operators computing what com.microsoft Attention computes: softmax(Q K^T * scale + mask) V."""
    from onnx import TensorProto, helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    heads = int(attrs["num_heads"])
    hidden = weight.shape[1] // 3
    head_size = hidden // heads
    scale = float(attrs.get("scale", 0.0)) or 1.0 / math.sqrt(head_size)
    mask_filter = float(attrs.get("mask_filter_value", -10000.0))
    b = _Builder(f"{name}/unfused", opset)
    x = node.input[0]
    qkv = b.op("MatMul", [x, node.input[1]], "MatMul_qkv")
    if len(node.input) > 2 and node.input[2]:
        qkv = b.op("Add", [qkv, node.input[2]], "Add_qkv_bias")
    q, k, v = b.split(qkv, [hidden] * 3, "Split_qkv")
    heads_shape = b.const("heads_shape", [0, 0, heads, head_size], np.int64)
    qh = b.op("Transpose", [b.op("Reshape", [q, heads_shape], "Reshape_q")], "Transpose_q", perm=[0, 2, 1, 3])
    kt = b.op("Transpose", [b.op("Reshape", [k, heads_shape], "Reshape_k")], "Transpose_k", perm=[0, 2, 3, 1])
    vh = b.op("Transpose", [b.op("Reshape", [v, heads_shape], "Reshape_v")], "Transpose_v", perm=[0, 2, 1, 3])
    scores = b.op("MatMul", [qh, kt], "MatMul_qk")
    scores = b.op("Mul", [scores, b.const("scale", scale, np.float32)], "Mul_scale")
    mask = node.input[3] if len(node.input) > 3 else ""
    if mask:
        if ranks[mask] == 1:  # the number of leading tokens to attend to, per row
            seq = b.op("Gather", [b.op("Shape", [x], "Shape"), b.const("seq_axis", 1, np.int64)], "Gather_seq", axis=0)
            positions = b.op(
                "Range", [b.const("zero", 0, np.int64), seq, b.const("one", 1, np.int64)], "Range_positions"
            )
            ends = b.unsqueeze(b.op("Cast", [mask], "Cast_mask", to=TensorProto.INT64), [1], "Unsqueeze_ends")
            valid = b.op("Less", [positions, ends], "Less_valid")
        else:  # a raw mask, 0 where masked
            valid = b.op("Greater", [mask, b.const("mask_zero", 0, np.int32)], "Greater_valid")
        additive = b.op(
            "Where",
            [valid, b.const("keep", 0.0, np.float32), b.const("filter", mask_filter, np.float32)],
            "Where_mask",
        )
        scores = b.op("Add", [scores, b.unsqueeze(additive, [1, 2], "Unsqueeze_mask")], "Add_mask")
    probs = b.op("Softmax", [scores], "Softmax", axis=-1)
    context = b.op("Transpose", [b.op("MatMul", [probs, vh], "MatMul_pv")], "Transpose_context", perm=[0, 2, 1, 3])
    b.op("Reshape", [context, b.const("hidden_shape", [0, 0, hidden], np.int64)], "Reshape_context", out=node.output[0])
    return b


@dataclass
class Unfused:
    model: onnx.ModelProto
    unfused: int
    kept: dict[str, str]
    """Attention nodes left fused, and why."""


def unfuse_attention(model: onnx.ModelProto, keep: set[str] | frozenset[str] = frozenset()) -> Unfused:
    """A copy of ``model`` with every com.microsoft Attention node it can rewrite, and ``keep`` does not name,
    replaced by standard operators."""
    import onnx
    from onnx import numpy_helper

    attention = [n for n in model.graph.node if n.op_type == "Attention" and n.domain == "com.microsoft"]
    out = onnx.ModelProto()
    out.CopyFrom(model)
    if not attention:
        return Unfused(out, 0, {})
    ranks = _ranks(model)
    used = {n.input[1] for n in attention}
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.name in used}
    opset = _default_opset(model)
    nodes: list[onnx.NodeProto] = []
    kept: dict[str, str] = {}
    unfused = 0
    for i, node in enumerate(model.graph.node):
        if node.op_type != "Attention" or node.domain != "com.microsoft":
            nodes.append(node)
        elif node_name(node, i) in keep:
            kept[node_name(node, i)] = "nodes_to_exclude"
            nodes.append(node)
        elif reason := _unsupported(node, ranks, weights):
            kept[node_name(node, i)] = reason
            nodes.append(node)
        else:
            built = _unfuse(node, node.name or f"Attention_{i}", ranks, weights[node.input[1]], opset)
            nodes.extend(built.nodes)
            out.graph.initializer.extend(built.initializers)
            unfused += 1
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return Unfused(out, unfused, kept)


def _einsum_plan(equation: str) -> tuple[list[int], list[int], list[int], list[int]] | None:
    """How a two-operand Einsum with one contracted index runs as Transpose/MatMul/Transpose, or None.

    Returns (perm of operand 0, perm of operand 1, unit axes for operand 1, perm of the product): operand 0
    becomes [batch..., free0..., c], operand 1 [batch..., 1..., c, free1] (one unit axis per free0 axis but the
    last, which MatMul broadcasts), the product [batch..., free0..., free1]. BERT's relative position scores
    (``bhld,lrd->bhlr`` and ``bhrd,lrd->bhlr``) are of this kind.
    """
    spec = equation.replace(" ", "")
    if "->" not in spec or "." in spec:
        return None
    inputs, out = spec.split("->")
    if inputs.count(",") != 1:
        return None
    a, b = inputs.split(",")
    if any(len(set(x)) != len(x) for x in (a, b, out)) or not set(out) <= set(a) | set(b):
        return None
    contracted = [i for i in a if i in b and i not in out]
    batch = [i for i in a if i in b and i in out]
    free0 = [i for i in a if i not in b]
    free1 = [i for i in b if i not in a]
    if len(contracted) != 1 or len(free0) < 1 or len(free1) != 1 or set(a) | set(b) != set(out) | set(contracted):
        return None
    (c,) = contracted
    perm0 = [a.index(i) for i in [*batch, *free0, c]]
    perm1 = [b.index(i) for i in [*batch, c, *free1]]
    product = [*batch, *free0, *free1]
    units = list(range(len(batch), len(batch) + len(free0) - 1))
    return perm0, perm1, units, [product.index(i) for i in out]


def rewrite_einsums(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int, list[str]]:
    """Replace the Einsum nodes that :func:`_einsum_plan` can run as MatMul (so they are quantized too).

    Returns the model, how many were rewritten and the names of those left as Einsum.
    """
    from onnx import helper

    opset = _default_opset(model)
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    rewritten, kept = 0, []
    for i, node in enumerate(model.graph.node):
        if node.op_type != "Einsum" or node.domain not in ("", "ai.onnx"):
            nodes.append(node)
            continue
        equation = {a.name: helper.get_attribute_value(a) for a in node.attribute}.get("equation", b"")
        plan = _einsum_plan(equation.decode() if isinstance(equation, bytes) else str(equation))
        if plan is None:
            kept.append(node_name(node, i))
            nodes.append(node)
            continue
        perm0, perm1, units, perm_out = plan
        b = _Builder(f"{node.name or f'Einsum_{i}'}/matmul", opset)
        left = b.op("Transpose", [node.input[0]], "Transpose_0", perm=perm0)
        right = b.op("Transpose", [node.input[1]], "Transpose_1", perm=perm1)
        if units:
            right = b.unsqueeze(right, units, "Unsqueeze_1")
        product = b.op("MatMul", [left, right], "MatMul")
        b.op("Transpose", [product], "Transpose_out", perm=perm_out, out=node.output[0])
        nodes.extend(b.nodes)
        initializers.extend(b.initializers)
        rewritten += 1
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    model.graph.initializer.extend(initializers)
    return model, rewritten, kept


# --- calibration, comparison --------------------------------------------------------------------------------


def input_names(model: onnx.ModelProto) -> list[str]:
    initializers = {i.name for i in model.graph.initializer}
    return [i.name for i in model.graph.input if i.name not in initializers]


class Calibration:
    """onnxruntime CalibrationDataReader over texts, one text per feed (padded to ``pad_to`` when given)."""

    def __init__(self, encoder: Encoder, texts: Sequence[str], inputs: Sequence[str], pad_to: int | None) -> None:
        wanted = set(inputs)
        self.feeds = iter([{k: v for k, v in encoder([t], pad_to=pad_to).items() if k in wanted} for t in texts])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def session(model: Path | bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(
        str(model) if isinstance(model, Path) else model, opts, providers=["CPUExecutionProvider"]
    )


def logits(sess: Any, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """Logits of an onnxruntime session for texts, in length-sorted batches of 16 (in the order of ``texts``)."""
    names = {i.name for i in sess.get_inputs()}

    def run(encoded: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(sess.run(None, {k: v for k, v in encoded.items() if k in names})[0], dtype=np.float32)

    return run_length_sorted(encoder, texts, BATCH, run)


@dataclass(frozen=True)
class Agreement:
    agreement_pct: float
    max_abs_logit_diff: float
    n: int


def agreement(got: np.ndarray, want: np.ndarray) -> Agreement:
    return Agreement(
        100.0 * float(np.mean(got.argmax(-1) == want.argmax(-1))), float(np.max(np.abs(got - want))), len(got)
    )


@contextlib.contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _some(names: Sequence[str], n: int = 6) -> str:
    return ", ".join(names) if len(names) <= n else f"{', '.join(names[:n])} and {len(names) - n} more"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


# --- the quantization ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaticSettings:
    per_channel: bool
    reduce_range: bool
    calibrate_method: str
    nodes_to_exclude: list[str]


@dataclass(frozen=True)
class Prepared:
    """The fp32 graph made ready for the calibrated pass."""

    path: Path
    """Attention unfused, Einsum as MatMul, shapes inferred, embedding tables in int8, Gemm as MatMul."""
    attention_unfused: int
    attention_kept: dict[str, str]
    einsums_as_matmul: int
    float_einsums: list[str]
    names: dict[str, str]
    """Node names of the fp32 and rewritten graphs -> their name in the prepared one (Gemm ``G`` is ``G_MatMul``)."""


def prepare(fp32_model: Path, work: Path, encoder: Encoder, texts: Sequence[str], keep_fused: set[str]) -> Prepared:
    """Rewrite the fp32 graph so every matrix product is a MatMul the quantizer can reach, and check the rewrite
    against the fp32 graph on ``texts``."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fused = onnx.load(str(fp32_model))
    rewritten = unfuse_attention(fused, keep=keep_fused)
    _, einsums, float_einsums = rewrite_einsums(rewritten.model)
    if rewritten.unfused or einsums:
        want = logits(session(fp32_model), encoder, texts)
        drift = float(np.max(np.abs(logits(session(rewritten.model.SerializeToString()), encoder, texts) - want)))
        if drift > REWRITE_TOLERANCE * max(1.0, float(np.max(np.abs(want)))):
            raise BackendError(
                f"int8-static: the graph rewritten for quantization (attention unfused, Einsum as MatMul) differs "
                f"from the fp32 one (max |Δlogit| {drift:.3g} on {len(texts)} calibration texts); nothing was "
                "written - export again with --option optimize=false"
            )
    prepped = work / "prepped.onnx"
    # ONNX shape inference types a graph of standard operators; contrib operators need onnxruntime's symbolic one.
    standard = all(n.domain in ("", "ai.onnx") for n in rewritten.model.graph.node)
    try:
        quant_pre_process(
            rewritten.model, str(prepped), skip_optimization=True, skip_symbolic_shape=standard, auto_merge=True
        )
    except Exception as exc:  # onnxruntime raises bare Exceptions from shape inference
        raise BackendError(f"int8-static: shape inference of the fp32 graph failed: {_one_line(exc)}") from None
    # Embedding tables are looked up, not multiplied: int8 tables as dynamic int8 has them (QEmbedLayerNormalization,
    # Gather on int8), so the artifact is as small. This pass also turns each Gemm G into MatMul G_MatMul + Add.
    embedded = work / "embeddings.onnx"
    quantize_dynamic(
        str(prepped),
        str(embedded),
        op_types_to_quantize=list(EMBEDDING_OP_TYPES),
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    present = {n.name for n in onnx.load(str(embedded), load_external_data=False).graph.node}
    names = {}
    for name in {*matmul_nodes(fused.graph), *matmul_nodes(rewritten.model.graph)}:
        # An Attention of the fp32 graph stays fused (and keeps its name) when nodes_to_exclude names it.
        names[name] = f"{name}_MatMul" if name not in present and f"{name}_MatMul" in present else name
    return Prepared(embedded, rewritten.unfused, rewritten.kept, einsums, float_einsums, names)


def quantize_static_int8(
    fp32_model: Path, out_model: Path, work: Path, encoder: Encoder, texts: Sequence[str], settings: StaticSettings
) -> dict[str, Any]:
    """Write the static int8 of ``fp32_model`` to ``out_model``; return what it did (the manifest's export_info).

    Raises :class:`BackendError` (and leaves ``out_model`` for the caller's temp folder to discard) when a matrix
    product that ``settings.nodes_to_exclude`` does not name keeps float activations. Its agreement with the fp32
    model on the calibration texts is recorded; the caller's gate decides on validation texts.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    fp32_model, out_model, work = fp32_model.resolve(), out_model.resolve(), work.resolve()
    excluded = list(dict.fromkeys(settings.nodes_to_exclude))
    with _working_dir(work):  # onnxruntime's symbolic shape inference drops a model in the cwd when it fails
        prepared = prepare(fp32_model, work, encoder, texts, keep_fused=set(excluded))
    if unknown := [n for n in excluded if n not in prepared.names]:
        raise BackendError(
            f"int8-static: nodes_to_exclude names {', '.join(unknown)}, which are not matrix products of this graph "
            f"(it has {_some(sorted(prepared.names))})"
        )
    excluded_here = {prepared.names[n] for n in excluded}
    method = {
        "minmax": CalibrationMethod.MinMax,
        "entropy": CalibrationMethod.Entropy,
        "percentile": CalibrationMethod.Percentile,
    }[settings.calibrate_method]
    pad_to = encoder.max_length if settings.calibrate_method in HISTOGRAM_METHODS else None
    inputs = input_names(onnx.load(str(fp32_model), load_external_data=False))
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print progress
            quantize_static(
                str(prepared.path),
                str(out_model),
                Calibration(encoder, texts, inputs, pad_to),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OP_TYPES),
                nodes_to_exclude=sorted(excluded_here),
                per_channel=settings.per_channel,
                reduce_range=settings.reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=method,
                extra_options={
                    "WeightSymmetric": True,
                    "ActivationSymmetric": False,
                    "QuantizeBias": False,
                    "DefaultTensorType": onnx.TensorProto.FLOAT,
                    # Products return float (onnxruntime runs MatMulIntegerToFloat): requantizing their outputs
                    # (QLinearMatMul) costs accuracy (max |Δlogit| 0.24 vs 0.04 on a relative-position model).
                    "OpTypesToExcludeOutputQuantization": list(QUANTIZED_OP_TYPES),
                },
            )
    except Exception as exc:  # the calibrators and quantizer raise whatever numpy or onnxruntime raised
        raise BackendError(
            f"int8-static: onnxruntime's quantizer failed with calibrate_method={settings.calibrate_method}: "
            f"{_one_line(exc)}; nothing was written"
        ) from None
    count = count_float_matmuls(onnx.load(str(out_model), load_external_data=False).graph)
    fp32_name = {here: name for name, here in prepared.names.items()}
    float_nodes = [fp32_name.get(n, n) for n in count.float_nodes]  # as the fp32 graph names them
    if stray := [n for n in float_nodes if n not in excluded]:
        why = "".join(f"; {n} stayed fused: {r}" for n, r in prepared.attention_kept.items() if n in stray)
        raise BackendError(
            f"int8-static: {len(stray)} of {count.total} matrix products would take float activations "
            f"({_some(stray)}{why}); nothing was written - export the fp32 artifact again with "
            "--option optimize=false, or keep them float on purpose with --option nodes_to_exclude=NAME,..."
        )
    fp32 = logits(session(fp32_model), encoder, texts)
    check = agreement(logits(session(out_model), encoder, texts), fp32)
    return {
        "scheme": SCHEME,
        "calibration_texts": len(texts),
        "calibrate_method": settings.calibrate_method,
        "matmuls": count.total,
        "float_matmuls": count.floats,
        "float_matmul_nodes": float_nodes,
        "attention_unfused": prepared.attention_unfused,
        "einsums_as_matmul": prepared.einsums_as_matmul,
        **({"float_einsums": prepared.float_einsums} if prepared.float_einsums else {}),
        "calibration_agreement_pct": check.agreement_pct,
        "calibration_max_abs_logit_diff": check.max_abs_logit_diff,
    }
