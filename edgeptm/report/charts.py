"""Inline SVG charts for the HTML report, drawn with matplotlib (the ``report`` extra).

Each point of the Pareto plot is its own SVG group with an id (``pareto-point-<i>``), so a browser
test can count what was drawn. Output is deterministic (fixed hash salt, no date).
"""

from __future__ import annotations

import importlib.util
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

MISSING = "Plots need matplotlib: pip install 'edgeptm[report]'. The tables below hold the same figures."


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


@dataclass(frozen=True)
class PlotPoint:
    name: str
    latency_ms: float
    worst_f1: float
    """Worst-language macro-F1, in points."""
    size_mb: float
    on_front: bool
    chosen: bool = False
    fits: bool = True


@dataclass(frozen=True)
class LanguageBar:
    """One series (an artifact) of the per-language chart: macro-F1 and its 95% interval, in points."""

    name: str
    scores: dict[str, tuple[float, float, float]]


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


def _context():
    import matplotlib

    return matplotlib.rc_context({"svg.hashsalt": "edgeptm", "svg.fonttype": "path", "font.size": 8})


def pareto_svg(points: Sequence[PlotPoint], title: str) -> str:
    """Latency (x) against worst-language macro-F1 (y); marker area ∝ size; the front joined by a line."""
    from matplotlib.figure import Figure

    with _context():
        fig = Figure(figsize=(6.4, 3.8), layout="constrained")
        ax = fig.subplots()
        biggest = max((p.size_mb for p in points), default=1.0) or 1.0
        for i, p in enumerate(points):
            colour = "#d62728" if p.chosen else ("#1f77b4" if p.on_front else "#9a9a9a")
            marker = "o" if p.fits else "x"
            artist = ax.scatter(
                [p.latency_ms], [p.worst_f1], s=40 + 260 * p.size_mb / biggest, c=colour, marker=marker, alpha=0.8
            )
            artist.set_gid(f"pareto-point-{i}")
            ax.annotate(p.name, (p.latency_ms, p.worst_f1), textcoords="offset points", xytext=(6, 4), fontsize=7)
        front = sorted((p for p in points if p.on_front), key=lambda p: p.latency_ms)
        if len(front) > 1:
            ax.plot([p.latency_ms for p in front], [p.worst_f1 for p in front], color="#1f77b4", lw=1, ls="--")
        lat = [p.latency_ms for p in points if p.latency_ms > 0]
        log = bool(lat) and max(lat) / min(lat) > 20
        if log:
            ax.set_xscale("log")
        ax.set_xlabel(f"p50 latency (ms, measured on this machine{', log scale' if log else ''})")
        ax.set_ylabel("worst-language macro-F1")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        return _svg(fig)


def language_bars_svg(series: Sequence[LanguageBar], title: str) -> str:
    """Grouped bars of macro-F1 per language, one colour per artifact, with 95% interval whiskers."""
    import numpy as np
    from matplotlib.figure import Figure

    langs = list(dict.fromkeys(lang for s in series for lang in s.scores))
    with _context():
        fig = Figure(figsize=(max(5.0, 0.7 * len(langs) * max(1, len(series)) ** 0.5 + 2), 3.4), layout="constrained")
        ax = fig.subplots()
        width = 0.8 / max(1, len(series))
        x = np.arange(len(langs))
        for k, s in enumerate(series):
            values = [s.scores.get(lang, (np.nan, np.nan, np.nan)) for lang in langs]
            mid = np.array([v[0] for v in values])
            err = np.array([[v[0] - v[1] for v in values], [v[2] - v[0] for v in values]])
            ax.bar(x + (k - (len(series) - 1) / 2) * width, mid, width, yerr=err, capsize=2, label=s.name)
        ax.set_xticks(x, labels=langs)
        ax.set_ylabel("macro-F1 (95% bootstrap interval)")
        ax.set_ylim(0, 100)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(axis="y", alpha=0.3)
        return _svg(fig)
