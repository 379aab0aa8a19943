"""SQL: rows of a table or query in another database, read after a monotonically increasing column.

Lives in db/ because pipeline/ may not import SQLAlchemy; it implements
``pipeline.sources.base.Source``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import (
    Connection,
    Engine,
    FromClause,
    Select,
    bindparam,
    column,
    create_engine,
    inspect,
    literal_column,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.types import NullType

from pipeline.errors import SourceError
from pipeline.records import RawRecord
from pipeline.sources.base import RAW_KEEP, SourceBatch


@dataclass
class SqlSource:
    """Rows of ``table`` (or of the SELECT ``query``) in order of ``(cursor_column, tiebreak)``.

    The cursor is the JSON of the last row's ``(cursor value, tiebreak value)``; the next batch
    is ``WHERE (cursor, tiebreak) > (:value, :key) ORDER BY cursor, tiebreak LIMIT :n``. The
    tiebreak makes rows that share a cursor value (timestamps tie) neither lost nor repeated when
    a batch boundary falls among them. It is ``tiebreak_column``, else ``id_column``, else the
    table's one-column primary key; give ``tiebreak_column=cursor_column`` when the cursor
    column is itself unique.

    Assumption: rows arrive in cursor order, i.e. a new row's ``(cursor, tiebreak)`` is above
    the committed one (an autoincrement id; a timestamp set at insert with an increasing id as
    tiebreak). A row that arrives later with a lower value (a late or back-dated write, or a
    transaction that commits after a later one was read) is not seen; rows whose cursor column
    is NULL are never read.

    Values are read and bound as the driver gives them (no type conversion), so a timestamp
    stored as text in SQLite is compared as that same text. Table and column names are checked
    against the database and quoted by SQLAlchemy; ``query`` is trusted configuration, wrapped
    as a subquery (a literal ``:word`` in it reads as a bind parameter: write ``\\:word``).
    """

    # A read depends on the cursor alone, so the next batch may be read before this one
    # commits (flows/runtime/batch.py's read-ahead).
    readahead: ClassVar[bool] = True
    # Nothing to tell about the input beyond its rejects (the Source protocol's notices).
    notices: list[str] = field(default_factory=list, init=False, repr=False, compare=False)
    url: str | Engine
    name: str
    cursor_column: str
    table: str | None = None
    query: str | None = None
    id_column: str | None = None
    tiebreak_column: str | None = None
    schema: str | None = None
    _engine: Engine | None = field(default=None, init=False, repr=False, compare=False)
    _from: FromClause | None = field(default=None, init=False, repr=False, compare=False)
    _key: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise SourceError(f"SQL source {self.name!r}: give either a table or a query")
        if self.query is not None:
            # Wrapped as a subquery, where the semicolon most people end a query with is a
            # syntax error.
            self.query = self.query.strip().rstrip(";").rstrip()
        if self.table is not None and self.schema is None and self.table.count(".") == 1:
            self.schema, self.table = self.table.split(".")  # "schema.table", as SQL writes it

    @property
    def label(self) -> str:
        """The table name, or ``query``: the first part of each record's locator."""
        return self.table or "query"

    def read_batch(self, cursor: str | None, limit: int) -> SourceBatch:
        source, key = self._prepared()
        cur, tie = source.c[self.cursor_column], source.c[key]
        stmt = select(source).where(cur.is_not(None)).order_by(cur, tie).limit(limit)
        if cursor:
            value, key_value = _parse_cursor(cursor)
            after = tuple_(_bound("cursor_value", value), _bound("key_value", key_value))
            stmt = stmt.where(tuple_(cur, tie) > after)
        try:
            with self._engine_().connect() as conn, _read_only(conn):
                rows = [dict(row) for row in conn.execute(stmt).mappings()]
        except SQLAlchemyError as err:
            raise SourceError(f"SQL source {self.name!r}: reading failed: {_said(err)}") from err
        if not rows:
            return SourceBatch([], None)
        records = [self._record(row, key) for row in rows]
        last = rows[-1]
        return SourceBatch(records, _format_cursor(last[self.cursor_column], last[key]))

    def acknowledge(self, batch: SourceBatch) -> None:
        """Nothing to do: the cursor is stored with the batch in the results database."""

    def close(self) -> None:
        """Release the connections of an engine this source created from a URL."""
        if self._engine is not None and not isinstance(self.url, Engine):
            self._engine.dispose()

    def _record(self, row: dict[str, Any], key: str) -> RawRecord:
        locator = f"{self.label}:{_text(row[self.cursor_column])}"
        if key != self.cursor_column:
            locator += f"#{_text(row[key])}"
        try:
            fields = {name: _plain(value) for name, value in row.items()}
        except UnicodeDecodeError:
            raw = json.dumps(row, default=str, ensure_ascii=False)[:RAW_KEEP]
            return RawRecord(locator, None, raw, "invalid UTF-8")
        if self.id_column is not None:
            fields["id"] = fields[self.id_column]  # the record's id, whatever the column's name
        raw = json.dumps(fields, default=str, ensure_ascii=False)[:RAW_KEEP]
        return RawRecord(locator, fields, raw)

    def _engine_(self) -> Engine:
        if self._engine is None:
            self._engine = self.url if isinstance(self.url, Engine) else _open_engine(self.url)
        return self._engine

    def _prepared(self) -> tuple[FromClause, str]:
        """The row source and tiebreak column, checked against the database once."""
        if self._from is None or self._key is None:
            columns, primary_key = self._reflect()
            wanted = [self.cursor_column, self.id_column, self.tiebreak_column]
            missing = [c for c in wanted if c is not None and c not in columns]
            if missing:
                raise SourceError(
                    f"SQL source {self.name!r}: {self.label} has no column {missing[0]!r}; "
                    f"its columns are {', '.join(columns)}"
                )
            key = self.tiebreak_column or self.id_column
            if key is None and len(primary_key) == 1:
                key = primary_key[0]
            if key is None:
                raise SourceError(
                    f"SQL source {self.name!r}: rows sharing a {self.cursor_column} need a "
                    "unique tiebreak: give id_column (or tiebreak_column=cursor_column when "
                    f"{self.cursor_column} is itself unique)"
                )
            self._from, self._key = self._from_clause(columns), key
        return self._from, self._key

    def _reflect(self) -> tuple[list[str], list[str]]:
        """Column names (and a table's primary key) as the database reports them."""
        engine = self._engine_()
        try:
            if self.table is not None:
                insp = inspect(engine)
                names = [c["name"] for c in insp.get_columns(self.table, schema=self.schema)]
                pk = insp.get_pk_constraint(self.table, schema=self.schema)
                return names, list(pk.get("constrained_columns") or [])
            star: Select[Any] = select(literal_column("*")).select_from(self._query_clause([]))
            with engine.connect() as conn, _read_only(conn):
                return list(conn.execute(star.limit(0)).keys()), []
        except NoSuchTableError as err:
            raise SourceError(
                f"SQL source {self.name!r}: no table {self.table!r} in that database"
            ) from err
        except SQLAlchemyError as err:
            raise SourceError(
                f"SQL source {self.name!r}: cannot read {self.label}: {_said(err)}"
            ) from err

    def _from_clause(self, columns: list[str]) -> FromClause:
        # Lightweight, untyped columns: names are quoted by the dialect, values pass untouched.
        if self.table is not None:
            return table(self.table, *(column(c) for c in columns), schema=self.schema)
        return self._query_clause(columns)

    def _query_clause(self, columns: list[str]) -> FromClause:
        assert self.query is not None
        return text(self.query).columns(*(column(c) for c in columns)).subquery("src")


