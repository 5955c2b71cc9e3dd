"""The same recipe and seed give the same model: the quickstart's fine-tuning, run in two processes that each
build the built-in model (its WordPiece vocabulary included) from nothing, gives identical files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgeptm.fsutil import file_sha256

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_quickstart_finetune_gives_the_same_model_in_two_processes(tmp_path: Path) -> None:
    stage = yaml.safe_load((ROOT / "recipes" / "quickstart.yaml").read_text())["stages"][0]
    assert stage["stage"] == "finetune"
    options = {k: v for k, v in stage.items() if k != "stage"} | {"epochs": 1}  # one epoch keeps it cheap
    flags = {"early_stopping_patience": "patience"}
    args = [f"--{flags.get(k, k).replace('_', '-')}={v}" for k, v in options.items()]
    runs = []
    for i in (1, 2):
        # each process builds builtin:tiny-multilingual in its own cache: tokenizer training included
        env = {**os.environ, "EDGEPTM_CACHE": str(tmp_path / f"cache{i}")}
        command = [sys.executable, "-m", "edgeptm", "finetune", "--model", "builtin:tiny-multilingual"]
        command += ["--train", "builtin:sample", "--eval", "builtin:sample", "--out", str(tmp_path / f"m{i}")]
        runs.append(subprocess.Popen([*command, *args, "--no-progress"], env=env, stderr=subprocess.PIPE, text=True))
    for proc in runs:
        _, err = proc.communicate()
        assert proc.returncode == 0, err
    for name in ("model.safetensors", "tokenizer.json", "vocab.txt", "config.json"):
        assert file_sha256(tmp_path / "m1" / name) == file_sha256(tmp_path / "m2" / name), name
    metrics = [json.loads((tmp_path / f"m{i}" / "metrics.json").read_text()) for i in (1, 2)]
    assert metrics[0]["eval"] == metrics[1]["eval"]
