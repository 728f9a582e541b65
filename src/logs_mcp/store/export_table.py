"""The SQL table of log exports: one row per export job, so jobs and their files survive restarts.

Schema owned by Alembic revision 0002. Timestamps are stored as UTC; SQLite hands them back naive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from logs_mcp.store.state import utcnow


class LogExport(SQLModel, table=True):
    __tablename__ = "log_exports"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True)
    status: str = Field(max_length=16, description="running, complete or failed")
    export_format: str = Field(max_length=64)
    filename: str = Field(max_length=200)
    query: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    columns: list[str] = Field(sa_column=Column(JSON, nullable=False))
    row_limit: int
    row_count: int | None = None
    size_bytes: int | None = None
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
