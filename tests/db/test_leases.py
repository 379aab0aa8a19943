"""Source leases: one holder at a time, expiry, take-over of a dead owner, fencing on renew."""

from datetime import UTC, datetime, timedelta

import pytest

from db.leases import (
    acquire_lease,
    lease_holder,
    release_lease,
    renew_lease,
    take_over_lease,
)
from pipeline.errors import LeaseLostError

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
TTL = timedelta(minutes=5)


def test_one_holder_at_a_time_until_expiry(db):
    with db.begin() as conn:
        a = acquire_lease(conn, "reviews", "host:1", T0, TTL)
    with db.begin() as conn:
        assert acquire_lease(conn, "reviews", "host:2", T0 + timedelta(minutes=1), TTL) is None
        # Another source is free.
        assert acquire_lease(conn, "tweets", "host:2", T0, TTL) is not None
    assert a is not None
    with db.begin() as conn:
        b = acquire_lease(conn, "reviews", "host:2", T0 + TTL + timedelta(seconds=1), TTL)
    assert b is not None and b.owner == "host:2"
    with db.connect() as conn:
        assert lease_holder(conn, "reviews")[0] == "host:2"


def test_renewal_by_a_process_that_lost_its_lease_fails(db):
    with db.begin() as conn:
        a = acquire_lease(conn, "reviews", "host:1", T0, TTL)
    later = T0 + TTL + timedelta(seconds=1)
    with db.begin() as conn:
        assert acquire_lease(conn, "reviews", "host:2", later, TTL) is not None
    with pytest.raises(LeaseLostError, match="reviews"), db.begin() as conn:
        renew_lease(conn, a, later, TTL)


def test_take_over_only_from_the_named_dead_owner(db):
    with db.begin() as conn:
        acquire_lease(conn, "reviews", "host:1", T0, TTL)
    with db.begin() as conn:
        assert take_over_lease(conn, "reviews", "host:9", "host:2", T0, TTL) is None
        assert take_over_lease(conn, "reviews", "host:1", "host:2", T0, TTL) is not None
        # The second of two rescuers finds the holder changed.
        assert take_over_lease(conn, "reviews", "host:1", "host:3", T0, TTL) is None


def test_release_frees_the_source_and_reacquire_extends_own_lease(db):
    with db.begin() as conn:
        a = acquire_lease(conn, "reviews", "host:1", T0, TTL)
        again = acquire_lease(conn, "reviews", "host:1", T0 + timedelta(minutes=1), TTL)
        assert again is not None and again.expires_at > a.expires_at
        release_lease(conn, again)
        assert lease_holder(conn, "reviews") is None
        assert acquire_lease(conn, "reviews", "host:2", T0, TTL) is not None
