"""A self-contained HTML report: inline CSS, the chart as a base64 PNG, tables and top posts.

Everything that came from users (post text, brand names, URLs, alert summaries) goes through
html.escape; only http(s) URLs become links. The page loads nothing from anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

from pipeline.report.text import FOOTNOTE, HEADERS, copies_text, figure_cells, shown_text

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #111; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.low td { color: #888; }
.alert { background: #fef2f2; border-left: 4px solid #dc2626; padding: 6px 10px; margin: 6px 0; }
.post { margin: 4px 0; }
.meta { color: #666; font-size: 12px; }
img { max-width: 100%; }
"""


def render_html(
    rows: Sequence[dict[str, Any]],
    title: str,
    chart_png: bytes | None,
    warnings: Sequence[str] = (),
) -> str:
    """The whole page as one string; ``warnings`` (plain lines) under the title."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        *(f'<p class="alert"><b>Warning:</b> {escape(w)}</p>' for w in warnings),
    ]
    if chart_png:
        data = base64.b64encode(chart_png).decode("ascii")
        parts.append(
            f'<img alt="net sentiment and volume over time per brand" '
            f'src="data:image/png;base64,{data}">'
        )
    parts.append(_figures_table(rows))
    parts.append(f'<p class="meta">{escape(FOOTNOTE)}.</p>')
    parts.append(_alerts(rows))
    for row in rows:
        parts.append(f"<h2>{escape(row['brand'])}</h2>")
        for key, heading in (
            ("top_negative", "Top negative posts"),
            ("top_positive", "Top positive posts"),
        ):
            parts.append(f"<h3>{heading}</h3>")
            parts.append(_posts(row[key]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _figures_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No scored posts in this window.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in ["brand", *HEADERS])
    body = []
    for row in rows:
        cells = "".join(f"<td>{escape(c)}</td>" for c in [row["brand"], *figure_cells(row)])
        css = ' class="low"' if row["low_volume"] else ""
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _alerts(rows: Sequence[dict[str, Any]]) -> str:
    alerts = [a for row in rows for a in row["alerts"]]
    if not alerts:
        return "<h2>Alerts</h2><p>None in this window.</p>"
    items = ["<h2>Alerts</h2>"]
    for alert in alerts:
        terms = ", ".join(t["term"] for t in alert["top_terms"]) or "-"
        items.append(
            f'<div class="alert"><b>{escape(alert["kind"])}</b> {escape(alert["summary"] or "")}'
            f'<div class="meta">terms: {escape(terms)}</div>{_posts(alert["top_negative"])}</div>'
        )
    return "\n".join(items)


def _posts(posts: Sequence[dict[str, Any]]) -> str:
    if not posts:
        return "<p class='meta'>none</p>"
    items = []
    for post in posts:
        meta = (
            f"{escape(post['source'])} · {escape(post['created_at'][:16])} · "
            f"score {post['score']:+.2f} · {copies_text(post['copies'])}"
        )
        url = post.get("url") or ""
        if url.startswith(("http://", "https://")):
            meta += f' · <a href="{escape(url, quote=True)}">link</a>'
        items.append(
            f'<div class="post">{escape(shown_text(post["text"], 280))}'
            f'<div class="meta">{meta}</div></div>'
        )
    return "\n".join(items)
