"""RedisStreamSource against a real Redis (SENTIMON_TEST_REDIS_URL), one fresh stream per test."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from pipeline.errors import UsageError
from pipeline.sources import SourceBatch, redis_stream
from pipeline.sources.redis_stream import RedisStreamSource, check_stream
from pipeline.sources.validate import Validator

REDIS_ENV = "SENTIMON_TEST_REDIS_URL"


@pytest.fixture
def redis_client():
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} not set: Redis tests skipped")
    import redis

    client = redis.Redis.from_url(url)
    yield client
    client.close()


@pytest.fixture
def stream(redis_client):
    name = f"sentimon-test-{uuid.uuid4().hex}"
    yield name
    redis_client.delete(name)


def source(client, stream, consumer="c1", **kwargs):
    return RedisStreamSource(client, stream, "sentimon", consumer, name="s", **kwargs)


def add(client, stream, *records):
    """XADD each record as one JSON field; returns the entry ids."""
    return [client.xadd(stream, {"json": json.dumps(r)}).decode() for r in records]


def pending(client, stream, group="sentimon"):
    return client.xpending(stream, group)["pending"]


def test_entries_are_acknowledged_only_by_acknowledge(redis_client, stream):
    ids = add(redis_client, stream, {"id": "a", "text": "one"}, {"text": "two"})
    redis_client.xadd(stream, {"text": "three", "author": "flat"})
    src = source(redis_client, stream)
    batch = src.read_batch(None, 10)
    assert [r.fields["text"] for r in batch.records] == ["one", "two", "three"]
    # The record id is the entry's id field, else the stream entry id.
    assert [r.fields["id"] for r in batch.records[:2]] == ["a", ids[1]]
    assert batch.records[2].fields["author"] == "flat"
    assert batch.records[0].locator == f"{stream}/{ids[0]}"
    assert batch.cursor_to == batch.ack_ids[-1]
    assert pending(redis_client, stream) == 3
    src.acknowledge(batch)
    assert pending(redis_client, stream) == 0
    assert src.read_batch(batch.cursor_to, 10) == SourceBatch([], None)


def test_a_restarted_consumer_gets_its_unacknowledged_entries_first(redis_client, stream):
    add(redis_client, stream, {"text": "one"}, {"text": "two"})
    crashed = source(redis_client, stream).read_batch(None, 10)  # died before the commit
    add(redis_client, stream, {"text": "three"})
    restarted = source(redis_client, stream)
    again = restarted.read_batch(None, 2)
    assert [r.fields for r in again.records] == [r.fields for r in crashed.records]
    restarted.acknowledge(again)
    assert [r.fields["text"] for r in restarted.read_batch(None, 10).records] == ["three"]


def test_a_batch_takes_pending_entries_then_new_ones_up_to_the_limit(redis_client, stream):
    add(redis_client, stream, {"text": "one"}, {"text": "two"})
    source(redis_client, stream).read_batch(None, 10)
    add(redis_client, stream, {"text": "three"}, {"text": "four"})
    batch = source(redis_client, stream).read_batch(None, 3)
    assert [r.fields["text"] for r in batch.records] == ["one", "two", "three"]
    assert len(batch.ack_ids) == 3


def test_a_dead_consumers_pending_entries_are_claimed_after_the_idle_time(redis_client, stream):
    add(redis_client, stream, *({"text": f"t{i}"} for i in range(3)))
    dead = source(redis_client, stream, consumer="dead").read_batch(None, 10)
    add(redis_client, stream, {"text": "new"})
    alive = source(redis_client, stream, consumer="alive", claim_idle_ms=300)
    # Not idle long enough yet: the other consumer may still be working on them.
    first = alive.read_batch(None, 10)
    assert [r.fields["text"] for r in first.records] == ["new"]
    alive.acknowledge(first)
    time.sleep(0.4)
    claimed = alive.read_batch(None, 10)
    assert [r.fields for r in claimed.records] == [r.fields for r in dead.records]
    alive.acknowledge(claimed)
    assert pending(redis_client, stream) == 0
    assert source(redis_client, stream, consumer="dead").read_batch(None, 10).records == []


def test_two_consumers_never_get_the_same_new_entries(redis_client, stream):
    add(redis_client, stream, *({"text": f"t{i}"} for i in range(5)))
    a = source(redis_client, stream, consumer="a").read_batch(None, 2)
    b = source(redis_client, stream, consumer="b").read_batch(None, 10)
    assert len(a.records) == 2
    assert len(b.records) == 3
    assert not set(a.ack_ids) & set(b.ack_ids)


def test_malformed_entries_become_rejects_and_are_acknowledged_with_their_batch(
    redis_client, stream
):
    redis_client.xadd(stream, {"json": "{not json"})
    redis_client.xadd(stream, {"json": "[1, 2]"})
    redis_client.xadd(stream, {"text": b"caf\xe9"})
    redis_client.xadd(stream, {"json": json.dumps({"text": ""})})
    add(redis_client, stream, {"text": "fine"})
    src = source(redis_client, stream)
    batch = src.read_batch(None, 10)
    assert [r.error for r in batch.records] == [
        "invalid JSON: Expecting property name enclosed in double quotes at column 2",
        "not a JSON object",
        "invalid UTF-8",
        None,
        None,
    ]
    assert batch.records[0].raw == "{not json"
    posts, rejects = Validator("s").split(batch.records)
    assert [p.text for p in posts] == ["fine"]
    assert [r.reason for r in rejects][-1] == "missing text"
    assert len({r.locator for r in rejects}) == 4
    src.acknowledge(batch)
    assert pending(redis_client, stream) == 0


def test_the_group_starts_at_the_beginning_and_deleted_pending_entries_are_dropped(
    redis_client, stream
):
    # Entries written before the group exists are read: the group is created at id 0.
    ids = add(redis_client, stream, {"text": "one"}, {"text": "two"})
    source(redis_client, stream).read_batch(None, 10)
    redis_client.xdel(stream, ids[0])  # trimmed away while pending
    batch = source(redis_client, stream).read_batch(None, 10)
    assert [r.fields["text"] for r in batch.records] == ["two"]
    assert batch.ack_ids == (ids[1],)
    assert pending(redis_client, stream) == 1


def test_a_url_gives_the_source_its_own_client(redis_client, stream):
    add(redis_client, stream, {"text": "one"})
    src = RedisStreamSource(
        url=os.environ[REDIS_ENV], stream=stream, group="g", consumer="c", name="s"
    )
    batch = src.read_batch(None, 10)
    src.acknowledge(batch)
    src.close()
    assert [r.fields["text"] for r in batch.records] == ["one"]
    assert redis_client.xpending(stream, "g")["pending"] == 0


def test_a_missing_stream_is_refused_and_not_created(redis_client, stream):
    """A misspelt stream name: no empty stream, no group, and the stream that was meant."""
    add(redis_client, stream, {"text": "one"})
    typo = stream[:-4] + "zzzz"
    try:
        with pytest.raises(UsageError) as refused:
            source(redis_client, typo).read_batch(None, 10)
        message = str(refused.value)
        assert f"no stream {typo!r} at redis://" in message
        assert f"did you mean {stream!r}?" in message
        assert f"XGROUP CREATE {typo} sentimon 0 MKSTREAM" in message
        assert redis_client.exists(typo) == 0
        # The stream that exists is read as before; its group is made on its first read.
        batch = source(redis_client, stream).read_batch(None, 10)
        assert [r.fields["text"] for r in batch.records] == ["one"]
        assert [g["name"] for g in redis_client.xinfo_groups(stream)] == [b"sentimon"]
    finally:
        redis_client.delete(typo)


def test_a_key_of_another_type_is_no_stream(redis_client, stream):
    redis_client.rpush(stream, "not an entry")
    with pytest.raises(UsageError, match=f"Redis key {stream!r} at .* holds a list, not a stream"):
        source(redis_client, stream).read_batch(None, 10)
    assert redis_client.type(stream) == b"list" and redis_client.llen(stream) == 1


def test_the_streams_listed_come_from_a_bounded_scan_and_no_password_is_shown(
    redis_client, stream, monkeypatch
):
    prefix = f"{stream}-plain"
    redis_client.mset({f"{prefix}-{n}": n for n in range(200)})
    try:
        # At most 2 x 10 keys scanned (5 x 1,000 in use): a partial list, said as such.
        monkeypatch.setattr(redis_stream, "_SCAN_COUNT", 10)
        monkeypatch.setattr(redis_stream, "_SCAN_CALLS", 2)
        url = "redis://sentimon:s3cret@127.0.0.1:6379/15?password=t0psecret"
        with pytest.raises(UsageError) as refused:
            check_stream(redis_client, f"{stream}-missing", "sentimon", url)
        message = str(refused.value)
        assert "(of the first 20 keys)" in message
        assert "redis://…@127.0.0.1:6379/15" in message
        assert "s3cret" not in message and "t0psecret" not in message
    finally:
        redis_client.delete(*(f"{prefix}-{n}" for n in range(200)))
