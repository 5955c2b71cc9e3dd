"""Fixtures: the tiny bundle, built once per session with the runtime's own writer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tinymodels import TinyBundle, build_onnx_bundle


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyBundle:
    """The standard-operator onnx bundle (read-only: copy it before changing anything)."""
    return build_onnx_bundle(tmp_path_factory.mktemp("bundles") / "tiny")


@pytest.fixture
def tiny_copy(tiny: TinyBundle, tmp_path: Path) -> Path:
    """A private copy of the tiny bundle folder, free to tamper with."""
    return Path(shutil.copytree(tiny.path, tmp_path / "tiny"))
