"""Alembic environment: always run with the connection handed over by ``chatdesk.store.db``."""

from __future__ import annotations

from alembic import context

from chatdesk.store import schema

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the command line is not how chatdesk migrates
    raise RuntimeError("chatdesk migrations run when a store is opened (chatdesk.store.db.Database)")

context.configure(
    connection=connection,
    target_metadata=schema.metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
