"""Recipe schema: ``yaml.safe_load`` into pydantic models with ``extra="forbid"``.

Every problem is reported at once with its YAML path: schema errors first, then
cross-checks that need the plugins (backend names, precisions, each backend's
own options model, artifact references).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgeptm.bench import BenchOptions
from edgeptm.engine import FinetuneOptions
from edgeptm.errors import RecipeError
from edgeptm.plugins import Plugins
from edgeptm.pretrain import PretrainOptions

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageBase(Strict):
    """What the runner needs to know of every stage.

    ``data_splits`` are the dataset splits it reads (their content is part of its
    fingerprint); :meth:`inputs` the earlier artifacts it reads; :meth:`produces`
    the artifact it makes (``None`` for report stages, which write ``<stage>.json``).
    """

    data_splits: ClassVar[tuple[str, ...]] = ()

    def uses_recipe_model(self) -> bool:
        """Whether it reads the recipe's ``model`` directly (part of its fingerprint)."""
        return False

    def inputs(self, known: list[str]) -> list[str]:
        return [self.from_] if getattr(self, "from_", None) else []

    def produces(self) -> str | None:
        return getattr(self, "name", None)

    def files(self) -> list[str]:
        """Local files and folders it reads, as written in the recipe (their content is part of its fingerprint)."""
        return []


class Columns(Strict):
    text: str = "text"
    label: str = "label"
    language: str = "language"


class DataSpec(Strict):
    train: str | None = None
    eval: str | None = None
    test: str | None = None
    columns: Columns = Columns()
    train_languages: list[str] | None = Field(None, description="keep only these languages for training")
    eval_languages: list[str] | None = Field(None, description="keep only these languages for eval and test")


class FinetuneStage(FinetuneOptions, StageBase):
    stage: Literal["finetune"]
    name: str = Field("model", pattern=NAME_PATTERN)
    from_: str | None = Field(None, alias="from", description="an earlier model artifact (default: the recipe's model)")
    data_splits: ClassVar[tuple[str, ...]] = ("train", "eval", "test")

    def uses_recipe_model(self) -> bool:
        return self.from_ is None


class ExportStage(StageBase):
    stage: Literal["export"]
    name: str = Field(pattern=NAME_PATTERN)
    backend: str
    from_: str = Field("model", alias="from")
    options: dict[str, Any] = {}
    max_length: int | None = Field(None, ge=8)
    data_splits: ClassVar[tuple[str, ...]] = ("eval",)


class QuantizeStage(StageBase):
    stage: Literal["quantize"]
    name: str = Field(pattern=NAME_PATTERN)
    from_: str = Field(alias="from")
    precision: str
    options: dict[str, Any] = {}
    calibration_size: int = Field(256, ge=1)
    data_splits: ClassVar[tuple[str, ...]] = ("train", "eval")


class EvaluateStage(StageBase):
    stage: Literal["evaluate"]
    artifacts: list[str] | None = None
    split: Literal["eval", "test"] = "test"
    batch_size: int = Field(32, ge=1)
    threads: int | None = Field(None, ge=1)
    data_splits: ClassVar[tuple[str, ...]] = ("train", "eval", "test")

    def inputs(self, known: list[str]) -> list[str]:
        return self.artifacts or list(known)


class BenchStage(BenchOptions, StageBase):
    stage: Literal["bench"]
    artifacts: list[str] | None = None

    def inputs(self, known: list[str]) -> list[str]:
        return self.artifacts or list(known)


class RobustnessStage(StageBase):
    """Perturbation suites through each artifact's runner; the first artifact is the baseline."""

    stage: Literal["robustness"]
    artifacts: list[str] | None = None
    split: Literal["eval", "test"] = "test"
    perturbations: list[str] | None = Field(None, description="NAME or NAME:STRENGTH (default: the whole suite)")
    seed: int = 0
    max_per_language: int | None = Field(None, ge=1)
    batch_size: int = Field(32, ge=1)
    threads: int | None = Field(None, ge=1)
    data_splits: ClassVar[tuple[str, ...]] = ("eval", "test")

    def inputs(self, known: list[str]) -> list[str]:
        return self.artifacts or list(known)


