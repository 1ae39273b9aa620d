"""Alembic environment: runs on the connection handed over by `frontdesk.storage.migrate`."""

from alembic import context

from frontdesk.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `frontdesk db upgrade` (frontdesk.storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
