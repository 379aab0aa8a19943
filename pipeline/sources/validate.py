"""Validation: every raw record becomes a Post or a Reject with its reason; nothing is lost."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dateutil import parser as dateparser

from pipeline.records import Post, RawRecord, Reject

MAX_TEXT_CHARS = 20_000
FIELDS = ("id", "text", "created_at", "author", "url", "brand")
# Longest value of each other text field. PostgreSQL refuses an index entry over ~2,700 bytes
# (ids and brands are indexed), and 4 UTF-8 bytes a character keeps these well under it.
MAX_FIELD_CHARS = {"id": 512, "author": 512, "url": 4096, "brand": 256}
MAX_BRAND_HINTS = 32
# Messages that name a record's fields (field_names) show this many, each cut to this length.
MAX_NAMES_SHOWN = 8
MAX_NAME_CHARS = 40
# A string of digits is read as epoch seconds only from 100000000 (1973-03-03) on: a bare
# small number ("3", "12") is a day or a count, never a time; 8 digits stay ISO basic dates.
_EPOCH_RE = re.compile(r"[+-]?(\d+)(\.\d+)?")
MIN_EPOCH_DIGITS = 9


@dataclass(frozen=True)
class Validator:
    """Turns raw records of one source into posts and rejects.

    ``column_map`` maps our field names to the source's (``{"text": "review"}``), so foreign
    layouts need no conversion step. ``guard_first_batch``: a source's first batch is refused
    when most of it is rejected for one reason (pipeline/sources/guard.py).
    """

    source: str
    column_map: Mapping[str, str] | None = None
    max_text_chars: int = MAX_TEXT_CHARS
    guard_first_batch: bool = False

    def split(
        self, records: Iterable[RawRecord], now: datetime | None = None
    ) -> tuple[list[Post], list[Reject]]:
        """Validate ``records`` in order; ``now`` stands in for a missing created_at."""
        now = now or datetime.now(UTC)
        posts: list[Post] = []
        rejects: list[Reject] = []
        for record in records:
            try:
                result = self.validate(record, now)
            except Exception as err:  # whatever one record holds, it is that record's problem
                result = self._reject(record, f"unreadable record: {type(err).__name__}: {err}")
            (posts if isinstance(result, Post) else rejects).append(result)  # type: ignore[arg-type]
        return posts, rejects

    def validate(self, record: RawRecord, now: datetime) -> Post | Reject:
        if record.error or record.fields is None:
            return self._reject(record, record.error or "unreadable record")
        fields = self._mapped(record.fields)
        external_id = _as_id(fields.get("id"))
        if external_id is not None and (problem := unstorable("id", external_id)):
            return self._reject(record, problem)
        text = fields.get("text")
        if text is None or text == "":
            return self._reject(record, self._missing_text(record.fields), external_id)
        if not isinstance(text, str):
            return self._reject(
                record, f"text is a {type(text).__name__}, not a string", external_id
            )
        if not text.strip():
            return self._reject(record, "empty text", external_id)
        if problem := unstorable("text", text, limit=None):
            return self._reject(record, problem, external_id)
        if len(text) > self.max_text_chars:
            return self._reject(
                record,
                f"text over the size limit ({len(text)} > {self.max_text_chars} chars)",
                external_id,
            )
        try:
            created_at = _parse_time(fields.get("created_at")) or now
        except ValueError as err:
            return self._reject(record, f"unparsable created_at: {err}", external_id)
        for name in ("author", "url"):
            if fields.get(name) is not None and not isinstance(fields[name], str | int):
                return self._reject(record, f"{name} is not a string", external_id)
        author, url = _opt_str(fields.get("author")), _opt_str(fields.get("url"))
        hints = _brand_hints(fields.get("brand"))
        if len(hints) > MAX_BRAND_HINTS:
            return self._reject(record, f"too many brands ({len(hints)} > {MAX_BRAND_HINTS})")
        checks = [("author", author), ("url", url), *(("brand", hint) for hint in hints)]
        for name, value in checks:
            if value is not None and (problem := unstorable(name, value)):
                return self._reject(record, problem, external_id)
        return Post(
            source=self.source,
            external_id=external_id or content_id(text),
            text=text,
            created_at=created_at,
            author=author,
            url=url,
            brand_hints=hints,
        )

    def _missing_text(self, fields: dict[str, Any]) -> str:
        """ "missing text", and when the record has no such field at all, the fields it has: a
        wrong ``--map text=...`` (or none) is then fixed from the first refusal's message. The
        details stay in parentheses without ": ", so rejects group by ``reason_kind`` as one."""
        name = (self.column_map or {}).get("text", "text")
        if name in fields:
            return "missing text"
        if not fields:
            return f"missing text (no field {name[:MAX_NAME_CHARS]!r}; the record has none)"
        return (
            f"missing text (no field {name[:MAX_NAME_CHARS]!r}; the record has "
            f"{field_names(fields)}; --map text=FIELD picks one)"
        )

    def _mapped(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not self.column_map:
            return fields
        return {ours: fields.get(self.column_map.get(ours, ours)) for ours in FIELDS}

    def _reject(self, record: RawRecord, reason: str, external_id: str | None = None) -> Reject:
        fields = None
        if record.error is None and record.fields is not None:
            fields = replayable_fields(record.fields, self.max_text_chars + 1)
        return Reject(self.source, record.locator, reason, record.raw, external_id, fields)


def field_names(fields: Iterable[str]) -> str:
    """A record's field names as a message shows them: quoted, the first MAX_NAMES_SHOWN, each
    cut to MAX_NAME_CHARS (a hostile record's names can be long and many)."""
    names = list(fields)
    shown = ", ".join(repr(name[:MAX_NAME_CHARS]) for name in names[:MAX_NAMES_SHOWN])
    return shown + (", ..." if len(names) > MAX_NAMES_SHOWN else "")


def replayable_fields(fields: Mapping[str, Any], keep: int) -> dict[str, Any] | None:
    """``fields`` as JSON can store them, each text value cut at ``keep`` characters; None when
    they cannot be stored (nested too deeply to write back, say): such a reject is kept, but
    cannot be replayed.

    ``keep`` one over the text limit keeps every validation outcome: a value longer than that is
    over the limit of whatever field a mapping makes it (text, id, author, url, brand) and
    unparsable as a time, both before and after the cut. Values JSON cannot hold (a Parquet
    timestamp, say) are kept as their text.
    """
    kept = {str(k): v[:keep] if isinstance(v, str) else v for k, v in fields.items()}
    try:
        try:
            json.dumps(kept)
        except (TypeError, ValueError):
            kept = json.loads(json.dumps(kept, default=str))
    except Exception:  # whatever a record holds, it must not stop its own rejection
        return None
    return kept


def unstorable(name: str, value: str, limit: int | None = -1) -> str | None:
    """Why no target database would store ``value`` in field ``name``; None when it fits.

    NUL (PostgreSQL text cannot hold it) and lone surrogates (from JSON's \\ud800 escapes; they
    are not UTF-8, so no driver can send them) would fail the whole batch's commit, on every
    run. ``limit`` -1: the field's MAX_FIELD_CHARS; None: no length check here.
    """
    if "\x00" in value:
        return f"{name} contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} contains an invalid surrogate (not UTF-8)"
    most = MAX_FIELD_CHARS.get(name) if limit == -1 else limit
    if most is not None and len(value) > most:
        return f"{name} over the size limit ({len(value)} > {most} chars)"
    return None


def content_id(text: str) -> str:
    """Stable id for sources without one: the same text is the same record."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _as_id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _brand_hints(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        parts = value.split("|") if "|" in value else [value]
    elif isinstance(value, list):
        parts = [v for v in value if isinstance(v, str)]
    else:
        return ()
    return tuple(p.strip() for p in parts if p.strip())


def _parse_time(value: Any) -> datetime | None:
    """ISO 8601, RFC 2822-ish strings or epoch seconds -> aware UTC; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a time")
    if isinstance(value, int | float):
        # A JSON number follows the rules of the same digits in a string: 12 is no time, and
        # 20261125 is a date, not 1970-08-23.
        value = repr(value)
    if not isinstance(value, str):
        raise ValueError(f"a {type(value).__name__} is not a time")
    value = value.strip()
    if number := _EPOCH_RE.fullmatch(value):
        if len(number.group(1)) == 8 and not number.group(2) and value.isdigit():
            pass  # YYYYMMDD: an ISO 8601 basic date, read below
        elif len(number.group(1)) < MIN_EPOCH_DIGITS:
            raise ValueError(
                f"{value[:40]!r} is a bare number, not a time "
                f"(epoch seconds have {MIN_EPOCH_DIGITS} digits or more)"
            )
        else:
            try:
                return datetime.fromtimestamp(float(value), UTC)
            except (OverflowError, OSError, ValueError) as err:
                raise ValueError(f"epoch {value[:40]} out of range") from err
    try:
        # ISO 8601 is what most exports write: the C parser is ~30x faster than dateutil's.
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = dateparser.parse(value)
        except (ValueError, OverflowError) as err:
            raise ValueError(repr(value[:40])) from err
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)  # naive times are taken as UTC, as documented
    return parsed.astimezone(UTC)
