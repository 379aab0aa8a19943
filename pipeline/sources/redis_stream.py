"""Redis: a stream read through a consumer group, acknowledged after the batch has committed."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import redis

from pipeline.errors import SourceError, UsageError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP, SourceBatch
from pipeline.sources.lines import MAX_RECORD_BYTES, invalid_json

CLAIM_IDLE_MS = 300_000  # far above a batch's processing time, so live consumers keep theirs
PAYLOAD_FIELD = "json"
_CLAIM_ROUNDS = 10  # XAUTOCLAIM scans at most 10 x COUNT pending entries per call
# Listing the streams a missing one could have been meant for: SCAN ... TYPE stream over at
# most _SCAN_CALLS x _SCAN_COUNT keys, so an instance holding millions of keys answers at once.
_SCAN_COUNT = 1_000
_SCAN_CALLS = 5
_STREAMS_SHOWN = 8

Entry = tuple[str, dict[str, Any] | None]


@dataclass
class RedisStreamSource:
    """Entries of ``stream`` read as consumer ``consumer`` of ``group``.

    Each batch takes, in this order: this consumer's own pending entries (delivered before a
    crash and never acknowledged), then entries other consumers left pending for longer than
    ``claim_idle_ms`` (XAUTOCLAIM: their consumer died), then new entries. ``block_ms`` None
    does not wait for new entries, so a run processes what is there now and ends. Entries are
    XACKed by ``acknowledge`` once their batch has committed, so a crash re-delivers them; their
    writes are upserts, so a re-delivered entry lands on the same post. Consumer names must be
    stable per worker (e.g. the host name), or a restarted worker's entries wait for the claim.

    Entry layout: a field named ``payload_field`` ("json") holds the record as a JSON object;
    otherwise the entry's flat fields are the record (all values strings). The record's id is
    its ``id`` field when it has one, else the stream entry id. The group is created at id 0
    (the whole stream) when missing; the stream is not: a stream that does not exist is a
    misspelt name far more often than one no producer has written to yet, and creating it
    (XGROUP CREATE ... MKSTREAM) would leave an empty stream that every run reads as "nothing
    new". ``check_stream`` says so (a UsageError). The results-database cursor is not used: the
    group keeps the position; ``cursor_to`` is the batch's highest entry id, for the audit
    trail.
    """

    # The group hands out entries by reading them: no batch may be read ahead of its turn.
    readahead: ClassVar[bool] = False
    # Nothing to tell about the input beyond its rejects (the Source protocol's notices).
    notices: list[str] = field(default_factory=list, init=False, repr=False, compare=False)
    url: str | redis.Redis  # redis://host:port/db gets a client of its own; or a live client
    stream: str
    group: str
    consumer: str
    name: str
    claim_idle_ms: int = CLAIM_IDLE_MS
    block_ms: int | None = None
    payload_field: str = PAYLOAD_FIELD
    _group_ready: bool = field(default=False, init=False, repr=False)
    _redis: redis.Redis = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Raw bytes replies (decode_responses=False) keep invalid UTF-8 a per-entry reject; a
        # client given here should be made that way too, with the default RESP2 protocol.
        if isinstance(self.url, str):
            self._redis = redis.Redis.from_url(self.url, decode_responses=False)
        else:
            self._redis = self.url

    def read_batch(self, cursor: str | None, limit: int) -> SourceBatch:
        """Up to ``limit`` entries: own pending, then claimed, then new. ``cursor`` is unused."""
        try:
            self._ensure_group()
            entries = self._own_pending(limit)
            if len(entries) < limit:
                entries += self._claimed(limit - len(entries))
            if len(entries) < limit:
                entries += self._new(limit - len(entries))
            # With a tiny claim_idle_ms XAUTOCLAIM can return an entry just read as pending.
            entries = list(dict(entries).items())
        except redis.RedisError as err:
            raise SourceError(f"Redis stream {self.stream!r}: {err}") from err
        if not entries:
            return SourceBatch([], None)
        ids = tuple(entry_id for entry_id, _ in entries)
        records = [self._guarded_record(entry_id, values) for entry_id, values in entries]
        return SourceBatch(records, max(ids, key=_id_order), ack_ids=ids)

    def acknowledge(self, batch: SourceBatch) -> None:
        """XACK exactly the batch's entries: their posts and rejects are committed now."""
        if batch.ack_ids:
            self._redis.xack(self.stream, self.group, *batch.ack_ids)

    def close(self) -> None:
        """Close the connections of a client this source made from a URL."""
        if isinstance(self.url, str):
            self._redis.close()

    def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._redis.xgroup_create(self.stream, self.group, id="0")
        except redis.ResponseError as err:
            if "BUSYGROUP" not in str(err):
                # No MKSTREAM: a missing stream fails here, and is said as check_stream says
                # it (before a run, flows/runtime/preflight.py does the same).
                url = self.url if isinstance(self.url, str) else _client_url(self._redis)
                try:
                    check_stream(self._redis, self.stream, self.group, url)
                except redis.RedisError:
                    raise err from None  # TYPE refused too (an ACL): XGROUP's error says it
                raise
        self._group_ready = True

    def _own_pending(self, count: int) -> list[Entry]:
        entries = self._read_group("0", count)
        # An entry deleted from the stream (XDEL, MAXLEN) stays pending with no fields: nothing
        # to process, so it is acknowledged now, or it would come back with every batch.
        gone = [entry_id for entry_id, values in entries if not values]
        if gone:
            self._redis.xack(self.stream, self.group, *gone)
        return [(entry_id, values) for entry_id, values in entries if values]

    def _claimed(self, count: int) -> list[Entry]:
        entries: list[Entry] = []
        start = "0-0"
        for _ in range(_CLAIM_ROUNDS):
            reply: Any = self._redis.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id=start,
                count=count - len(entries),
            )
            start = _text(reply[0])
            entries += [(_text(i), v) for i, v in reply[1] if i is not None and v]
            if start == "0-0" or len(entries) >= count:
                break
        return entries

    def _new(self, count: int) -> list[Entry]:
        return self._read_group(">", count, block=self.block_ms)

    def _read_group(self, start: str, count: int, block: int | None = None) -> list[Entry]:
        reply: Any = self._redis.xreadgroup(
            self.group, self.consumer, {self.stream: start}, count=count, block=block
        )
        if not reply:
            return []
        return [(_text(i), v) for _, batch in reply for i, v in batch]

    def _guarded_record(self, entry_id: str, values: dict[Any, Any] | None) -> RawRecord:
        """The entry as a record; an entry that cannot be decoded at all becomes a reject, so
        that it is acknowledged with its batch instead of staying pending for ever."""
        try:
            return self._record(entry_id, values)
        except Exception as err:
            raw = _lossy_raw(values)
            reason = f"unreadable entry: {type(err).__name__}: {err}"
            return RawRecord(f"{self.stream}/{entry_id}", None, raw, reason)

    def _record(self, entry_id: str, values: dict[Any, Any] | None) -> RawRecord:
        locator = f"{self.stream}/{entry_id}"
        raw = _raw(values or {}, self.payload_field)
        try:
            flat = {_text(k): _text(v) for k, v in (values or {}).items()}
        except UnicodeDecodeError:
            return RawRecord(locator, None, raw, "invalid UTF-8")
        size = sum(len(k) + len(v) for k, v in flat.items())
        if size > MAX_RECORD_BYTES:
            reason = f"record over the size limit ({size:,} chars > {MAX_RECORD_BYTES:,})"
            return RawRecord(locator, None, raw, reason)
        if self.payload_field in flat:
            try:
                fields = json.loads(flat[self.payload_field])
            except json.JSONDecodeError as err:
                return RawRecord(locator, None, raw, invalid_json(err))
            except RecursionError:
                return RawRecord(locator, None, raw, "invalid JSON: nested too deeply")
            except ValueError as err:  # e.g. a number over Python's 4,300-digit limit
                return RawRecord(locator, None, raw, f"invalid JSON: {err}")
            if not isinstance(fields, dict):
                return RawRecord(locator, None, raw, "not a JSON object")
        else:
            fields = flat
        if fields.get("id") in (None, ""):
            fields["id"] = entry_id  # a re-delivered entry keeps its identity
        return RawRecord(locator, fields, raw)


