"""Alert evaluation plus Prefect events, so that a Prefect automation can notify someone.

Each new alert (never one already stored: evaluation is idempotent) becomes an event named
``sentimon.alert.sentiment-drop`` or ``sentimon.alert.volume-spike`` on the resource
``sentimon.brand.<brand slug>``, with the alert (summary, figures, top posts and terms) as its
payload. Events are emitted after the alerts are committed, so an event always has its row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from sqlalchemy import Engine

from db import repository
from db.engine import make_engine
from flows.runtime.alerts import evaluate_alerts
from flows.runtime.reporting import configured_brands
from flows.runtime.settings import Settings
from pipeline.analytics.alert_rules import AlertRules
from pipeline.errors import ConfigError
from pipeline.report.types import AlertRecord

EVENT_PREFIX = "sentimon.alert."


def brand_resource_id(brand: str) -> str:
    """``sentimon.brand.united-airlines`` for "United Airlines"."""
    slug = re.sub(r"[^a-z0-9]+", "-", brand.lower()).strip("-") or "brand"
    return f"sentimon.brand.{slug}"


def emit_alert_events(alerts: Sequence[AlertRecord]) -> int:
    """Emit one Prefect event per alert; returns how many Prefect accepted."""
    emitted = 0
    for alert in alerts:
        event = emit_event(
            event=EVENT_PREFIX + alert.kind,
            resource={
                "prefect.resource.id": brand_resource_id(alert.brand),
                "prefect.resource.name": alert.brand,
                "sentimon.brand": alert.brand,
            },
            payload=alert.as_dict(),
        )
        emitted += event is not None
    return emitted


def evaluate_and_emit(
    engine: Engine,
    settings: Settings | None = None,
    as_of: datetime | None = None,
    rules: AlertRules | None = None,
) -> list[AlertRecord]:
    """Evaluate the alert rules for the active model version, commit, then emit events."""
    settings = settings or Settings()
    try:
        phrases = configured_brands(settings)
    except ConfigError:
        phrases = {}
    with engine.begin() as conn:
        active = repository.active_model_version(conn)
        if active is None:
            return []
        new = evaluate_alerts(conn, active.version, as_of=as_of, rules=rules, brand_phrases=phrases)
    emit_alert_events(new)
    return new


@task(name="evaluate-alerts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[1, 5])
def evaluate_alerts_task(as_of: datetime | None = None, settings: Settings | None = None) -> int:
    """Evaluate alerts on the configured database; returns the number of new alerts.

    Takes no live objects (Prefect tasks get ids and times, never engines): ``settings`` are
    the calling flow's (small and picklable), else read from the environment.
    """
    settings = settings or Settings()
    engine = make_engine(settings.db_url)
    try:
        return len(evaluate_and_emit(engine, settings, as_of=as_of))
    finally:
        engine.dispose()
