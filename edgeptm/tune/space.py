"""The search space and its candidates: typed specs made from a :class:`SearchSpace` and a profile.

A :class:`Candidate` is what to build (backend, device, precision, backend options, model
transforms, ``max_length``), not how. Dimensions and transforms are registered by name (see
:mod:`edgeptm.tune`), so a new one plugs in without changing the search. Beside the model's
variants, the space holds the char n-gram TF-IDF + logistic regression baseline
(:mod:`edgeptm.train.baseline`): a candidate of its own kind, trained on the same training split,
so the search can pick it when it beats the model under the profile's limits.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgeptm.manifest import TFIDF_LINEAR, TRANSFORMER

if TYPE_CHECKING:
    from edgeptm.backend import Backend
    from edgeptm.data import Dataset
    from edgeptm.profiles import DeviceProfile


class SearchSpace(BaseModel):
    """What to try. ``backends`` and ``precisions`` default to the profile's backends and every
    precision each supports; each other field lists the values of one dimension."""

    model_config = ConfigDict(extra="forbid")

    backends: list[str] | None = Field(None, description="BACKEND or BACKEND:DEVICE (default: the profile's)")
    precisions: list[str] | None = Field(None, description="default: every precision of each backend")
    per_channel: list[bool] = Field([True], min_length=1, description="int8: a scale per output channel")
    calibration: list[str] = Field(["minmax"], min_length=1, description="int8-static: calibrate_method")
    weight_type: list[str] = Field(
        ["auto"],
        min_length=1,
        description="onnx int8/int8-portable weights: auto (chosen by CPU), s8, u8, s8-reduce-range",
    )
    distill: list[int | None] = Field(
        [None], min_length=1, description="a student distilled to this many encoder layers (null: the model itself)"
    )
    trim_vocab: list[bool] = Field([False], min_length=1, description="trim the vocabulary to the training text")
    max_length: list[int | None] = Field([None], min_length=1, description="export max_length (null: the model's)")
    static_shapes: list[bool] = Field([False], min_length=1, description="compile for fixed shapes (OpenVINO)")
    baseline: bool | dict[str, Any] = Field(
        True,
        description="the char n-gram TF-IDF + logistic regression baseline as a candidate (onnx on CPU, fp32): "
        "true, false, or its training options (`edgeptm baseline`'s, e.g. {ngram_max: 3, c: 2.0})",
    )

    @field_validator("baseline")
    @classmethod
    def _baseline_options(cls, value: bool | dict[str, Any]) -> bool | dict[str, Any]:
        """Options are checked against :class:`~edgeptm.train.baseline.BaselineOptions` (imported here, so
        reading a space stays cheap) and kept whole (every field), so they key the baseline's build."""
        if isinstance(value, bool):
            return value
        from pydantic import ValidationError

        from edgeptm.train.baseline import BaselineOptions

        try:
            return BaselineOptions.model_validate(value).model_dump(mode="json")
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in exc.errors()]
            raise ValueError("; ".join(problems)) from None

    def baseline_options(self) -> dict[str, Any] | None:
        """The baseline's training options (every field), or ``None`` when the space leaves it out."""
        if self.baseline is False:
            return None
        if self.baseline is True:
            from edgeptm.train.baseline import BaselineOptions

            return BaselineOptions().model_dump(mode="json")
        return dict(self.baseline)


CPU_DEVICES = (None, "cpu", "CPU")
"""How a profile or space names a backend's CPU (``None``: the backend's default device, CPU for onnx)."""
BASELINE_NAME = f"baseline-{TFIDF_LINEAR}"
"""The baseline candidate's name in every report."""


