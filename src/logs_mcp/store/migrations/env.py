"""Alembic environment: runs on the connection handed over by ``logs_mcp.store.state.upgrade``."""

from alembic import context
from sqlmodel import SQLModel

import logs_mcp.store.alert_tables  # registers the alert tables as well
import logs_mcp.store.state  # noqa: F401 - registers the tables on SQLModel.metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
