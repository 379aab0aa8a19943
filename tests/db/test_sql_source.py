"""SqlSource against a real SQLite file and a real PostgreSQL schema (the ``engine`` fixture)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    text,
)

from db.sql_source import SqlSource
from pipeline.errors import SourceError
from pipeline.sources.validate import Validator

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def reviews_table(metadata: MetaData) -> Table:
    return Table(
        "reviews",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("review_id", String(20), nullable=False, unique=True),
        Column("body", Text),
        Column("Created At", DateTime(timezone=True)),  # needs quoting: a space and capitals
    )


@pytest.fixture
def reviews(engine):
    metadata = MetaData()
    table = reviews_table(metadata)
    metadata.create_all(engine)
    return table


def add(engine, table, rows):
    with engine.begin() as conn:
        conn.execute(insert(table), rows)


def row(i: int, at: datetime) -> dict:
    return {"id": i, "review_id": f"r-{i:03d}", "body": f"review {i}", "Created At": at}


def read_all(make_source, batch_size, cursor=None):
    """Batches until an empty one; a new source object per batch, as after a restart."""
    batches = []
    while (batch := make_source().read_batch(cursor, batch_size)).records:
        batches.append(batch)
        cursor = batch.cursor_to
    return batches, cursor


def test_integer_cursor_reads_in_order_and_picks_up_new_rows(engine, reviews):
    add(engine, reviews, [row(i, T0) for i in range(1, 8)])
    make = lambda: SqlSource(engine, "s", cursor_column="id", table="reviews")  # noqa: E731
    batches, cursor = read_all(make, 3)
    assert [len(b.records) for b in batches] == [3, 3, 1]
    assert [r.fields["id"] for b in batches for r in b.records] == list(range(1, 8))
    assert batches[0].records[0].locator == "reviews:1"
    add(engine, reviews, [row(8, T0), row(9, T0)])
    later, _ = read_all(make, 3, cursor)
    assert [r.fields["id"] for b in later for r in b.records] == [8, 9]


@pytest.mark.parametrize("tiebreak", ["primary key", "id_column"])
def test_tied_timestamps_across_batch_boundaries_are_neither_lost_nor_repeated(
    engine, reviews, tiebreak
):
    # Seven rows on two timestamps, inserted out of id order; batches of 3 split both ties.
    ids = [5, 2, 7, 1, 3, 6, 4]
    add(engine, reviews, [row(i, T0 + timedelta(minutes=i % 2)) for i in ids])
    id_column = "review_id" if tiebreak == "id_column" else None

    def make():
        return SqlSource(
            engine, "s", cursor_column="Created At", table="reviews", id_column=id_column
        )

    batches, cursor = read_all(make, 3)
    seen = [r.fields["review_id"] for b in batches for r in b.records]
    assert sorted(seen) == [f"r-{i:03d}" for i in range(1, 8)]
    assert len(seen) == len(set(seen)) == 7
    # Even ids come first (minute 0), then odd ones.
    assert [int(s[2:]) % 2 for s in seen] == [0, 0, 0, 1, 1, 1, 1]
    # A row tied with the last one read, arriving later with a higher key, is still seen.
    add(engine, reviews, [row(9, T0 + timedelta(minutes=1))])
    later, _ = read_all(make, 3, cursor)
    assert [r.fields["review_id"] for b in later for r in b.records] == ["r-009"]


def test_records_validate_to_posts_with_the_id_column_as_external_id(engine, reviews):
    add(engine, reviews, [row(1, T0)])
    source = SqlSource(
        engine, "s", cursor_column="Created At", table="reviews", id_column="review_id"
    )
    (record,) = source.read_batch(None, 10).records
    assert record.fields["id"] == "r-001"
    assert json.loads(record.raw)["body"] == "review 1"
    post = Validator("s", {"text": "body", "created_at": "Created At"}).validate(
        record, datetime.now(UTC)
    )
    assert (post.external_id, post.text, post.created_at) == ("r-001", "review 1", T0)


def test_a_query_is_read_as_a_subquery_and_needs_a_tiebreak(engine, reviews):
    add(engine, reviews, [row(i, T0 + timedelta(hours=i)) for i in range(1, 6)])
    query = "SELECT review_id, body AS text, id FROM reviews WHERE id <> 3"
    source = SqlSource(engine, "s", cursor_column="id", query=query, id_column="review_id")
    batches, _ = read_all(lambda: source, 2)
    assert [r.fields["id"] for b in batches for r in b.records] == [
        "r-001",
        "r-002",
        "r-004",
        "r-005",
    ]
    assert batches[0].records[0].locator == "query:1#r-001"
    with pytest.raises(SourceError, match="need a unique tiebreak"):
        SqlSource(engine, "s", cursor_column="id", query=query).read_batch(None, 2)
    unique = SqlSource(engine, "s", cursor_column="id", query=query, tiebreak_column="id")
    assert [r.locator for r in unique.read_batch(None, 2).records] == ["query:1", "query:2"]


def test_identifiers_are_checked_against_the_database_not_pasted_into_sql(engine, reviews):
    add(engine, reviews, [row(1, T0)])
    with pytest.raises(SourceError, match="no table"):
        SqlSource(engine, "s", cursor_column="id", table="reviews; DROP TABLE reviews").read_batch(
            None, 1
        )
    with pytest.raises(SourceError, match="has no column 'id; DROP TABLE reviews'"):
        SqlSource(engine, "s", cursor_column="id; DROP TABLE reviews", table="reviews").read_batch(
            None, 1
        )
    with pytest.raises(SourceError, match="either a table or a query"):
        SqlSource(engine, "s", cursor_column="id")
    assert inspect(engine).has_table("reviews")
    with pytest.raises(SourceError, match="not a SQL cursor"):
        SqlSource(engine, "s", cursor_column="id", table="reviews").read_batch("{}", 1)


def test_text_timestamps_compare_as_stored_and_nulls_are_skipped(engine):
    # Another application's table: ISO text with a T and a Z, one row without a time.
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE feed (ts VARCHAR(30), id INTEGER PRIMARY KEY, txt TEXT)"))
        conn.execute(
            text("INSERT INTO feed VALUES (:ts, :id, :txt)"),
            [
                {"ts": "2024-01-02T10:00:00Z", "id": 1, "txt": "b"},
                {"ts": "2024-01-01T09:00:00Z", "id": 2, "txt": "a"},
                {"ts": None, "id": 3, "txt": "never"},
                {"ts": "2024-01-02T10:00:00Z", "id": 4, "txt": "c"},
            ],
        )
    make = lambda: SqlSource(engine, "s", cursor_column="ts", table="feed")  # noqa: E731
    batches, cursor = read_all(make, 1)
    assert [r.fields["txt"] for b in batches for r in b.records] == ["a", "b", "c"]
    assert json.loads(cursor) == ["2024-01-02T10:00:00Z", 4]


def test_sqlite_url_and_missing_file(tmp_path):
    path = tmp_path / "other.db"
    url = f"sqlite:///{path}"
    with pytest.raises(SourceError, match="does not exist"):
        SqlSource(url, "s", cursor_column="id", table="reviews").read_batch(None, 1)
    assert not path.exists()
    from sqlalchemy import create_engine

    eng = create_engine(url)
    metadata = MetaData()
    table = reviews_table(metadata)
    metadata.create_all(eng)
    add(eng, table, [row(1, T0), row(2, T0)])
    eng.dispose()
    source = SqlSource(url, "s", cursor_column="Created At", table="reviews")
    first = source.read_batch(None, 1)
    second = source.read_batch(first.cursor_to, 5)
    source.close()
    assert [r.fields["id"] for r in first.records + second.records] == [1, 2]


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_postgres_url_with_a_schema_and_timestamptz_cursor(engine, reviews):
    add(engine, reviews, [row(i, T0 + timedelta(seconds=i // 2)) for i in range(1, 6)])
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    url = engine.url.render_as_string(hide_password=False)

    def make():
        return SqlSource(url, "s", cursor_column="Created At", table="reviews", schema=schema)

    batches, cursor = read_all(make, 2)
    assert [r.fields["id"] for b in batches for r in b.records] == [1, 2, 3, 4, 5]
    assert json.loads(cursor)[0] == {"datetime": (T0 + timedelta(seconds=2)).isoformat()}


def test_a_source_reads_in_a_read_only_transaction_then_resets(engine, reviews):
    """A `query` cannot change the database it reads (issue 18): PostgreSQL refuses a
    nextval() in it, SQLite runs it under query_only; the pooled connection writes again after."""
    add(engine, reviews, [row(1, T0)])
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("CREATE SEQUENCE hostile_seq"))
        query = "SELECT id, body AS text, nextval('hostile_seq') AS n FROM reviews"
        source = SqlSource(engine, "q", cursor_column="id", query=query, tiebreak_column="id")
        with pytest.raises(SourceError, match="read-only transaction"):
            source.read_batch(None, 10)
        with engine.connect() as conn:
            state = conn.execute(text("SELECT last_value, is_called FROM hostile_seq")).one()
        assert tuple(state) == (1, False)  # the sequence never moved
    else:
        query = (
            "SELECT id, body AS text, (SELECT query_only FROM pragma_query_only) AS ro FROM reviews"
        )
        source = SqlSource(engine, "q", cursor_column="id", query=query, tiebreak_column="id")
        (record,) = source.read_batch(None, 10).records
        assert record.fields is not None and record.fields["ro"] == 1
    add(engine, reviews, [row(2, T0)])  # reset afterwards: the same pool writes again


def test_a_query_ending_in_a_semicolon_and_a_schema_qualified_table_are_read(engine, reviews):
    add(engine, reviews, [row(1, T0), row(2, T0)])
    query = "SELECT * FROM reviews ;  \n"  # as most people end a query
    src = SqlSource(engine, "s", cursor_column="id", query=query, tiebreak_column="id")
    assert [r.locator for r in src.read_batch(None, 5).records] == ["query:1", "query:2"]
    with engine.connect() as conn:
        schema = (
            "main"
            if engine.dialect.name == "sqlite"
            else conn.execute(text("SELECT current_schema()")).scalar_one()
        )
    qualified = SqlSource(engine, "s", cursor_column="id", table=f"{schema}.reviews")
    assert len(qualified.read_batch(None, 5).records) == 2


def test_a_query_the_database_refuses_is_said_in_its_own_words(engine, reviews):
    src = SqlSource(engine, "s", cursor_column="id", query="SELEC id, body FROM reviews")
    with pytest.raises(SourceError) as raised:
        src.read_batch(None, 1)
    message = str(raised.value)
    assert message.startswith("SQL source 's': cannot read query: ")
    assert "syntax error" in message
    assert "[SQL:" not in message and "sqlalche.me" not in message and "\n" not in message