class PretrainStage(PretrainOptions, StageBase):
    """Masked-LM pre-training on raw text: from scratch, or continued from ``from``/``model``."""

    stage: Literal["pretrain"]
    name: str = Field("pretrained", pattern=NAME_PATTERN)
    corpus: list[str] = Field(min_length=1, description="[LANG=]PATH specs, relative to the recipe file")
    from_: str | None = Field(None, alias="from", description="continue from an earlier model artifact")
    model: str | None = Field(None, description="continue from this checkpoint (path relative to the recipe, or hub id)")

    @model_validator(mode="after")
    def _one_start(self) -> "PretrainStage":
        if self.from_ and self.model:
            raise ValueError("give `from` (an earlier artifact) or `model` (a checkpoint), not both")
        return self

    def files(self) -> list[str]:
        from edgeptm.corpus import spec_paths

        return [str(p) for p in spec_paths(self.corpus)] + ([self.model] if self.model else [])


class TrimVocabStage(StageBase):
    """Trim a torch model's vocabulary to a corpus (default: the training text) before export."""

    stage: Literal["trim-vocab"]
    name: str = Field("trimmed", pattern=NAME_PATTERN)
    from_: str = Field("model", alias="from")
    corpus: list[str] | None = Field(None, description="[LANG=]PATH specs (default: the training text of data.train)")
    oov_text: list[str] | None = Field(None, description="second text for the OOV report (default: data.eval)")
    top_k: int | None = Field(None, ge=1, description="total vocabulary size")
    keep_scripts: list[str] = []
    max_unk_rate: float = Field(0.05, ge=0, le=1)
    verify_texts: int = Field(256, ge=1)
    data_splits: ClassVar[tuple[str, ...]] = ("train", "eval")

    def files(self) -> list[str]:
        from edgeptm.corpus import spec_paths

        return [str(p) for p in spec_paths([*(self.corpus or []), *(self.oov_text or [])])]


Stage = Annotated[
    Union[FinetuneStage, ExportStage, QuantizeStage, EvaluateStage, BenchStage, RobustnessStage, PretrainStage, TrimVocabStage],
    Field(discriminator="stage"),
]
STAGE_KINDS = ("finetune", "export", "quantize", "evaluate", "bench", "robustness", "pretrain", "trim-vocab")


