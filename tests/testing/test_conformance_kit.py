"""The conformance kit itself: it fails broken backends, skips unavailable ones with the reason,
refuses to run with no backend named, and runs from the command line with --pyargs."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

BROKEN = '''
import warnings

import numpy as np
from edgeptm import hookimpl
from edgeptm.backend import Availability
from edgeptm_numpy.backend import NumpyBackend, NumpyRunner


class MaskBlindRunner(NumpyRunner):
    """Ignores the attention mask, so padding changes the logits."""

    def run(self, encoded):
        return super().run({**encoded, "attention_mask": np.ones_like(encoded["attention_mask"])})


class MaskBlind(NumpyBackend):
    name = "maskblind"

    def load(self, artifact, manifest, *, device="cpu", threads=None):
        self.check_device(device)
        return MaskBlindRunner(artifact, manifest)


class Crashy(NumpyBackend):
    name = "crashy"

    def load(self, artifact, manifest, *, device="cpu", threads=None):
        runner = super().load(artifact, manifest, device=device, threads=threads)
        runner.predict = lambda batch: np.asarray(batch)[0]  # crashes on an empty batch
        return runner


class Silent(NumpyBackend):
    name = "silent"

    def load(self, artifact, manifest, *, device="cpu", threads=None):
        runner = super().load(artifact, manifest, device=device, threads=threads)
        encode = runner.encode

        def quiet(texts, *, pad_to=None):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return encode(texts, pad_to=pad_to)

        runner.encode = quiet  # truncates without telling anyone
        return runner


class Absent(NumpyBackend):
    name = "absent"
    install_hint = "pip install edgeptm-absent"

    def availability(self):
        return Availability(False, "the absent runtime is not installed")


@hookimpl
def edgeptm_register_backends(register):
    for backend in (MaskBlind(), Crashy(), Silent(), Absent()):
        register(backend)
'''

CONFTEST = """
import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def edgeptm_model():
    return Path(os.environ["KIT_MODEL"])
"""


@pytest.fixture
def kit_dir(pytester: pytest.Pytester, edgeptm_model, monkeypatch) -> pytest.Pytester:
    monkeypatch.setenv("KIT_MODEL", str(edgeptm_model))
    monkeypatch.setenv("EDGEPTM_PLUGINS", "torch,numpy,broken")
    pytester.makepyfile(broken=BROKEN)
    # An installed distribution, as far as importlib.metadata can tell: the entry point registers it.
    info = pytester.mkdir("broken-0.0.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[edgeptm]\nbroken = broken\n")
    pytester.makeconftest(CONFTEST)
    pytester.syspathinsert()
    return pytester


def _run(pytester: pytest.Pytester, backends: list[str], *args: str):
    pytester.makepyfile(
        test_suite=textwrap.dedent(f"""
            from edgeptm.testing import BackendConformance

            class TestSuite(BackendConformance):
                backends = {backends!r}
        """)
    )
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", *args)


def test_a_mask_blind_runner_fails(kit_dir):
    result = _run(kit_dir, ["maskblind"], "-k", "fp32 and (mixed or parity)")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*maskblind fp32 artifact disagrees with the torch reference*"])


def test_silent_truncation_fails(kit_dir):
    result = _run(kit_dir, ["silent"], "-k", "fp32 and long_input")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*DID NOT WARN*TruncationWarning*"])


def test_a_runner_crashing_on_an_empty_batch_fails(kit_dir):
    result = _run(kit_dir, ["crashy"], "-k", "fp32 and empty")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*IndexError*"])


def test_an_unavailable_backend_is_skipped_with_its_reason(kit_dir):
    result = _run(kit_dir, ["absent"], "-rs", "-k", "availability or parity")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*backend 'absent' is unavailable here: the absent runtime is not installed*"])


def test_an_unregistered_backend_fails(kit_dir):
    result = _run(kit_dir, ["nosuch"], "-k", "availability")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*backend 'nosuch' is not registered*is its distribution installed?*"])


def test_no_backend_named_is_a_usage_error(kit_dir):
    result = kit_dir.runpytest_inprocess("-p", "no:cacheprovider", "--pyargs", "edgeptm.testing.conformance")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*no backend to test*"])


def test_pyargs_with_a_backend_option_runs_the_suite(kit_dir):
    result = kit_dir.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::DeprecationWarning",
        "--pyargs",
        "edgeptm.testing.conformance",
        "--edgeptm-backend",
        "numpy",
        "-k",
        "fp32 and (parity or cjk or empty)",
    )
    result.assert_outcomes(passed=3)
