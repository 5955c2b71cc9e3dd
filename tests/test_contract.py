"""The plugin contract: the top-level names, loaded lazily so `import edgeptm` stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import edgeptm


def test_contract_names_resolve_to_their_modules() -> None:
    from edgeptm import backend, manifest, stage

    assert edgeptm.Backend is backend.Backend
    assert edgeptm.QuantizeRequest is backend.QuantizeRequest
    assert edgeptm.Manifest is manifest.Manifest
    assert edgeptm.StageKind is stage.StageKind
    for name in edgeptm.__all__:
        assert getattr(edgeptm, name) is not None
    with pytest.raises(AttributeError):
        _ = edgeptm.NoSuchThing


def test_import_edgeptm_loads_no_heavy_library() -> None:
    code = (
        "import sys, edgeptm; "
        "print(','.join(sorted(m for m in ('numpy', 'pydantic', 'torch', 'onnxruntime', 'openvino') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
