"""The /chart picture: NPS per period with its 95 % band, and the answer mix per period.

Rendered with matplotlib's object API on the Agg canvas only: no pyplot, no global state, no
display, so it is safe to call from worker threads (``asyncio.to_thread``) concurrently —
matplotlib caches fonts per thread. Rendering takes a few hundred milliseconds of CPU, so do
call it off the event loop. The panels, band, axes and legend drawn here (two_panels,
draw_band, shares_axis, …) also make the CSAT and CES chart (nps/scale_charts.py).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# numpy and matplotlib (~40 MB, ~0.5 s) are imported by the functions that draw, not with this
# module, so that the bot starts without them (bench/footprint.py).

__all__ = ["ChartLabels", "TrendPoint", "render_trend_chart"]

# 8 × 6 in at 150 dpi = 1200 × 900 px: sharp on a phone, small enough to send as a photo.
WIDTH_IN, HEIGHT_IN, DPI = 8.0, 6.0, 150
FONT = "DejaVu Sans"  # ships with matplotlib and covers Latin, Cyrillic and Greek
FONT_SIZE = 10  # points; at 150 dpi this stays legible when a phone scales the picture down
TITLE_SIZE = 13

PROMOTER_COLOR = "#2e9e44"
PASSIVE_COLOR = "#b4b4b4"
DETRACTOR_COLOR = "#d64541"
NPS_COLOR = "#1f4e9c"
BAND_COLOR = "#8fb3e8"
EMPTY_COLOR = "#f2f2f2"
MUTED_TEXT = "#6b6b6b"

# Beyond this many buckets per-point texts no longer fit side by side at 1200 px: the n
# labels above the bars turn vertical and the top panel drops its duplicate n labels.
_DENSE = 26
# At most this many x-axis labels are printed; the rest of the ticks stay unlabelled.
_MAX_X_LABELS = 26


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One time bucket: its label, answer counts and NPS with its 95 % interval."""

    label: str
    n: int
    nps: float | None
    low: float | None
    high: float | None
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True, slots=True)
class ChartLabels:
    """Every text the chart prints besides the title, so callers can translate them."""

    nps: str = "NPS"
    answers: str = "Answers"
    promoters: str = "Promoters"
    passives: str = "Passives"
    detractors: str = "Detractors"
    interval: str = "95% interval"
    no_answers: str = "no answers"


@cache
def _glyphs() -> frozenset[int]:
    """Return the code points the chart font can draw."""
    from matplotlib import font_manager
    from matplotlib.font_manager import FontProperties

    path = font_manager.findfont(FontProperties(family=FONT), fallback_to_default=False)
    return frozenset(font_manager.get_font(path).get_charmap())


def _safe(text: str) -> str:
    """Make user text drawable: drop glyphs the font lacks and keep "$" literal."""
    glyphs = _glyphs()
    # A survey called "Доставка 🚚" would otherwise draw a box and warn on every render.
    kept = "".join(ch for ch in text if ch == "\n" or ord(ch) in glyphs)
    # matplotlib reads text between two "$" as mathtext; "\$" is a literal dollar sign.
    return " ".join(kept.split(" ")).strip().replace("$", r"\$")


def _num(value: float | None) -> float:
    """Return a float, with None (no data) as NaN so matplotlib leaves a gap."""
    return math.nan if value is None else float(value)


def _signed(value: float, _pos: object = None) -> str:
    """Format an NPS tick the way NPS is reported: +30, 0, −30."""
    return "0" if value == 0 else f"{value:+.0f}".replace("-", "\u2212")


