"""Log exports: a filtered set of rows written to a file (CSV, JSON Lines or Parquet) by a background job.

ClickHouse formats the file itself (``store/export_sql.py``) and the bytes are streamed straight to
disk, so an export of a million rows never becomes a million Python objects.
Each job is a row of the state store (``log_exports``): the export object, its status and the file's
place survive restarts; a job a restart interrupted is marked failed rather than left "running".
Files live in ``<data_dir>/exports/<id>.<ext>``.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from logs_mcp.errors import Conflict, NotFound
from logs_mcp.logs.discovery import window
from logs_mcp.logs.models import absolute_range
from logs_mcp.logs.queries import utc
from logs_mcp.store import export_sql
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.export_table import LogExport
from logs_mcp.store.filter_sql import LogScope
from logs_mcp.store.filters import LogFilters, LogOrder, parse_date

ExportFormat = Literal["text/csv", "application/jsonl", "application/vnd.apache.parquet"]


@dataclass(frozen=True)
class FileFormat:
    extension: str
    clickhouse: str
    maps_as_json: bool  # CSV has no map type: attribute maps go out as JSON text


FORMATS: dict[str, FileFormat] = {
    "text/csv": FileFormat("csv", "CSV", maps_as_json=True),
    "application/jsonl": FileFormat("jsonl", "JSONEachRow", maps_as_json=False),
    "application/vnd.apache.parquet": FileFormat("parquet", "Parquet", maps_as_json=False),
}
# Export columns in file order; shapes match query-logs rows.
COLUMNS = tuple(export_sql.COLUMN_SQL)
RUNNING, COMPLETE, FAILED = "running", "complete", "failed"
MAX_ERROR_CHARS = 1000
SERVICE_NAME_CHARS = 50


class ExportQuery(LogFilters):
    order_by: LogOrder = Field("latest", alias="orderBy", description="latest (newest first) or earliest.")
    limit: int | None = Field(
        None, ge=1, description="At most this many rows; the server's export row limit caps it anyway."
    )


class ExportRequest(BaseModel):
    query: ExportQuery = Field(description="The same filters as query-logs.")
    columns: list[str] = Field(
        default_factory=lambda: list(COLUMNS),
        description=f"Columns, in file order (default all): {', '.join(COLUMNS)}.",
    )
    export_format: ExportFormat = Field("text/csv", description="CSV, JSON Lines or Parquet.")

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: list[str]) -> list[str]:
        unknown = [name for name in columns if name not in COLUMNS]
        if unknown:
            raise ValueError(f"unknown columns {unknown}; allowed: {', '.join(COLUMNS)}")
        if not columns:
            raise ValueError("name at least one column")
        return list(dict.fromkeys(columns))


class ExportObject(BaseModel):
    id: int
    export_format: str
    created_at: datetime
    has_content: bool = Field(description="True once the file is written.")
    filename: str
    status: Literal["running", "complete", "failed"]
    row_count: int | None = Field(description="Rows in the file, once complete.")
    row_limit: int
    size_bytes: int | None = None
    error: str | None = None
    content_url: str = Field(description="GET it with the API key (Authorization: Bearer) for the file.")


def export_filename(query: ExportQuery, extension: str, now: datetime) -> str:
    """``logs-{service part}-{date part}.{ext}`` (PostHog's rule), relative dates written as dates."""
    services = query.service_names
    if len(services) == 1:
        service_part = re.sub(r"[^A-Za-z0-9_-]", "-", services[0])[:SERVICE_NAME_CHARS]
    else:
        service_part = f"{len(services)}-services" if services else "all-services"
    start = _day(query.date_range.date_from, now)
    end = _day(query.date_range.date_to, now)
    if start and end:
        date_part = f"{start}-to-{end}"
    elif start:
        date_part = f"from-{start}"
    else:
        date_part = now.date().isoformat()
    return f"logs-{service_part}-{date_part}.{extension}"


def _day(text: str | None, now: datetime) -> date | None:
    return parse_date(text, now).date() if text else None


class Exports:
    """Creates export jobs, runs them one at a time in a worker thread, and serves their files."""

    def __init__(
        self, store: LogStore, engine: Engine, directory: Path, row_limit: int, base_url: str
    ) -> None:
        self._store = store
        self._engine = engine
        self._directory = directory
        self._row_limit = row_limit
        self._base_url = base_url.rstrip("/")
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs-export")
        self._fail_interrupted()

    def create(self, project_id: int, request: ExportRequest, wait_seconds: float = 0) -> ExportObject:
        """Start an export of what the query means now (relative dates are fixed at creation); wait
        up to ``wait_seconds`` for it to finish."""
        now = datetime.now(UTC)
        time_from, time_to = window(request.query, "query.")
        query = request.query.model_copy(update={"date_range": absolute_range(time_from, time_to)})
        file_format = FORMATS[request.export_format]
        row_limit = min(query.limit or self._row_limit, self._row_limit)
        record = LogExport(
            project_id=project_id,
            status=RUNNING,
            export_format=request.export_format,
            filename=export_filename(request.query, file_format.extension, now),
            query=query.model_dump(mode="json", by_alias=True),
            columns=request.columns,
            row_limit=row_limit,
            created_at=now,
        )
        with Session(self._engine) as session:
            session.add(record)
            session.commit()
            session.refresh(record)
        assert record.id is not None
        job = self._worker.submit(self._run, record.id)
        if wait_seconds > 0:
            with suppress(FutureTimeout):
                job.result(timeout=wait_seconds)
        return self.get(project_id, record.id)

    def get(self, project_id: int, export_id: int) -> ExportObject:
        return self._object(self._record(project_id, export_id))

    def content(self, project_id: int, export_id: int) -> tuple[Path, ExportObject]:
        """The finished file and its export; 409 while it runs or when it failed."""
        record = self._record(project_id, export_id)
        if record.status != COMPLETE:
            detail = record.error if record.status == FAILED else "the export is still running"
            raise Conflict(f"Export {export_id} has no file: {detail}.", attr="id")
        return self._path(record), self._object(record)

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    # --- the job -----------------------------------------------------------------------------------

    def _run(self, export_id: int) -> None:
        with Session(self._engine) as session:
            record = session.get(LogExport, export_id)
            assert record is not None
            try:
                row_count, size = self._write(record)
            except Exception as error:  # a failed job is reported on the export, never raised
                record.status, record.error = FAILED, str(error)[:MAX_ERROR_CHARS]
            else:
                record.status, record.row_count, record.size_bytes = COMPLETE, row_count, size
            record.finished_at = datetime.now(UTC)
            session.add(record)
            session.commit()

    def _write(self, record: LogExport) -> tuple[int, int]:
        query = ExportQuery.model_validate(record.query)
        file_format = FORMATS[record.export_format]
        time_from, time_to = window(query)
        assert record.id is not None
        scope = LogScope(record.project_id, query, time_from, time_to)
        path = self._path(record)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("wb") as out:
            if file_format.clickhouse == "CSV":  # CSVWithNames cannot stream block by block: own header
                out.write((",".join(f'"{name}"' for name in record.columns) + "\n").encode())
            export_sql.stream_rows(
                self._store,
                scope,
                out,
                columns=record.columns,
                order=query.order_by,
                limit=record.row_limit,
                output_format=file_format.clickhouse,
                maps_as_json=file_format.maps_as_json,
            )
        partial.replace(path)
        row_count = export_sql.count_rows(self._store, scope, record.row_limit)
        return row_count, path.stat().st_size

    # --- records -----------------------------------------------------------------------------------

    def _record(self, project_id: int, export_id: int) -> LogExport:
        """The export, only within its own project (another project's id reads as not found)."""
        with Session(self._engine) as session:
            record = session.exec(
                select(LogExport).where(LogExport.id == export_id, LogExport.project_id == project_id)
            ).first()
        if record is None:
            raise NotFound(f"Export {export_id} not found in project {project_id}.", attr="id")
        return record

    def _path(self, record: LogExport) -> Path:
        return self._directory / f"{record.id}.{FORMATS[record.export_format].extension}"

    def _object(self, record: LogExport) -> ExportObject:
        assert record.id is not None
        return ExportObject(
            id=record.id,
            export_format=record.export_format,
            created_at=utc(record.created_at),
            has_content=record.status == COMPLETE,
            filename=record.filename,
            status=record.status,
            row_count=record.row_count,
            row_limit=record.row_limit,
            size_bytes=record.size_bytes,
            error=record.error,
            content_url=(
                f"{self._base_url}/api/projects/{record.project_id}/logs/exports/{record.id}/content"
            ),
        )

    def _fail_interrupted(self) -> None:
        with Session(self._engine) as session:
            for record in session.exec(select(LogExport).where(LogExport.status == RUNNING)):
                record.status, record.error = FAILED, "interrupted by a server restart; create it again"
                record.finished_at = datetime.now(UTC)
                session.add(record)
            session.commit()