def check_stream(client: redis.Redis, stream: str, group: str, url: str) -> None:
    """Raise a UsageError when ``stream`` is not a stream in the Redis ``client`` reaches.

    A name nothing knows is a usage mistake (exit 2): the error names the stream and ``url``
    (without its password or query), the streams that are there and the likely one, and how a
    stream no producer has written to yet is made (with its group, as the reader would make
    the group). Nothing is created. Redis's own errors (unreachable, no permission for TYPE)
    are the caller's.
    """
    kind = _text(client.type(stream))
    if kind == "stream":
        return
    where = shown_url(url)
    hint = _streams_hint(client, stream)
    if kind != "none":
        raise UsageError(
            f"Redis key {stream!r} at {where} holds a {kind}, not a stream{hint}. Nothing was read"
        )
    raise UsageError(
        f"no stream {stream!r} at {where}{hint}. Nothing was read or created. A stream that "
        f"nothing has written to yet is made once, with its group, before the first run: "
        f"XGROUP CREATE {stream} {group} 0 MKSTREAM (or by the producer's first XADD)"
    )


def shown_url(url: str) -> str:
    """A Redis URL fit to print: scheme, host, port and database; the user and password (and
    the query, which may carry ``password=``) left out."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = "…@" if "@" in parts.netloc else ""
    return f"{parts.scheme}://{credentials}{host}{parts.path}"


def _client_url(client: redis.Redis) -> str:
    """The URL a live client was made for, from its pool's settings (no password)."""
    options = client.connection_pool.connection_kwargs
    if "path" in options:
        return f"unix://{options['path']}"
    return f"redis://{options.get('host', 'localhost')}:{options.get('port', 6379)}/" + str(
        options.get("db", 0)
    )


