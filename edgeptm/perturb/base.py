"""The :class:`Perturbation` type, per-example seeding, and ``NAME[:STRENGTH]`` specs."""

from __future__ import annotations

import difflib
import hashlib
import math
import random
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from edgeptm.data.languages import canonical_language
from edgeptm.errors import PerturbationError

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Context:
    """What a perturbation may know besides the text: its language and other languages' words."""

    language: str = "und"
    donors: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Words from each language's sample (for code-switching), by language."""


PerturbFn = Callable[[str, float, random.Random, Context], str]


@dataclass(frozen=True)
class Perturbation:
    """A seeded text perturbation with a strength range and the scripts or languages it applies to.

    ``fn(text, strength, rng, context)`` returns the perturbed text; it must draw all its
    randomness from ``rng`` and leave text it has nothing to do on unchanged. ``scripts``
    (Unicode script names such as ``Latin``, ``Arabic``, ``Han``) and ``languages`` (codes or
    English names) restrict where it applies; ``None`` means anywhere.
    """

    name: str
    description: str
    fn: PerturbFn
    family: str = "other"
    scripts: AbstractSet[str] | None = None
    """Stored as a frozenset."""
    languages: AbstractSet[str] | None = None
    """Stored as a frozenset of canonical codes."""
    strength_range: tuple[float, float] = (0.0, 1.0)
    default_strength: float = 0.1
    strength_unit: str = "share of units changed"
    integer_strength: bool = False
    needs_other_languages: bool = False
    """It borrows words from other languages, so it needs two or more in the data."""

    def __post_init__(self) -> None:
        if not NAME_PATTERN.match(self.name):
            raise ValueError(f"perturbation name {self.name!r} must match {NAME_PATTERN.pattern}")
        low, high = self.strength_range
        if not low <= self.default_strength <= high:
            raise ValueError(f"perturbation {self.name!r}: default strength outside {self.strength_range}")
        if self.scripts is not None:
            object.__setattr__(self, "scripts", frozenset(self.scripts))
        if self.languages is not None:
            object.__setattr__(self, "languages", frozenset(canonical_language(x) for x in self.languages))

    def check_strength(self, strength: float) -> float:
        """``strength`` if it lies in the range (and is whole where it must be), else a clear error."""
        low, high = self.strength_range
        bad_int = self.integer_strength and not float(strength).is_integer()
        if math.isnan(strength) or not low <= strength <= high or bad_int:
            kind = "a whole number " if self.integer_strength else ""
            raise PerturbationError(
                f"perturbation {self.name!r}: strength {strength:g} is out of range; use {kind}"
                f"{_num(low)} to {_num(high)} ({self.strength_unit}, default {_num(self.default_strength)})"
            )
        return float(strength)

    def apply(
        self, text: str, strength: float | None = None, rng: random.Random | None = None, context: Context | None = None
    ) -> str:
        """The perturbed ``text`` (``strength`` defaults to :attr:`default_strength`)."""
        s = self.check_strength(self.default_strength if strength is None else strength)
        return self.fn(text, s, rng or random.Random(0), context or Context())

    def applies_to(self, language: str, scripts: Collection[str], languages_present: Collection[str] = ()) -> bool:
        """Whether it applies to ``language`` written in ``scripts``, given the languages present."""
        if self.languages is not None and canonical_language(language) not in self.languages:
            return False
        if self.scripts is not None and not set(self.scripts).intersection(scripts):
            return False
        if self.needs_other_languages:
            mine = canonical_language(language)
            return any(canonical_language(x) != mine for x in languages_present)
        return True

    def where(self) -> str:
        """The scripts/languages it applies to, for listings."""
        parts = []
        if self.languages is not None:
            parts.append("languages " + ", ".join(sorted(self.languages)))
        if self.scripts is not None:
            parts.append(", ".join(sorted(self.scripts)))
        if self.needs_other_languages:
            parts.append("2+ languages")
        return "; ".join(parts) or "any script"


def _num(x: float) -> str:
    return f"{x:g}"


def example_rng(seed: int, name: str, text: str) -> random.Random:
    """The random stream for one example: a function of the seed, the perturbation and the text only,
    so results don't depend on the order or the subset of examples evaluated."""
    digest = hashlib.sha256(f"{seed}\0{name}\0{text}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def count(strength: float, n: int) -> int:
    """How many of ``n`` units a share ``strength`` touches: 0 at 0, else at least one."""
    if strength <= 0 or n <= 0:
        return 0
    return min(n, max(1, round(strength * n)))


@dataclass(frozen=True)
class Spec:
    """A perturbation at one strength, as requested on the command line or in a recipe."""

    perturbation: Perturbation
    strength: float

    @property
    def label(self) -> str:
        """``name`` at the default strength, ``name@strength`` otherwise."""
        p = self.perturbation
        return p.name if self.strength == p.default_strength else f"{p.name}@{_num(self.strength)}"


def parse_spec(text: str) -> tuple[str, float | None]:
    """``NAME`` or ``NAME:STRENGTH`` into its parts; a clear error when the strength isn't a number."""
    name, sep, value = text.strip().partition(":")
    if not sep:
        return name, None
    try:
        return name, float(value)
    except ValueError:
        raise PerturbationError(
            f"perturbation {text!r}: strength {value!r} is not a number; use NAME[:STRENGTH]"
        ) from None


def resolve_specs(registry: Mapping[str, Perturbation], specs: Iterable[str] | None) -> list[Spec]:
    """The requested specs (default: every registered perturbation at its default strength)."""
    if not registry:
        raise PerturbationError(
            "no perturbations are registered; the built-in suite is the `perturbations` plugin: "
            "check EDGEPTM_PLUGINS and EDGEPTM_BLOCK_PLUGINS"
        )
    if not specs:
        return [Spec(p, p.default_strength) for p in registry.values()]
    out: list[Spec] = []
    for text in specs:
        name, strength = parse_spec(text)
        if name not in registry:
            close = difflib.get_close_matches(name, list(registry), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise PerturbationError(
                f"unknown perturbation {name!r}; {hint}`edgeptm robustness --list` shows the {len(registry)} registered"
            )
        p = registry[name]
        spec = Spec(p, p.check_strength(p.default_strength if strength is None else strength))
        if spec not in out:
            out.append(spec)
    return out
