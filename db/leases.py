"""Source leases: at most one process reads a source at a time, on SQLite and PostgreSQL alike.

A lease is a row (source, owner, expires_at). Taking it is one conditional upsert, which both
databases make atomic: insert, or overwrite the row when it has expired or is already ours.
The holder renews it with each batch commit, inside the batch's transaction, and that renewal
doubles as a fencing check: a commit by a process that lost its lease fails and rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update

from db.sql import dialect_insert
from db.tables import source_leases
from pipeline.errors import LeaseLostError


@dataclass(frozen=True, slots=True)
class Lease:
    source: str
    owner: str
    expires_at: datetime


def acquire_lease(
    conn: Connection, source: str, owner: str, now: datetime, ttl: timedelta
) -> Lease | None:
    """Take ``source`` for ``owner`` until ``now + ttl``; None while someone else holds it.

    Expired leases are taken over; re-acquiring one's own lease extends it.
    """
    values = {"source": source, "owner": owner, "acquired_at": now, "expires_at": now + ttl}
    insert = dialect_insert(conn, source_leases).values(**values)
    stmt = insert.on_conflict_do_update(
        index_elements=[source_leases.c.source],
        set_={
            "owner": insert.excluded.owner,
            "acquired_at": insert.excluded.acquired_at,
            "expires_at": insert.excluded.expires_at,
        },
        where=(source_leases.c.expires_at < now) | (source_leases.c.owner == owner),
    ).returning(source_leases.c.owner)
    taken = conn.execute(stmt).scalar_one_or_none()
    return Lease(source, owner, now + ttl) if taken == owner else None


def take_over_lease(
    conn: Connection, source: str, dead_owner: str, owner: str, now: datetime, ttl: timedelta
) -> Lease | None:
    """Take a lease from ``dead_owner``, a process known to be gone, before it expires.

    Conditional on the holder still being ``dead_owner``, so two processes taking over at once
    cannot both succeed.
    """
    result = conn.execute(
        update(source_leases)
        .where(source_leases.c.source == source, source_leases.c.owner == dead_owner)
        .values(owner=owner, acquired_at=now, expires_at=now + ttl)
    )
    return Lease(source, owner, now + ttl) if result.rowcount == 1 else None


def renew_lease(conn: Connection, lease: Lease, now: datetime, ttl: timedelta) -> Lease:
    """Extend ``lease``; raise LeaseLostError when its owner no longer holds it.

    Called inside a batch's transaction, so a lost lease rolls the whole batch back.
    """
    result = conn.execute(
        update(source_leases)
        .where(source_leases.c.source == lease.source, source_leases.c.owner == lease.owner)
        .values(expires_at=now + ttl)
    )
    if result.rowcount != 1:
        raise LeaseLostError(
            f"the lease on source {lease.source!r} was taken by another process after it "
            "expired; this batch was rolled back and will be read again by the new holder"
        )
    return Lease(lease.source, lease.owner, now + ttl)


def release_lease(conn: Connection, lease: Lease) -> None:
    """Give the source back (only if still ours)."""
    conn.execute(
        delete(source_leases).where(
            source_leases.c.source == lease.source, source_leases.c.owner == lease.owner
        )
    )


def lease_holder(conn: Connection, source: str) -> tuple[str, datetime] | None:
    """(owner, expires_at) of the lease on ``source``, if any row exists."""
    row = conn.execute(
        select(source_leases.c.owner, source_leases.c.expires_at).where(
            source_leases.c.source == source
        )
    ).first()
    return (row.owner, row.expires_at) if row else None
