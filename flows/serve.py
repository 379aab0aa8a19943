"""`sentimon serve`: the flows as Prefect deployments with their schedules, run by this process.

- ``ingest-and-score/NAME`` for each ``[sources.NAME]`` of sentimon.toml, every
  ``every_minutes`` (no schedule without it: then it runs when triggered). At most one run per
  source at a time: a deployment concurrency limit of 1 cancels a run that would overlap
  (the next scheduled run catches up), and the source's lease in the results database stops
  any run started some other way.
- ``brand-report/daily``: the brand report, daily (cron, default 06:00).
- ``train-model/weekly``: retraining, weekly (cron, default Sunday 03:00), created paused and
  with ``activate=false``: a person looks at the new version's metrics before
  `sentimon models activate`. Resume it in the UI to use it.

Schedules fire only with a real Prefect server (`prefect server start`), never on the
temporary one a plain `sentimon run` starts. Every parameter can be overridden per run, from
the UI or with `prefect deployment run FLOW/DEPLOYMENT -p key=value`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import httpx
from prefect import Flow, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron
from prefect.settings import get_current_settings

from flows.ingest import ingest_and_score
from flows.report import brand_report_flow
from flows.runtime.config import ProjectConfig, SourceConfig
from flows.training import train_flow
from pipeline.errors import ConfigError

REPORT_CRON = "0 6 * * *"  # daily at 06:00
TRAIN_CRON = "0 3 * * 0"  # Sundays at 03:00
TAGS = ["sentimon"]

# A second run of one source would only wait for the first's lease and skip: cancel it at once.
ONE_RUN_PER_SOURCE = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


def ingest_deployment(name: str, source: SourceConfig) -> RunnerDeployment:
    """``ingest-and-score/NAME``: the source every ``every_minutes``, one run at a time."""
    schedule: dict[str, Any] = {}
    if source.every_minutes:
        schedule["interval"] = timedelta(minutes=source.every_minutes)
    return _deployment(
        ingest_and_score,
        name=name,
        parameters={"source": name},
        concurrency_limit=ONE_RUN_PER_SOURCE,
        description=f"Ingest and score source {name!r} ({source.kind}) of sentimon.toml.",
        tags=[*TAGS, "ingest"],
        **schedule,
    )


def build_deployments(
    project: ProjectConfig,
    report_cron: str | None = None,
    train_cron: str | None = None,
    timezone: str = "UTC",
) -> list[RunnerDeployment]:
    """Every deployment `sentimon serve` serves, for the sources of ``project``."""
    deployments = [ingest_deployment(name, cfg) for name, cfg in sorted(project.sources.items())]
    deployments.append(
        _deployment(
            brand_report_flow,
            name="daily",
            schedules=[Cron(report_cron or REPORT_CRON, timezone=timezone)],
            description="Evaluate alerts and publish the brand report (artifact brand-report).",
            tags=[*TAGS, "report"],
        )
    )
    deployments.append(
        _deployment(
            train_flow,
            name="weekly",
            schedules=[Cron(train_cron or TRAIN_CRON, timezone=timezone)],
            paused=True,
            parameters={"activate": False},
            concurrency_limit=1,
            description="Retrain the LSTM on the configured corpus; registers, does not activate.",
            tags=[*TAGS, "training"],
        )
    )
    return deployments


def _deployment(flow: Flow[..., Any], **options: Any) -> RunnerDeployment:
    # By module, not file path: a run imports the installed package from any folder.
    deployment = flow.to_deployment(entrypoint_type=EntrypointType.MODULE_PATH, **options)
    # Called outside an event loop, Prefect's sync/async wrapper returns the deployment.
    return cast(RunnerDeployment, deployment)


def check_server() -> str:
    """The Prefect API URL, once a server answers there; ConfigError saying what to do if not."""
    url = get_current_settings().api.url
    if not url:
        raise ConfigError(
            "sentimon serve needs a Prefect server (schedules never fire on the temporary one): "
            "run `prefect server start`, then `export PREFECT_API_URL=http://127.0.0.1:4200/api`"
        )
    try:
        healthy = httpx.get(f"{url.rstrip('/')}/health", timeout=10).json() is True
    except (httpx.HTTPError, ValueError):
        healthy = False
    if not healthy:
        raise ConfigError(
            f"no Prefect server answers at PREFECT_API_URL={url}: start it with "
            "`prefect server start` or correct the URL"
        )
    return url


def serve_deployments(deployments: list[RunnerDeployment], limit: int | None = None) -> None:
    """Register ``deployments`` and run their flow runs until interrupted.

    ``pause_on_shutdown=False``: stopping this process must not leave the schedules paused for
    the next start (PrefectHQ/prefect#16363).
    """
    serve(*deployments, pause_on_shutdown=False, limit=limit)
