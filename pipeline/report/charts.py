"""A PNG of net sentiment and volume over time, one panel per brand (matplotlib, Agg).

Each panel: volume as grey bars (right axis), net sentiment as a line with its 95% interval as a
band (left axis, fixed at -1..1 so that panels compare), hollow markers on low-volume buckets,
red triangles on buckets with an alert. Buckets without posts are gaps, not zeros.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

BUCKET_DAYS = {"day": 1.0, "hour": 1 / 24}
MAX_PANELS = 12
TITLE_CHARS_PER_INCH = 9


def render_chart(
    rows: Sequence[dict[str, Any]], title: str, bucket: str = "day", max_brands: int = MAX_PANELS
) -> bytes:
    """The report rows (pipeline/report/rows.py) as a PNG; the busiest ``max_brands`` brands."""
    # Imported here: matplotlib is slow to import and only charts need it. The Agg canvas is
    # attached to this figure alone, so no global backend is switched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    shown = [r for r in rows if r["series"]][:max_brands]
    n = max(1, len(shown))
    ncols = 1 if n <= 3 else (2 if n <= 4 else 3)
    nrows = math.ceil(n / ncols)
    width = 6.4 * ncols
    fig = Figure(figsize=(width, 3.2 * nrows + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    # Titles carry brand and source names from the input: plain text, never mathtext ("$\\frac{$"
    # would raise) nor TeX. Wrapped to the figure's width (13 pt text: ~9 characters an inch),
    # or a long period and model version run off both sides of a one-column chart.
    wrapped = "\n".join(textwrap.wrap(title, width=int(width * TITLE_CHARS_PER_INCH))) or title
    fig.suptitle(wrapped, fontsize=13, parse_math=False, usetex=False)
    if not shown:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no scored posts in this window", ha="center", va="center")
        ax.set_axis_off()
        return _png(fig)
    starts = sorted({_parse(b["bucket_start"]) for r in shown for b in r["series"]})
    step = timedelta(days=BUCKET_DAYS[bucket])
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for ax, row in zip(axes, shown, strict=False):
        _panel(ax, row, starts[0], starts[-1], step)
    for ax in axes[len(shown) :]:
        ax.set_axis_off()
    locator = AutoDateLocator()
    for ax in axes[: len(shown)]:
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    legend: dict[str, Any] = {}
    for ax in fig.axes:  # twin axes too (the bars), each label once
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="outside lower center",
        ncols=len(legend) if ncols > 1 else 3,  # one narrow column: wrap the legend
        frameon=False,
    )
    return _png(fig)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _panel(ax: Any, row: dict[str, Any], first: datetime, last: datetime, step: timedelta) -> None:
    by_start = {_parse(b["bucket_start"]): b for b in row["series"]}
    times, net, low, high, volume = [], [], [], [], []
    t = first
    while t <= last:  # every bucket of the range, so missing ones show as gaps
        b = by_start.get(t)
        times.append(t + step / 2)
        volume.append(b["volume"] if b else 0)
        net.append(b["net_sentiment"] if b else math.nan)
        low.append(b["net_sentiment_low"] if b else math.nan)
        high.append(b["net_sentiment_high"] if b else math.nan)
        t += step
    bars = ax.twinx()
    # One stepped area rather than a bar per bucket: 720 hourly bars per panel draw slowly.
    bars.fill_between(
        times, volume, step="mid", color="#c9ced6", linewidth=0, label="volume (right axis)"
    )
    # Bars in the lower part of the panel, so that the line above them stays easy to read.
    bars.set_ylim(0, max(max(volume), 1) * 2.2)
    bars.set_ylabel("posts", color="#6b7280")
    bars.tick_params(axis="y", colors="#6b7280")
    ax.set_zorder(bars.get_zorder() + 1)  # the line over the bars
    ax.patch.set_visible(False)
    ax.axhline(0, color="#9ca3af", linewidth=0.8)
    ax.fill_between(times, low, high, color="#2563eb", alpha=0.18, label="95% interval")
    dense = len(times) > 100  # e.g. a month of hours: markers would bury the line
    ax.plot(
        times,
        net,
        color="#1d4ed8",
        linewidth=1.2 if dense else 1.8,
        marker="" if dense else "o",
        markersize=3.5,
        label="net sentiment",
    )
    thin = [(s + step / 2, b["net_sentiment"]) for s, b in by_start.items() if b["low_volume"]]
    if thin:
        ax.scatter(
            *zip(*thin, strict=True),
            s=8 if dense else 36,
            facecolors="white",
            edgecolors="#1d4ed8",
            zorder=3,
            label="low volume",
        )
    flagged = [
        (s + step / 2, b["net_sentiment"])
        for s, b in by_start.items()
        if any(_parse(a["bucket_start"]) == s for a in row["alerts"])
    ]
    if flagged:
        ax.scatter(
            *zip(*flagged, strict=True), s=90, marker="v", color="#dc2626", zorder=4, label="alert"
        )
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("net sentiment")
    ax.set_title(
        f"{row['brand']}: {row['volume']:,} posts, net {row['net_sentiment']:+.2f}",
        fontsize=11,
        parse_math=False,
        usetex=False,
    )
    ax.grid(axis="y", alpha=0.3)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
