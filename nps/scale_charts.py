"""The /chart picture of a CSAT or CES survey: the figure per period with its 95 % band
(CSAT in percent, CES the mean on 1–7) and the answers per score of the kind's scale.

Like nps/charts.py: matplotlib's object API on the Agg canvas only (safe in worker threads),
imported by the function that draws, not with this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nps.charts import (
    _DENSE,
    BAND_COLOR,
    NPS_COLOR,
    _num,
    _safe,
    _x_labels,
    answer_counts,
    draw_band,
    legend_above,
    no_answers_note,
    png_bytes,
    shares_axis,
    two_panels,
    y_grid,
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


def render_scale_chart(
    points: Sequence[ScalePoint], *, kind: str, title: str, labels: ScaleLabels
) -> bytes:
    """Render the figure per bucket (top) and the answers per score (bottom) as PNG bytes."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    empty = [p.n <= 0 for p in points]
    fig, top, bottom, xs = two_panels(title, empty)
    _draw_figure(top, points, xs, kind, labels)
    colors = score_colors(kind)
    _draw_scores(bottom, points, xs, colors, labels)
    if not points or all(empty):
        no_answers_note(top, labels.no_answers, y=0.5)
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
    legend_above(top, handles, handlelength=1.2, columnspacing=0.9)
    return png_bytes(fig)


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
    y_grid(ax, labels.figure)
    draw_band(ax, xs, low, high)
    ax.plot(xs, value, color=NPS_COLOR, lw=2, marker="o", ms=4, zorder=4, clip_on=False)


def _draw_scores(
    ax: Axes, points: Sequence[ScalePoint], xs: np.ndarray, colors: list[str], labels: ScaleLabels
) -> None:
    """Stacked shares of each score per bucket, the lowest score at the base."""
    import numpy as np

    totals = np.array([sum(p.counts) for p in points], dtype=float)
    safe = np.where(totals > 0, totals, 1.0)
    base = np.zeros(len(points))
    for index, color in enumerate(colors):
        share = np.array([p.counts[index] for p in points], dtype=float) * 100.0 / safe
        share = np.where(totals > 0, share, 0.0)
        ax.bar(xs, share, width=0.78, bottom=base, color=color, zorder=2)
        base = base + share
    shares_axis(ax, labels.answers, top=118)
    answer_counts(ax, xs, [p.n for p in points], dense=len(points) > _DENSE)
