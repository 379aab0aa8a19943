"""Schema migrations, run in code: no alembic.ini, the caller's engine and one transaction."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, select

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Any constant works; it only has to be the same for every sentimon process.
_PG_MIGRATION_LOCK = 0x5E471_3070


def _config() -> Config:
    config = Config()
    # Config values go through ConfigParser interpolation, where "%" is special.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision in db/migrations."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}: the package is incomplete")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for a database that was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Upgrade the schema to head in one transaction and return the head revision.

    Idempotent, and safe when several processes start at once: SQLite serialises them through
    BEGIN IMMEDIATE (see db.engine), PostgreSQL through a transaction-scoped advisory lock.
    """
    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()
