"""edgeptm against Optimum on the same model, in one process: latency and fidelity, side by side.

Builds one model through Optimum's standard path (optimum-onnx export, ``ORTQuantizer`` dynamic
per-channel int8 with the ``AutoQuantizationConfig`` for this CPU, and optimum-intel's OpenVINO int8
when installed) and through every edgeptm variant (onnx fp32/int8/int8-static, openvino fp32/int8),
then times them in interleaved rounds (each round runs every engine once, in a rotated order, so load
from other processes hits all of them alike) and prints a Markdown table per setting:

* ``b1x128`` and ``b8x128``: a fixed batch of real-looking text filling 128 tokens, the same arrays
  for every engine, called the way each library is called (Optimum's ``model(**inputs)``, edgeptm's
  ``runner.predict(encoded)``, torch's ``model(**inputs)``);
* ``real-text``: UMSAB test texts (sampled evenly across languages) in batches of 8, each engine
  batching the way its documented pipeline does: Optimum and torch through a ``pipeline`` (batches
  in the order given, each padded to its longest), edgeptm through its length-sorted batches
  (``edgeptm.encoding.run_length_sorted``), plus edgeptm's int8 in plain order to show what the
  sorting gains.

Columns: median ms per call, spread (p25-p75), speed relative to Optimum int8 (its median / this
median; above 1 is faster) and the paired ratio (median over rounds of the same ratio within a
round, robust to load drifting between rounds), and max |Δlogit| and top-1 agreement vs torch fp32
on the same inputs. With a fine-tuned model whose labels match the data, the real-text table adds
the macro-F1 drop vs torch overall and in the worst language. The CPU flags (AVX2, AVX-512, VNNI,
AMX), thread count, library versions and the load average before and after are printed beside the
figures: the CPU is often shared, so compare ratios, and re-run on a quiet machine for absolutes.

    python scripts/bench_vs_optimum.py                       # mBERT architecture, random weights
    python scripts/bench_vs_optimum.py --model runs/umsab/model --rounds 7
    python scripts/bench_vs_optimum.py --quick --model TINY  # seconds: what the test runs
    python scripts/bench_vs_optimum.py --model TEACHER --student STUDENT4 --student STUDENT3

``--student`` adds models distilled from ``--model`` (``edgeptm distill``): their edgeptm onnx fp32 and
int8, with Δlogit, agreement and (real text) ΔF1 against the *teacher's* torch fp32.

Artifacts are kept under ``--work`` (default ``runs/bench-vs-optimum/<model name>``) and reused by
the next run of the same model; ``--rebuild`` makes them again. Needs the ``optimum`` extra
(``pip install -e '.[optimum]'``); without optimum the edgeptm side still runs and says so.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.util
import io
import json
import os
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "umsab" / "data" / "sentiment"
SEQ = 128
REAL_BATCH = 8
BASELINE = "optimum onnx int8"
SETTINGS = ("b1x128", "b8x128", "real-text")
SETTLE_S = 0.2
"""Pause before each engine's turn: the previous engine's worker threads (onnxruntime, OpenMP) spin-wait for
work a while after a call, and on a small machine that spinning would be charged to whoever runs next."""
LIBRARIES = ("torch", "transformers", "onnxruntime", "openvino", "nncf", "optimum", "optimum-onnx", "optimum-intel")

Encoded = dict[str, np.ndarray]


@dataclass
class Engine:
    """One way of running the model: logits for a fixed encoded batch, and for texts batched like its pipeline."""

    name: str
    how: str
    fixed: Callable[[Encoded], np.ndarray]
    texts: Callable[[list[str]], np.ndarray]
    close: Callable[[], None] = lambda: None
    real_text_only: bool = False
    """Timed in the real-text setting only (a batching variant of another engine)."""


@dataclass
class Row:
    """One engine in one setting."""

    engine: str
    how: str
    median_ms: float
    p25_ms: float
    p75_ms: float
    calls: int
    vs_baseline: float | None = None
    paired_vs_baseline: float | None = None
    max_abs_logit_diff: float | None = None
    agreement_pct: float | None = None
    f1_drop: float | None = None
    worst_language_f1_drop: float | None = None
    worst_language: str | None = None
    padded_tokens: int | None = None


@dataclass
class Setup:
    model: str
    threads: int
    rounds: int
    cpu: str
    flags: dict[str, bool]
    libraries: dict[str, str]
    load_before: str
    load_after: str = ""
    real_texts: int = 0
    real_source: str = ""
    skipped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- building


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the libraries' progress bars and warnings while building."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def build_default_model(out: Path) -> Path:
    """The bert-base-multilingual-cased architecture with random weights (``scripts/make_mbert_arch.py``)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_mbert_arch import main as make

    make(out)
    return out


