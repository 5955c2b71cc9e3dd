"""The XLA backend and fine-tuning on an XLA device. `make test-xla` runs these in .venv-xla
(torch 2.9.0 + torch-xla 2.9.0) on the XLA CPU device (PJRT_DEVICE=CPU); elsewhere they skip."""

from __future__ import annotations

import importlib.util
import os
import warnings

import numpy as np
import pytest

from edgeptm.testing import BackendConformance

if importlib.util.find_spec("torch_xla") is not None:
    # torch's autograd engine sizes its per-device queues at the first backward pass; the kit's
    # model is trained on CPU first, so the XLA device must exist by then or XLA backward asserts.
    import torch_xla

    torch_xla.device()

if importlib.util.find_spec("torch_xla") is None and os.environ.get("EDGEPTM_REQUIRE_XLA"):
    raise RuntimeError("EDGEPTM_REQUIRE_XLA is set but torch-xla is not installed: run `make test-xla`")

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch_xla") is None,
    reason="torch-xla is not installed here; `make test-xla` runs these in .venv-xla",
)


class TestXlaConformance(BackendConformance):
    backends = ["xla"]


def test_logits_match_eager_torch(edgeptm_kit, capsys):
    backend = edgeptm_kit.plugins.available_backend("xla")
    texts = edgeptm_kit.texts()
    got = edgeptm_kit.predict(edgeptm_kit.runner(backend, "fp32"), texts)
    want = edgeptm_kit.predict(edgeptm_kit.reference, texts)
    diff = float(np.abs(got - want).max())
    with capsys.disabled():
        print(f"\nxla fp32 vs eager torch: max |Δlogit| {diff:.3g} on {len(texts)} texts")
    assert diff < 1e-5


def test_buckets_bound_the_compiles(edgeptm_kit, capsys):
    backend = edgeptm_kit.plugins.available_backend("xla")
    runner = backend.load(edgeptm_kit.artifact(backend, "fp32"), _manifest(edgeptm_kit.artifact(backend, "fp32")))
    texts = sorted(edgeptm_kit.texts(), key=len)
    batches = [texts[i : i + size] for i, size in ((0, 1), (5, 3), (40, 5), (80, 7), (100, 13), (120, 24), (10, 30))]
    before = runner.stats()["compiles"]
    for batch in batches:
        runner.predict(batch)
    first = runner.stats()
    for batch in batches:  # the same shapes again: nothing new to compile
        runner.predict(batch)
    again = runner.stats()
    widths = {runner.encode(b)["input_ids"].shape[1] for b in batches}
    with capsys.disabled():
        print(
            f"\nxla inference: {len(batches)} batches of {len(widths)} distinct widths -> "
            f"{len(first['shapes'])} bucketed shapes, {first['compiles'] - before} compiles"
        )
    assert set(s[1] for s in first["shapes"]) <= set(runner.seq_buckets)
    assert first["compiles"] - before <= len(first["shapes"])
    assert again["compiles"] == first["compiles"]


def test_finetune_on_the_xla_device(tiny_base, sample, tmp_path, capsys):
    from edgeptm.train.finetune import FinetuneOptions, finetune

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = finetune(
            str(tiny_base),
            sample["train"],
            sample["eval"],
            tmp_path / "model",
            FinetuneOptions(epochs=2, learning_rate=1e-3, batch_size=32, max_length=64),
            progress=False,
            log=lambda m: None,
        )
    train = metrics["train"]
    report = train["xla"]
    with capsys.disabled():
        print(
            f"\nxla fine-tuning: {train['steps']} steps in {train['runtime_s']} s on {train['device']}; "
            f"first step {report['first_step_s']} s, median step {report['median_step_s']} s; "
            f"{report['compiles']} compiles ({report['compile_s']} s), {report['cached_compiles']} cache hits"
        )
    assert train["device"].startswith("xla")
    assert train["steps"] == 30 and report["steps_timed"] == 30
    assert report["compiles"] < train["steps"], "bucketing should keep compiles below one per step"
    assert (tmp_path / "model" / "model.safetensors").is_file()


def _manifest(path):
    from edgeptm.manifest import read_manifest

    return read_manifest(path)
