"""The `brand-report` flow: evaluate alerts, then publish the report as Prefect artifacts.

Artifacts: markdown under the fixed key ``brand-report`` (the latest report is always one
click away in the UI) and a table of the per-bucket aggregates under ``brand-aggregates``.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.alerts import evaluate_alerts_task
from flows.runtime.reporting import make_report, parse_time
from flows.runtime.settings import Settings
from pipeline.report.rows import series_rows
from pipeline.report.text import report_markdown

REPORT_KEY = "brand-report"
TABLE_KEY = "brand-aggregates"


@task(name="build-brand-report", cache_policy=NO_CACHE)
def build_report_task(
    settings: Settings,
    since: str | None,
    until: str | None,
    bucket: str,
    source: str | None,
    brands: list[str] | None,
) -> dict[str, Any]:
    """The report's rows and title, from the configured database."""
    built = make_report(
        settings, parse_time(since), parse_time(until), bucket, source, brands or None
    )
    return {"rows": built.rows, "title": built.title, "warnings": built.warnings}


@flow(name="brand-report")
def brand_report_flow(
    since: str | None = "7d",
    until: str | None = None,
    bucket: str = "day",
    source: str | None = None,
    brands: list[str] | None = None,
    evaluate: bool = True,
) -> dict[str, Any]:
    """Evaluate alerts (unless ``evaluate`` is False) and publish the brand report."""
    settings = Settings()  # once per run, for both tasks
    new_alerts = evaluate_alerts_task(settings=settings) if evaluate else 0
    report = build_report_task(settings, since, until, bucket, source, brands)
    rows, title = report["rows"], report["title"]
    create_markdown_artifact(
        markdown=report_markdown(rows, title, report["warnings"]), key=REPORT_KEY, description=title
    )
    table = series_rows(rows)
    # An empty list is not a table Prefect can show; one placeholder row says why.
    create_table_artifact(
        table=table or [{"brand": "no scored posts in this window"}],
        key=TABLE_KEY,
        description=f"{title}: one row per brand and bucket",
    )
    return {
        "brands": len(rows),
        "buckets": len(table),
        "new_alerts": new_alerts,
        "title": title,
        "warnings": report["warnings"],
    }
