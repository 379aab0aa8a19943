"""The brand report for people: a rich terminal table and markdown (the Prefect artifact).

Both render the rows of pipeline/report/rows.py's ``build_report``; nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

FOOTNOTE = (
    "net sentiment = (positive - negative) / volume, with its 95% interval; "
    "NSS = (positive - negative) / (positive + negative); "
    "share of voice (SoV) = the brand's mentions / all configured brands' mentions; "
    "amplified (ampl.) = retweets, quotes and copies; "
    "* / low = fewer posts than the low-volume threshold"
)


def _num(value: float | None, fmt: str = "+.3f") -> str:
    return "-" if value is None else format(value, fmt)


def _interval(row: dict[str, Any]) -> str:
    if row["net_sentiment_low"] is None:
        return "-"
    return f"[{row['net_sentiment_low']:+.2f}, {row['net_sentiment_high']:+.2f}]"


def figure_cells(row: dict[str, Any]) -> list[str]:
    return [
        f"{row['volume']:,}",
        f"{row['unique']:,}",
        f"{row['amplification']:,}",
        f"{row['positive']:,}",
        f"{row['neutral']:,}",
        f"{row['negative']:,}",
        _num(row["mean_score"]),
        _num(row["net_sentiment"]),
        _interval(row),
        _num(row["nss"]),
        _num(row["share_of_voice"], ".1%"),
        str(len(row["alerts"])),
        "low" if row["low_volume"] else "",
    ]


HEADERS = [
    "volume",
    "unique",
    "amplified",
    "positive",
    "neutral",
    "negative",
    "mean score",
    "net sentiment",
    "95% interval",
    "NSS",
    "share of voice",
    "alerts",
    "volume flag",
]


TERMINAL_HEADERS = ["posts", "ampl.", "+ / = / -", "mean", "net", "95% interval", "NSS", "SoV"]


def report_table(rows: Sequence[dict[str, Any]], title: str, warnings: Sequence[str] = ()) -> Group:
    """Terminal rendering: the figures, then the alerts and each brand's top negative post,
    then ``warnings`` (sources whose text is unlike the training data).

    Compact (about 100 columns): positive/neutral/negative share one column, low-volume rows
    are dimmed and marked with *, and the alerts follow the table. With no row and a warning,
    the warnings alone: an empty table says nothing, they say why there is none (e.g. no post
    has a label of the active model yet).
    """
    if not rows and warnings:
        return Group(*(Text.assemble(("warning: ", "bold yellow"), w) for w in warnings))
    table = Table(
        title=title, caption=FOOTNOTE, caption_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1)
    )
    table.add_column("brand", no_wrap=True, max_width=24)
    for name in TERMINAL_HEADERS:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("alerts", justify="right")
    for row in rows:
        table.add_row(
            str(row["brand"]),
            f"{row['volume']:,}" + ("*" if row["low_volume"] else ""),
            f"{row['amplification']:,}",
            f"{row['positive']}/{row['neutral']}/{row['negative']}",
            _num(row["mean_score"], "+.2f"),
            _num(row["net_sentiment"], "+.2f"),
            _interval(row),
            _num(row["nss"], "+.2f"),
            _num(row["share_of_voice"], ".1%"),
            str(len(row["alerts"])) if row["alerts"] else "",
            style="dim" if row["low_volume"] else None,
        )
    parts: list[Any] = [table]
    alerts = [a for row in rows for a in row["alerts"]]
    if alerts:
        parts.append(Text("Alerts", style="bold red"))
        for alert in alerts:
            terms = ", ".join(t["term"] for t in alert["top_terms"])
            parts.append(Text(f"  {alert['kind']}: {alert['summary']}; terms: {terms or '-'}"))
    posts = [(row["brand"], p) for row in rows for p in row["top_negative"][:1]]
    if posts:
        parts.append(Text("\nTop negative post per brand (most copies, then most negative)"))
        for brand, post in posts:
            # Text(), not markup: post text is user input and may hold [brackets].
            copies = f", {copies_text(post['copies'])}" if post["copies"] else ""
            parts.append(
                Text(f"  {brand} ({post['score']:+.2f}{copies}): {shown_text(post['text'])}")
            )
    for warning in warnings:
        parts.append(Text.assemble(("\nwarning: ", "bold yellow"), warning))
    return Group(*parts)


def copies_text(n: int) -> str:
    """``1 copy``, ``2 copies``."""
    return f"{n} {'copy' if n == 1 else 'copies'}"


def shown_text(text: str, limit: int = 140) -> str:
    """A post's text for people: as the model read it (normalised, so the "&amp;" and mojibake
    that feeds deliver read "&" and "don't"; whitespace one space), cut to ``limit``. JSON and
    CSV keep the stored text as it came."""
    # Imported here: ftfy adds ~45 ms to `sentimon report`'s start, needed only for posts.
    from pipeline.text.normalize import normalize_text

    flat = normalize_text(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _md(text: str) -> str:
    """User text made safe inside a markdown table cell or line."""
    flat = shown_text(text, 200)
    for char in "\\`*_[]<>|#":
        flat = flat.replace(char, "\\" + char)
    return flat


def report_markdown(
    rows: Sequence[dict[str, Any]], title: str, warnings: Sequence[str] = ()
) -> str:
    """Markdown: ``warnings`` (sources whose text is unlike the training data, written as
    markdown already), the figures table, the alerts, and the top posts per brand."""
    lines = [f"# {_md(title)}", ""]
    for warning in warnings:
        lines += [f"> **Warning:** {warning}", ""]
    if not rows:
        return "\n".join([*lines, "No scored posts in this window."]) + "\n"
    lines.append("| brand | " + " | ".join(HEADERS) + " |")
    lines.append("|---|" + "---:|" * len(HEADERS))
    for row in rows:
        lines.append(f"| {_md(row['brand'])} | " + " | ".join(figure_cells(row)) + " |")
    lines += ["", f"_{FOOTNOTE}._", ""]
    alerts = [a for row in rows for a in row["alerts"]]
    lines += ["## Alerts", ""]
    if not alerts:
        lines.append("None in this window.")
    for alert in alerts:
        terms = ", ".join(t["term"] for t in alert["top_terms"]) or "-"
        lines.append(f"- **{alert['kind']}** {_md(alert['summary'] or '')}; terms: {_md(terms)}")
        for post in alert["top_negative"]:
            copies = copies_text(post["copies"])
            lines.append(f"  - ({copies}, score {post['score']:+.2f}) {_md(post['text'])}")
    lines.append("")
    for row in rows:
        lines += [f"## {_md(row['brand'])}", ""]
        for key, heading in (("top_negative", "Top negative"), ("top_positive", "Top positive")):
            lines.append(f"**{heading}**")
            lines.append("")
            if not row[key]:
                lines.append("- none")
            for post in row[key]:
                lines.append(
                    f"- ({copies_text(post['copies'])}, score {post['score']:+.2f}, "
                    f"{post['created_at'][:16]}) {_md(post['text'])}"
                )
            lines.append("")
    return "\n".join(lines)
