"""The one-line answer a report starts with: the chosen variant against fp32 (size ×, latency ×,
macro-F1 Δ overall and in the worst language)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Headline:
    variant: str
    reference: str
    size_ratio: float | None
    """Reference size / variant size (3.6: 3.6× smaller)."""
    speedup: float | None
    """Reference p50 / variant p50 (2.9: 2.9× faster)."""
    f1_delta: float
    """Variant − reference macro-F1, in points."""
    worst_language: str
    worst_delta: float
    worst_n: int
    timing: str | None
    """Where and how latency was measured."""

    def text(self) -> str:
        parts = [f"{self.variant} vs {self.reference}:"]
        if self.size_ratio is not None:
            parts.append(f"{_times(self.size_ratio, 'smaller', 'larger')},")
        if self.speedup is not None:
            parts.append(f"{_times(self.speedup, 'faster', 'slower')},")
        parts.append(
            f"macro-F1 {_signed(self.f1_delta)} overall, {_signed(self.worst_delta)} in {self.worst_language} "
            f"(worst language, n={self.worst_n})"
        )
        return " ".join(parts)


def _times(ratio: float, better: str, worse: str) -> str:
    return f"{ratio:.1f}× {better}" if ratio >= 1 else f"{1 / ratio:.1f}× {worse}"


def _signed(points: float) -> str:
    return f"{points:+.1f}".replace("-", "−")


def _worst(variant: Mapping[str, Any], reference: Mapping[str, Any]) -> tuple[str, float, int]:
    deltas = {
        lang: 100 * (block["macro_f1"] - reference["per_language"][lang]["macro_f1"])
        for lang, block in variant["per_language"].items()
        if lang in reference["per_language"]
    }
    lang = min(deltas, key=lambda k: (round(deltas[k], 9), k))
    return lang, deltas[lang], variant["per_language"][lang]["n"]


def from_tune(result: Mapping[str, Any]) -> Headline | None:
    """The search's choice against fp32: the same backend's fp32 export of the same kind when it was timed
    (same runtime, so the ratio is the precision's own), else the source torch model (always, for the
    baseline); all timed here with the profile's threads."""
    from edgeptm.tune.result import timed_input

    chosen = next((c for c in result["candidates"] if c["status"] == "chosen"), None)
    if chosen is None:
        return None
    spec = chosen["spec"]
    same = next(
        (
            c
            for c in result["candidates"]
            if "timing" in c
            and c["name"] != chosen["name"]
            and c["spec"].get("backend") == spec["backend"]
            and c["spec"].get("precision") == "fp32"
            and c["spec"].get("kind", "transformer") == spec.get("kind", "transformer")
            and c["spec"].get("transforms") == spec["transforms"]
            and c["spec"].get("max_length") == spec["max_length"]
        ),
        None,
    )
    ref = same or result["reference"]
    ref_name = same["name"] if same else ref["name"]
    acc, ref_acc = chosen["accuracy"], ref["accuracy"]
    lang, delta, n = _worst({"per_language": acc["per_language"]}, {"per_language": ref_acc["per_language"]})
    t, rt = chosen.get("timing"), ref.get("timing")
    where = (
        f"p50 at batch {t['batch_size']} × {timed_input(t)} on {result['machine']}, load {result.get('load_1min')}"
        if t
        else None
    )
    return Headline(
        variant=chosen["name"],
        reference=ref_name,
        size_ratio=ref["size_mb"] / chosen["size_mb"] if chosen.get("size_mb") else None,
        speedup=rt["p50_ms"] / t["p50_ms"] if t and rt else None,
        f1_delta=100 * (acc["overall"]["macro_f1"] - ref_acc["overall"]["macro_f1"]),
        worst_language=lang,
        worst_delta=delta,
        worst_n=n,
        timing=where,
    )


def is_reference(evaluation: Mapping[str, Any]) -> bool:
    return evaluation["backend"] == "torch" and evaluation["precision"] == "fp32"


def first_measurement(bench: Mapping[str, Any]) -> Mapping[str, Any]:
    """The smallest batch at the first sequence length: the setting a headline quotes."""
    return min(bench["measurements"], key=lambda m: (m["batch_size"], m["seq_length"]))


def from_run(
    evaluations: Sequence[Mapping[str, Any]], bench: Sequence[Mapping[str, Any]], variant: str | None
) -> Headline | None:
    """``variant`` (default: the last evaluated artifact) against the torch fp32 model of a recipe run."""
    reference = next((e for e in evaluations if is_reference(e)), None)
    others = [e for e in evaluations if e is not reference]
    if reference is None or not others:
        return None
    chosen = next((e for e in others if e.get("name") == variant), others[-1])
    lang, delta, n = _worst(chosen, reference)
    timed = {b["name"]: b for b in bench}
    speedup = size = None
    where = None
    if chosen.get("name") in timed and reference.get("name") in timed:
        a, b = timed[chosen["name"]], timed[reference["name"]]
        ma, mb = first_measurement(a), first_measurement(b)
        # a raw-text model (the baseline) is timed on characters, the torch model on tokens: no like-for-like ratio
        same_input = a.get("seq_unit", "tokens") == b.get("seq_unit", "tokens")
        speedup = mb["p50_ms"] / ma["p50_ms"] if ma["p50_ms"] and same_input else None
        size = b["size_mb"] / a["size_mb"] if a["size_mb"] else None
        machine = a.get("machine") or {}
        where = (
            f"p50 at batch {ma['batch_size']} × {ma['seq_length']} {a.get('seq_unit', 'tokens')} on "
            f"{machine.get('description', 'this machine')}, load {machine.get('load_1min')}"
        )
    return Headline(
        variant=chosen.get("name") or chosen["artifact"],
        reference=f"{reference.get('name', 'model')} (torch fp32)",
        size_ratio=size,
        speedup=speedup,
        f1_delta=100 * (chosen["overall"]["macro_f1"] - reference["overall"]["macro_f1"]),
        worst_language=lang,
        worst_delta=delta,
        worst_n=n,
        timing=where,
    )
