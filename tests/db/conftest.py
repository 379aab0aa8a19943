"""Engines for the db tests: a SQLite file, and PostgreSQL when SENTIMON_TEST_POSTGRES_URL is set.

Each PostgreSQL test runs in a fresh schema of its own, dropped afterwards, so tests never see
each other's rows and leave no tables behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from db import migrate
from db.engine import make_engine
from pipeline.records import Post, Prediction, ScoredPost

POSTGRES_ENV = "SENTIMON_TEST_POSTGRES_URL"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A bare engine (no tables yet) on a SQLite file or in a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}")
        yield eng
        eng.dispose()
        return
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests skipped")
    schema = f"sentimon_test_{uuid.uuid4().hex}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote_identifier(schema)
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {quoted}"))
    eng = make_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            # A connection a test left open would hold locks: fail loudly rather than hang.
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f"DROP SCHEMA {quoted} CASCADE"))
        admin.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """``engine`` with the schema migrated to head."""
    migrate.upgrade(engine)
    return engine


def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    """An aware UTC time in January 2024."""
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)


def _scored(
    external_id: str,
    label: str,
    p: tuple[float, float, float],
    created_at: datetime,
    brands: tuple[str, ...] = (),
    source: str = "reviews",
    model_version: str = "v1",
    text: str = "some text",
) -> ScoredPost:
    post = Post(source=source, external_id=external_id, text=text, created_at=created_at)
    prediction = Prediction(
        label=label,  # type: ignore[arg-type]
        p_negative=p[0],
        p_neutral=p[1],
        p_positive=p[2],
        model_version=model_version,
    )
    return ScoredPost(post=post, brands=brands, prediction=prediction)


@pytest.fixture
def scored() -> Callable[..., ScoredPost]:
    """Build a ScoredPost: scored(external_id, label, (p_neg, p_neu, p_pos), created_at, ...)."""
    return _scored


@pytest.fixture
def day() -> Callable[..., datetime]:
    """day(d, hour=12, minute=0): an aware UTC time on 2024-01-d."""
    return at
