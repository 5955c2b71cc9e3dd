"""Plugin manager: entry points, allow/block lists, broken plugins reported by name."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeptm.plugins import load_plugins, reset_plugins

GOOD = """
from pathlib import Path
from edgeptm import hookimpl
from edgeptm.backend import Availability, Backend

class Echo(Backend):
    name = "echo"
    summary = "test backend"
    install_hint = "pip install edgeptm-echo"
    def availability(self): return Availability(False, "echo hardware not found")
    def devices(self): return ["cpu"]
    def precisions(self): return ["fp32"]
    def export(self, model_dir, out, *, options, max_length): raise AssertionError
    def load(self, artifact, manifest, *, device="cpu", threads=None): raise AssertionError

@hookimpl
def edgeptm_register_backends(register):
    register(Echo())
"""
RAISES = """
from edgeptm import hookimpl

@hookimpl
def edgeptm_register_backends(register):
    raise RuntimeError("boom")
"""
BROKEN = "import does_not_exist_anywhere\n"


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three third-party plugins installed through entry points: good, raising, unimportable."""
    for name, code in (("ep_good", GOOD), ("ep_raises", RAISES), ("ep_broken", BROKEN)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    dist = tmp_path / "edgeptm_fakes-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: edgeptm-fakes\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[edgeptm]\ngood = ep_good\nraises = ep_raises\nbroken = ep_broken\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    reset_plugins()


def test_builtin_backends_come_from_entry_points() -> None:
    plugins = load_plugins()
    names = {name for name, _ in plugins.pm.list_name_plugin()}
    assert {"torch", "onnx"} <= names
    assert {"torch", "onnx"} <= set(plugins.backends())


def test_broken_plugins_are_reported_by_name_and_the_rest_work(fake_plugins: Path) -> None:
    plugins = load_plugins()
    backends = plugins.backends()
    assert {"torch", "onnx", "echo"} <= set(backends)
    problems = {p.plugin: p.message for p in plugins.problems}
    assert problems["broken"] == "failed to load: ModuleNotFoundError: No module named 'does_not_exist_anywhere'"
    assert problems["raises"] == "edgeptm_register_backends raised RuntimeError: boom"


def test_allow_and_block_lists(fake_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEPTM_PLUGINS", "good,onnx")
    plugins = load_plugins()
    assert set(plugins.backends()) == {"echo", "onnx"} and plugins.problems == []
    monkeypatch.delenv("EDGEPTM_PLUGINS")
    monkeypatch.setenv("EDGEPTM_BLOCK_PLUGINS", "broken, raises")
    plugins = load_plugins()
    assert "echo" in plugins.backends() and plugins.problems == []


def test_unavailable_backend_error_names_reason_and_install_hint(fake_plugins: Path) -> None:
    from edgeptm.errors import BackendError

    with pytest.raises(BackendError) as err:
        load_plugins().available_backend("echo")
    assert (
        str(err.value)
        == "backend 'echo' is unavailable: echo hardware not found; install it with `pip install edgeptm-echo`"
    )


def test_backends_cli_table_and_json(fake_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeptm.cli import cli

    monkeypatch.setenv("EDGEPTM_PLUGINS", "good,raises,broken")
    reset_plugins()
    result = CliRunner().invoke(cli, ["backends"])
    assert result.exit_code == 0
    assert result.stdout == (
        "backend  available  devices  precisions  reason\n"
        "-------  ---------  -------  ----------  ----------------------------------------------------------\n"
        "echo     no         -        fp32        echo hardware not found; install: pip install edgeptm-echo\n"
    )
    assert result.stderr == (
        "warning: plugin 'broken': failed to load: ModuleNotFoundError: No module named 'does_not_exist_anywhere'\n"
        "warning: plugin 'raises': edgeptm_register_backends raised RuntimeError: boom\n"
    )
    reset_plugins()
    data = json.loads(CliRunner().invoke(cli, ["backends", "--json"]).stdout)
    assert data["backends"] == [
        {
            "name": "echo",
            "available": False,
            "reason": "echo hardware not found; install: pip install edgeptm-echo",
            "devices": [],
            "precisions": ["fp32"],
            "summary": "test backend",
        }
    ]
    assert [p["plugin"] for p in data["problems"]] == ["broken", "raises"]


def test_help_and_backends_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from edgeptm.cli import cli, main; "
        "from edgeptm.cli import register_all; register_all(cli); "
        "r = CliRunner().invoke(cli, ['backends']); assert r.exit_code == 0, r.output; "
        "CliRunner().invoke(cli, ['--help']); "
        "print(sorted(m for m in ('torch', 'transformers', 'onnxruntime', 'openvino', 'optimum', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
