"""Who this process is, for source leases, and how it takes a lease.

An owner is ``host:pid:start-time``. A lease held by a process of this host that no longer
runs (killed, crashed) is taken over at once instead of waiting for it to expire, so a rerun
right after a crash resumes; a lease held on another host waits for its expiry.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from functools import cache

import psutil
from sqlalchemy import Connection, Engine

from db.leases import Lease, acquire_lease, lease_holder, release_lease, take_over_lease
from pipeline.errors import SourceBusyError

LEASE_TTL = timedelta(minutes=10)


@cache
def process_owner() -> str:
    """This process's owner string: host, pid and start time (pids are reused, start times not)."""
    me = psutil.Process()
    return f"{socket.gethostname()}:{me.pid}:{int(me.create_time())}"


def _is_dead_local(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        proc = psutil.Process(int(pid_text))
        return str(int(proc.create_time())) != started or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def take_source(engine: Engine, source: str, ttl: timedelta = LEASE_TTL) -> Lease:
    """Hold ``source`` for this process, or raise SourceBusyError naming the holder."""
    owner = process_owner()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        lease = acquire_lease(conn, source, owner, now, ttl)
        if lease is not None:
            return lease
        held = lease_holder(conn, source)
        if held is not None and _is_dead_local(held[0]):
            lease = take_over_lease(conn, source, held[0], owner, now, ttl)
            if lease is not None:
                return lease
    holder, until = held if held else ("another process", now)
    raise SourceBusyError(_busy(source, holder, until))


def held_elsewhere(conn: Connection, source: str) -> str | None:
    """Why a run of ``source`` would be skipped now (a live process holds its lease), else
    None. Reads only: the run's checks call this before Prefect starts; the flow still takes
    the lease itself (`take_source`), which settles a race."""
    held = lease_holder(conn, source)
    if held is None:
        return None
    holder, until = held
    until = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
    if until <= datetime.now(UTC) or _is_dead_local(holder):
        return None
    return _busy(source, holder, until)


def _busy(source: str, holder: str, until: datetime) -> str:
    return (
        f"source {source!r} is being processed by {holder} (lease until {until:%Y-%m-%d %H:%M:%S}"
        " UTC); this run leaves it alone. Wait for that run to finish."
    )


def give_back(engine: Engine, lease: Lease) -> None:
    with engine.begin() as conn:
        release_lease(conn, lease)
