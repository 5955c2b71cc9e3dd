"""The run context every stage gets: the recipe, plugins, artifacts so far, datasets and paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeptm import data
from edgeptm.errors import RecipeError
from edgeptm.fsutil import fingerprint
from edgeptm.plugins import Plugins
from edgeptm.stage import MLM


@dataclass
class Context:
    recipe: Any
    """The validated recipe (see :mod:`edgeptm.recipes.schema`)."""
    root: Path
    out: Path
    plugins: Plugins
    log: Callable[[str], None]
    artifacts: dict[str, Path] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    recipe_path: Path | None = None
    """What each artifact is (from the recipe check): ``mlm``, ``torch`` or a backend name."""
    _datasets: dict[str, data.Dataset] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)

    def path(self, value: str) -> str:
        """Recipe paths are relative to the recipe file; ``builtin:`` and hub ids pass through."""
        if value.startswith(data.BUILTIN_PREFIX):
            return value
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (self.root / p))

    def dataset(self, split: str) -> data.Dataset:
        if split not in self._datasets:
            spec = self.recipe.data
            source = getattr(spec, split)
            if source is None:
                raise RecipeError(f"data.{split} is not set")
            self._datasets[split] = spec.selection(split).load(self.path(source), split)
        return self._datasets[split]

    def data_fingerprint(self, *splits: str) -> str:
        """The data spec and the content of the files of ``splits`` (each source hashed once per run)."""
        spec = self.recipe.data
        digests = [self._source_digest(getattr(spec, split)) for split in splits]
        return fingerprint(spec.model_dump(mode="json"), *digests)

    def _source_digest(self, source: str | None) -> str | None:
        if source is None:
            return None
        if source not in self._digests:
            self._digests[source] = fingerprint(data.resolve(self.path(source)))
        return self._digests[source]

    def recipe_text(self) -> str | None:
        if self.recipe_path is None or not self.recipe_path.is_file():
            return None
        return self.recipe_path.read_text(encoding="utf-8")

    def deployable(self) -> list[str]:
        """Artifacts made so far that classify (the default of evaluate, bench, robustness): all but masked LMs."""
        return [n for n in self.artifacts if self.kinds.get(n) != MLM]

    def spec(self, value: str) -> str:
        """A ``[LANG=]PATH`` corpus spec with PATH relative to the recipe file."""
        from edgeptm.data.corpus import parse_spec

        lang, path = parse_spec(value)
        return f"{lang}={self.path(str(path))}" if lang else self.path(str(path))

    def model_fingerprint(self) -> str:
        model = self.recipe.model
        local = Path(self.path(model))
        return fingerprint(model, local) if local.exists() else fingerprint(model)
