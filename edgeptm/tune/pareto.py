"""The Pareto front over latency (lower), worst-language macro-F1 (higher) and size (lower), and the
choice among the candidates that fit the profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from edgeptm.tune.result import Accuracy, CandidateResult

Objective = Literal["latency", "size", "accuracy"]


def _point(c: CandidateResult) -> tuple[float, float, float]:
    """Minimised coordinates: latency, −worst-language macro-F1 (the lowest of any language), size."""
    return (c["timing"]["p50_ms"], -worst_f1(c["accuracy"]), c["size_mb"])


def worst_f1(accuracy: Accuracy) -> float:
    """The lowest macro-F1 of any language (0–1): the front's accuracy axis."""
    return min(s["macro_f1"] for s in accuracy["per_language"].values())


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` is no worse than ``b`` on every (minimised) axis and better on one."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def nondominated(points: Mapping[str, Sequence[float]]) -> list[str]:
    """Names of the points (minimised coordinates) no other point dominates, in coordinate order."""
    keep = [n for n, p in points.items() if not any(dominates(q, p) for m, q in points.items() if m != n)]
    return sorted(keep, key=lambda n: (tuple(points[n]), n))


def front(measured: Sequence[CandidateResult]) -> list[str]:
    """Names of the candidates no other measured candidate dominates, fastest first."""
    return nondominated({c["name"]: _point(c) for c in measured})


def choose(fitting: Sequence[CandidateResult], objective: Objective, tolerance: float = 0.05) -> CandidateResult | None:
    """The best fitting candidate by ``objective``, ties broken by the other two axes in order.

    Latency and size within ``tolerance`` (relative) of the best count as ties: a 2% latency gap on a
    shared machine is noise, and then the smaller or more accurate variant should win."""
    if not fitting:
        return None
    axis = {"latency": 0, "accuracy": 1, "size": 2}[objective]
    best = min(_point(c)[axis] for c in fitting)
    if axis != 1:
        fitting = [c for c in fitting if _point(c)[axis] <= best + abs(best) * tolerance]
    order = {"latency": (1, 2, 0), "accuracy": (1, 0, 2), "size": (1, 0, 2)}[objective]
    return min(fitting, key=lambda c: tuple(_point(c)[i] for i in order) + (c["name"],))
