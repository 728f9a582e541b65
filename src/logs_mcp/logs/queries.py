"""Answers questions about stored logs. Every query is scoped to one project."""

from __future__ import annotations

from logs_mcp.logs.models import HasLogsResponse
from logs_mcp.store.clickhouse import LogStore


class LogQueries:
    def __init__(self, store: LogStore) -> None:
        self._store = store
        # A project that has logs keeps them until retention drops them all; remembering "yes" saves a query.
        self._known_to_have_logs: set[int] = set()

    def has_logs(self, project_id: int) -> HasLogsResponse:
        if project_id not in self._known_to_have_logs:
            rows = self._store.query(
                f"SELECT 1 FROM {self._store.logs_table} WHERE project_id = {{project_id:UInt64}} LIMIT 1",
                {"project_id": project_id},
            ).rows
            if not rows:
                return HasLogsResponse(hasLogs=False)
            self._known_to_have_logs.add(project_id)
        return HasLogsResponse(hasLogs=True)
