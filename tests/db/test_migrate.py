"""Migrations: reach head idempotently and build exactly the schema of db/tables.py."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from db import migrate
from db.tables import metadata


def test_upgrade_is_idempotent_and_reaches_head(engine):
    assert migrate.current_revision(engine) is None
    head = migrate.head_revision()
    assert migrate.upgrade(engine) == head
    assert migrate.upgrade(engine) == head
    assert migrate.current_revision(engine) == head


def test_migrations_build_the_schema_of_tables_py(db):
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_migrations_create_the_analyst_views(db):
    views = set(inspect(db).get_view_names())
    assert {"v_scored_posts", "v_brand_daily"} <= views
