"""Suite-wide isolation: no user settings, and a Prefect home of the suite's own."""

import os
import tempfile

import pytest


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


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect API for the tests that run real flows (~15 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
