"""Time buckets for aggregates, in SQL (``bucket_start``) and in Python (``floor_to_bucket``).

Both give the same instant: the UTC start of the day or hour that a timestamp falls in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from db.types import UTCDateTime

Bucket = Literal["day", "hour"]
BUCKETS: tuple[Bucket, ...] = get_args(Bucket)
BUCKET_LENGTH: dict[str, timedelta] = {"day": timedelta(days=1), "hour": timedelta(hours=1)}

# SQLite keeps UTCDateTime as SQLAlchemy's ISO string; truncating to that same format keeps
# bucket starts comparable with bound datetimes and readable by the DateTime type.
_SQLITE_FORMATS = {"day": "%Y-%m-%d 00:00:00.000000", "hour": "%Y-%m-%d %H:00:00.000000"}


def check_bucket(bucket: str) -> Bucket:
    """``bucket`` itself if it is a known bucket; a ValueError that lists them otherwise."""
    if bucket not in BUCKETS:
        raise ValueError(f"unknown bucket {bucket!r}: use one of {', '.join(BUCKETS)}")
    return bucket


class BucketStart(FunctionElement[datetime]):
    """SQL for the start of the bucket that a UTCDateTime column value falls in."""

    type = UTCDateTime()
    name = "bucket_start"
    inherit_cache = True


def bucket_start(column: ColumnElement[Any], bucket: Bucket) -> BucketStart:
    """The bucket start of ``column`` (a UTCDateTime) as a SQL expression."""
    # The unit is rendered into the SQL text (never a bound value), so that the same
    # expression in SELECT and GROUP BY is recognised as one by PostgreSQL.
    return BucketStart(column, literal_column(f"'{check_bucket(bucket)}'"))


def _parts(element: BucketStart) -> tuple[ColumnElement[Any], str]:
    column, unit = element.clauses.clauses
    return column, str(unit).strip("'")


@compiles(BucketStart, "postgresql")
def _pg_bucket_start(element: BucketStart, compiler: SQLCompiler, **kw: Any) -> str:
    column, unit = _parts(element)
    return compiler.process(func.date_trunc(literal_column(f"'{unit}'"), column), **kw)


@compiles(BucketStart, "sqlite")
def _sqlite_bucket_start(element: BucketStart, compiler: SQLCompiler, **kw: Any) -> str:
    column, unit = _parts(element)
    fmt: ColumnElement[str] = literal_column(f"'{_SQLITE_FORMATS[unit]}'")
    return compiler.process(func.strftime(fmt, column), **kw)


@compiles(BucketStart)
def _other_bucket_start(element: BucketStart, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(
        f"bucket_start has no SQL for the {compiler.dialect.name} dialect: use SQLite or PostgreSQL"
    )


def floor_to_bucket(value: date | datetime, bucket: Bucket) -> datetime:
    """The aware UTC start of the bucket that ``value`` falls in.

    A date means its UTC midnight; a naive datetime is taken as UTC.
    """
    check_bucket(bucket)
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if bucket == "day":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value.replace(minute=0, second=0, microsecond=0)
