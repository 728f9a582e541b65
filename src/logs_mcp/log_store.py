"""Opening the log store from settings. Light to import, so a start can open the store in a thread while
the rest of the app imports: chDB spends most of its start outside Python (see ``cli.open_services``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logs_mcp.config import Settings
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.log_schema import SchemaTarget


def open_log_store(settings: Settings, owner: Mapping[str, Any] | None = None) -> LogStore:
    """The log store, migrated. Raises StoreLockedError when another process owns the embedded store."""
    target = SchemaTarget(settings.clickhouse_database, settings.retention_days, settings.clickhouse_cluster)
    log_store = LogStore.open(
        url=settings.clickhouse_url,
        data_dir=settings.data_dir,
        target=target,
        pool_size=settings.clickhouse_pool_size,
        owner=owner,
        settings={"max_execution_time": settings.query_timeout_seconds},
    )
    try:
        log_store.migrate()
    except Exception:
        log_store.close()
        raise
    return log_store
