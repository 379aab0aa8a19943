"""The results database as the commands that only read or change it open it: never created.

`sentimon init` and `sentimon run` create the database. Every other command refuses a database
that is not there: a misspelt SENTIMON_DATABASE_URL would otherwise make an empty one, and the
command would answer from it as if nothing had been ingested.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from db import migrate
from db.engine import make_engine, redact_url
from flows.runtime.settings import Settings
from pipeline.errors import NoDatabaseError


def open_results(settings: Settings) -> Engine:
    """The results database, upgraded to the current schema; NoDatabaseError when there is
    none yet (nothing is created)."""
    url = settings.db_url
    missing = (
        f"no results database at {redact_url(url)}: run `sentimon init` or `sentimon run` "
        "first, or fix SENTIMON_DATABASE_URL"
    )
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise NoDatabaseError(missing)
    engine = make_engine(url)
    if migrate.current_revision(engine) is None:
        engine.dispose()
        raise NoDatabaseError(missing)
    migrate.upgrade(engine)
    return engine
