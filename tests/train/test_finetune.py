"""The fine-tuning engine: output folder, per-language metrics, freezing, resume, DDP, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from edgeptm.errors import ModelError
from edgeptm.train.finetune import FinetuneOptions, finetune

FAST = FinetuneOptions(epochs=2, learning_rate=1e-3, batch_size=32, max_length=32)


def quiet_finetune(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return finetune(*args, progress=False, log=kwargs.pop("log", lambda m: None), **kwargs)


def test_output_is_a_standard_save_pretrained_folder(finetuned: Path, sample) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(finetuned)
    tokenizer = AutoTokenizer.from_pretrained(finetuned)
    assert model.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}
    assert model.config.label2id == {"negative": 0, "neutral": 1, "positive": 2}
    with torch.no_grad():
        logits = model(**tokenizer(["Das Essen war gut."], return_tensors="pt")).logits
    assert logits.shape == (1, 3)
    assert not (finetuned.parent / "finetuned.checkpoints").exists()


def test_metrics_json_overall_and_per_language(finetuned: Path, sample) -> None:
    metrics = json.loads((finetuned / "metrics.json").read_text())
    langs = sample["train"].language_set()
    for split, n in (("eval", 120), ("test", 144)):
        assert metrics[split]["overall"]["n"] == n
        assert sorted(metrics[split]["per_language"]) == langs
        for block in [metrics[split]["overall"], *metrics[split]["per_language"].values()]:
            assert 0.0 <= block["macro_f1"] <= 1.0 and 0.0 <= block["accuracy"] <= 1.0
    assert metrics["train"]["examples"] == 480 and metrics["train"]["world_size"] == 1
    assert metrics["labels"] == ["negative", "neutral", "positive"]


def test_freeze_layers_tunes_only_the_top(tmp_path: Path, tiny_base: Path, sample) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "frozen"
    metrics = quiet_finetune(
        str(tiny_base), sample["train"], sample["eval"], out, FAST.model_copy(update={"freeze_layers": 1})
    )
    before, after = load_file(tiny_base / "model.safetensors"), load_file(out / "model.safetensors")
    emb = "bert.embeddings.word_embeddings.weight"
    assert (before[emb] == after[emb]).all()
    layer0 = "bert.encoder.layer.0.attention.self.query.weight"
    layer1 = "bert.encoder.layer.1.attention.self.query.weight"
    assert (before[layer0] == after[layer0]).all()
    assert not (before[layer1] == after[layer1]).all()
    full = json.loads((tiny_base / "config.json").read_text())
    assert metrics["train"]["trainable_parameters"] < full["vocab_size"] * full["hidden_size"]


def _interrupt_at(epoch: int):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_epoch_end(self, args, state, control, **kwargs):
            if state.epoch >= epoch:
                raise KeyboardInterrupt

    return Interrupt()


def _sha(path: Path) -> str:
    from edgeptm.fsutil import file_sha256

    return file_sha256(path / "model.safetensors")


def test_resume_continues_an_interrupted_run(tmp_path: Path, tiny_base: Path, sample) -> None:
    """A resumed run gives the very model of an uninterrupted one; a damaged latest checkpoint is skipped."""
    out = tmp_path / "run"
    work = tmp_path / "run.checkpoints"
    options = FAST.model_copy(update={"epochs": 3})
    with pytest.raises(KeyboardInterrupt):
        quiet_finetune(str(tiny_base), sample["train"], sample["eval"], out, options, callbacks=[_interrupt_at(3)])
    assert not out.exists(), "an interrupted run must not leave a half-written output"
    assert sorted(p.name for p in work.glob("checkpoint-*")) == ["checkpoint-15", "checkpoint-30"]
    (work / "checkpoint-30" / "trainer_state.json").unlink()  # as a kill in the middle of saving leaves it
    messages: list[str] = []
    metrics = quiet_finetune(
        str(tiny_base), sample["train"], sample["eval"], out, options, resume=True, log=messages.append
    )
    assert messages[0] == (
        f"warning: {work / 'checkpoint-30'} is damaged (trainer_state.json is missing); resuming from checkpoint-15"
    )
    rest = [m for m in messages[1:] if not m.startswith("warning: ")]  # the tiny model may predict one class
    assert [m.split(":")[0] for m in rest] == ["epoch 2", "epoch 3"], "training resumes after epoch 1"
    assert metrics["train"]["steps"] == 45 and metrics["train"]["epochs"] == 3.0
    assert (out / "model.safetensors").is_file() and not work.exists()
    whole = quiet_finetune(str(tiny_base), sample["train"], sample["eval"], tmp_path / "whole", options)
    assert _sha(out) == _sha(tmp_path / "whole"), "resuming changes nothing in the model"
    assert whole["eval"] == metrics["eval"]


def test_resume_refuses_the_checkpoints_of_another_config(tmp_path: Path, tiny_base: Path, sample, cli) -> None:
    """A changed learning rate never continues a stale checkpoint: refused, or (asked to) started over."""
    from click.testing import CliRunner

    out = tmp_path / "run"
    work = tmp_path / "run.checkpoints"
    with pytest.raises(KeyboardInterrupt):
        quiet_finetune(str(tiny_base), sample["train"], sample["eval"], out, FAST, callbacks=[_interrupt_at(2)])
    checkpoint = work / "checkpoint-15"
    changed = FAST.model_copy(update={"learning_rate": 2e-3})
    with pytest.raises(ModelError) as err:
        quiet_finetune(str(tiny_base), sample["train"], sample["eval"], out, changed, resume=True)
    assert str(err.value) == (
        f"--resume: {work} holds a run with a different config (learning_rate 0.001 -> 0.002); "
        "resume with the original options, or pass --force to start over"
    )
    assert checkpoint.is_dir(), "a refused resume changes nothing"
    r = CliRunner().invoke(
        cli,
        ["finetune", "--model", str(tiny_base), "--train", "builtin:sample", "--eval", "builtin:sample"]
        + ["--out", str(out), "--epochs", "2", "--lr", "1e-3", "--batch-size", "32", "--max-length", "32"]
        + ["--languages", "en", "--resume", "--no-progress"],
    )
    error = r.stderr.splitlines()[-1]
    assert (
        r.exit_code == 1 and error.startswith("Error: --resume: ") and "different config (data eval, train);" in error
    )
    assert "Traceback" not in r.output and checkpoint.is_dir()

    (checkpoint / "model.safetensors").write_bytes(b"truncated")
    messages: list[str] = []
    quiet_finetune(str(tiny_base), sample["train"], sample["eval"], out, FAST, resume=True, log=messages.append)
    assert messages[0] == (
        f"warning: {checkpoint} is damaged (model.safetensors changed since it was written); starting over"
    )
    assert messages[1].startswith("epoch 1:")
    with pytest.raises(KeyboardInterrupt):
        quiet_finetune(
            str(tiny_base), sample["train"], sample["eval"], out, FAST, callbacks=[_interrupt_at(2)], force=True
        )
    messages.clear()
    quiet_finetune(
        str(tiny_base),
        sample["train"],
        sample["eval"],
        out,
        changed,
        resume=True,
        on_change="restart",
        force=True,
        log=messages.append,
    )
    assert messages[0] == (
        f"{work} holds checkpoints of a different config (learning_rate 0.001 -> 0.002); starting over"
    )
    assert [m.split(":")[0] for m in messages[1:] if not m.startswith("warning: ")] == ["epoch 1", "epoch 2"]


def test_resume_without_checkpoint_starts_over(tmp_path: Path, tiny_base: Path, sample) -> None:
    messages: list[str] = []
    quiet_finetune(
        str(tiny_base),
        sample["train"],
        sample["eval"],
        tmp_path / "m",
        FAST.model_copy(update={"epochs": 1}),
        resume=True,
        log=messages.append,
    )
    messages = [m for m in messages if not m.startswith("warning: ")]  # the tiny model may predict one class
    assert messages[0] == f"no checkpoint in {tmp_path / 'm.checkpoints'}; starting from the beginning"
    assert messages[1].startswith("epoch 1: eval macro-F1 ") and len(messages) == 2


def test_unreachable_hub_id_suggests_a_local_path(tmp_path: Path, sample) -> None:
    with pytest.raises(ModelError) as err:
        quiet_finetune("no-such-org/no-such-model", sample["train"], sample["eval"], tmp_path / "x", FAST)
    assert str(err.value) == (
        "could not fetch 'no-such-org/no-such-model' from the Hugging Face hub (offline, or no such model); "
        "pass a local save_pretrained folder with --model, or builtin:tiny-multilingual"
    )


def test_too_many_frozen_layers(tmp_path: Path, tiny_base: Path, sample) -> None:
    with pytest.raises(ModelError, match=r"^--freeze-layers 5: the model has only 2 encoder layers$"):
        quiet_finetune(
            str(tiny_base),
            sample["train"],
            sample["eval"],
            tmp_path / "x",
            FAST.model_copy(update={"freeze_layers": 5}),
        )


@pytest.mark.slow
def test_torchrun_ddp_on_cpu(tmp_path: Path, tiny_base: Path) -> None:
    """Two processes with DDP (gloo) through torchrun; rank 0 writes the output."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "edgeptm",
        "finetune",
        "--model",
        str(tiny_base),
        "--train",
        "builtin:sample",
        "--eval",
        "builtin:sample",
        "--out",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--max-length",
        "32",
        "--no-progress",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["world_size"] == 2
    # 480 examples / (16 per device * 2 devices) = 15 optimizer steps per epoch
    assert metrics["train"]["steps"] == 15
    assert sorted(metrics["eval"]["per_language"]) == ["ar", "de", "en", "es", "fr", "hi", "ru", "zh"]
    assert metrics["eval"]["overall"]["n"] == 120