@dataclass(frozen=True)
class Candidate:
    """One deployment variant to build and measure: a variant of the model (``kind`` transformer) or the
    TF-IDF baseline (``kind`` tfidf-linear, trained from the data, not from the model)."""

    backend: str
    device: str | None
    precision: str
    export_precision: str
    options: tuple[tuple[str, Any], ...] = ()
    """Backend options, sorted by name (the dimensions that apply set them)."""
    transforms: tuple[tuple[str, Any], ...] = ()
    """Model transforms applied to the torch model before export, in order: ``(name, value)``."""
    max_length: int | None = None
    labels: tuple[str, ...] = field(default=(), compare=False)
    """Name parts added by the dimensions (not part of identity)."""
    kind: str = TRANSFORMER
    """What is built: :data:`~edgeptm.manifest.TRANSFORMER` (the model, exported) or
    :data:`~edgeptm.manifest.TFIDF_LINEAR` (the baseline, trained)."""
    baseline: tuple[tuple[str, Any], ...] = ()
    """The baseline's training options (:class:`~edgeptm.train.baseline.BaselineOptions`, every field, sorted);
    empty for the model's variants."""

    @property
    def name(self) -> str:
        if self.kind == TFIDF_LINEAR:
            return BASELINE_NAME
        base = self.backend if self.device in CPU_DEVICES else f"{self.backend}@{self.device}"
        return "-".join([base, self.precision, *self.labels])

    @property
    def quantized(self) -> bool:
        return self.precision != self.export_precision

    def with_option(self, key: str, value: Any, label: str | None) -> Candidate:
        options = tuple(sorted({**dict(self.options), key: value}.items()))
        return replace(self, options=options, labels=self.labels + ((label,) if label else ()))

    @property
    def is_baseline(self) -> bool:
        return self.kind == TFIDF_LINEAR

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "kind": self.kind,
            "backend": self.backend,
            "device": self.device,
            "precision": self.precision,
            "options": dict(self.options),
            "transforms": dict(self.transforms),
            "max_length": self.max_length,
        }
        if self.is_baseline:
            out["baseline_options"] = dict(self.baseline)
        return out


@dataclass(frozen=True)
class OptionDimension:
    """A dimension that sets one backend option, on the backends whose options model has it and
    (when ``precisions`` is given) only for those precisions."""

    name: str
    option: str
    precisions: frozenset[str] | None = None
    default: Any = None
    label: Callable[[Any], str] = str
    at_export: bool = False
    """Whether the export needs it too (a runtime option); otherwise only the quantize step gets it."""

    def apply(self, candidate: Candidate, backend: Backend, value: Any) -> Candidate | None:
        """The candidate with ``value`` set, ``candidate`` itself when it does not apply (default
        values only), or ``None``: a non-default value that does not apply (a duplicate)."""
        fits = self.option in backend.Options.model_fields and (
            self.precisions is None or candidate.precision in self.precisions
        )
        if not fits:
            return candidate if value == self.default else None
        return candidate.with_option(self.option, value, None if value == self.default else self.label(value))


@dataclass(frozen=True)
class BuildInputs:
    """What transforms may read: the training data (their corpus), the eval data (checkpoint selection
    for a transform that trains) and a progress log."""

    train: Dataset
    log: Callable[[str], None]
    eval: Dataset | None = None


class Transform(ABC):
    """A model transform: ``value`` of a dimension applied to the torch model before export."""

    name: str

    @abstractmethod
    def label(self, value: Any) -> str | None:
        """Its part of the candidate's name; ``None`` for the identity value (no transform)."""

    def config(self, value: Any) -> Any:
        """JSON-able config that, with its source and the training data, keys its build."""
        return value

    @abstractmethod
    def build(self, model: Path, value: Any, out: Path, inputs: BuildInputs) -> None:
        """Write the transformed torch classifier folder at ``out``."""


class TrimVocab(Transform):
    """The vocabulary trimmed to the training text's languages (:func:`edgeptm.train.trim.trim_vocab`)."""

    name = "trim_vocab"

    def label(self, value: Any) -> str | None:
        return "trim" if value else None

    def build(self, model: Path, value: Any, out: Path, inputs: BuildInputs) -> None:
        from edgeptm.data.corpus import from_dataset
        from edgeptm.train.trim import trim_vocab

        trim_vocab(model, from_dataset(inputs.train), out, log=lambda m: inputs.log(f"  {m}"), force=True)