def cached(path: Path, rebuild: bool, make: Callable[[Path], None], what: str) -> Path:
    """``make(tmp)`` then rename to ``path``, unless ``path`` was made before (a partial build never counts)."""
    if path.exists() and not rebuild:
        return path
    if path.exists():
        shutil.rmtree(path)
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.perf_counter()
    log(f"building {what} ...")
    with quiet():
        make(tmp)
    tmp.rename(path)
    log(f"  built {what} in {time.perf_counter() - started:.0f} s")
    return path


def optimum_quantization_config(flags: dict[str, bool]) -> tuple[object, str]:
    """``AutoQuantizationConfig`` dynamic per-channel for this CPU, as Optimum's documentation picks it."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    if flags["vnni"] and flags["avx512"]:
        return AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True), "avx512_vnni"
    if flags["avx512"]:
        return AutoQuantizationConfig.avx512(is_static=False, per_channel=True), "avx512"
    if flags["avx2"]:
        return AutoQuantizationConfig.avx2(is_static=False, per_channel=True), "avx2"
    return AutoQuantizationConfig.arm64(is_static=False, per_channel=True), "arm64"


def ort_session_options(threads: int) -> object:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return opts


def to_torch(encoded: Encoded) -> dict[str, object]:
    import torch

    return {k: torch.from_numpy(v) for k, v in encoded.items()}


def pipeline_logits(pipe: object, texts: list[str], labels: list[str]) -> np.ndarray:
    """Raw logits from a text-classification pipeline (``function_to_apply='none'``, all labels)."""
    results = pipe(texts, batch_size=REAL_BATCH, top_k=None, function_to_apply="none", truncation=True)  # type: ignore[operator]
    out = np.zeros((len(texts), len(labels)), dtype=np.float32)
    for i, scores in enumerate(results):
        for item in scores:
            out[i, labels.index(item["label"])] = item["score"]
    return out


def torch_engine(model_dir: Path, labels: list[str], threads: int) -> Engine:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    torch.set_num_threads(threads)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")

    def fixed(encoded: Encoded) -> np.ndarray:
        with torch.inference_mode():
            return model(**to_torch(encoded)).logits.numpy()

    def texts(batch: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return pipeline_logits(pipe, batch, labels)

    return Engine("torch fp32", "transformers pipeline", fixed, texts)


def optimum_onnx_engines(
    model_dir: Path, work: Path, labels: list[str], threads: int, flags: dict[str, bool], rebuild: bool
) -> list[Engine]:
    from optimum.onnxruntime import ORTModelForSequenceClassification, ORTQuantizer
    from optimum.onnxruntime import pipeline as ort_pipeline
    from transformers import AutoTokenizer

    config, config_name = optimum_quantization_config(flags)

    def export(tmp: Path) -> None:
        ORTModelForSequenceClassification.from_pretrained(model_dir, export=True).save_pretrained(tmp)
        AutoTokenizer.from_pretrained(model_dir).save_pretrained(tmp)

    def quantize(tmp: Path) -> None:
        ORTQuantizer.from_pretrained(fp32_dir).quantize(save_dir=tmp, quantization_config=config)
        AutoTokenizer.from_pretrained(model_dir).save_pretrained(tmp)

    fp32_dir = cached(work / "optimum-onnx-fp32", rebuild, export, "Optimum ORT fp32 (optimum export)")
    int8_dir = cached(
        work / "optimum-onnx-int8",
        rebuild,
        quantize,
        f"Optimum ORT int8 (ORTQuantizer {config_name}, dynamic, per-channel)",
    )
    engines = []
    for name, folder, file in (
        ("optimum onnx fp32", fp32_dir, "model.onnx"),
        (BASELINE, int8_dir, "model_quantized.onnx"),
    ):
        model = ORTModelForSequenceClassification.from_pretrained(
            folder, file_name=file, session_options=ort_session_options(threads), provider="CPUExecutionProvider"
        )
        engines.append(ort_like_engine(name, model, folder, labels, ort_pipeline, "ORTModel, optimum pipeline"))
    engines[1].how = f"ORTQuantizer {config_name}; optimum pipeline"
    return engines


def ort_like_engine(name: str, model: object, folder: Path, labels: list[str], make_pipeline, how: str) -> Engine:
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    pipe = make_pipeline("text-classification", model=model, tokenizer=tokenizer)

    def fixed(encoded: Encoded) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(model(**to_torch(encoded)).logits)  # type: ignore[operator]

    return Engine(name, how, fixed, lambda batch: pipeline_logits(pipe, batch, labels))


def optimum_openvino_engine(
    model_dir: Path, work: Path, labels: list[str], threads: int, calibration: list[str], rebuild: bool
) -> Engine:
    import nncf
    from optimum.intel import OVConfig, OVModelForSequenceClassification, OVQuantizationConfig, OVQuantizer
    from optimum.intel import pipeline as ov_pipeline
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def quantize(tmp: Path) -> None:
        model = OVModelForSequenceClassification.from_pretrained(model_dir, export=True, compile=False)
        feeds = [dict(tokenizer(t, truncation=True, max_length=SEQ, return_tensors="np")) for t in calibration]
        OVQuantizer.from_pretrained(model).quantize(
            calibration_dataset=nncf.Dataset(feeds),
            ov_config=OVConfig(quantization_config=OVQuantizationConfig(num_samples=len(feeds))),
            save_directory=tmp,
        )
        tokenizer.save_pretrained(tmp)

    folder = cached(work / "optimum-openvino-int8", rebuild, quantize, "optimum-intel OpenVINO int8 (OVQuantizer)")
    model = OVModelForSequenceClassification.from_pretrained(
        folder, ov_config={"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": str(threads)}
    )
    make_pipeline = functools.partial(ov_pipeline, accelerator="openvino")
    return ort_like_engine(
        "optimum openvino int8", model, folder, labels, make_pipeline, "OVQuantizer; optimum pipeline"
    )


@dataclass(frozen=True)
class Variant:
    name: str
    backend: str
    precision: str
    options: dict[str, object] = field(default_factory=dict)


def edgeptm_variants(quick: bool, with_s8: bool = False) -> list[Variant]:
    """Every edgeptm variant (quick: the onnx fp32 and int8 only); ``with_s8`` adds int8 forced to full-range
    s8 weights, to show what the saturation-safe choice costs or saves."""
    variants = [
        Variant("edgeptm onnx fp32", "onnx", "fp32"),
        Variant("edgeptm onnx int8", "onnx", "int8"),
        *([Variant("edgeptm onnx int8 s8", "onnx", "int8", {"weight_type": "s8"})] if with_s8 else []),
        Variant("edgeptm onnx int8-static", "onnx", "int8-static"),
        Variant("edgeptm openvino fp32", "openvino", "fp32"),
        Variant("edgeptm openvino int8", "openvino", "int8"),
    ]
    return [v for v in variants if not quick or v.backend == "onnx" and v.precision in ("fp32", "int8")]


def edgeptm_engines(
    model_dir: Path,
    work: Path,
    threads: int,
    calibration: list[str],
    validation: list[str],
    rebuild: bool,
    variants: list[Variant],
    skipped: list[str],
) -> tuple[list[Engine], dict[str, dict[str, Any]]]:
    from edgeptm import deploy
    from edgeptm.encoding import TruncationWarning
    from edgeptm.measure.evaluate import predict_logits
    from edgeptm.plugins import get_plugins

    plugins = get_plugins()
    info: dict[str, dict[str, Any]] = {}
    for variant in variants:
        backend = plugins.backends().get(variant.backend)
        if backend is None or not backend.availability().available:
            skipped.append(f"{variant.name}: backend {variant.backend} is not available here")
            continue
        folder = work / variant.name.replace(" ", "-")
        source = work / f"edgeptm-{variant.backend}-fp32"

        def make(tmp: Path, variant: Variant = variant, source: Path = source) -> None:
            if variant.precision == "fp32":
                deploy.export(plugins, variant.backend, model_dir, tmp, validation_texts=validation, max_length=SEQ)
            else:
                deploy.quantize(
                    plugins,
                    source,
                    tmp,
                    precision=variant.precision,
                    options=variant.options,
                    calibration=calibration,
                    validation_texts=validation,
                    force=True,
                )

        try:
            cached(folder, rebuild, make, variant.name)
        except Exception as exc:  # one variant failing to build must not stop the comparison
            skipped.append(f"{variant.name}: build failed: {str(exc).splitlines()[0]}")
            continue
        manifest = deploy.artifact_manifest(folder)
        info[variant.name] = {
            k: manifest.export_info[k]
            for k in ("weights", "warnings", "scheme", "float_matmuls", "matmuls", "preset")
            if k in manifest.export_info
        }
    engines = []
    for name, folder in [(v.name, work / v.name.replace(" ", "-")) for v in variants]:
        if not folder.is_dir() or name in {s.split(":")[0] for s in skipped}:
            continue
        runner = deploy.load_runner(plugins, folder, threads=threads)

        def texts(batch: list[str], runner: object = runner) -> np.ndarray:
            return predict_logits(runner, batch, REAL_BATCH)  # type: ignore[arg-type]

        def fixed(encoded: Encoded, runner: object = runner) -> np.ndarray:
            return runner.predict(encoded)  # type: ignore[attr-defined]

        engines.append(Engine(name, "runner.predict; length-sorted batches", fixed, texts, runner.close))
        if name == "edgeptm onnx int8":

            def unsorted(batch: list[str], runner: object = runner) -> np.ndarray:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", TruncationWarning)
                    parts = [runner.predict(batch[i : i + REAL_BATCH]) for i in range(0, len(batch), REAL_BATCH)]  # type: ignore[attr-defined]
                return np.concatenate(parts)

            engines.append(
                Engine(name + " (unsorted)", "batches in the order given", fixed, unsorted, real_text_only=True)
            )
    return engines, info


def student_engines(
    student: Path,
    work: Path,
    threads: int,
    calibration: list[str],
    validation: list[str],
    args: argparse.Namespace,
    setup: Setup,
    built: dict[str, dict[str, Any]],
) -> list[Engine]:
    """A distilled student's edgeptm onnx fp32 and int8, named after its depth (``… · student 4L``).

    It shares the teacher's tokenizer and labels (``edgeptm distill`` keeps them), so it runs on the same
    encoded arrays and its logits are compared with the teacher's torch fp32 like every other engine:
    Δlogit and agreement then measure what distillation and quantization cost together."""
    config = json.loads((student / "config.json").read_text())
    label = f"student {config['num_hidden_layers']}L"
    variants = [v for v in edgeptm_variants(True) if v.backend == "onnx"]
    skipped: list[str] = []
    engines, info = edgeptm_engines(
        student, work / f"student-{student.name}", threads, calibration, validation, args.rebuild, variants, skipped
    )
    setup.skipped += [f"{label}: {s}" for s in skipped]
    for name, value in info.items():
        built[f"{name} · {label}"] = value
    out = []
    for engine in engines:
        if engine.real_text_only:
            continue  # the unsorted comparison is the teacher's
        engine.name = f"{engine.name} · {label}"
        out.append(engine)
    return out


# ---------------------------------------------------------------------------------------------- inputs


def fixed_batch(encoder: object, texts: Sequence[str], rows: int) -> Encoded:
    """``rows`` rows of exactly :data:`SEQ` real tokens each (texts joined until they fill the sequence)."""
    out = []
    pool = list(texts)
    for r in range(rows):
        joined, i = "", r
        while len(encoder.tokenize([joined])[0].ids) < SEQ:  # type: ignore[attr-defined]
            joined += " " + pool[i % len(pool)]
            i += rows
        out.append(joined)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoded = encoder(out)  # type: ignore[operator]
    assert encoded["input_ids"].shape == (rows, SEQ) and encoded["attention_mask"].all()
    return encoded


@dataclass(frozen=True)
class Texts:
    real: list[str]
    """Test texts sampled evenly across languages: the real-text setting."""
    languages: list[str]
    labels: list[str]
    calibration: list[str]
    validation: list[str]
    source: str


def read_texts(data: Path | None, n: int, quick: bool) -> Texts:
    """Real texts (test split, sampled evenly across languages), their languages and gold labels when
    labelled, calibration texts (train split) and validation texts (eval split)."""
    from edgeptm import data as datasets
    from edgeptm.data import sample_evenly

    source = str(data) if data is not None and data.is_dir() else "builtin:sample"
    test = datasets.load(source, split="test")
    picked = sample_evenly(test, n)
    calib = [e.text for e in sample_evenly(datasets.load(source, split="train"), 16 if quick else 32)]
    valid = [e.text for e in sample_evenly(datasets.load(source, split="eval"), 16 if quick else 32)]
    return Texts(
        [e.text for e in picked], [e.language for e in picked], [e.label for e in picked], calib, valid, source
    )


# ---------------------------------------------------------------------------------------------- timing


def time_rounds(
    engines: list[Engine], call: Callable[[Engine], np.ndarray], rounds: int, per_round: int
) -> dict[str, list[list[float]]]:
    """Seconds per call: ``rounds`` rounds, each running every engine ``per_round`` times in a rotated order."""
    times: dict[str, list[list[float]]] = {e.name: [] for e in engines}
    for e in engines:  # warm-up: first calls allocate and compile
        call(e)
        call(e)
    for r in range(rounds):
        order = engines[r % len(engines) :] + engines[: r % len(engines)]
        for e in order:
            time.sleep(SETTLE_S)
            got = []
            for _ in range(per_round):
                start = time.perf_counter()
                call(e)
                got.append(time.perf_counter() - start)
            times[e.name].append(got)
    return times


def on_texts(texts: list[str]) -> Callable[[Engine], np.ndarray]:
    return lambda engine: engine.texts(texts)


def on_batch(encoded: Encoded) -> Callable[[Engine], np.ndarray]:
    return lambda engine: engine.fixed(encoded)


def summarize(engines: list[Engine], times: dict[str, list[list[float]]]) -> list[Row]:
    rows = []
    base = times.get(BASELINE)
    for e in engines:
        flat = [t * 1000 for r in times[e.name] for t in r]
        p25, p50, p75 = np.percentile(flat, [25, 50, 75])
        row = Row(e.name, e.how, float(p50), float(p25), float(p75), len(flat))
        if base is not None:
            base_flat = [t for r in base for t in r]
            row.vs_baseline = float(np.median(base_flat) * 1000 / p50)
            row.paired_vs_baseline = float(
                statistics.median(
                    statistics.median(b) / statistics.median(x) for b, x in zip(base, times[e.name], strict=True)
                )
            )
        rows.append(row)
    return rows


def fidelity(row: Row, got: np.ndarray, want: np.ndarray) -> None:
    row.max_abs_logit_diff = float(np.max(np.abs(got - want)))
    row.agreement_pct = 100.0 * float(np.mean(got.argmax(-1) == want.argmax(-1)))


def f1_drops(row: Row, got: np.ndarray, want: np.ndarray, gold: list[int], languages: list[str], n_labels: int) -> None:
    """Macro-F1 (points) of torch minus this engine, overall and in the worst language."""
    from edgeptm.measure.metrics import macro_f1

    row.f1_drop = 100 * (
        macro_f1(gold, want.argmax(-1).tolist(), n_labels) - macro_f1(gold, got.argmax(-1).tolist(), n_labels)
    )
    worst, name = -1e9, ""
    for lang in sorted(set(languages)):
        idx = [i for i, x in enumerate(languages) if x == lang]
        g = [gold[i] for i in idx]
        drop = 100 * (
            macro_f1(g, want[idx].argmax(-1).tolist(), n_labels) - macro_f1(g, got[idx].argmax(-1).tolist(), n_labels)
        )
        if drop > worst:
            worst, name = drop, lang
    row.worst_language_f1_drop, row.worst_language = worst, name


def padded_tokens(encoder: object, texts: list[str], sort: bool) -> int:
    """Token positions the model computes for ``texts`` in batches of 8: sorted by length or in order."""
    from edgeptm.encoding import length_batches

    lengths = [len(e.ids) for e in encoder.tokenize(texts)]  # type: ignore[attr-defined]
    batches = (
        length_batches(lengths, REAL_BATCH)
        if sort
        else [np.arange(i, min(i + REAL_BATCH, len(texts))) for i in range(0, len(texts), REAL_BATCH)]
    )
    return int(sum(len(b) * max(lengths[i] for i in b) for b in batches))


# ---------------------------------------------------------------------------------------------- output


def table(setting: str, rows: list[Row], extra: bool) -> str:
    head = "| engine | median ms | p25–p75 ms | × Optimum int8 | paired | max \\|Δlogit\\| | agreement |"
    rule = "|---|---|---|---|---|---|---|"
    if extra:
        head += " ΔF1 overall | ΔF1 worst language |"
        rule += "---|---|"
    lines = [f"### {setting}", "", head, rule]
    for r in sorted(rows, key=lambda r: r.median_ms):

        def x(v: float | None) -> str:
            return "–" if v is None else f"{v:.2f}×"

        line = (
            f"| {r.engine} | {r.median_ms:.1f} | {r.p25_ms:.1f}–{r.p75_ms:.1f} | {x(r.vs_baseline)} | "
            f"{x(r.paired_vs_baseline)} | "
            f"{'–' if r.max_abs_logit_diff is None else f'{r.max_abs_logit_diff:.3g}'} | "
            f"{'–' if r.agreement_pct is None else f'{r.agreement_pct:.1f}%'} |"
        )
        if extra:
            line += (
                f" {'–' if r.f1_drop is None else f'{r.f1_drop:+.2f}'} | "
                f"{'–' if r.worst_language_f1_drop is None else f'{r.worst_language_f1_drop:+.2f} ({r.worst_language})'} |"
            )
        lines.append(line)
    return "\n".join(lines)


def cpu_flags() -> tuple[str, dict[str, bool]]:
    sys.path.insert(0, str(ROOT))
    from edgeptm.measure.machine import cpu_features, describe_machine

    f = cpu_features()
    return describe_machine(), {"avx2": f.avx2, "avx512": f.avx512, "vnni": f.vnni, "amx": f.amx}


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


# ---------------------------------------------------------------------------------------------- main


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", type=Path, help="fine-tuned save_pretrained folder (default: mBERT architecture, random)")
    p.add_argument(
        "--work", type=Path, help="artifact folder, reused by later runs (default runs/bench-vs-optimum/NAME)"
    )
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UMSAB folder for the real texts (else the sample)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5, quick 2)")
    p.add_argument("--threads", type=int, default=2, help="intra-op threads of every engine (default 2)")
    p.add_argument("--real-texts", type=int, default=None, help="real texts timed per round (default 64, quick 16)")
    p.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated subset of " + ", ".join(SETTINGS))
    p.add_argument("--quick", action="store_true", help="2 rounds, fewer calls, onnx variants only: a smoke run")
    p.add_argument("--with-s8", action="store_true", help="also edgeptm int8 forced to full-range s8 weights")
    p.add_argument("--no-optimum", action="store_true", help="edgeptm only, even when optimum is installed")
    p.add_argument(
        "--student",
        type=Path,
        action="append",
        default=[],
        help="a model distilled from --model (edgeptm distill; same tokenizer and labels): its edgeptm onnx fp32 "
        "and int8 are timed beside the rest (repeatable)",
    )
    p.add_argument("--rebuild", action="store_true", help="make the artifacts again")
    p.add_argument("--json", type=Path, help="also write every figure here")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    rounds = args.rounds or (2 if args.quick else 5)
    settings = [s for s in SETTINGS if s in args.settings.split(",")]
    if not settings:
        print(f"Error: --settings {args.settings}: name one or more of {', '.join(SETTINGS)}", file=sys.stderr)
        return 2
    n_real = args.real_texts or (16 if args.quick else 64)
    per_round = {"b1x128": 1 if args.quick else 5, "b8x128": 1, "real-text": 1}
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cpu, flags = cpu_flags()
    name = args.model.name if args.model else "mbert-arch"
    work = (args.work or ROOT / "runs" / "bench-vs-optimum" / name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    setup = Setup(
        str(args.model or "bert-base-multilingual-cased architecture, random weights"),
        args.threads,
        rounds,
        cpu,
        flags,
        versions(),
        loadavg(),
    )
    model_dir = args.model.resolve() if args.model else build_default_model(work / "model")
    if not (model_dir / "config.json").is_file():
        print(f"Error: {model_dir}: no config.json; give a fine-tuned save_pretrained folder", file=sys.stderr)
        return 2
    config = json.loads((model_dir / "config.json").read_text())
    labels = [config["id2label"][k] for k in sorted(config["id2label"], key=int)]
    picked = read_texts(args.data, n_real, args.quick)
    texts, languages, calibration, validation, source = (
        picked.real,
        picked.languages,
        picked.calibration,
        picked.validation,
        picked.source,
    )
    setup.real_texts, setup.real_source = len(texts), source
    gold = [labels.index(g) for g in picked.labels] if set(picked.labels) <= set(labels) else None

    engines = [torch_engine(model_dir, labels, args.threads)]
    have_optimum = importlib.util.find_spec("optimum.onnxruntime") is not None and not args.no_optimum
    if have_optimum:
        engines += optimum_onnx_engines(model_dir, work, labels, args.threads, flags, args.rebuild)
        if importlib.util.find_spec("optimum.intel") is not None and not args.quick:
            try:
                engines.append(
                    optimum_openvino_engine(model_dir, work, labels, args.threads, calibration, args.rebuild)
                )
            except Exception as exc:  # optimum-intel across versions: report, keep going
                setup.skipped.append(f"optimum openvino int8: {str(exc).splitlines()[0]}")
    else:
        setup.skipped.append("Optimum: not installed (pip install -e '.[optimum]') or --no-optimum")
    ours, built = edgeptm_engines(
        model_dir,
        work,
        args.threads,
        calibration,
        validation,
        args.rebuild,
        edgeptm_variants(args.quick, args.with_s8),
        setup.skipped,
    )
    engines += ours
    for student in args.student:
        engines += student_engines(student.resolve(), work, args.threads, calibration, validation, args, setup, built)

    from edgeptm.encoding import Encoder

    encoder = Encoder(model_dir / "tokenizer.json", SEQ)
    inputs = {"b1x128": fixed_batch(encoder, texts, 1), "b8x128": fixed_batch(encoder, texts, 8)}
    results: dict[str, list[Row]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for setting in settings:
            timed = [e for e in engines if setting == "real-text" or not e.real_text_only]
            log(f"timing {setting}: {rounds} rounds x {len(timed)} engines")
            call = on_texts(texts) if setting == "real-text" else on_batch(inputs[setting])
            times = time_rounds(timed, call, rounds, per_round[setting])
            outputs = {e.name: np.asarray(call(e), dtype=np.float32) for e in timed}
            rows = summarize(timed, times)
            for row in rows:
                fidelity(row, outputs[row.engine], outputs["torch fp32"])
                if setting == "real-text" and gold is not None and args.model is not None:
                    f1_drops(row, outputs[row.engine], outputs["torch fp32"], gold, languages, len(labels))
            results[setting] = rows
            log(table(setting, rows, False) + "\n")  # on stderr at once: a long run interrupted keeps what it did
    for e in engines:
        e.close()
    setup.load_after = loadavg()
    sorted_tokens, plain_tokens = padded_tokens(encoder, texts, True), padded_tokens(encoder, texts, False)

    print(f"## edgeptm vs Optimum: {setup.model}\n")
    print(f"- machine: {cpu}; threads {args.threads}; {rounds} interleaved rounds")
    print("- CPU flags: " + ", ".join(f"{k.upper()} {'yes' if v else 'no'}" for k, v in flags.items()))
    print(f"- load average (1/5/15 min): before {setup.load_before}, after {setup.load_after}")
    print("- " + ", ".join(f"{k} {v}" for k, v in setup.libraries.items()))
    print(
        f"- real text: {len(texts)} test texts of {source}, sampled evenly across languages, batches of {REAL_BATCH}; "
        f"positions computed: {sorted_tokens} length-sorted vs {plain_tokens} in order "
        f"({100 * (1 - sorted_tokens / plain_tokens):.0f}% less padding)"
    )
    for variant, info in built.items():
        if "weights" in info:
            print(f"- {variant}: int8 weights {info['weights']['chosen']}: {info['weights']['reason']}")
        for w in info.get("warnings", []):
            print(f"- {variant}: warning: {w}")
    for s in setup.skipped:
        print(f"- skipped: {s}")
    print(
        "\n× Optimum int8: its median over this one's (above 1 is faster); paired: the median of that ratio "
        "within each round. max |Δlogit| and agreement: vs torch fp32 on the same inputs.\n"
    )
    for setting in settings:
        print(table(setting, results[setting], setting == "real-text" and gold is not None and args.model is not None))
        print()
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "setup": asdict(setup),
                    "variants": built,
                    "padded_tokens": {"sorted": sorted_tokens, "in_order": plain_tokens},
                    "results": {k: [asdict(r) for r in v] for k, v in results.items()},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
