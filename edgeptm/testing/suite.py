"""The conformance suite: subclass :class:`BackendConformance` in a test module to run it.

```python
from edgeptm.testing import BackendConformance

class TestMyBackend(BackendConformance):
    backends = ["mybackend"]
```
"""

from __future__ import annotations

import shutil
import warnings
from typing import Any, ClassVar

import numpy as np
import pytest

from edgeptm.backend import Availability, Backend
from edgeptm.encoding import TruncationWarning
from edgeptm.errors import BackendError, EdgeptmError

LONG_TEXT = "The hotel was clean and the staff were friendly, but the breakfast was cold. " * 40


def require_available(backend: Backend) -> None:
    status = backend.availability()
    if not status.available:
        pytest.skip(f"backend {backend.name!r} is unavailable here: {status.reason}")


class BackendConformance:
    """Parametrised tests every backend passes, per backend and per precision it declares.

    ``backends``: the backend names to test (``None``: ``--edgeptm-backend``/``edgeptm_backends``).
    ``device``: the device to test on (``None``: ``--edgeptm-device``/``edgeptm_device``, else the
    backend's default). Tests of an unavailable backend are skipped with its reason, except
    :meth:`test_availability_reports_a_reason`, which checks that reason.
    """

    backends: ClassVar[list[str] | None] = None
    device: ClassVar[str | None] = None

    # -- the backend as a whole -------------------------------------------------------------

    def test_registered_through_entry_point(self, conformance_backend: Backend, edgeptm_kit: Any) -> None:
        from pydantic import BaseModel

        from edgeptm.plugins import ENTRY_POINT_GROUP

        backend = conformance_backend
        assert isinstance(backend, Backend)
        assert backend.name and backend.summary, "set `name` and a one-line `summary`"
        assert backend.install_hint, "set `install_hint` (shown when the backend is unavailable)"
        assert issubclass(backend.Options, BaseModel)
        assert backend.Options.model_config.get("extra") == "forbid", "Options must forbid unknown keys"
        plugin = next(name for name, impls in _hook_owners(edgeptm_kit.plugins).items() if backend.name in impls)
        assert plugin in {ep.name for ep in _entry_points(ENTRY_POINT_GROUP)}, (
            f"backend {backend.name!r} comes from {plugin!r}, not an `{ENTRY_POINT_GROUP}` entry point"
        )
        assert backend.export_precision in backend.precisions()
        assert set(backend.eval_data_precisions) <= set(backend.precisions())

    def test_availability_reports_a_reason(self, conformance_backend: Backend, edgeptm_kit: Any) -> None:
        status = conformance_backend.availability()
        assert isinstance(status, Availability)
        assert isinstance(status.reason, str) and status.reason.strip(), "availability needs a reason"
        if status.available:
            return
        with pytest.raises(BackendError) as caught:
            edgeptm_kit.plugins.available_backend(conformance_backend.name)
        message = str(caught.value)
        assert status.reason in message and "\n" not in message
        assert (status.hint or conformance_backend.install_hint) in message

    def test_devices_are_listed(self, conformance_backend: Backend, edgeptm_kit: Any) -> None:
        require_available(conformance_backend)
        devices = conformance_backend.devices()
        assert devices and all(isinstance(d, str) and d for d in devices)
        if edgeptm_kit.device:
            conformance_backend.check_device(edgeptm_kit.device)

    def test_unknown_precision_is_a_clear_error(self, conformance_backend: Backend, edgeptm_kit: Any, tmp_path) -> None:
        from edgeptm import deploy

        require_available(conformance_backend)
        with pytest.raises(BackendError, match="int3.*supported"):
            conformance_backend.check_precision("int3")
        artifact = edgeptm_kit.artifact(conformance_backend, conformance_backend.export_precision)
        out = tmp_path / "int3"
        with pytest.raises(BackendError, match="int3"):
            deploy.quantize(edgeptm_kit.plugins, artifact, out, precision="int3", calibration=edgeptm_kit.texts()[:8])
        assert not out.exists(), "a failed quantize must leave nothing behind"

    def test_absent_device_is_a_clear_error(self, conformance_backend: Backend, edgeptm_kit: Any) -> None:
        from edgeptm.manifest import read_manifest

        require_available(conformance_backend)
        artifact = edgeptm_kit.artifact(conformance_backend, conformance_backend.export_precision)
        with pytest.raises(BackendError, match="no-such-device") as caught:
            conformance_backend.load(artifact, read_manifest(artifact), device="no-such-device")
        assert "\n" not in str(caught.value)

    # -- every precision the backend declares -----------------------------------------------

    def test_parity_with_torch(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any) -> None:
        backend, precision = conformance_case
        runner = edgeptm_kit.runner(backend, precision)
        texts = edgeptm_kit.texts()
        want = edgeptm_kit.predict(edgeptm_kit.reference, texts)
        got = edgeptm_kit.predict(runner, texts)
        _check(backend, precision, got, want, f"{backend.name} {precision} vs torch fp32 on {len(texts)} texts")

    def test_manifest_describes_the_artifact(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any) -> None:
        from edgeptm.manifest import read_manifest

        backend, precision = conformance_case
        artifact = edgeptm_kit.artifact(backend, precision)
        manifest = read_manifest(artifact)
        assert (manifest.backend, manifest.precision) == (backend.name, precision)
        assert manifest.labels == edgeptm_kit.reference.labels
        assert manifest.files and all((artifact / f).is_file() for f in manifest.files)
        assert (artifact / "tokenizer.json").is_file(), "an artifact carries its tokenizer"

    @pytest.mark.parametrize("script", ["latin", "cyrillic", "arabic", "devanagari", "cjk"])
    def test_script(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any, script: str) -> None:
        backend, precision = conformance_case
        texts = edgeptm_kit.texts(script)
        runner = edgeptm_kit.runner(backend, precision)
        ids = runner.encode(texts)["input_ids"]
        unk = runner.encoder.tokenizer.token_to_id("[UNK]")
        assert np.mean(ids[ids != runner.encoder.pad_id] == unk) < 0.2, f"{script} text is mostly [UNK]"
        want = edgeptm_kit.predict(edgeptm_kit.reference, texts)
        got = edgeptm_kit.predict(runner, texts)
        _check(backend, precision, got, want, f"{backend.name} {precision} on {len(texts)} {script} texts")

    def test_mixed_lengths_match_one_by_one(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any) -> None:
        backend, precision = conformance_case
        runner = edgeptm_kit.runner(backend, precision)
        texts = sorted(edgeptm_kit.texts(), key=len)
        batch = [texts[0], texts[-1], texts[len(texts) // 2], "ok", texts[1]]
        lengths = runner.encode(batch)["attention_mask"].sum(1)
        assert len(set(lengths.tolist())) >= 4, "the batch should mix lengths"
        together = runner.predict(batch)
        alone = np.concatenate([runner.predict([t]) for t in batch])
        want = edgeptm_kit.predict(edgeptm_kit.reference, batch)
        _check(backend, precision, together, want, "a mixed-length batch vs torch")
        _check(backend, precision, alone, want, "the same texts one by one vs torch")
        tolerance = backend.tolerance(precision)
        if tolerance is not None:
            diff = float(np.abs(together - alone).max())
            assert diff <= tolerance, f"padding changes logits by {diff:.3g}"

    def test_batch_of_one(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any) -> None:
        backend, precision = conformance_case
        runner = edgeptm_kit.runner(backend, precision)
        text = edgeptm_kit.texts()[0]
        got = runner.predict([text])
        assert got.shape == (1, len(runner.labels))
        _check(backend, precision, got, edgeptm_kit.reference.predict([text]), "a batch of one")
        with pytest.raises(TypeError):
            runner.predict(text)  # a bare string is not a batch

    def test_empty_batch(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any) -> None:
        backend, precision = conformance_case
        runner = edgeptm_kit.runner(backend, precision)
        empty = runner.encode(["x"])
        empty = {k: v[:0] for k, v in empty.items()}
        batch: object
        for batch in ([], empty):
            try:
                got = runner.predict(batch)
            except EdgeptmError:
                continue  # a clean, one-line error is fine too
            assert got.shape == (0, len(runner.labels)) and got.dtype == np.float32

    def test_long_input_is_truncated_with_a_warning(
        self, conformance_case: tuple[Backend, str], edgeptm_kit: Any
    ) -> None:
        backend, precision = conformance_case
        runner = edgeptm_kit.runner(backend, precision)
        with pytest.warns(TruncationWarning):
            got = runner.predict([LONG_TEXT, "short"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            want = edgeptm_kit.reference.predict([LONG_TEXT, "short"])
        _check(backend, precision, got, want, "input longer than max_length")

    def test_save_reload_round_trip(self, conformance_case: tuple[Backend, str], edgeptm_kit: Any, tmp_path) -> None:
        from edgeptm.manifest import read_manifest

        backend, precision = conformance_case
        artifact = edgeptm_kit.artifact(backend, precision)
        moved = shutil.copytree(artifact, tmp_path / "moved")
        assert read_manifest(moved) == read_manifest(artifact)
        texts = edgeptm_kit.texts()[:24]
        before = edgeptm_kit.predict(edgeptm_kit.runner(backend, precision), texts)
        with edgeptm_kit.load(backend, moved) as reloaded:
            after = edgeptm_kit.predict(reloaded, texts)
        np.testing.assert_allclose(after, before, rtol=0, atol=1e-5, err_msg="reloaded artifact predicts differently")


def _check(backend: Backend, precision: str, got: np.ndarray, want: np.ndarray, what: str) -> None:
    from edgeptm.testing.kit import assert_matches, reference_bound

    assert_matches(got, want, reference_bound(backend, precision, want), backend.tolerance(precision) is None, what)


def _hook_owners(plugins: Any) -> dict[str, set[str]]:
    """Plugin name -> names of the backends its ``edgeptm_register_backends`` registers."""
    owners: dict[str, set[str]] = {}
    for impl in plugins.pm.hook.edgeptm_register_backends.get_hookimpls():
        names: set[str] = set()
        try:
            impl.function(register=lambda b, names=names: names.add(b.name))
        except Exception:
            continue
        owners[impl.plugin_name] = names
    return owners


def _entry_points(group: str) -> Any:
    from importlib.metadata import entry_points

    return entry_points(group=group)