class Recipe(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    output: str = Field(description="output folder, relative to the recipe file")
    model: str = Field(description="hub id, local folder or builtin:tiny-multilingual")
    data: DataSpec = DataSpec()
    stages: list[Stage] = Field(min_length=1)


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and isinstance(loc[i - 1], int) and part in STAGE_KINDS:
            continue  # the discriminator tag pydantic inserts
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _schema_errors(exc: ValidationError) -> list[str]:
    return [f"{_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]


def load_recipe(path: Path) -> Recipe:
    """Parse and schema-check a recipe, raising :class:`RecipeError` listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise RecipeError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise RecipeError(f"{path}: invalid UTF-8; save the recipe as UTF-8") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping (name, output, model, data, stages)")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(_format(path, _schema_errors(exc))) from None


def _format(path: Path, errors: list[str]) -> str:
    head = f"{path}: {len(errors)} error{'s' if len(errors) != 1 else ''}"
    return head + "".join(f"\n  {e}" for e in errors)


def check_recipe(recipe: Recipe, plugins: Plugins) -> list[str]:
    """Cross-checks that need the plugins; returns every problem found."""
    errors: list[str] = []
    known: dict[str, str] = {}  # artifact name -> producing stage kind
    has_finetune = any(s.stage == "finetune" for s in recipe.stages)
    if not any(s.produces() == "model" for s in recipe.stages):
        known["model"] = "model"  # the recipe's model itself
    needs = {"train": has_finetune, "eval": has_finetune}
    for key, required in needs.items():
        if required and getattr(recipe.data, key) is None:
            errors.append(f"data.{key}: required by the finetune stage")
    backends = plugins.backends()
    for i, stage in enumerate(recipe.stages):
        where = f"stages[{i}]"
        if stage.stage in ("finetune", "export", "quantize", "pretrain", "trim-vocab"):
            if stage.name in known:
                errors.append(f"{where}.name: artifact {stage.name!r} is already defined")
        if isinstance(stage, (ExportStage, QuantizeStage)):
            if stage.from_ not in known:
                errors.append(f"{where}.from: no earlier artifact {stage.from_!r} (known: {', '.join(known) or 'none'})")
        if isinstance(stage, ExportStage):
            backend = backends.get(stage.backend)
            if backend is None:
                errors.append(f"{where}.backend: unknown backend {stage.backend!r} (registered: {', '.join(backends)})")
            else:
                errors += _option_errors(where, backend, stage.options)
            known[stage.name] = stage.backend
        elif isinstance(stage, QuantizeStage):
            backend = backends.get(known.get(stage.from_, ""))
            if backend is not None:
                if stage.precision not in backend.precisions():
                    errors.append(
                        f"{where}.precision: backend {backend.name!r} does not support {stage.precision!r} "
                        f"(supported: {', '.join(backend.precisions())})"
                    )
                errors += _option_errors(where, backend, stage.options)
            elif stage.from_ in known:
                errors.append(f"{where}.from: {stage.from_!r} is not an exported artifact; quantize an export")
            known[stage.name] = known.get(stage.from_, "?")
        elif isinstance(stage, (PretrainStage, TrimVocabStage)):
            errors += _model_stage_errors(where, stage, known, recipe)
        elif isinstance(stage, FinetuneStage):
            if stage.from_ is not None and stage.from_ not in known:
                errors.append(f"{where}.from: no earlier artifact {stage.from_!r} (known: {', '.join(known) or 'none'})")
            known[stage.name] = "torch"
        elif isinstance(stage, (EvaluateStage, BenchStage, RobustnessStage)):
            for j, name in enumerate(stage.artifacts or []):
                if name not in known:
                    errors.append(f"{where}.artifacts[{j}]: no earlier artifact {name!r} (known: {', '.join(known)})")
            if isinstance(stage, (EvaluateStage, RobustnessStage)) and getattr(recipe.data, stage.split) is None:
                errors.append(f"{where}.split: data.{stage.split} is not set")
            if isinstance(stage, RobustnessStage):
                errors += _perturbation_errors(where, plugins, stage.perturbations or [])
    return errors + _pretrained_use_errors(recipe, known)


def _model_stage_errors(where: str, stage: PretrainStage | TrimVocabStage, known: dict[str, str], recipe: Recipe) -> list[str]:
    """Checks of ``pretrain`` and ``trim-vocab``; records the kind of what they make in ``known``."""
    errors = []
    source = known.get(stage.from_) if stage.from_ else None
    if stage.from_ and stage.from_ not in known:
        errors.append(f"{where}.from: no earlier artifact {stage.from_!r} (known: {', '.join(known) or 'none'})")
    elif source not in (None, "torch", "model", "pretrained"):
        errors.append(
            f"{where}.from: {stage.from_!r} is a {source} artifact; {stage.stage} works on a torch model folder, "
            "so place it before export"
        )
    if isinstance(stage, TrimVocabStage) and stage.corpus is None and recipe.data.train is None:
        errors.append(f"{where}.corpus: required when data.train is not set (by default the training text is kept)")
    if isinstance(stage, PretrainStage) or source == "pretrained":
        known[stage.name] = "pretrained"
    else:
        known[stage.name] = "torch"
    return errors


def _pretrained_use_errors(recipe: Recipe, known: dict[str, str]) -> list[str]:
    """A pre-trained masked LM has no classifier: it can be fine-tuned or trimmed, not deployed."""
    errors = []
    hint = "fine-tune it first (a finetune stage with from: {})"
    for i, stage in enumerate(recipe.stages):
        if isinstance(stage, (ExportStage, QuantizeStage)) and known.get(stage.from_) == "pretrained":
            errors.append(f"stages[{i}].from: {stage.from_!r} is a pre-trained masked LM; " + hint.format(stage.from_))
        for j, name in enumerate(getattr(stage, "artifacts", None) or []):
            if known.get(name) == "pretrained":
                errors.append(f"stages[{i}].artifacts[{j}]: {name!r} is a pre-trained masked LM; " + hint.format(name))
    return errors


def _perturbation_errors(where: str, plugins: Plugins, specs: list[str]) -> list[str]:
    from edgeptm.errors import PerturbationError
    from edgeptm.perturb import resolve_specs

    errors = []
    for j, spec in enumerate(specs):
        try:
            resolve_specs(plugins.perturbations(), [spec])
        except PerturbationError as exc:
            errors.append(f"{where}.perturbations[{j}]: {exc}")
    return errors


def _option_errors(where: str, backend: Any, options: dict[str, Any]) -> list[str]:
    try:
        backend.Options.model_validate(options)
    except ValidationError as exc:
        return [f"{where}.options.{_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


def validate_recipe(path: Path, plugins: Plugins) -> Recipe:
    """Load, schema-check and cross-check; one :class:`RecipeError` with every problem."""
    recipe = load_recipe(path)
    errors = check_recipe(recipe, plugins)
    if errors:
        raise RecipeError(_format(Path(path), errors))
    return recipe