@contextmanager
def _read_only(conn: Connection) -> Iterator[None]:
    """Read in a transaction the database itself keeps read-only, so that a ``query`` (or a
    function it calls: nextval(), a writing procedure) cannot change the source database.

    PostgreSQL: SET TRANSACTION READ ONLY, which ends with the transaction. SQLite: PRAGMA
    query_only, which lives on the connection, so it is switched off again before the
    connection goes back to the pool. Other databases read as before.
    """
    backend = conn.dialect.name
    if backend == "postgresql":
        conn.execute(text("SET TRANSACTION READ ONLY"))
        yield
        return
    if backend != "sqlite":
        yield
        return
    # Inside the transaction: an engine that begins with BEGIN IMMEDIATE (db.engine's) could
    # not begin one under query_only, so it is switched on after the BEGIN and off before the end.
    conn.execute(text("PRAGMA query_only = ON"))
    try:
        yield
    finally:
        conn.execute(text("PRAGMA query_only = OFF"))
        conn.rollback()


def _open_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the installed driver
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        # sqlite3 would create a missing file and then report "no such table".
        if database and database != ":memory:" and not Path(database).expanduser().exists():
            raise SourceError(f"SQLite database {database} does not exist: check the path")
    try:
        return create_engine(parsed, pool_pre_ping=parsed.get_backend_name() != "sqlite")
    except ImportError as err:
        raise SourceError(
            f"no database driver for {parsed.drivername}: install it, or use SQLite/PostgreSQL"
        ) from err


def _bound(name: str, value: Any) -> Any:
    return bindparam(name, value, type_=NullType())


def _parse_cursor(cursor: str) -> tuple[Any, Any]:
    try:
        value, key = json.loads(cursor)
        return _decode(value), _decode(key)
    except (ValueError, TypeError, KeyError) as err:
        raise SourceError(
            f"stored cursor {cursor!r} is not a SQL cursor: was the source renamed?"
        ) from err


def _format_cursor(value: Any, key: Any) -> str:
    return json.dumps([_encode(value), _encode(key)])


# Cursor values keep their driver type through JSON: a datetime is bound back as a datetime.
_TAGGED: dict[str, Any] = {
    "datetime": (datetime, datetime.fromisoformat),
    "date": (date, date.fromisoformat),
    "time": (time, time.fromisoformat),
    "decimal": (Decimal, Decimal),
    "uuid": (uuid.UUID, uuid.UUID),
}


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    for tag, (kind, _) in _TAGGED.items():  # datetime before date: it is a date subclass
        if isinstance(value, kind):
            return {tag: value.isoformat() if hasattr(value, "isoformat") else str(value)}
    raise SourceError(f"a {type(value).__name__} cannot be a SQL cursor value: pick another column")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, text_value),) = value.items()
        return _TAGGED[tag][1](text_value)
    return value


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date | time) else str(value)


def _plain(value: Any) -> Any:
    """Driver values as the plain types validation expects (times as ISO 8601 strings)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("utf-8")
    return value


def _said(err: Exception) -> str:
    """The database's own words for ``err``, without SQLAlchemy's statement dump (its wrapper
    query and parameters are not the user's) or its link to the SQLAlchemy docs."""
    orig = getattr(err, "orig", None)
    return " ".join(str(orig if orig is not None else err).split("\n")[0].split())
