"""The recipe stage interface: what a stage kind declares, built-in or from a plugin.

A stage kind is one module with one :class:`StageKind` subclass and its options model (a
:class:`StageOptions` subclass with ``stage: Literal["<kind>"]``). The recipe schema is built
from the registered kinds, and the pipeline and summary call only this interface, so adding a
kind changes nothing else. Plugins register kinds with the ``edgeptm_register_stages`` hook; the
built-in ones in :mod:`edgeptm.recipes.stages` are registered through the same hook.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from edgeptm.data import Dataset

Plugins = Any
"""An :class:`edgeptm.plugins.Plugins` (not imported here: the plugin manager depends on this module)."""

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
"""Artifact names: a letter or digit, then letters, digits, ``_``, ``.``, ``-``."""

Makes = Literal["classifier", "mlm", "same", None]
"""What a stage's artifact is: a classifier (deployable), a masked LM (fine-tune it first), the
same as the artifact it reads (``same``), or nothing (a report stage)."""

MLM = "mlm"
"""How ``known`` (see :meth:`StageKind.check`) marks a pre-trained masked LM."""
TORCH = "torch"
"""How ``known`` marks a torch classifier folder (a fine-tuned model)."""

StageResult = dict[str, Any]
"""A stage's JSON-able result, kept in ``state.json`` and passed to :meth:`StageKind.render`."""


class StageOptions(BaseModel):
    """Base of every stage's options: ``stage: Literal["kind"]`` plus the kind's own fields.

    ``data_splits`` are the dataset splits it reads (their content is part of its fingerprint).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    data_splits: ClassVar[tuple[str, ...]] = ()

    def uses_recipe_model(self) -> bool:
        """Whether it reads the recipe's ``model`` directly (part of its fingerprint)."""
        return False

    def inputs(self, known: list[str]) -> list[str]:
        """Earlier artifacts it reads; ``known`` are the deployable ones so far (the default of
        stages that take ``artifacts``)."""
        source = getattr(self, "from_", None)
        return [source] if source else []

    def produces(self) -> str | None:
        """The artifact it makes (``None`` for report stages, which write ``<kind>-<index>.json``)."""
        return getattr(self, "name", None)

    def files(self) -> list[str]:
        """Local files and folders it reads, as written in the recipe (their content is part of its fingerprint)."""
        return []


class RecipeView(Protocol):
    """What a stage's :meth:`StageKind.check` may read of the recipe."""

    name: str
    model: str
    data: Any
    stages: list[Any]


class RunContext(Protocol):
    """What :meth:`StageKind.run` gets: the recipe, the plugins, the artifacts made so far, data and paths."""

    recipe: RecipeView
    plugins: Plugins
    out: Path
    artifacts: dict[str, Path]

    @property
    def log(self) -> Callable[[str], None]:
        """Writes one progress line (to stderr in the CLI)."""

    def dataset(self, split: str) -> Dataset:
        """``data.<split>`` of the recipe, loaded once (a :class:`~edgeptm.errors.RecipeError` when unset)."""

    def path(self, value: str) -> str:
        """A recipe path resolved against the recipe's folder; ``builtin:`` names and hub ids unchanged."""

    def spec(self, value: str) -> str:
        """A ``[LANG=]PATH`` corpus spec with its path resolved like :meth:`path`."""

    def deployable(self) -> list[str]:
        """Artifacts made so far that classify (all but masked LMs)."""

    @property
    def results(self) -> dict[str, StageResult]:
        """The results of the stages run (or skipped) so far, by stage id (``evaluate:4``, ``export:onnx``)."""

    def recipe_text(self) -> str | None:
        """The recipe file's text, for records such as a model card."""


class StageKind(ABC):
    """One kind of recipe stage.

    Class attributes: ``kind`` (the ``stage:`` value), ``Options`` (its :class:`StageOptions`
    model), ``makes`` (what its artifact is, see :data:`Makes`), ``top_level`` (its artifact is
    written at the top of the run folder, like the fine-tuned ``model``, rather than under
    ``artifacts/``), and ``title`` (its summary heading).
    """

    kind: ClassVar[str]
    Options: ClassVar[type[StageOptions]]
    makes: ClassVar[Makes] = None
    top_level: ClassVar[bool] = False

    def check(self, where: str, stage: Any, recipe: RecipeView, plugins: Plugins, known: dict[str, str]) -> list[str]:
        """Cross-checks that need the plugins or earlier stages: ``"<path>: <problem>"`` lines, where
        ``where`` is the stage's own path (``stages[2]``).

        ``known`` maps each earlier artifact to what it is (see :meth:`artifact_kind`); the base class checks that inputs exist and names are unique, then records
        this stage's artifact. Override it to add checks, calling ``super().check``.
        """
        errors: list[str] = []
        deployable = [n for n, what in known.items() if what != MLM]
        for field, names in self.references(stage, deployable):
            for name in names:
                if name not in known:
                    errors.append(
                        f"{where}.{field}: no earlier artifact {name!r} (known: {', '.join(known) or 'none'})"
                    )
                elif known[name] == MLM and self.needs_classifier:
                    errors.append(
                        f"{where}.{field}: {name!r} is a pre-trained masked LM; fine-tune it first (a finetune stage with from: {name})"
                    )
        produced = stage.produces()
        if produced is not None:
            if produced in known:
                errors.append(f"{where}.name: artifact {produced!r} is already defined")
            known[produced] = self.artifact_kind(stage, known)
        return errors

    needs_classifier: ClassVar[bool] = True
    """Whether the artifacts it reads must classify (export, evaluate, ...); False for pretrain, trim-vocab."""

    def references(self, stage: Any, deployable: list[str]) -> list[tuple[str, list[str]]]:
        """``(field, names)`` pairs: the earlier artifacts it names, for the existence checks."""
        if getattr(stage, "from_", None):
            return [("from", [stage.from_])]
        if getattr(stage, "artifacts", None):
            return [(f"artifacts[{i}]", [n]) for i, n in enumerate(stage.artifacts)]
        return []

    def artifact_kind(self, stage: Any, known: dict[str, str]) -> str:
        """What this stage's artifact is, recorded in ``known`` for later checks: ``mlm``, ``torch``
        (a classifier folder), or the backend that made it (export stages override this)."""
        if self.makes == "same":
            return known.get(getattr(stage, "from_", None) or "", TORCH)
        return MLM if self.makes == "mlm" else TORCH

    @abstractmethod
    def run(self, ctx: RunContext, stage: Any, out: Path) -> StageResult:
        """Do the work. Artifact stages write their folder at ``out`` atomically; report stages write
        ``out`` (a JSON file). Return a JSON-able result."""

    def outputs(self, stage: Any, out: Path, result: StageResult) -> list[Path]:
        """What :meth:`run` wrote: ``out``, plus anything beside it. The recipe cache records their content
        and runs the stage again when one is changed or missing."""
        return [out]

    def render(self, name: str, result: StageResult) -> list[str]:
        """Markdown lines for ``summary.md`` (a ``## `` section), or none."""
        return []

    def summarize(self, name: str, result: StageResult) -> dict[str, Any]:
        """Entries for ``summary.json``: top-level keys merged one level deep."""
        return {}
