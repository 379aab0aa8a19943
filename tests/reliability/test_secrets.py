"""The database password never reaches output, logs, artifacts or error messages."""

import asyncio
import json
import os

import pytest
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.slow
PASSWORD = "S3cret-Pa55-do-not-log"


async def _everything_prefect_kept() -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    async with get_client() as client:
        logs = await client.read_logs(log_filter=LogFilter(), limit=200)
        artifacts = await client.read_artifacts(limit=200)
        runs = await client.read_flow_runs(limit=50)
    parts = [log.message for log in logs]
    parts += [json.dumps(a.data, default=str) for a in artifacts]
    parts += [json.dumps(r.parameters, default=str) + str(r.state) for r in runs]
    return "\n".join(parts)


def _with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    userinfo, host = rest.split("@", 1)
    return f"{scheme}://{userinfo.split(':')[0]}:{PASSWORD}@{host}"


def test_password_stays_out_of_output_logs_and_artifacts(
    prefect_server, tmp_path, monkeypatch, pg_schema_url
):
    # Trust authentication ignores the password, so the run really connects with this URL.
    monkeypatch.setenv("SENTIMON_DATABASE_URL", _with_password(pg_schema_url))
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "1", "text": "@united great crew"}\n{"id": "2", "text": ""}\n')
    runner = CliRunner()
    outputs = [
        runner.invoke(app, args).output
        for args in (
            ["init"],
            ["run", "--input", str(posts)],
            ["report", "--format", "json"],
            ["models", "list"],
        )
    ]
    assert "great crew" not in outputs[0]
    # A database that refuses the connection: the error names the server, not the password.
    monkeypatch.setenv(
        "SENTIMON_DATABASE_URL", f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/test"
    )
    failed = runner.invoke(app, ["run", "--input", str(posts)])
    assert failed.exit_code != 0
    outputs.append(failed.output + repr(failed.exception))
    seen = "\n".join(outputs) + asyncio.run(_everything_prefect_kept())
    assert "127.0.0.1" in seen  # the check reads real text
    assert PASSWORD not in seen
    assert os.environ.get("SENTIMON_DATABASE_URL", "").count(PASSWORD) == 1
