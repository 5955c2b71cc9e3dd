"""PNG heatmaps (rows × columns of numbers, blank where not applicable) drawn with matplotlib's Agg canvas."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def draw(
    path: Path,
    panels: Sequence[tuple[str, np.ndarray, bool]],
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    blank: np.ndarray | None = None,
) -> None:
    """Side-by-side heatmaps; each panel is ``(title, matrix, diverging)`` with NaN for blank cells, labelled
    with ``blank``'s text where it has some (``n/a``, ``no effect``), a dash otherwise.

    Diverging panels are centred on zero (red: worse, blue: better); the others run from zero up.
    """
    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    width = max(4.0, 0.75 * len(columns) + 2.6)
    fig = Figure(figsize=(width * len(panels), 0.32 * len(rows) + 1.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, matrix, diverging) in zip(axes, panels):
        data = np.ma.masked_invalid(np.asarray(matrix, dtype=float))
        finite = np.abs(data.compressed())
        top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        cmap = colormaps["RdBu_r" if diverging else "Reds"].with_extremes(bad="#e6e6e6")
        norm = TwoSlopeNorm(0.0, -top, top) if diverging else None
        image = ax.imshow(
            data, cmap=cmap, norm=norm, vmin=None if diverging else 0.0, vmax=None if diverging else top, aspect="auto"
        )
        ax.set_xticks(range(len(columns)), labels=list(columns), rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), labels=list(rows), fontsize=8)
        ax.set_title(name, fontsize=9)
        for (r, c), value in np.ndenumerate(np.asarray(matrix, dtype=float)):
            label = str(blank[r, c]) if blank is not None and blank[r, c] else "–"
            text = label if np.isnan(value) else f"{value:.1f}"
            strong = not np.isnan(value) and abs(value) > 0.6 * top
            ax.text(c, r, text, ha="center", va="center", fontsize=6.5, color="white" if strong else "black")
        fig.colorbar(image, ax=ax, shrink=0.6)
    fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)
