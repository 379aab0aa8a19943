"""`sentimon serve`: the deployments it builds, and, with a real `prefect server start`, that it
registers them with their schedules, runs a triggered run, and its artifacts reach the API."""

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from support.cli import one_error_line
from support.live_prefect import BIN, SERVED, api, deployments, run_artifacts, trigger, wait_for_run
from typer.testing import CliRunner

from flows.cli import app
from flows.runtime.config import ProjectConfig, SourceConfig
from flows.serve import REPORT_CRON, TRAIN_CRON, build_deployments, check_server
from pipeline.errors import ConfigError


def test_one_deployment_per_source_plus_the_report_and_paused_retraining():
    project = ProjectConfig(
        sources={
            "shop": SourceConfig(kind="files", path="shop", every_minutes=15),
            "adhoc": SourceConfig(kind="files", path="adhoc"),
        }
    )
    built = {f"{d.flow_name}/{d.name}": d for d in build_deployments(project, timezone="UTC")}
    assert set(built) == {
        "ingest-and-score/shop",
        "ingest-and-score/adhoc",
        "brand-report/daily",
        "train-model/weekly",
    }
    shop, adhoc = built["ingest-and-score/shop"], built["ingest-and-score/adhoc"]
    assert shop.parameters == {"source": "shop"}
    assert [s.schedule.interval.total_seconds() for s in shop.schedules] == [900]
    assert adhoc.schedules == []  # no every_minutes: runs when triggered
    for ingest in (shop, adhoc):
        assert ingest.concurrency_limit == 1
        assert ingest.concurrency_options.collision_strategy.value == "CANCEL_NEW"
        assert ingest.entrypoint == "flows.ingest.ingest_and_score"
    report, train = built["brand-report/daily"], built["train-model/weekly"]
    assert [s.schedule.cron for s in report.schedules] == [REPORT_CRON]
    assert not report.paused
    assert [s.schedule.cron for s in train.schedules] == [TRAIN_CRON]
    assert train.paused and train.parameters == {"activate": False}


def test_cron_and_timezone_options():
    built = build_deployments(ProjectConfig(), "30 7 * * 1-5", "0 2 1 * *", "Europe/Berlin")
    crons = {d.name: d.schedules[0].schedule for d in built}
    assert (crons["daily"].cron, crons["daily"].timezone) == ("30 7 * * 1-5", "Europe/Berlin")
    assert crons["weekly"].cron == "0 2 1 * *"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--timezone", "Mars/Base"], "--timezone 'Mars/Base' is not a time zone"),
        (["--report-cron", "61 * * * *"], "--report-cron '61 * * * *' is not a cron schedule"),
        (["--train-cron", "weekly"], "--train-cron 'weekly' is not a cron schedule"),
    ],
)
def test_a_bad_schedule_option_is_one_line_even_without_a_server(args, said):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # no server: found first
        result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 2
    one_error_line(result, said)


def test_serve_without_a_server_says_what_to_do():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Another test's session fixture may have set an API URL: this one needs none.
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        with pytest.raises(ConfigError, match="prefect server start"):
            check_server()
        result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "PREFECT_API_URL" in result.output


def test_serve_with_a_server_that_does_not_answer():
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from support.live_prefect import free_port

    with (
        temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}),
        pytest.raises(ConfigError, match="no Prefect server answers"),
    ):
        check_server()


@pytest.mark.slow
def test_serve_registers_schedules_and_runs_a_triggered_run(served_project):
    env = {**served_project.env, "COLUMNS": "250"}
    listed = subprocess.run(
        [str(BIN / "prefect"), "deployment", "ls"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    for name in (*SERVED, "train-model/weekly"):
        assert name in listed.stdout

    deps = api(served_project.api_url, "POST", "/deployments/filter", {})
    by_name = {d["name"]: d for d in deps}
    assert [s["schedule"]["interval"] for s in by_name["reviews"]["schedules"]] == [3600]
    assert by_name["tickets"]["schedules"] == []
    assert [s["schedule"]["cron"] for s in by_name["daily"]["schedules"]] == [REPORT_CRON]
    assert by_name["weekly"]["paused"] and not by_name["reviews"]["paused"]
    assert by_name["reviews"]["global_concurrency_limit"]["limit"] == 1

    # Triggered as users do, with a parameter overridden on the command line.
    run = subprocess.run(
        [
            str(BIN / "prefect"),
            "deployment",
            "run",
            "ingest-and-score/tickets",
            "-p",
            "batch_size=4",
            "--watch",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", run.stdout).group(1)
    flow_run = wait_for_run(served_project.api_url, run_id, 60, served_project.log)
    assert flow_run["state_type"] == "COMPLETED"
    assert flow_run["parameters"] == {"source": "tickets", "batch_size": 4}

    artifacts = run_artifacts(served_project.api_url, run_id)
    assert "ingest-summary" in {a["key"] for a in artifacts}
    progress = [a for a in artifacts if a["type"] == "progress"]
    assert [a["data"] for a in progress] == [100.0]
    summary = next(a for a in artifacts if a["key"] == "ingest-summary")
    assert "Source `tickets`" in summary["data"]

    # The override reached the run: batches of at most 4 posts.
    engine = create_engine(f"sqlite:///{served_project.root / 'data' / 'sentimon.db'}")
    with engine.connect() as conn:
        sizes = list(
            conn.execute(text("SELECT n_read FROM batches WHERE source = 'tickets' ORDER BY id"))
            .scalars()
            .all()
        )
    engine.dispose()
    assert sizes == [4, 4, 2]


@pytest.mark.slow
def test_a_run_that_would_overlap_another_of_its_source_is_cancelled(served_project):
    url = served_project.api_url
    deployment = deployments(url)["ingest-and-score/reviews"]
    # A run that holds the source's slot: scheduled an hour ahead (so `serve` leaves it alone),
    # then moved to Pending, which takes the deployment's one concurrency slot.
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": later}}
    holder = api(url, "POST", f"/deployments/{deployment['id']}/create_flow_run", {"state": state})
    taken = api(url, "POST", f"/flow_runs/{holder['id']}/set_state", {"state": {"type": "PENDING"}})
    assert taken["status"] == "ACCEPT", taken
    try:
        blocked = wait_for_run(url, trigger(served_project, "ingest-and-score/reviews"), 300)
        assert blocked["state_type"] == "CANCELLED"
        assert "concurrency limit" in blocked["state"]["message"]
        states = api(url, "GET", f"/flow_run_states/?flow_run_id={blocked['id']}")
        assert [s["type"] for s in states] == ["SCHEDULED", "CANCELLED"]  # it never ran
    finally:
        api(url, "POST", f"/flow_runs/{holder['id']}/set_state", {"state": {"type": "CANCELLED"}})
    # Once the holder is done, the slot is free again.
    after = wait_for_run(url, trigger(served_project, "ingest-and-score/reviews"), 300)
    assert after["state_type"] == "COMPLETED"