def render_trend_chart(points: Sequence[TrendPoint], *, title: str, labels: ChartLabels) -> bytes:
    """Render the NPS trend (top) and the answer mix per bucket (bottom) as PNG bytes."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    empty = [p.n <= 0 for p in points]
    fig, top, bottom, xs = two_panels(title, empty)
    all_empty = not points or all(empty)
    dense = len(points) > _DENSE

    _draw_nps(top, points, xs, empty, labels, annotate=not dense)
    _draw_mix(bottom, points, xs, labels, dense=dense)

    if all_empty:
        no_answers_note(top, labels.no_answers, y=0.62)
    else:
        for x, is_empty in zip(xs, empty, strict=True):
            if is_empty:
                top.text(
                    x,
                    0,
                    _safe(labels.no_answers),
                    rotation=90,
                    ha="center",
                    va="center",
                    fontsize=FONT_SIZE,
                    color=MUTED_TEXT,
                    fontfamily=FONT,
                    zorder=5,
                    # An opaque box keeps the zero line from striking through the label.
                    bbox={"facecolor": EMPTY_COLOR, "edgecolor": "none", "pad": 1.5},
                )

    _x_labels(bottom, [p.label for p in points], xs)

    handles = [
        Line2D([], [], color=NPS_COLOR, marker="o", lw=2, label=_safe(labels.nps)),
        Patch(facecolor=BAND_COLOR, alpha=0.45, label=_safe(labels.interval)),
        Patch(facecolor=PROMOTER_COLOR, label=_safe(labels.promoters)),
        Patch(facecolor=PASSIVE_COLOR, label=_safe(labels.passives)),
        Patch(facecolor=DETRACTOR_COLOR, label=_safe(labels.detractors)),
    ]
    legend_above(top, handles, handlelength=1.6, columnspacing=1.2)
    return png_bytes(fig)


def two_panels(title: str, empty: Sequence[bool]) -> tuple[Figure, Axes, Axes, np.ndarray]:
    """The figure of every chart: a trend panel above an answers panel sharing the x axis,
    one slot per bucket; returns the figure, both panels and the slots' x positions."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    fig.suptitle(_safe(title), fontsize=TITLE_SIZE, fontweight="bold", fontfamily=FONT)
    count = len(empty)
    xs = np.arange(count, dtype=float)
    for ax in (top, bottom):
        ax.tick_params(labelsize=FONT_SIZE, labelfontfamily=FONT)
        ax.set_xlim(-0.6, max(count, 1) - 0.4)
        ax.spines[["top", "right"]].set_visible(False)
        # Empty buckets are shaded in both panels so the gap reads as "no data", not "zero".
        for x, is_empty in zip(xs, empty, strict=True):
            if is_empty:
                ax.axvspan(x - 0.5, x + 0.5, color=EMPTY_COLOR, lw=0, zorder=0)
    return fig, top, bottom, xs


def no_answers_note(ax: Axes, text: str, *, y: float) -> None:
    """The "no answers" note across a panel with nothing to draw."""
    ax.text(
        0.5,
        y,
        _safe(text),
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=TITLE_SIZE,
        color=MUTED_TEXT,
        fontfamily=FONT,
    )


def legend_above(
    ax: Axes, handles: Sequence[Artist], *, handlelength: float, columnspacing: float
) -> None:
    """One row of legend entries above the panel."""
    # Anchored to the top panel rather than the figure: constrained layout then reserves room
    # for it below the title (a figure legend "outside upper center" overlaps the suptitle).
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
        ncols=len(handles),
        frameon=False,
        prop={"family": FONT, "size": FONT_SIZE},
        handlelength=handlelength,
        columnspacing=columnspacing,
        borderaxespad=0.3,
    )


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _draw_nps(
    ax: Axes,
    points: Sequence[TrendPoint],
    xs: np.ndarray,
    empty: list[bool],
    labels: ChartLabels,
    *,
    annotate: bool,
) -> None:
    """Draw the NPS line, its 95 % band, the zero line and the n labels."""
    import numpy as np
    from matplotlib.ticker import FixedLocator, FuncFormatter

    nps = np.array([math.nan if e else _num(p.nps) for p, e in zip(points, empty, strict=True)])
    low = np.array([math.nan if e else _num(p.low) for p, e in zip(points, empty, strict=True)])
    high = np.array([math.nan if e else _num(p.high) for p, e in zip(points, empty, strict=True)])
    nps, low, high = (np.clip(a, -100, 100) for a in (nps, low, high))

    ax.set_ylim(-100, 100)
    ax.yaxis.set_major_locator(FixedLocator([-100, -50, 0, 50, 100]))
    ax.yaxis.set_major_formatter(FuncFormatter(_signed))
    y_grid(ax, labels.nps)
    ax.axhline(0, color="#8a8a8a", lw=1, zorder=1)
    draw_band(ax, xs, low, high)

    # NaN breaks the line, so empty buckets show as gaps rather than invented values.
    ax.plot(
        xs,
        nps,
        color=NPS_COLOR,
        lw=2,
        marker="o",
        ms=5 if annotate else 3.5,
        zorder=4,
        clip_on=False,
    )

    if not annotate:
        return
    for x, value, point in zip(xs, nps, points, strict=True):
        if math.isnan(value):
            continue
        # Above the point, unless that would run into the top edge.
        above = value < 70
        ax.annotate(
            f"n={point.n}",
            (x, value),
            xytext=(0, 7 if above else -8),
            textcoords="offset points",
            ha="center",
            va="bottom" if above else "top",
            fontsize=FONT_SIZE - 1,
            color=MUTED_TEXT,
            fontfamily=FONT,
            zorder=6,
            # Keeps the label legible where it crosses the band or the line.
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 0.6},
        )


