"""`sentimon run --input redis://...?stream=NAME`: a stream that is not there is refused before
Prefect starts, and nothing is created in Redis; a stream that is there is read. Through the
real CLI against a real Redis (SENTIMON_TEST_REDIS_URL) and a real SQLite file."""

import json
import os
import uuid

import pytest
from support.cli import heavy_imports_of, one_error_line
from typer.testing import CliRunner

from flows.cli import app

REDIS_ENV = "SENTIMON_TEST_REDIS_URL"
runner = CliRunner()


@pytest.fixture
def redis_url():
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} not set: Redis tests skipped")
    return url


@pytest.fixture
def client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def new_posts(client, tmp_path, monkeypatch):
    """A stream with two entries and no consumer group yet; a working folder of its own."""
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    stream = f"sentimon-test-{uuid.uuid4().hex[:12]}-new_posts"
    for n, text in enumerate(["Sonora cans sound great", "the hinge broke"]):
        client.xadd(stream, {"json": json.dumps({"id": f"p{n}", "text": text})})
    yield stream
    client.delete(stream)


def test_a_misspelt_stream_is_refused_before_prefect_and_nothing_is_created(
    redis_url, client, new_posts, tmp_path
):
    typo = new_posts.replace("new_posts", "nu_postz")
    args = ["run", "--input", f"{redis_url}?stream={typo}&group=sentimon"]
    try:
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        one_error_line(
            result,
            f"no stream {typo!r} at {redis_url}",
            f"did you mean {new_posts!r}?",
            "Nothing was read or created",
            f"XGROUP CREATE {typo} sentimon 0 MKSTREAM",
        )
        # Answered by the checks before a run: Prefect, torch and spaCy never load.
        status, imported, stderr = heavy_imports_of(args, tmp_path)
        assert (status, imported) == ("exit 2", "[]"), stderr
        assert client.exists(typo) == 0  # no empty stream, so no consumer group either
        assert not (tmp_path / "data").exists()  # nor a results database
        assert client.xlen(new_posts) == 2 and client.xinfo_groups(new_posts) == []
    finally:
        client.delete(typo)


@pytest.mark.slow
def test_an_existing_stream_without_a_group_is_read(prefect_server, redis_url, client, new_posts):
    result = runner.invoke(app, ["run", "--input", f"{redis_url}?stream={new_posts}"])
    assert result.exit_code == 0, result.output
    summary = json.JSONDecoder().raw_decode(result.stdout[result.stdout.index("{") :])[0]
    assert (summary["read"], summary["new_posts"], summary["rejects"]) == (2, 2, 0)
    (group,) = client.xinfo_groups(new_posts)
    assert (group["name"], group["pending"]) == (b"sentimon", 0)  # made, and acknowledged
    # Read again: nothing new, and the way back is Redis's, not `sources reset` (refused there).
    again = runner.invoke(app, ["run", "--input", f"{redis_url}?stream={new_posts}"])
    assert again.exit_code == 0, again.output
    said = " ".join(again.stderr.split())
    assert f"`XGROUP SETID {new_posts} sentimon 0` in Redis reads the stream again" in said
    assert "sources reset" not in said


def test_a_redis_that_does_not_answer_is_one_line_before_prefect(tmp_path, monkeypatch):
    """Nothing listens on port 1: refused at once, said in one line within the check's 2 s."""
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    args = ["run", "--input", "redis://127.0.0.1:1/14?stream=posts"]
    status, imported, stderr = heavy_imports_of(args, tmp_path)
    assert (status, imported) == ("exit 1", "[]"), stderr
    line = " ".join(stderr.split())
    assert line.startswith("error: the Redis server at redis://127.0.0.1:1/14 does not answer (")
    assert line.endswith("start it or fix the URL; nothing was read")
    assert not (tmp_path / "data").exists()
