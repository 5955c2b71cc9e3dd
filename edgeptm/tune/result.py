"""Typed results of a search (kept as JSON in ``tune.json`` and the recipe state)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from edgeptm.measure.bootstrap import Interval

Status = Literal["chosen", "fits", "over-limit", "rejected", "unavailable", "not-tried"]
"""``chosen``: the pick; ``fits``: met every limit; ``over-limit``: accurate enough but over the latency,
RAM or storage budget (still on the plot); ``rejected``: failed to build or lost too much accuracy;
``unavailable``: cannot run here; ``not-tried``: the budget ran out first."""


class LanguageScore(TypedDict):
    """Macro-F1 (0–1) in one language (or ``all``), its drop versus the source model in points, n and
    its bootstrap interval."""

    macro_f1: float
    drop: float
    n: int
    interval: NotRequired[Interval]


class Accuracy(TypedDict):
    overall: LanguageScore
    per_language: dict[str, LanguageScore]
    worst_language: str
    """The language with the largest drop (ties: the lowest macro-F1)."""


SeqUnit = Literal["tokens", "characters"]
"""What ``seq_length`` counts: tokens, or characters for a model that reads raw text (the TF-IDF baseline)."""


class Timing(TypedDict):
    """Measured on this machine with the profile's threads, in a fresh process."""

    batch_size: int
    seq_length: int
    seq_unit: SeqUnit
    text_of_tokens: NotRequired[int]
    """For a raw-text model: timed on the text the source model reads as this many tokens."""
    threads: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    peak_rss_mb: float
    load_s: float


def timed_input(timing: Mapping[str, Any]) -> str:
    """What one input was when timed: ``128 tokens``, or for a raw-text model ``381 characters (the text of
    128 tokens)``."""
    unit = timing.get("seq_unit", "tokens")
    if unit == "characters" and "text_of_tokens" in timing:
        return f"{timing['seq_length']} characters (the text of {timing['text_of_tokens']} tokens)"
    return f"{timing['seq_length']} {unit}"


class CandidateResult(TypedDict):
    name: str
    spec: dict[str, Any]
    status: Status
    reason: NotRequired[str]
    key: NotRequired[str]
    artifact: NotRequired[str]
    size_mb: NotRequired[float]
    built_steps: NotRequired[int]
    """Build steps this run made (0: every step came from the cache)."""
    evaluated: NotRequired[bool]
    """Whether this run evaluated it (False: the evaluation came from the cache)."""
    accuracy: NotRequired[Accuracy]
    timing: NotRequired[Timing]
    on_front: NotRequired[bool]


class Reference(TypedDict):
    """The source model (torch fp32) that drops are measured against, timed like the candidates."""

    name: str
    artifact: str
    size_mb: float
    accuracy: Accuracy
    timing: NotRequired[Timing]


class TuneResult(TypedDict):
    profile: dict[str, Any]
    machine: str
    """Where latency and RSS were measured (CPU, flags, cores, threads)."""
    measured_elsewhere: str | None
    """Why this machine is not the profile's device (``None``: it matches)."""
    objective: str
    eval_source: str
    eval_n: int
    reference: Reference
    candidates: list[CandidateResult]
    front: list[str]
    chosen: str | None
    built_steps: int
    cached_evaluations: int
    seconds: float
    budget_minutes: float | None
    load_1min: float | None
