"""Which failures a task retries: the transient ones (a database restarting, a dropped
connection, a locked SQLite file), not the ones a retry cannot fix (a full disk, a read-only
file, bad configuration), which should fail at once with their message."""

from __future__ import annotations

from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, OperationalError

_NETWORK = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
_PERMANENT = (
    "disk is full",
    "no space left",
    "readonly database",
    "read-only",
    "permission",
    # SQLite reports schema and SQL mistakes as OperationalError too (PostgreSQL: ProgrammingError).
    "no such table",
    "no such column",
    "syntax error",
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        message = str(exc.orig).lower()
        return isinstance(exc, OperationalError) and not any(s in message for s in _PERMANENT)
    return isinstance(
        exc, RedisConnectionError | RedisTimeoutError | ConnectionError | TimeoutError
    )


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: the failed state's data is the exception raised."""
    exc = state.data
    return isinstance(exc, BaseException) and is_transient(exc)


# The task options of every step that reads a source or writes the results database: a retry
# resumes from the committed cursor, so it never scores a batch twice.
TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": [1, 5, 20],
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_if_transient,
}
