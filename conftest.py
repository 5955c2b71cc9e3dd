"""Shared fixtures: tiny models built in the test session itself, no downloads."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["EDGEPTM_CACHE"] = str(tmp_path_factory.mktemp("edgeptm-cache"))


@pytest.fixture(scope="session")
def plugins():
    from edgeptm.plugins import load_plugins

    return load_plugins()


@pytest.fixture(scope="session")
def sample():
    from edgeptm import data

    return {split: data.load("builtin:sample", split=split) for split in ("train", "eval", "test")}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    """A random-init 2-layer BERT with a WordPiece vocab trained on the sample."""
    from edgeptm.train.tinymodel import build_model

    return build_model(tmp_path_factory.mktemp("models") / "tiny-base", sample["train"].texts, vocab_size=2000)


@pytest.fixture(scope="session")
def finetuned(tmp_path_factory: pytest.TempPathFactory, tiny_base: Path, sample) -> Path:
    """``tiny_base`` fine-tuned for a few epochs on the sample (seconds on 2 cores)."""
    from edgeptm.train.finetune import FinetuneOptions, finetune

    out = tmp_path_factory.mktemp("models") / "finetuned"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        finetune(
            str(tiny_base),
            sample["train"],
            sample["eval"],
            out,
            FinetuneOptions(epochs=4, learning_rate=1e-3, batch_size=32, max_length=64),
            test=sample["test"],
            progress=False,
            log=lambda m: None,
        )
    return out


@pytest.fixture(scope="session")
def onnx_fp32(tmp_path_factory: pytest.TempPathFactory, plugins, finetuned: Path, sample) -> Path:
    from edgeptm import deploy

    out = tmp_path_factory.mktemp("artifacts") / "onnx-fp32"
    deploy.export(plugins, "onnx", finetuned, out, validation_texts=sample["eval"].texts)
    return out


@pytest.fixture(scope="session")
def onnx_int8(tmp_path_factory: pytest.TempPathFactory, plugins, onnx_fp32: Path, sample) -> Path:
    from edgeptm import deploy

    out = tmp_path_factory.mktemp("artifacts") / "onnx-int8"
    # The fixture model is barely trained (nearly tied logits), so its int8's top-1 agreement is noise
    # (tests/deploy/test_deploy.py::test_dynamic_int8_flips_only_near_ties): no gate here; the gate has its own tests.
    deploy.quantize(
        plugins,
        onnx_fp32,
        out,
        precision="int8",
        validation_texts=sample["eval"].texts,
        gate=deploy.QualityGate(min_agreement=0.0, max_drop=100.0),
    )
    return out


@pytest.fixture(scope="session")
def umsab() -> Path:
    """The UMSAB sentiment folder from the shared data, or a skip saying it's absent."""
    root = SHARED_DATA / "umsab" / "data" / "sentiment"
    if not root.is_dir():
        pytest.skip(f"{root} is absent (shared data not mounted)")
    return root


@pytest.fixture(scope="session")
def cli():
    """The ``edgeptm`` click group with every command registered, as ``main()`` does."""
    from edgeptm.cli import cli as group
    from edgeptm.cli import register_all

    return register_all(group)
