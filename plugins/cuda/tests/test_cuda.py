"""The CUDA backend. Without a GPU it is unavailable with the reason and never runs on CPU; the
`gpu` tests (scripts/gpu-check.sh) compare fp32 with fp16 on the same model on a real GPU."""

from __future__ import annotations

import numpy as np
import pytest

from edgeptm.errors import BackendError
from edgeptm.manifest import Manifest

pytest.importorskip("edgeptm_cuda", reason="edgeptm-cuda is not installed")

from edgeptm_cuda.backend import CudaBackend, gpus_present  # noqa: E402

no_gpu = pytest.mark.skipif(gpus_present() > 0, reason="this machine has an NVIDIA GPU")


@no_gpu
def test_unavailable_without_a_gpu_with_the_reason():
    status = CudaBackend().availability()
    assert not status.available
    assert status.reason == "no NVIDIA GPU (/proc/driver/nvidia/gpus is absent or empty)"
    assert status.hint == "run on a machine with an NVIDIA GPU and driver"


@no_gpu
def test_never_falls_back_to_cpu(plugins, tmp_path):
    with pytest.raises(BackendError, match="backend 'cuda' is unavailable: no NVIDIA GPU"):
        plugins.available_backend("cuda")
    manifest = Manifest(backend="cuda", precision="fp32", labels=["a", "b"], max_length=8, files=[])
    for device in ("cpu", "cuda"):
        with pytest.raises(
            BackendError, match=f"device '{device}' is not available to backend 'cuda' here \\(present: none\\)"
        ):
            CudaBackend().load(tmp_path, manifest, device=device)


def test_cpu_torch_build_is_detected(monkeypatch, tmp_path):
    import importlib.util

    from edgeptm_cuda import backend as cuda

    version = tmp_path / "torch" / "version.py"
    version.parent.mkdir()
    spec = importlib.util.spec_from_file_location("torch", version.parent / "__init__.py")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    for text, expected in (
        ("cuda: Optional[str] = None\n", None),
        ("cuda: Optional[str] = '12.8'\n", "12.8"),
        ("cuda = '13.0'\n", "13.0"),
    ):
        version.write_text(text)
        assert cuda.torch_cuda_build() == expected


@pytest.mark.gpu
@pytest.mark.skipif(not gpus_present(), reason="no NVIDIA GPU here; scripts/gpu-check.sh runs this on one")
def test_fp16_matches_fp32_on_the_same_model(edgeptm_kit, capsys):
    backend = edgeptm_kit.plugins.available_backend("cuda")
    texts = edgeptm_kit.texts()
    fp32 = edgeptm_kit.predict(edgeptm_kit.runner(backend, "fp32"), texts)
    reference = edgeptm_kit.predict(edgeptm_kit.reference, texts)
    rows = []
    for precision in backend.precisions():
        got = edgeptm_kit.predict(edgeptm_kit.runner(backend, precision), texts)
        diff = float(np.abs(got - fp32).max())
        agree = float(np.mean(got.argmax(-1) == fp32.argmax(-1)))
        rows.append(f"cuda {precision} vs cuda fp32: max |Δlogit| {diff:.3g}, agreement {agree:.1%}")
        assert diff < 0.1 and agree >= 0.95
    rows.append(f"cuda fp32 vs torch CPU fp32: max |Δlogit| {float(np.abs(fp32 - reference).max()):.3g}")
    with capsys.disabled():
        print("\n" + "\n".join(rows))
    assert float(np.abs(fp32 - reference).max()) < 1e-4
