"""int8-static: every matrix product takes int8 activations and weights (QDQ on both operands, QK^T and
probabilities·V included), or the quantization fails loudly and writes nothing."""

from __future__ import annotations

import runpy
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from edgeptm import deploy
from edgeptm.errors import BackendError

SHARED_TOOL = Path(__file__).resolve().parents[4] / "shared" / "tools" / "float_matmuls.py"


def calibration_texts(sample, n: int = 64) -> list[str]:
    from edgeptm.data import sample_evenly

    return [e.text for e in sample_evenly(sample["train"], n)]


def plugin_count(model: Path):
    import onnx

    from edgeptm_onnx.static import count_float_matmuls

    return count_float_matmuls(onnx.load(str(model), load_external_data=False).graph)


def shared_tool_says(model: Path, monkeypatch, capsys) -> str:
    """The shared tool's verdict on ``model`` ('float matmuls: N of M'), run in this process."""
    if not SHARED_TOOL.is_file():
        pytest.skip(f"{SHARED_TOOL} is absent")
    monkeypatch.setattr(sys, "argv", [str(SHARED_TOOL), str(model)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(SHARED_TOOL), run_name="__main__")
    out = capsys.readouterr().out.strip()
    assert (done.value.code or 0) == (0 if out.startswith("float matmuls: 0 of") else 1), out
    return out


def flips_only_near_ties(got: np.ndarray, want: np.ndarray) -> bool:
    """Wherever fp32's top-2 margin exceeds twice the largest |Δlogit|, the labels agree."""
    delta = float(np.abs(got - want).max())
    top2 = np.sort(want, axis=-1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * delta
    return bool((got.argmax(-1) == want.argmax(-1))[clear].all())


@pytest.fixture(scope="module")
def static_int8(tmp_path_factory, plugins, onnx_fp32: Path, sample) -> Path:
    out = tmp_path_factory.mktemp("static") / "int8-static"
    deploy.quantize(
        plugins,
        onnx_fp32,
        out,
        precision="int8-static",
        calibration=calibration_texts(sample),
        validation_texts=sample["eval"].texts,
    )
    return out


def test_in_the_static_int8_of_the_quickstart_model_no_matrix_product_takes_float_activations(
    static_int8: Path, onnx_fp32: Path, monkeypatch, capsys
) -> None:
    import onnx

    from edgeptm.manifest import read_manifest

    m = read_manifest(static_int8)
    info = m.export_info
    # 2 layers x (Q/K/V projection, QK^T, probabilities.V, attention output, FFN in, FFN out) + pooler + classifier
    assert (info["scheme"], info["matmuls"], info["float_matmuls"], info["float_matmul_nodes"]) == (
        "static-qdq",
        14,
        0,
        [],
    )
    assert info["attention_unfused"] == 2 and info["calibration_texts"] == 64
    count = plugin_count(static_int8 / "model.onnx")
    assert (count.total, count.floats) == (14, 0)
    assert shared_tool_says(static_int8 / "model.onnx", monkeypatch, capsys) == "float matmuls: 0 of 14"
    graph = onnx.load(str(static_int8 / "model.onnx")).graph
    producer = {o: n.op_type for n in graph.node for o in n.output}
    attention = [n for n in graph.node if n.op_type == "MatMul" and n.name.endswith(("MatMul_qk", "MatMul_pv"))]
    assert len(attention) == 4, "QK^T and probabilities.V of both layers"
    assert all(producer[i] == "DequantizeLinear" for n in attention for i in n.input)
    assert "Attention" not in {n.op_type for n in graph.node}
    # Embedding tables are int8 too: the artifact is about as small as dynamic int8.
    assert (static_int8 / "model.onnx").stat().st_size < 0.4 * (onnx_fp32 / "model.onnx").stat().st_size


def test_static_int8_is_close_to_torch(plugins, static_int8: Path, finetuned: Path, sample) -> None:
    from edgeptm.manifest import read_manifest

    m = read_manifest(static_int8)
    assert m.validation["agreement_pct"] >= 95.0 and m.validation["max_abs_logit_diff"] < 0.05
    assert m.export_info["calibration_agreement_pct"] >= 90.0
    texts = sample["eval"].texts
    with deploy.load_runner(plugins, finetuned) as fp32, deploy.load_runner(plugins, static_int8) as int8:
        want, got = fp32.predict(texts), int8.predict(texts)
    assert flips_only_near_ties(got, want)


def test_the_quantizer_is_given_the_fused_graph_and_refuses(
    tmp_path: Path, plugins, onnx_fp32: Path, sample, monkeypatch
) -> None:
    """What the issue saw (the fused graph quantized as it is: its Attention products float) now fails loudly."""
    from edgeptm_onnx import static

    monkeypatch.setattr(static, "unfuse_attention", lambda model, keep=frozenset(): static.Unfused(model, 0, {}))
    out = tmp_path / "static"
    with pytest.raises(BackendError) as err:
        deploy.quantize(plugins, onnx_fp32, out, precision="int8-static", calibration=calibration_texts(sample, 16))
    assert str(err.value) == (
        "int8-static: 2 of 10 matrix products would take float activations (Attention_0, Attention_1); nothing was "
        "written - export the fp32 artifact again with --option optimize=false, or keep them float on purpose with "
        "--option nodes_to_exclude=NAME,..."
    )
    assert "\n" not in str(err.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_attention_it_cannot_unfuse_fails_with_the_reason(tmp_path: Path, plugins, onnx_fp32: Path, sample) -> None:
    import onnx
    from onnx import helper

    fp32 = tmp_path / "fp32"
    shutil.copytree(onnx_fp32, fp32)
    model = onnx.load(str(fp32 / "model.onnx"))
    first = next(n for n in model.graph.node if n.op_type == "Attention")
    first.attribute.append(helper.make_attribute("unidirectional", 1))
    onnx.save(model, str(fp32 / "model.onnx"))
    from edgeptm.manifest import read_manifest

    read_manifest(fp32).save(fp32)  # record the edited graph's hash, as a tool that remakes the artifact would
    out = tmp_path / "static"
    with pytest.raises(
        BackendError,
        match=r"^int8-static: 1 of 12 matrix products would take float activations \(Attention_0; Attention_0 "
        r"stayed fused: unidirectional\); nothing was written - export the fp32 artifact again with "
        r"--option optimize=false",
    ):
        deploy.quantize(plugins, fp32, out, precision="int8-static", calibration=calibration_texts(sample, 16))
    assert not out.exists()


def test_nodes_to_exclude_keeps_named_products_float_and_says_so(
    tmp_path: Path, plugins, onnx_fp32: Path, sample, monkeypatch, capsys
) -> None:
    out = tmp_path / "static"
    m = deploy.quantize(
        plugins,
        onnx_fp32,
        out,
        precision="int8-static",
        options={"nodes_to_exclude": ["/classifier/Gemm", "Attention_1"]},
        calibration=calibration_texts(sample, 16),
    )
    assert m.options["nodes_to_exclude"] == ["/classifier/Gemm", "Attention_1"]
    info = m.export_info
    assert (info["matmuls"], info["float_matmuls"], info["attention_unfused"]) == (12, 2, 1)
    assert sorted(info["float_matmul_nodes"]) == ["/classifier/Gemm", "Attention_1"]
    assert shared_tool_says(out / "model.onnx", monkeypatch, capsys) == "float matmuls: 2 of 12"


def test_nodes_to_exclude_must_name_matrix_products(tmp_path: Path, plugins, onnx_fp32: Path, sample) -> None:
    with pytest.raises(BackendError, match=r"^int8-static: nodes_to_exclude names Tanh, which are not matrix"):
        deploy.quantize(
            plugins,
            onnx_fp32,
            tmp_path / "x",
            precision="int8-static",
            options={"nodes_to_exclude": ["Tanh"]},
            calibration=calibration_texts(sample, 8),
        )
    with pytest.raises(BackendError, match=r"^option nodes_to_exclude applies to precision int8-static, not int8$"):
        deploy.quantize(plugins, onnx_fp32, tmp_path / "y", precision="int8", options={"nodes_to_exclude": ["x"]})
    assert list(tmp_path.iterdir()) == []


def test_the_validation_gate_refuses_a_result_that_disagrees(
    tmp_path: Path, plugins, onnx_fp32: Path, sample, monkeypatch
) -> None:
    """A quantization that lands at the issue's 25% agreement writes nothing (the agreement is forced here)."""
    from edgeptm_onnx import static

    monkeypatch.setattr(static, "agreement", lambda got, want: static.Agreement(25.0, 9.25, len(got)))
    out = tmp_path / "static"
    with pytest.raises(BackendError) as err:
        deploy.quantize(plugins, onnx_fp32, out, precision="int8-static", calibration=calibration_texts(sample, 16))
    assert str(err.value) == (
        "int8-static: agrees with the fp32 artifact on 25.0% of 16 calibration texts (max |Δlogit| 9.25), below "
        "min_agreement 90%; nothing was written - try --option reduce_range=true or another calibrate_method, "
        "or use precision int8"
    )
    assert not out.exists()


def activation_scales(artifact: Path) -> dict[str, float]:
    """The scale of every activation QuantizeLinear (weights are initializers and have none)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(artifact / "model.onnx"))
    initializers = {i.name: i for i in model.graph.initializer}
    return {
        node.input[0]: float(numpy_helper.to_array(initializers[node.input[1]]).ravel()[0])
        for node in model.graph.node
        if node.op_type == "QuantizeLinear" and node.input[0] not in initializers and node.input[1] in initializers
    }


def test_each_calibration_method_gives_its_own_model(tmp_path: Path, plugins, onnx_fp32: Path, sample) -> None:
    texts = calibration_texts(sample, 16)
    scales = {}
    for method in ("minmax", "entropy", "percentile"):
        m = deploy.quantize(
            plugins,
            onnx_fp32,
            tmp_path / method,
            precision="int8-static",
            options={"calibrate_method": method},
            calibration=texts,
        )
        assert m.export_info["calibrate_method"] == method and m.export_info["float_matmuls"] == 0
        scales[method] = activation_scales(tmp_path / method)
    assert (
        len(scales["minmax"]) >= 10
        and scales["minmax"].keys() == scales["entropy"].keys() == scales["percentile"].keys()
    )
    for a, b in (("minmax", "entropy"), ("minmax", "percentile"), ("entropy", "percentile")):
        differ = [t for t in scales[a] if not np.isclose(scales[a][t], scales[b][t], rtol=1e-4)]
        assert len(differ) >= len(scales[a]) // 4, (
            f"{a} and {b} calibrate alike: {len(differ)} of {len(scales[a])} differ"
        )
    # percentile clips the rare extremes that minmax keeps: somewhere its range is narrower
    narrower = [t for t in scales["minmax"] if scales["percentile"][t] < scales["minmax"][t] * (1 - 1e-4)]
    assert narrower


# --- a model with relative position scores (what `edgeptm pretrain` makes by default) -------------------------


def fixed_wordpiece(texts: list[str], max_length: int, words: int = 1500):
    """A WordPiece tokenizer whose vocabulary is a function of ``texts`` (a trained one differs from run to run,
    and so would the model): special tokens, every character with and without ``##``, the commonest words."""
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertTokenizerFast

    from edgeptm.train.tinymodel import SPECIAL_TOKENS

    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    pre = pre_tokenizers.BertPreTokenizer()
    counts = Counter(w for t in texts for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(t)))
    chars = sorted({c for w in counts for c in w})
    common = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if len(w) > 1][:words]
    vocab = {tok: i for i, tok in enumerate([*SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars), *common])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer, tok.pre_tokenizer, tok.decoder = normalizer, pre, decoders.WordPiece(prefix="##")
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizerFast(
        tokenizer_object=tok,
        do_lower_case=False,
        strip_accents=False,
        tokenize_chinese_chars=True,
        model_max_length=max_length,
    )


def build_relative_classifier(out: Path, *, steps: int = 60, seed: int = 0, max_length: int = 64) -> Path:
    """A tiny BERT classifier with relative_key_query position scores and eager attention, trained for a few
    seconds on the sample (as ``edgeptm.testing.model`` trains the kit's model: a Trainer run takes a minute).
    Deterministic: the same model every run."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    from edgeptm import data
    from edgeptm.data import LabelMap
    from edgeptm.manifest import Manifest

    hf_logging.set_verbosity_error()
    train = data.load("builtin:sample", split="train")
    labels = LabelMap.from_dataset(train)
    texts = [t for split in ("train", "eval", "test") for t in data.load("builtin:sample", split=split).texts]
    tokenizer = fixed_wordpiece(texts, max_length)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=max_length,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        position_embedding_type="relative_key_query",
        attn_implementation="eager",
        num_labels=len(labels.names),
        id2label=dict(enumerate(labels.names)),
        label2id=labels.ids,
    )
    model = BertForSequenceClassification(config)
    enc = tokenizer(train.texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    y = torch.tensor(labels.encode(train, "train"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model.train()
    try:
        for _ in range(steps):
            idx = torch.randint(0, len(y), (32,), generator=generator)
            model(**{k: v[idx] for k, v in enc.items()}, labels=y[idx]).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    out.mkdir(parents=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    Manifest(
        backend="torch",
        precision="fp32",
        labels=labels.names,
        max_length=max_length,
        files=["model.safetensors"],
        source=str(out.resolve()),
    ).save(out)
    return out


@pytest.fixture(scope="module")
def relative(tmp_path_factory) -> Path:
    return build_relative_classifier(tmp_path_factory.mktemp("relative") / "model")


@pytest.mark.parametrize("optimize", [True, False], ids=["fused", "unfused"])
def test_static_int8_of_a_relative_position_model_is_all_int8_and_accurate(
    tmp_path: Path, plugins, relative: Path, sample, optimize: bool, monkeypatch, capsys
) -> None:
    texts = sample["eval"].texts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings
        deploy.export(plugins, "onnx", relative, tmp_path / "fp32", options={"optimize": optimize})
    m = deploy.quantize(
        plugins,
        tmp_path / "fp32",
        tmp_path / "static",
        precision="int8-static",
        calibration=calibration_texts(sample),
        validation_texts=texts,
    )
    info = m.export_info
    # 2 layers x (Q, K, V, QK^T, 2 relative-position products, probabilities.V, attention output, FFN in, FFN out)
    # + pooler + classifier
    assert (info["matmuls"], info["float_matmuls"], info["einsums_as_matmul"]) == (22, 0, 4)
    assert shared_tool_says(tmp_path / "static" / "model.onnx", monkeypatch, capsys) == "float matmuls: 0 of 22"
    with deploy.load_runner(plugins, relative) as fp32, deploy.load_runner(plugins, tmp_path / "static") as int8:
        want, got = fp32.predict(texts), int8.predict(texts)
    spread = float(np.ptp(want))
    delta = float(np.abs(got - want).max())
    assert spread > 1.0, "the model's logits depend on the text"
    # int8 of these tiny models is off by 2-13% of the logit range on an AVX2 machine without VNNI (seeds 0-12;
    # dynamic int8 alike, U8S8 saturation); quantizing everything, as before, was off by 45%.
    assert delta < 0.15 * spread, (delta, spread)
    assert m.validation["agreement_pct"] >= 97.0
    assert flips_only_near_ties(got, want)


def test_static_and_dynamic_per_language(tmp_path: Path, plugins, relative: Path, sample) -> None:
    """Static and dynamic int8 (both per-channel) against fp32, language by language, on the test split (the
    figures are printed: run with -s). Static stays within two texts of fp32 in every language."""
    from edgeptm.measure.evaluate import evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deploy.export(plugins, "onnx", relative, tmp_path / "fp32")
    artifacts = {"fp32": relative}
    for name, precision in (("int8", "int8"), ("int8-static", "int8-static")):
        m = deploy.quantize(
            plugins, tmp_path / "fp32", tmp_path / name, precision=precision, calibration=calibration_texts(sample)
        )
        assert m.options["per_channel"] is True
        artifacts[name] = tmp_path / name
    cache: dict[str, np.ndarray] = {}
    results = {
        name: evaluate(plugins, artifact, sample["test"], reference=relative, reference_cache=cache)
        for name, artifact in artifacts.items()
    }
    languages = sorted(results["fp32"]["per_language"])
    print("\naccuracy %   " + " ".join(f"{lang:>5}" for lang in languages) + "  overall")
    for name, result in results.items():
        per = result["per_language"]
        print(
            f"{name:12} "
            + " ".join(f"{100 * per[lang]['accuracy']:5.1f}" for lang in languages)
            + f"  {100 * result['overall']['accuracy']:5.1f}"
        )
    for lang in languages:
        fp32, static = (results[k]["per_language"][lang] for k in ("fp32", "int8-static"))
        assert abs(static["accuracy"] - fp32["accuracy"]) * fp32["n"] <= 2 + 1e-9, lang
