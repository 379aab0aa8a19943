"""`sentimon report`: the brand report as a table, JSON, CSV, Markdown, a chart or HTML."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from flows.cli.app import app, console, err_console, parse_when, warn
from flows.cli.errors import handle_errors, usage_error
from flows.runtime.settings import load_settings


@app.command()
@handle_errors()
def report(
    brand: Annotated[
        list[str] | None, typer.Option("--brand", help="Only this brand (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="7d, 24h or a date (UTC)")] = None,
    until: Annotated[str | None, typer.Option(help="a date (UTC), exclusive")] = None,
    bucket: Annotated[str, typer.Option(help="hour or day buckets")] = "day",
    source: Annotated[str | None, typer.Option(help="One source (default: all)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or md")] = "table",
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    min_volume: Annotated[int, typer.Option(min=1, help="Flag buckets below this.")] = 30,
) -> None:
    """Per-brand volume, labels, net sentiment, NSS, share of voice, alerts and top posts.

    A period (--since, --until) that holds no post is an error that says when the posts were
    written.
    """
    for option, path in (("--chart", chart), ("--html", html)):
        if path is not None:
            _check_output(option, path)
    if chart is not None and chart.suffix.lower() != ".png":
        # The bytes are a PNG whatever the name: a .jpg or .svg would not open as one.
        raise usage_error(f"--chart {chart}: the chart is a PNG image; name the file .png")
    from flows.runtime.reporting import make_report
    from pipeline.report.rows import report_csv, report_json
    from pipeline.report.text import report_markdown, report_table

    if fmt not in ("table", "json", "csv", "md"):
        raise typer.BadParameter(
            "--format is table, json, csv or md (an HTML page: --html FILE.html)"
        )
    if bucket not in ("hour", "day"):
        raise typer.BadParameter("--bucket is hour or day")
    start, end = parse_when(since), parse_when(until)
    if start is not None and end is not None and end <= start:
        raise usage_error(
            f"--until {until} is not after --since {since}: the period [since, until) is empty"
        )
    built = make_report(
        load_settings(), start, end, bucket, source, brand, min_volume, require_posts=True
    )
    if fmt == "json":
        sys.stdout.write(report_json(built.rows) + "\n")
    elif fmt == "csv":
        sys.stdout.write(report_csv(built.rows))
    elif fmt == "md":
        sys.stdout.write(report_markdown(built.rows, built.title, built.warnings))
    else:
        # Piped or captured output gets the table's natural width, not the 80-column default.
        out = console if console.is_terminal else Console(width=110)
        out.print(report_table(built.rows, built.title, built.warnings))
    if fmt in ("json", "csv"):  # stdout stays machine-readable
        for warning in built.warnings:
            warn(warning)
    png = _write_chart(built, chart) if chart or html else None
    if html:
        from pipeline.report.html import render_html

        html.write_text(render_html(built.rows, built.title, png, built.warnings), encoding="utf-8")
        err_console.print(f"HTML report written to {html}")


def _check_output(option: str, path: Path) -> None:
    """A file the report can write: its folder exists and is writable, it is no folder."""
    import os

    folder = path.parent
    if path.is_dir():
        raise usage_error(f"{option} {path} is a folder: give a file name inside it")
    if not folder.is_dir():
        raise usage_error(
            f"{option} {path}: there is no folder {folder}; create it (mkdir -p {folder}) or "
            "choose another path"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise usage_error(f"{option} {path}: the folder {folder} is not writable for this user")


def _write_chart(built: Any, path: Path | None) -> bytes:
    from pipeline.report.charts import render_chart

    png = render_chart(built.rows, built.title, built.bucket)
    if path:
        path.write_bytes(png)
        err_console.print(f"chart written to {path}")
    return png
