"""The SQL of log exports: the rows of a scope streamed in a ClickHouse output format, and their count.

ClickHouse formats the file itself (``FORMAT CSV`` / ``JSONEachRow`` / ``Parquet``) and the bytes are
copied straight to the caller's file, so an export of a million rows never becomes a million Python
objects.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import IO, cast

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import LogScope, order_by_sql
from logs_mcp.store.filters import LogOrder

ISO_MICROS = "'%Y-%m-%dT%H:%i:%S.%fZ'"
# Export columns in file order, with the SQL producing each; shapes match query-logs rows.
COLUMN_SQL: dict[str, str] = {
    "uuid": "toString(uuid)",
    "timestamp": f"formatDateTime(timestamp, {ISO_MICROS})",
    "observed_timestamp": f"formatDateTime(observed_timestamp, {ISO_MICROS})",
    "severity_text": "severity_text",
    "severity_number": "severity_number",
    "level": "severity_text",
    "service_name": "service_name",
    "body": "body",
    "trace_id": "hex(trace_id)",
    "span_id": "hex(span_id)",
    "attributes": "attributes",
    "resource_attributes": "resource_attributes",
    "resource_fingerprint": "toString(resource_fingerprint)",
    "instrumentation_scope": "instrumentation_scope",
    "event_name": "event_name",
}
MAP_COLUMNS = frozenset({"attributes", "resource_attributes"})
RENAMED = {"level": "severity_text"}  # export columns whose stored column has another name
COPY_CHUNK_BYTES = 1 << 20


def stream_rows(
    store: LogStore,
    scope: LogScope,
    out: IO[bytes],
    *,
    columns: Sequence[str],
    order: LogOrder,
    limit: int,
    output_format: str,
    maps_as_json: bool,
) -> None:
    """Write the first ``limit`` rows in ``order`` to ``out`` in ClickHouse's ``output_format``, with
    the ``columns`` of :data:`COLUMN_SQL`; ``maps_as_json`` writes attribute maps as JSON text."""
    where = scope.where()
    # The rows are picked and ordered in a subquery over the raw columns: the output names
    # (timestamp, uuid …) would otherwise shadow the columns the filters compare.
    sql = (
        f"SELECT {_select_list(columns, maps_as_json)} FROM ("
        f"SELECT {', '.join(_source_columns(columns))} FROM {store.logs_table} "
        f"WHERE {where.sql} ORDER BY {order_by_sql(order)} LIMIT {int(limit)})"
    )
    with store.client() as client:
        # The sync client hands back a file-like stream (StreamContext is the async client's).
        stream = cast(IO[bytes], client.raw_stream(sql, where.params, fmt=output_format))
        with stream:
            shutil.copyfileobj(stream, out, COPY_CHUNK_BYTES)


def count_rows(store: LogStore, scope: LogScope, limit: int) -> int:
    """Rows in the scope, counting no further than ``limit``."""
    where = scope.where()
    sql = f"SELECT count() FROM (SELECT 1 FROM {store.logs_table} WHERE {where.sql} LIMIT {int(limit)})"
    return int(store.query(sql, where.params).rows[0][0])


def _select_list(columns: Sequence[str], maps_as_json: bool) -> str:
    def expression(name: str) -> str:
        sql = COLUMN_SQL[name]
        return f"toJSONString({sql})" if maps_as_json and name in MAP_COLUMNS else sql

    return ", ".join(f"{expression(name)} AS {name}" for name in columns)


def _source_columns(columns: Sequence[str]) -> list[str]:
    """The stored columns the export columns are computed from (the sort key always)."""
    sources = {RENAMED.get(name, name) for name in columns} | {"timestamp", "uuid"}
    return sorted(sources)
