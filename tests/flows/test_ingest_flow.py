"""The Prefect flows for real, under a temporary Prefect API (started once per session)."""

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from db.tables import posts, predictions, rejects
from flows.cli import app
from flows.runtime.process import get_runtime
from flows.runtime.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_ingest_flow_processes_a_folder_in_batches(prefect_server, data_dir, tmp_path, monkeypatch):
    from prefect import get_client

    from flows.ingest import ingest_and_score
    from flows.runtime.sources import open_source

    # One reader serves the whole run (a new one per batch would decode a .gz from the start).
    opened, closed = [], []

    def recording_open(resolved):
        reader = open_source(resolved)
        opened.append(reader)
        monkeypatch.setattr(reader, "close", lambda: closed.append(reader))
        return reader

    monkeypatch.setattr("flows.ingest.open_source", recording_open)

    folder = tmp_path / "in"
    folder.mkdir()
    lines = [json.dumps({"id": i, "text": f"@united flight {i} was late"}) for i in range(25)]
    (folder / "a.jsonl").write_text("\n".join([*lines, '{"id": 99}']) + "\n")
    state = ingest_and_score(
        str(folder), "airline", batch_size=10, settle_seconds=0, return_state=True
    )
    assert state.is_completed()
    result = state.result()
    assert result == {
        **result,
        "batches": 3,
        "read": 26,
        "posts": 25,
        "new_posts": 25,
        "rejects": 1,
    }
    assert len(opened) == 1 and closed == opened

    rt = get_runtime(Settings())
    with rt.engine.connect() as conn:
        counts = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (posts, predictions, rejects)
        ]
    assert counts == [25, 25, 1]

    import asyncio

    async def artifact_keys():
        async with get_client() as client:
            return [a.key for a in await client.read_artifacts()]

    assert "ingest-summary" in asyncio.run(artifact_keys())


def test_demo_then_report_json(prefect_server, data_dir):
    demo = CliRunner().invoke(app, ["demo", "--limit", "400", "--batch-size", "150"])
    assert demo.exit_code == 0, demo.output
    report = CliRunner().invoke(app, ["report", "--format", "json"])
    assert report.exit_code == 0, report.output
    rows = json.loads(report.stdout)
    assert len([r for r in rows if r["volume"] > 0]) >= 3
    for row in rows:
        assert row["volume"] == row["positive"] + row["neutral"] + row["negative"]
        assert row["net_sentiment"] == pytest.approx(
            (row["positive"] - row["negative"]) / row["volume"]
        )
    # a second demo re-reads nothing and leaves the report as it was
    again = CliRunner().invoke(app, ["demo", "--limit", "400", "--batch-size", "150"])
    assert again.exit_code == 0, again.output
    assert json.loads(CliRunner().invoke(app, ["report", "--format", "json"]).stdout) == rows
