"""Build each step of a candidate once, in a content-keyed cache.

A candidate is a chain: model transforms (each a torch folder), one export, then a quantization.
Each step's folder is named by the fingerprint of its source's key, its own config and the data it
reads, so candidates share steps (int8 and int8-static quantize one fp32 export) and a re-run
builds only what is new. The TF-IDF baseline is one step of its own: trained from the data, its key
is its options, the data and the library versions, never the model (a new model reuses it).
Evaluations are cached the same way (the artifact's key and the eval data); latency never is, so a
re-run re-times.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeptm import __version__
from edgeptm.data import Dataset
from edgeptm.fsutil import OUTPUT_MARKER, atomic_dir, cache_dir, fingerprint, write_json
from edgeptm.measure.evaluate import Evaluation
from edgeptm.plugins import Plugins
from edgeptm.tune.space import BASELINE_MODULES, DIMENSIONS, TRANSFORMS, BuildInputs, Candidate


def data_key(data: Dataset) -> str:
    """A dataset's content (texts, labels, languages), not its path."""
    return fingerprint(data.texts, data.labels, data.languages)


@dataclass
class Built:
    """A candidate's artifact, its cache key, and how many of its steps this run built."""

    path: Path
    key: str
    steps_built: int = 0
    seconds: float = 0.0


@dataclass
class BuildCache:
    """Steps under ``root`` (default ``<cache>/tune``), keyed by content."""

    plugins: Plugins
    train: Dataset
    eval: Dataset
    log: Any = print
    root: Path = field(default_factory=lambda: cache_dir() / "tune")
    references: dict[str, Any] = field(default_factory=dict)
    """The source model's logits on the eval data, computed once for every candidate's agreement."""

    def _step(self, key: str, make: Any) -> tuple[Path, bool]:
        out = self.root / "builds" / key
        if (out / OUTPUT_MARKER).is_file():
            return out, False
        make(out)
        return out, True

    def artifact(self, candidate: Candidate, model: Path, model_key: str) -> Built:
        """Build (or find) ``candidate`` from the torch classifier at ``model`` (the baseline: from the data)."""
        from edgeptm import deploy

        if candidate.is_baseline:
            return self.baseline(candidate)
        started = time.perf_counter()
        built = 0
        source, key = model, model_key
        train_key = data_key(self.train), data_key(self.eval)  # a transform that trains selects on eval
        for name, value in candidate.transforms:
            transform = TRANSFORMS[name]
            key = fingerprint(__version__, "transform", key, name, transform.config(value), train_key)

            def make_transform(
                out: Path, source: Path = source, value: Any = value, transform: Any = transform
            ) -> None:
                transform.build(source, value, out, BuildInputs(self.train, self.log, self.eval))

            source, made = self._step(key, make_transform)
            built += made
        export_options = {
            o: v for o, v in candidate.options if any(d.option == o and d.at_export for d in DIMENSIONS.values())
        }
        key = fingerprint(__version__, "export", key, candidate.backend, export_options, candidate.max_length)

        def make_export(out: Path, source: Path = source) -> None:
            deploy.export(
                self.plugins,
                candidate.backend,
                source,
                out,
                options=export_options,
                max_length=candidate.max_length,
                validation_texts=deploy.validation_texts(self.eval),
                force=True,
            )

        artifact, made = self._step(key, make_export)
        built += made
        if candidate.quantized:
            options = dict(candidate.options)
            key = fingerprint(
                __version__, "quantize", key, candidate.precision, options, train_key, data_key(self.eval)
            )

            def make_quantized(out: Path, source: Path = artifact) -> None:
                texts = deploy.quantize_texts(self.train, self.eval)
                deploy.quantize(
                    self.plugins,
                    source,
                    out,
                    precision=candidate.precision,
                    options=options,
                    texts=texts,
                    evaluation=self.eval,
                    force=True,
                )

            artifact, made = self._step(key, make_quantized)
            built += made
        return Built(artifact, key, built, time.perf_counter() - started)

    def baseline(self, candidate: Candidate) -> Built:
        """Train (or find) the TF-IDF baseline on the train split; the eval split checks its ONNX graph
        against scikit-learn (:func:`edgeptm.train.baseline.train_baseline`)."""
        from importlib.metadata import PackageNotFoundError, version

        from edgeptm.train.baseline import BaselineOptions, train_baseline

        def installed(distribution: str) -> str | None:
            try:
                return version(distribution)
            except PackageNotFoundError:  # train_baseline says what to install
                return None

        started = time.perf_counter()
        options = BaselineOptions.model_validate(dict(candidate.baseline))
        libraries = [installed(d) for _, d in BASELINE_MODULES]  # another scikit-learn may fit another model
        key = fingerprint(
            __version__,
            "baseline",
            options.model_dump(mode="json"),
            libraries,
            data_key(self.train),
            data_key(self.eval),
        )

        def make_baseline(out: Path) -> None:
            train_baseline(self.train, out, options, eval_data=self.eval, force=True, log=lambda m: self.log(f"  {m}"))

        artifact, made = self._step(key, make_baseline)
        return Built(artifact, key, int(made), time.perf_counter() - started)

    def evaluation(
        self, key: str, artifact: Path, *, device: str | None, threads: int | None
    ) -> tuple[Evaluation, bool]:
        """The artifact's metrics on the eval data, from the cache when this artifact was evaluated on it."""
        from edgeptm.measure.evaluate import evaluate

        path = self.root / "evaluations" / f"{fingerprint(key, data_key(self.eval), device)}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8")), False
        result = evaluate(
            self.plugins, artifact, self.eval, device=device, threads=threads, reference_cache=self.references
        )
        write_json(path, result)
        return result, True

    def copy(self, artifact: Path, out: Path) -> None:
        """Copy a built artifact out of the cache (the chosen one, next to the report)."""
        import shutil

        with atomic_dir(out, kind="artifact") as tmp:
            shutil.copytree(artifact, tmp, dirs_exist_ok=True)