class Distill(Transform):
    """A student with ``value`` encoder layers distilled from the model (:func:`edgeptm.train.distill.distill`,
    its default options: evenly spaced teacher layers, logits at temperature 2, the training data sampled
    evenly across languages, the checkpoint chosen on the eval data)."""

    name = "distill"

    def label(self, value: Any) -> str | None:
        return f"distill{value}" if value else None

    def config(self, value: Any) -> Any:
        from edgeptm.train.distill import DistillOptions

        return DistillOptions(layers=value).model_dump(mode="json") if value else None

    def build(self, model: Path, value: Any, out: Path, inputs: BuildInputs) -> None:
        from edgeptm.errors import EdgeptmError
        from edgeptm.train.distill import DistillOptions, distill

        if inputs.eval is None:
            raise EdgeptmError("distill: the search needs eval data to choose the student's checkpoint")
        distill(
            str(model),
            inputs.train,
            inputs.eval,
            out,
            DistillOptions(layers=value),
            progress=False,
            log=lambda m: inputs.log(f"  {m}"),
            force=True,
        )


DIMENSIONS: dict[str, OptionDimension] = {}
TRANSFORMS: dict[str, Transform] = {}

INT8 = frozenset({"int8", "int8-static"})


def register_dimension(dimension: OptionDimension) -> None:
    DIMENSIONS[dimension.name] = dimension


def register_transform(transform: Transform) -> None:
    TRANSFORMS[transform.name] = transform


register_dimension(
    OptionDimension("per_channel", "per_channel", INT8, True, lambda v: "per-channel" if v else "per-tensor")
)
register_dimension(OptionDimension("calibration", "calibrate_method", frozenset({"int8-static"}), "minmax"))
register_dimension(OptionDimension("static_shapes", "static_shape", None, False, lambda v: "static", at_export=True))
register_dimension(
    OptionDimension("weight_type", "weight_type", frozenset({"int8", "int8-portable"}), "auto", lambda v: f"w{v}")
)
register_transform(Distill())
register_transform(TrimVocab())


@dataclass(frozen=True)
class Unavailable:
    """Candidates that cannot run here, with why (one line each in the report)."""

    name: str
    reason: str


def _backend_choices(space: SearchSpace, profile: DeviceProfile) -> list[tuple[str, str | None]]:
    if space.backends is None:
        return [(c.backend, c.device) for c in profile.backends]
    out = []
    for item in space.backends:
        backend, _, device = item.partition(":")
        out.append((backend, device or None))
    return out


def candidates(
    space: SearchSpace, profile: DeviceProfile, backends: dict[str, Backend]
) -> tuple[list[Candidate], list[Unavailable]]:
    """Every distinct candidate of ``space`` on the profile's backends, and those that cannot run
    here (unknown or unavailable backend, a device this machine lacks) with the reason."""
    from edgeptm.errors import EdgeptmError

    made: dict[Candidate, None] = {}
    unavailable: list[Unavailable] = []
    for name, device in _backend_choices(space, profile):
        backend = backends.get(name)
        where = f"{name}:{device}" if device else name
        if backend is None:
            unavailable.append(Unavailable(where, f"backend {name!r} is not installed ({', '.join(backends)})"))
            continue
        status = backend.availability()
        if not status.available:
            unavailable.append(Unavailable(where, f"backend {name} is unavailable here: {status.reason}"))
            continue
        if device is not None:
            try:
                backend.check_device(device)
            except EdgeptmError as exc:
                unavailable.append(Unavailable(where, f"device {device} is not on this machine ({exc})"))
                continue
        precisions = [p for p in backend.precisions() if space.precisions is None or p in space.precisions]
        for precision in precisions:
            base = Candidate(name, device, precision, backend.export_precision)
            for combo in itertools.product(
                *[[(d, v) for v in getattr(space, d)] for d in DIMENSIONS],
                *[[(t, v) for v in getattr(space, t)] for t in TRANSFORMS],
                [(None, m) for m in space.max_length],
            ):
                candidate: Candidate | None = base
                for key, value in combo:
                    if candidate is None:
                        break
                    if key in DIMENSIONS:
                        candidate = DIMENSIONS[key].apply(candidate, backend, value)
                    elif key in TRANSFORMS:
                        label = TRANSFORMS[key].label(value)
                        if label:
                            candidate = replace(
                                candidate,
                                transforms=candidate.transforms + ((key, value),),
                                labels=candidate.labels + (label,),
                            )
                    elif value is not None:
                        candidate = replace(candidate, max_length=value, labels=candidate.labels + (f"len{value}",))
                if candidate is not None:
                    made.setdefault(candidate)
    # The baseline first: it trains in seconds and is the bar every variant has to clear, so a search whose
    # budget runs out has still measured it.
    baseline, why_not = baseline_candidate(space, profile, backends)
    if why_not is not None:
        unavailable.append(Unavailable(BASELINE_NAME, why_not))
    return ([baseline] if baseline else []) + list(made), unavailable


