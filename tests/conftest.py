"""Suite-wide isolation (no user settings, a Prefect home of the suite's own) and fixtures."""

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text


def pytest_configure(config):
    # Before anything imports prefect: a stray PREFECT_API_URL or profile must not leak in,
    # and flow runs must not land in the developer's ~/.prefect.
    home = tempfile.mkdtemp(prefix="sentimon-prefect-")
    os.environ["PREFECT_HOME"] = home
    os.environ["PREFECT_PROFILES_PATH"] = os.path.join(home, "profiles.toml")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    for name in list(os.environ):
        if name.startswith("SENTIMON_") and not name.startswith("SENTIMON_TEST_"):
            del os.environ[name]
    # One process per run unless a test asks for an analysis pool (runtime/test_analysis.py):
    # the default, one per core, would start worker processes in every test that runs a batch.
    # The default itself: tests/flows/runtime/test_settings.py, .ci/wheel-check and `make demo`.
    os.environ["SENTIMON_WORKERS"] = "1"


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect API for the tests that run real flows (~15 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """A real `prefect server start` (UI included) on a free loopback port: its API URL.

    For what the in-process harness cannot do: schedules, `sentimon serve`, the UI, Dask
    workers in other processes. Its own PREFECT_HOME; ~5-15 s to start.
    """
    from support.live_prefect import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as url:
        yield url


@pytest.fixture(scope="session")
def served_project(prefect_api, tmp_path_factory):
    """`sentimon serve` running against prefect_api in a project folder of its own
    (tests/support/live_prefect.py: two file sources, reviews and tickets, a SQLite database)."""
    from support.live_prefect import served_project

    with served_project(prefect_api, tmp_path_factory.mktemp("served")) as project:
        yield project


POSTGRES_ENV = "SENTIMON_TEST_POSTGRES_URL"


@pytest.fixture
def pg_schema_factory() -> Iterator[Callable[[], str]]:
    """Make SENTIMON_DATABASE_URLs whose search_path is a new schema; all dropped afterwards.

    URLs (not engines), because the tests hand them to `sentimon` subprocesses.
    """
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"{POSTGRES_ENV} not set: PostgreSQL tests skipped")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    schemas: list[str] = []
    sep = "&" if "?" in url else "?"

    def make() -> str:
        schema = f"sentimon_test_{uuid.uuid4().hex}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        return f"{url}{sep}options=-csearch_path%3D{schema}"

    try:
        yield make
    finally:
        with admin.connect() as conn:
            conn.execute(text("SET lock_timeout = '10s'"))
            for schema in schemas:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_schema_url(pg_schema_factory: Callable[[], str]) -> str:
    """A SENTIMON_DATABASE_URL whose search_path is a fresh schema (see pg_schema_factory)."""
    return pg_schema_factory()


# A few UCI-style sentences per source (the real files are fetched by users, never in CI),
# each file ending with an empty-text row as the real ones do.
UCI_ROWS = {
    "amazon": [
        {"text": "Great phone, I love it.", "class": 1},
        {"text": "Terrible battery, it broke after a day.", "class": 0},
        {"text": "", "class": None},
    ],
    "imdb": [
        {"text": "A wonderful, moving film.", "class": 1},
        {"text": "The worst movie I have ever seen.", "class": 0},
        {"text": "The plot was boring and the acting awful.", "class": 0},
        {"text": "", "class": None},
    ],
    "yelp": [
        {"text": "The food was excellent.", "class": 1},
        {"text": "Rude staff, cold food.", "class": 0},
        {"text": "   ", "class": None},
    ],
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path, monkeypatch):
    """Each test twice, through the CLI's own settings: a SQLite file under a data folder of
    its own, then a PostgreSQL schema of its own; the working folder is tmp_path."""
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'sentimon.db'}"
    else:
        url = request.getfixturevalue("pg_schema_url")
    monkeypatch.setenv("SENTIMON_DATABASE_URL", url)
    return url


@pytest.fixture
def uci_dir(tmp_path):
    """A folder holding amazon.json, imdb.json and yelp.json made from UCI_ROWS."""
    import json

    folder = tmp_path / "uci"
    folder.mkdir()
    for name, rows in UCI_ROWS.items():
        (folder / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")
    return folder
