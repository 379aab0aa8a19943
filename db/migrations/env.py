"""Alembic environment: runs on the connection that ``db.migrate`` passes in.

There is no alembic.ini and no URL here: the caller owns the engine and the transaction.
"""

from __future__ import annotations

from alembic import context

from db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "db/migrations runs only through db.migrate (upgrade, current_revision), which passes "
        "a live connection; run `sentimon` or call db.migrate.upgrade(engine)"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode recreates the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)

with context.begin_transaction():
    context.run_migrations()
