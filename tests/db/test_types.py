"""UTCDateTime and JSONText round trips on both databases."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.exc import StatementError

from db.types import JSONText, UTCDateTime

scratch = MetaData()
things = Table(
    "scratch_things",
    scratch,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime),
    Column("data", JSONText),
)


@pytest.fixture
def table(engine):
    scratch.create_all(engine)
    yield engine
    scratch.drop_all(engine)


def test_times_are_stored_as_utc_and_come_back_aware(table):
    paris = timezone(timedelta(hours=1))
    rows = [
        {"id": 1, "at": datetime(2024, 1, 1, 13, 30, tzinfo=paris)},
        {"id": 2, "at": datetime(2024, 1, 1, 12, 30)},  # naive: taken as UTC
        {"id": 3, "at": None},
    ]
    with table.begin() as conn:
        conn.execute(things.insert(), rows)
        got = conn.execute(select(things.c.at).order_by(things.c.id)).scalars().all()
        # Comparisons in SQL use UTC too: 13:30+01:00 is 12:30 UTC.
        same = (
            conn.execute(
                select(things.c.id).where(things.c.at == datetime(2024, 1, 1, 12, 30, tzinfo=UTC))
            )
            .scalars()
            .all()
        )
    assert got == [datetime(2024, 1, 1, 12, 30, tzinfo=UTC)] * 2 + [None]
    assert got[0].tzinfo == UTC
    assert sorted(same) == [1, 2]


def test_json_text_round_trips(table):
    with table.begin() as conn:
        conn.execute(
            things.insert(), [{"id": 1, "data": {"b": [1, 2], "a": "é"}}, {"id": 2, "data": None}]
        )
        got = conn.execute(select(things.c.data).order_by(things.c.id)).scalars().all()
    assert got == [{"a": "é", "b": [1, 2]}, None]


def test_utc_datetime_refuses_a_date(table):
    refused = pytest.raises(StatementError, match="UTCDateTime needs a datetime")
    with refused, table.begin() as conn:
        conn.execute(things.insert(), {"id": 1, "at": date(2024, 1, 1)})
