"""Fixtures of the flows tests: a PostgreSQL database URL of a test's own (a fresh schema)."""

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "SENTIMON_TEST_POSTGRES_URL"


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A SENTIMON_DATABASE_URL whose search_path is a new schema, dropped afterwards.

    A URL (not an engine), because the tests hand it to `sentimon` subprocesses.
    """
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests skipped")
    schema = f"sentimon_test_{uuid.uuid4().hex}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '10s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