BASELINE_MODULES = (("sklearn", "scikit-learn"), ("skl2onnx", "skl2onnx"))


def baseline_missing() -> list[str]:
    """The distributions the baseline needs that are not installed (found without importing them)."""
    import importlib.util

    missing = []
    for module, distribution in BASELINE_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(distribution)
    return missing


def baseline_candidate(
    space: SearchSpace, profile: DeviceProfile, backends: dict[str, Backend]
) -> tuple[Candidate | None, str | None]:
    """The baseline candidate, or why it can't run here (``None, None``: the space or the profile leaves it out).

    It is an fp32 ONNX model run on the CPU, so it is a candidate only where the space allows fp32 and
    the space's (default: the profile's) backends include onnx on the CPU."""
    options = space.baseline_options()
    if options is None or (space.precisions is not None and "fp32" not in space.precisions):
        return None, None
    onnx = [device for name, device in _backend_choices(space, profile) if name == "onnx" and device in CPU_DEVICES]
    if not onnx:
        return None, None
    backend = backends.get("onnx")
    if backend is None:
        return None, "the baseline runs on onnx, which is not installed"
    status = backend.availability()
    if not status.available:
        return None, f"the baseline runs on onnx, which is unavailable here: {status.reason}"
    missing = baseline_missing()
    if missing:
        return None, f"the baseline needs {' and '.join(missing)}: pip install 'edgeptm[train]'"
    return (
        Candidate(
            "onnx",
            onnx[0],
            "fp32",
            "fp32",
            kind=TFIDF_LINEAR,
            baseline=tuple(sorted(options.items())),
        ),
        None,
    )


def load_space(
    path: Path | None,
    *,
    backends: list[str] | None = None,
    precisions: list[str] | None = None,
    baseline: bool | None = None,
) -> SearchSpace:
    """A YAML search space (or the default one), with the CLI's ``--backend``/``--precision`` on top
    (and ``--no-baseline``: ``baseline=False``)."""
    import yaml
    from pydantic import ValidationError

    from edgeptm.errors import EdgeptmError

    raw: dict[str, Any] = {}
    if path is not None:
        if not Path(path).is_file():
            raise EdgeptmError(f"{path}: no such search space file")
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise EdgeptmError(f"{path}: a search space is a YAML mapping (backends, precisions, per_channel, ...)")
        raw = loaded
    if backends:
        raw["backends"] = backends
    if precisions:
        raw["precisions"] = precisions
    if baseline is False:
        raw["baseline"] = False
    try:
        return SearchSpace.model_validate(raw)
    except ValidationError as exc:
        where = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        ]
        raise EdgeptmError(f"{path or 'search space'}: " + "; ".join(where)) from None
