"""Schema migrations, run in code: no alembic.ini, the caller's engine and one transaction.

alembic is imported by the functions that migrate, not here: importing it takes ~0.13 s, and
`sentimon score` or `report` only read which revision a database is at.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, column, func, inspect, select, table

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any constant works; it only has to be the same for every sentimon process.
_PG_MIGRATION_LOCK = 0x5E471_3070


# alembic's default version table, which db/migrations/env.py keeps.
VERSION_TABLE = "alembic_version"


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    # Config values go through ConfigParser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision in db/migrations."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}: the package is incomplete")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for a database that was never migrated.

    Read as alembic's MigrationContext reads it (the version table in the default schema),
    without importing alembic.
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        version = table(VERSION_TABLE, column("version_num"))
        revisions = conn.execute(select(version.c.version_num)).scalars().all()
    if len(revisions) > 1:  # a branched history, which db/migrations never has
        raise RuntimeError(f"the database is at several revisions at once: {revisions}")
    return revisions[0] if revisions else None


def upgrade(engine: Engine) -> str:
    """Upgrade the schema to head in one transaction and return the head revision.

    Idempotent, and safe when several processes start at once: SQLite serialises them through
    BEGIN IMMEDIATE (see db.engine), PostgreSQL through a transaction-scoped advisory lock.
    """
    from alembic import command

    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()