def _streams_hint(client: redis.Redis, stream: str) -> str:
    """``; did you mean 'X'? the streams there: X, Y and N more`` from a bounded SCAN."""
    try:
        names, complete = _stream_keys(client)
    except redis.RedisError:  # no SCAN for this user, a Redis before 6.0 (no TYPE): no list
        return ""
    scope = "" if complete else f" (of the first {_SCAN_COUNT * _SCAN_CALLS:,} keys)"
    if not names:
        return f"; there is no stream there{scope}"
    close = difflib.get_close_matches(stream, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    shown = close + [name for name in names if name not in close]
    listed = ", ".join(shown[:_STREAMS_SHOWN])
    more = f" and {len(shown) - _STREAMS_SHOWN} more" if len(shown) > _STREAMS_SHOWN else ""
    return f"{hint} the streams there{scope}: {listed}{more}"


def _stream_keys(client: redis.Redis) -> tuple[list[str], bool]:
    """The stream keys among at most _SCAN_CALLS x _SCAN_COUNT keys, sorted, and whether the
    scan went through every key."""
    names: set[str] = set()
    cursor = 0
    for _ in range(_SCAN_CALLS):
        reply: Any = client.scan(cursor, count=_SCAN_COUNT, _type="stream")
        cursor = int(reply[0])
        names.update(_name(key) for key in reply[1])
        if cursor == 0:
            return sorted(names), True
    return sorted(names), False


def _name(key: Any) -> str:
    """A key's name to print; bytes that are not UTF-8 replaced (a key is any bytes)."""
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _raw(values: dict[Any, Any], payload_field: str) -> str:
    """The entry as one JSON line for the rejects table, bad bytes replaced."""
    plain = {
        (k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)): (
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        )
        for k, v in values.items()
    }
    if len(plain) == 1 and payload_field in plain:
        return plain[payload_field][:RAW_KEEP]
    return json.dumps(plain, ensure_ascii=False)[:RAW_KEEP]


def _lossy_raw(values: dict[Any, Any] | None) -> str:
    try:
        return _raw(values or {}, PAYLOAD_FIELD)
    except Exception:  # the raw copy is a courtesy; the reject must exist without it
        return ""


def _id_order(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
