"""One micro-batch end to end: real files, the committed model, a real SQLite file."""

import json

import pytest
from sqlalchemy import func, select

from db import repository
from db.tables import post_brands, posts, predictions, rejects
from flows.runtime.batch import BatchLoop, process_batch
from flows.runtime.process import get_runtime
from flows.runtime.settings import Settings
from pipeline.sources import FileSource
from pipeline.sources.validate import Validator


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing"
    folder.mkdir()
    rows = [
        {
            "id": "1",
            "text": "@united lost my bag again, terrible",
            "created_at": "2026-11-01T09:00:00Z",
        },
        {"id": "2", "text": "Love my new iPhone from Apple!", "created_at": "2026-11-01T10:00:00Z"},
        {"id": "3", "text": "", "created_at": "2026-11-01T11:00:00Z"},
        {"id": "4", "text": "Google maps got me home", "created_at": "2026-11-02T08:00:00Z"},
        {"id": "2", "text": "Love my new iPhone from Apple!", "created_at": "2026-11-01T10:00:00Z"},
    ]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{oops\n")
    (folder / "b.csv").write_text(
        "id,text,created_at,brand\n"
        "5,the flight was fine,2026-11-02T12:00:00Z,JetBlue\n"
        "6,bad,date,here,extra\n"
        "7,no brand mentioned at all,2026-11-03,\n"
        "8,unparsable time,not-a-date,\n"
    )
    return folder


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMON_DATA_DIR", str(tmp_path / "data"))
    return get_runtime(Settings())


def run_all(rt, folder, batch_size):
    source, validator = FileSource(folder, "test", settle_seconds=0), Validator("test")
    reports = []
    while (report := process_batch(rt, source, validator, batch_size)) is not None:
        reports.append(report)
    return reports


def count(rt, table):
    with rt.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_every_record_ends_in_posts_or_rejects_once(runtime, landing):
    reports = run_all(runtime, landing, batch_size=3)
    assert [r.n_read for r in reports] == [3, 3, 3, 1]
    # ids 1, 2, 4, 5, 7 (the re-sent 2 is the same post); one prediction each
    assert count(runtime, posts) == 5
    assert count(runtime, predictions) == 5
    # empty text, invalid JSON, too many columns, unparsable time
    assert count(runtime, rejects) == 4


def test_rerun_finds_nothing_new(runtime, landing):
    run_all(runtime, landing, batch_size=4)
    before = (count(runtime, posts), count(runtime, predictions), count(runtime, rejects))
    assert run_all(runtime, landing, batch_size=4) == []
    assert (count(runtime, posts), count(runtime, predictions), count(runtime, rejects)) == before


def test_brands_from_text_and_from_the_brand_field(runtime, landing):
    run_all(runtime, landing, batch_size=100)
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            select(posts.c.external_id, post_brands.c.brand)
            .join(post_brands, post_brands.c.post_id == posts.c.id)
            .order_by(posts.c.external_id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("1", "United Airlines"),
        ("2", "Apple"),
        ("4", "Google"),
        ("5", "JetBlue"),
    ]


def test_the_loop_stops_at_max_batches_or_when_nothing_is_new(runtime, landing):
    reader = FileSource(landing, "test", settle_seconds=0)
    loop = BatchLoop(runtime, reader, Validator("test"), 3)
    assert [r.n_read for r in loop.batches(max_batches=2)] == [3, 3]
    assert not loop.exhausted
    rest = list(loop.batches())
    assert [r.n_read for r in rest] == [3, 1] and loop.exhausted
    # The cursor the last batch read, once: the one the database holds.
    with runtime.engine.connect() as conn:
        assert loop.cursor == repository.get_cursor(conn, "test") == rest[-1].cursor_to
    reader.close()
