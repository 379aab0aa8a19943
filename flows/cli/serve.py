"""`sentimon serve`: the flows as Prefect deployments with their schedules."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.app import app
from flows.cli.errors import handle_errors, usage_error
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
    for option, cron in (("--report-cron", report_cron), ("--train-cron", train_cron)):
        _check_schedule(option, cron, timezone)
    from flows.runtime.config import load_config
    from flows.serve import build_deployments, check_server, serve_deployments

    check_server()
    deployments = build_deployments(
        load_config(load_settings().config), report_cron, train_cron, timezone
    )
    serve_deployments(deployments, limit)


def _check_schedule(option: str, cron: str | None, timezone: str) -> None:
    """A UsageError naming ``option`` or --timezone when Prefect would refuse the schedule:
    found before the server is asked for, not as a traceback once it has answered."""
    import zoneinfo

    from prefect.schedules import Cron  # Prefect's own rules, without the flows (~0.7 s, not 3)

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise usage_error(
            f"--timezone {timezone!r} is not a time zone: give an IANA name such as UTC, "
            "Europe/Berlin or America/New_York"
        ) from None
    if cron is None:
        return
    try:
        Cron(cron, timezone=timezone)
    except ValueError:
        raise usage_error(
            f"{option} {cron!r} is not a cron schedule: give five fields, minute hour day "
            "month weekday, e.g. '0 6 * * *' (06:00 every day)"
        ) from None
