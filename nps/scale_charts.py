"""The /chart picture of a CSAT or CES survey: the figure per period with its 95 % band
(CSAT in percent, CES the mean on 1–7) and the answers per score of the kind's scale.

Like nps/charts.py: matplotlib's object API on the Agg canvas only (safe in worker threads),
imported by the function that draws, not with this module.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nps.charts import (
    BAND_COLOR,
    DPI,
    EMPTY_COLOR,
    FONT,
    FONT_SIZE,
    HEIGHT_IN,
    MUTED_TEXT,
    NPS_COLOR,
    TITLE_SIZE,
    WIDTH_IN,
    _safe,
    _x_labels,
)
from nps.scales import CSAT, scale_of

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes

__all__ = ["ScaleLabels", "ScalePoint", "render_scale_chart", "score_colors"]

# The scale's colours from the lowest score (red) to the highest (green), through grey.
_LOW, _MIDDLE, _HIGH = (0xD6, 0x45, 0x41), (0xB4, 0xB4, 0xB4), (0x2E, 0x9E, 0x44)


@dataclass(frozen=True, slots=True)
class ScalePoint:
    """One time bucket: its label, its figure with the 95 % interval, answers per score."""

    label: str
    n: int
    value: float | None
    low: float | None
    high: float | None
    counts: tuple[int, ...]  # answers per score, lowest score first


@dataclass(frozen=True, slots=True)
class ScaleLabels:
    """The chart's texts besides the title, translated by the caller."""

    figure: str = "CSAT, %"
    answers: str = "Answers by score"
    interval: str = "95% interval"
    no_answers: str = "no answers"


def score_colors(kind: str) -> list[str]:
    """A colour per score of the kind's scale, lowest first: red → grey → green."""
    scale = scale_of(kind)
    steps = len(scale.scores())
    colors = []
    for index in range(steps):
        t = index / (steps - 1)
        a, b, f = (_LOW, _MIDDLE, t * 2) if t <= 0.5 else (_MIDDLE, _HIGH, t * 2 - 1)
        rgb = (round(x + (y - x) * f) for x, y in zip(a, b, strict=True))
        colors.append("#" + "".join(f"{c:02x}" for c in rgb))
    return colors


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def render_scale_chart(
    points: Sequence[ScalePoint], *, kind: str, title: str, labels: ScaleLabels
) -> bytes:
    """Render the figure per bucket (top) and the answers per score (bottom) as PNG bytes."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    fig.suptitle(_safe(title), fontsize=TITLE_SIZE, fontweight="bold", fontfamily=FONT)
    count = len(points)
    xs = np.arange(count, dtype=float)
    empty = [p.n <= 0 for p in points]
    for ax in (top, bottom):
        ax.tick_params(labelsize=FONT_SIZE, labelfontfamily=FONT)
        ax.set_xlim(-0.6, max(count, 1) - 0.4)
        ax.spines[["top", "right"]].set_visible(False)
        for x, is_empty in zip(xs, empty, strict=True):
            if is_empty:
                ax.axvspan(x - 0.5, x + 0.5, color=EMPTY_COLOR, lw=0, zorder=0)
    _draw_figure(top, points, xs, kind, labels)
    colors = score_colors(kind)
    _draw_scores(bottom, points, xs, colors, labels)
    if count == 0 or all(empty):
        top.text(
            0.5,
            0.5,
            _safe(labels.no_answers),
            transform=top.transAxes,
            ha="center",
            va="center",
            fontsize=TITLE_SIZE,
            color=MUTED_TEXT,
            fontfamily=FONT,
        )
    _x_labels(bottom, [p.label for p in points], xs)
    scale = scale_of(kind)
    # "★" (U+2605) is in DejaVu Sans; the emoji star of the chat is not.
    mark = "★" if kind == CSAT else ""
    handles = [
        Line2D([], [], color=NPS_COLOR, marker="o", lw=2, label=_safe(labels.figure)),
        Patch(facecolor=BAND_COLOR, alpha=0.45, label=_safe(labels.interval)),
        *(
            Patch(facecolor=color, label=f"{score}{mark}")
            for score, color in zip(scale.scores(), colors, strict=True)
        ),
    ]
    top.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=len(handles),
        frameon=False,
        prop={"family": FONT, "size": FONT_SIZE},
        handlelength=1.2,
        columnspacing=0.9,
        borderaxespad=0.3,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _draw_figure(
    ax: Axes, points: Sequence[ScalePoint], xs: np.ndarray, kind: str, labels: ScaleLabels
) -> None:
    """The figure's line with its band: CSAT on 0–100 %, CES on the 1–7 scale."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, FuncFormatter

    value = np.array([_num(p.value) for p in points])
    low = np.array([_num(p.low) for p in points])
    high = np.array([_num(p.high) for p in points])
    if kind == CSAT:
        ax.set_ylim(0, 100)
        ax.yaxis.set_major_locator(FixedLocator([0, 25, 50, 75, 100]))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
    else:
        scale = scale_of(kind)
        ax.set_ylim(scale.lowest, scale.highest)
        ax.yaxis.set_major_locator(FixedLocator(list(scale.scores())))
    ax.grid(axis="y", color="#e4e4e4", lw=0.8)
    ax.set_axisbelow(True)
    ax.set_ylabel(_safe(labels.figure), fontsize=FONT_SIZE, fontfamily=FONT)
    has_band = ~(np.isnan(low) | np.isnan(high))
    ax.fill_between(xs, low, high, where=has_band, color=BAND_COLOR, alpha=0.45, lw=0, zorder=2)
    for i in np.flatnonzero(has_band):
        alone = (i == 0 or not has_band[i - 1]) and (i == len(points) - 1 or not has_band[i + 1])
        if alone:  # a lone bucket's band would be a zero-width polygon
            ax.fill_between(
                [i - 0.15, i + 0.15], low[i], high[i], color=BAND_COLOR, alpha=0.45, lw=0
            )
    ax.plot(xs, value, color=NPS_COLOR, lw=2, marker="o", ms=4, zorder=4, clip_on=False)


def _draw_scores(
    ax: Axes, points: Sequence[ScalePoint], xs: np.ndarray, colors: list[str], labels: ScaleLabels
) -> None:
    """Stacked shares of each score per bucket, the lowest score at the base."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, FuncFormatter

    totals = np.array([sum(p.counts) for p in points], dtype=float)
    safe = np.where(totals > 0, totals, 1.0)
    base = np.zeros(len(points))
    for index, color in enumerate(colors):
        share = np.array([p.counts[index] for p in points], dtype=float) * 100.0 / safe
        share = np.where(totals > 0, share, 0.0)
        ax.bar(xs, share, width=0.78, bottom=base, color=color, zorder=2)
        base = base + share
    ax.set_ylim(0, 118)
    ax.yaxis.set_major_locator(FixedLocator([0, 50, 100]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
    ax.grid(axis="y", color="#e4e4e4", lw=0.8)
    ax.set_axisbelow(True)
    ax.set_ylabel(_safe(labels.answers), fontsize=FONT_SIZE, fontfamily=FONT)
    dense = len(points) > 26
    for x, point in zip(xs, points, strict=True):
        if point.n > 0:
            ax.text(
                x,
                102,
                str(point.n),
                ha="center",
                va="bottom",
                rotation=90 if dense else 0,
                fontsize=FONT_SIZE,
                color="#333333",
                fontfamily=FONT,
            )