def _draw_mix(
    ax: Axes,
    points: Sequence[TrendPoint],
    xs: np.ndarray,
    labels: ChartLabels,
    *,
    dense: bool,
) -> None:
    """Draw stacked promoter/passive/detractor shares per bucket with n above each bar."""
    import numpy as np

    totals = np.array([p.promoters + p.passives + p.detractors for p in points], dtype=float)
    safe_totals = np.where(totals > 0, totals, 1.0)

    def share(counts: list[int]) -> np.ndarray:
        return np.where(totals > 0, 100.0 * np.array(counts, dtype=float) / safe_totals, 0.0)

    detractors = share([p.detractors for p in points])
    passives = share([p.passives for p in points])
    promoters = share([p.promoters for p in points])
    # Detractors at the base: the share that needs attention is read off the axis directly.
    ax.bar(xs, detractors, width=0.78, color=DETRACTOR_COLOR, zorder=2)
    ax.bar(xs, passives, width=0.78, bottom=detractors, color=PASSIVE_COLOR, zorder=2)
    ax.bar(xs, promoters, width=0.78, bottom=detractors + passives, color=PROMOTER_COLOR, zorder=2)

    # Headroom above 100 % for the n labels; vertical labels need more of it.
    shares_axis(ax, labels.answers, top=135 if dense else 118)
    answer_counts(ax, xs, [p.n for p in points], dense=dense)


def y_grid(ax: Axes, label: str) -> None:
    """Horizontal grid lines behind the data, and the y axis's label."""
    ax.grid(axis="y", color="#e4e4e4", lw=0.8)
    ax.set_axisbelow(True)
    ax.set_ylabel(_safe(label), fontsize=FONT_SIZE, fontfamily=FONT)


def shares_axis(ax: Axes, label: str, *, top: float) -> None:
    """The y axis of stacked shares: 0–100 % with room above for the answer counts."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(FixedLocator([0, 50, 100]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
    y_grid(ax, label)


def answer_counts(ax: Axes, xs: np.ndarray, counts: Sequence[int], *, dense: bool) -> None:
    """The number of answers above each bar (none over an empty bucket)."""
    for x, n in zip(xs, counts, strict=True):
        if n <= 0:
            continue
        ax.text(
            x,
            102,
            str(n),
            ha="center",
            va="bottom",
            rotation=90 if dense else 0,
            fontsize=FONT_SIZE,
            color="#333333",
            fontfamily=FONT,
        )


def draw_band(ax: Axes, xs: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
    """The 95 % band between `low` and `high`, with gaps where either is NaN."""
    import numpy as np

    has_band = ~(np.isnan(low) | np.isnan(high))
    ax.fill_between(xs, low, high, where=has_band, color=BAND_COLOR, alpha=0.45, lw=0, zorder=2)
    # A bucket whose neighbours have no band would get a zero-width polygon: give its
    # interval a narrow box of its own so it is never invisible.
    for i in np.flatnonzero(has_band):
        alone = (i == 0 or not has_band[i - 1]) and (i == len(xs) - 1 or not has_band[i + 1])
        if alone:
            ax.fill_between(
                [xs[i] - 0.15, xs[i] + 0.15],
                low[i],
                high[i],
                color=BAND_COLOR,
                alpha=0.45,
                lw=0,
                zorder=2,
            )


def _x_labels(ax: Axes, texts: list[str], xs: np.ndarray) -> None:
    """Label the x axis, thinning and rotating the labels when there are many."""
    from matplotlib.ticker import FixedLocator

    ax.xaxis.set_major_locator(FixedLocator(list(xs)))
    step = max(1, math.ceil(len(texts) / _MAX_X_LABELS))
    shown = [_safe(t) if i % step == 0 else "" for i, t in enumerate(texts)]
    longest = max((len(t) for t in shown), default=0)
    # Horizontal labels fit when each is narrower than its slot; a DejaVu Sans character
    # averages ~0.62 em, and the plot area is roughly 85 % of the figure width.
    char_px = 0.62 * FONT_SIZE * DPI / 72
    slot_px = WIDTH_IN * DPI * 0.85 / max(len(texts), 1) * step
    rotate = longest * char_px > slot_px * 0.9
    ax.set_xticks(
        list(xs),
        shown,
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
        va="top",
        rotation_mode="anchor" if rotate else "default",
        fontsize=FONT_SIZE,
        fontfamily=FONT,
    )
