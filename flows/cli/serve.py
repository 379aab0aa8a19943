"""`sentimon serve`: the flows as Prefect deployments with their schedules."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.app import app
from flows.cli.errors import handle_errors
from flows.runtime.settings import load_settings


@app.command()
@handle_errors()
def serve(
    report_cron: Annotated[
        str | None, typer.Option(help="When the brand report runs (default daily 06:00).")
    ] = None,
    train_cron: Annotated[
        str | None, typer.Option(help="When retraining runs, once resumed (default Sun 03:00).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="Time zone of the cron schedules.")] = "UTC",
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many flow runs at once.")
    ] = None,
) -> None:
    """Serve the flows as Prefect deployments with their schedules (needs `prefect server start`).

    ingest-and-score/SOURCE every `every_minutes` of sentimon.toml, brand-report/daily, and
    train-model/weekly (paused). Runs until interrupted.
    """
    from flows.runtime.config import load_config
    from flows.serve import build_deployments, check_schedule, check_server, serve_deployments

    for option, cron in (("--report-cron", report_cron), ("--train-cron", train_cron)):
        check_schedule(option, cron, timezone)
    check_server()
    deployments = build_deployments(
        load_config(load_settings().config), report_cron, train_cron, timezone
    )
    serve_deployments(deployments, limit)
