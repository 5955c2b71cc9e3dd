"""The conformance kit's session state: the model, the torch reference, and artifacts built once each."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeptm import data
from edgeptm.backend import Backend, Runner
from edgeptm.encoding import TruncationWarning
from edgeptm.plugins import Plugins

SCRIPTS = {
    "latin": ("en", "es", "fr", "de"),
    "cyrillic": ("ru",),
    "arabic": ("ar",),
    "devanagari": ("hi",),
    "cjk": ("zh",),
}
"""The scripts every backend is checked on, and the sample's languages written in each."""

LOSSY_RELATIVE_BOUND = 0.5
"""For a precision whose backend declares no tolerance (``None``): max |Δlogit| vs torch fp32
may be at most this fraction of the reference logits' range on the same texts."""
LOSSY_MARGIN_FACTOR = 2.0
"""...and every prediction whose reference top-2 margin exceeds this many times the max |Δlogit| must agree
with torch fp32 (a prediction nearer a tie may flip by rounding; one further from it may not). Counting plain
agreement instead would fail a correct int8 backend on a barely-trained test model whose logits are near ties."""


def reference_bound(backend: Backend, precision: str, reference: np.ndarray) -> float:
    """Max |Δlogit| allowed for ``precision`` against ``reference`` logits."""
    tolerance = backend.tolerance(precision)
    if tolerance is not None:
        return tolerance
    return LOSSY_RELATIVE_BOUND * float(reference.max() - reference.min())


def assert_matches(got: np.ndarray, want: np.ndarray, bound: float, lossy: bool, what: str) -> None:
    """``got`` logits match ``want`` within ``bound`` (and, for lossy precisions, mostly agree)."""
    assert got.shape == want.shape, f"{what}: logits of shape {got.shape}, expected {want.shape}"
    assert got.dtype == np.float32, f"{what}: logits are {got.dtype}, expected float32"
    assert np.isfinite(got).all(), f"{what}: non-finite logits"
    diff = float(np.abs(got - want).max()) if got.size else 0.0
    assert diff <= bound, f"{what}: max |Δlogit| {diff:.3g} > {bound:.3g}"
    if lossy and got.size and want.shape[-1] > 1:
        top2 = np.sort(want, axis=-1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > LOSSY_MARGIN_FACTOR * diff
        flipped = int(np.sum((got.argmax(-1) != want.argmax(-1)) & clear))
        assert not flipped, (
            f"{what}: {flipped} of {int(clear.sum())} predictions with a clear margin (> {LOSSY_MARGIN_FACTOR:g} × "
            f"max |Δlogit| {diff:.3g}) disagree with torch fp32"
        )


@dataclass
class Kit:
    """Everything the conformance tests share within one pytest session."""

    plugins: Plugins
    model: Path
    workdir: Path
    device: str | None = None
    _artifacts: dict[tuple[str, str], Path | BaseException] = field(default_factory=dict)
    _runners: dict[tuple[str, str], Runner] = field(default_factory=dict)
    _reference: Runner | None = None
    _splits: dict[str, data.Dataset] = field(default_factory=dict)

    def split(self, name: str) -> data.Dataset:
        if name not in self._splits:
            self._splits[name] = data.load("builtin:sample", split=name)
        return self._splits[name]

    def texts(self, script: str | None = None) -> list[str]:
        """Test texts (all, or those of one script), shortest and longest mixed."""
        test = self.split("test")
        keep = SCRIPTS[script] if script else None
        return [e.text for e in test.examples if keep is None or e.language in keep]

    @property
    def reference(self) -> Runner:
        """The model on the torch backend in fp32 on CPU: what every artifact is checked against."""
        if self._reference is None:
            from edgeptm.manifest import model_manifest

            torch = self.plugins.available_backend("torch")
            self._reference = torch.load(self.model, model_manifest(self.model), device="cpu")
        return self._reference

    def predict(self, runner: Runner, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Logits in length-sorted batches of texts (:meth:`Runner.logits`), truncation warnings silenced."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            return runner.logits(list(texts), batch_size)

    def artifact(self, backend: Backend, precision: str) -> Path:
        """The artifact of ``backend`` at ``precision``, built once (a failure is re-raised each time)."""
        key = (backend.name, precision)
        if key not in self._artifacts:
            try:
                self._artifacts[key] = self._build(backend, precision)
            except BaseException as exc:
                self._artifacts[key] = exc
                raise
        found = self._artifacts[key]
        if isinstance(found, BaseException):
            raise found
        return found

    def _build(self, backend: Backend, precision: str) -> Path:
        from edgeptm import deploy

        out = self.workdir / f"{backend.name}-{precision}"
        validation = self.texts()[:32]
        if precision == backend.export_precision:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # converters' tracer noise, truncation
                deploy.export(self.plugins, backend.name, self.model, out, validation_texts=validation)
            return out
        source = self.artifact(backend, backend.export_precision)
        calibration = [e.text for e in data.sample_evenly(self.split("train"), 64)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            deploy.quantize(
                self.plugins,
                source,
                out,
                precision=precision,
                calibration=calibration,
                validation_texts=validation,
                evaluation=self.split("eval"),
            )
        return out

    def load(self, backend: Backend, artifact: Path) -> Runner:
        from edgeptm.manifest import read_manifest

        manifest = read_manifest(artifact)
        if self.device is None:
            return backend.load(artifact, manifest)
        return backend.load(artifact, manifest, device=self.device)

    def runner(self, backend: Backend, precision: str) -> Runner:
        """A runner of the artifact, loaded once."""
        key = (backend.name, precision)
        if key not in self._runners:
            self._runners[key] = self.load(backend, self.artifact(backend, precision))
        return self._runners[key]

    def close(self) -> None:
        for runner in [*self._runners.values(), *([self._reference] if self._reference else [])]:
            runner.close()
        self._runners.clear()
        self._reference = None
