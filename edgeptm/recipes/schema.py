"""Recipe schema: ``yaml.safe_load`` into pydantic models with ``extra="forbid"``.

The ``stages`` union is built from the registered stage kinds (:mod:`edgeptm.stage`), so a
plugin's kinds validate like the built-in ones. Every problem is reported at once with its YAML
path: schema errors first, then each stage kind's cross-checks (backend names, precisions, each
backend's own options model, artifact references).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from edgeptm.data.selection import DataSelection
from edgeptm.errors import RecipeError
from edgeptm.plugins import Plugins
from edgeptm.recipes.stages._shared import loc_path
from edgeptm.stage import NAME_PATTERN, TORCH, StageKind


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Columns(Strict):
    text: str = "text"
    label: str = "label"
    language: str = "language"


class DataSpec(Strict):
    train: str | None = None
    eval: str | None = None
    test: str | None = None
    columns: Columns = Columns()
    languages: list[str] | None = Field(None, description="keep only these languages, in every split")
    train_languages: list[str] | None = Field(
        None,
        description="train on these languages only; fine-tuning selects its checkpoint on their eval examples, "
        "and evaluations report the others as zero-shot",
    )
    eval_languages: list[str] | None = Field(None, description="keep only these languages for eval and test")
    splits: dict[Literal["train", "eval", "test"], str] = Field(
        default_factory=dict,
        description="the file (or file stem) holding a split in a data folder, e.g. {eval: valid.csv}",
    )

    def selection(self, split: str) -> DataSelection:
        """The shared data selection (as the commands' data options) for reading ``split``."""
        from edgeptm.data import Columns as DataColumns

        languages = self.eval_languages if split != "train" and self.eval_languages else self.languages
        return DataSelection(
            columns=DataColumns(self.columns.text, self.columns.label, self.columns.language),
            languages=tuple(languages) if languages else None,
            train_languages=tuple(self.train_languages) if self.train_languages else None,
            split_files={str(k): v for k, v in self.splits.items()},
        )


class RecipeBase(Strict):
    """The fields of every recipe; :func:`recipe_model` adds ``stages`` from the registered kinds."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    output: str = Field(description="output folder, relative to the recipe file")
    model: str = Field(description="hub id, local folder or builtin:tiny-multilingual")
    data: DataSpec = DataSpec()
    stages: list[Any]


_models: dict[tuple[str, ...], type[RecipeBase]] = {}


def recipe_model(kinds: dict[str, StageKind]) -> type[RecipeBase]:
    """The recipe model whose ``stages`` are a union of ``kinds``' options, tagged by ``stage``."""
    key = tuple(f"{k}:{type(v).__module__}.{type(v).__qualname__}" for k, v in kinds.items())
    if key not in _models:
        options = tuple(kind.Options for kind in kinds.values())
        item = Annotated[Union[options], Field(discriminator="stage")] if len(options) > 1 else options[0]  # noqa: UP007
        _models[key] = create_model(
            "Recipe",
            __base__=RecipeBase,
            stages=(list[item], Field(min_length=1)),  # type: ignore[valid-type]
        )
    return _models[key]


Recipe = RecipeBase
"""The type of a loaded recipe (its ``stages`` are the registered kinds' options models)."""


def _schema_errors(exc: ValidationError, kinds: dict[str, StageKind]) -> list[str]:
    return [f"{loc_path(tuple(e['loc']), tuple(kinds))}: {e['msg']}" for e in exc.errors()]


def _format(path: Path, errors: list[str]) -> str:
    if len(errors) == 1:
        return f"{path}: {errors[0]}"  # one line, as every other error
    head = f"{path}: {len(errors)} errors"
    return head + "".join(f"\n  {e}" for e in errors)


def _stage_kinds(plugins: Plugins | None) -> dict[str, StageKind]:
    if plugins is None:
        from edgeptm.plugins import get_plugins

        plugins = get_plugins()
    kinds = plugins.stage_kinds()
    if not kinds:
        raise RecipeError("no recipe stage kinds are registered (is the `stages` plugin blocked?)")
    return kinds


def parse_recipe(raw: Any, path: Path, plugins: Plugins | None = None) -> RecipeBase:
    """Schema-check a parsed recipe, raising :class:`RecipeError` listing every problem."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping (name, output, model, data, stages)")
    kinds = _stage_kinds(plugins)
    try:
        return recipe_model(kinds).model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(_format(path, _schema_errors(exc, kinds))) from None


def load_recipe(path: Path, plugins: Plugins | None = None) -> RecipeBase:
    """Parse and schema-check a recipe file, raising :class:`RecipeError` listing every problem."""
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
    return parse_recipe(raw, path, plugins)


def artifact_kinds(recipe: RecipeBase, plugins: Plugins) -> tuple[dict[str, str], list[str]]:
    """Run every stage kind's checks in order: what each artifact is, and every problem found."""
    kinds = _stage_kinds(plugins)
    known: dict[str, str] = {}
    if not any(s.produces() == "model" for s in recipe.stages):
        known["model"] = TORCH  # the recipe's model itself
    errors: list[str] = []
    for i, stage in enumerate(recipe.stages):
        for error in kinds[stage.stage].check(f"stages[{i}]", stage, recipe, plugins, known):
            if error not in errors:
                errors.append(error)
    return known, errors


def check_recipe(recipe: RecipeBase, plugins: Plugins) -> list[str]:
    """Cross-checks that need the plugins; returns every problem found."""
    return artifact_kinds(recipe, plugins)[1]


def validate_recipe(path: Path, plugins: Plugins) -> RecipeBase:
    """Load, schema-check and cross-check; one :class:`RecipeError` with every problem."""
    recipe = load_recipe(path, plugins)
    errors = check_recipe(recipe, plugins)
    if errors:
        raise RecipeError(_format(Path(path), errors))
    return recipe
