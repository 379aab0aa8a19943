"""The model registry: which trained model versions exist, and which one scores new posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from db.sql import dialect_insert
from db.tables import model_versions
from pipeline.errors import UnknownModelVersionError


@dataclass(frozen=True, slots=True)
class ModelVersionRow:
    """One ``model_versions`` row."""

    version: str
    created_at: datetime
    path: str
    sha256: str
    metrics: dict[str, Any]
    active: bool


def _to_row(row: Row[Any]) -> ModelVersionRow:
    return ModelVersionRow(
        version=row.version,
        created_at=row.created_at,
        path=row.path,
        sha256=row.sha256,
        metrics=row.metrics or {},
        active=bool(row.active),
    )


def register_model_version(
    conn: Connection,
    version: str,
    path: str,
    sha256: str,
    metrics: dict[str, Any],
    activate: bool = False,
) -> ModelVersionRow:
    """Insert or update a model version (its first created_at is kept); activate it if asked."""
    insert = dialect_insert(conn, model_versions)
    stmt = insert.values(
        version=version,
        created_at=datetime.now(UTC),
        path=path,
        sha256=sha256,
        metrics=metrics,
        active=False,
    ).on_conflict_do_update(
        index_elements=[model_versions.c.version],
        set_={"path": path, "sha256": sha256, "metrics": insert.excluded.metrics},
    )
    conn.execute(stmt)
    if activate:
        activate_model_version(conn, version)
    return _get(conn, version)


def activate_model_version(conn: Connection, version: str) -> ModelVersionRow:
    """Make ``version`` the one active model version; the others become inactive."""
    _get(conn, version)
    # One statement flips every row, so there is never a moment with two active versions.
    conn.execute(update(model_versions).values(active=model_versions.c.version == version))
    return _get(conn, version)


def active_model_version(conn: Connection) -> ModelVersionRow | None:
    """The active model version, or None when none is registered or active."""
    row = conn.execute(
        select(model_versions).where(model_versions.c.active.is_(True))
    ).one_or_none()
    return _to_row(row) if row is not None else None


def list_model_versions(conn: Connection) -> list[ModelVersionRow]:
    """All registered model versions, newest first."""
    query = select(model_versions).order_by(
        model_versions.c.created_at.desc(), model_versions.c.version.desc()
    )
    return [_to_row(row) for row in conn.execute(query)]


def get_model_version(conn: Connection, version: str) -> ModelVersionRow:
    """The registered ``version``; UnknownModelVersionError names the known ones."""
    return _get(conn, version)


def _get(conn: Connection, version: str) -> ModelVersionRow:
    row = conn.execute(
        select(model_versions).where(model_versions.c.version == version)
    ).one_or_none()
    if row is None:
        known = [r.version for r in list_model_versions(conn)]
        raise UnknownModelVersionError(
            f"model version {version!r} is not registered (known: {', '.join(known) or 'none'}): "
            "check the name, or train the version first"
        )
    return _to_row(row)
