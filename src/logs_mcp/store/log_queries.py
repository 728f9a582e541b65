"""The SQL behind log questions: a page of rows, a count, counts per bucket and volume per bucket.

Each function reads the rows of a :class:`~logs_mcp.store.filter_sql.LogScope` (one project, a
half-open window, the filters) and hands back plain values; ClickHouse's types are left as they come
(chDB returns naive UTC datetimes, a server aware ones). Bucket widths are seconds chosen by the
caller, never user text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import (
    WHOLE_SECONDS_TYPE,
    LogScope,
    SqlFragment,
    build_where,
    cursor_predicate,
    on_summary_columns,
    order_by_sql,
)
from logs_mcp.store.filters import Cursor, LogFilters, LogOrder
from logs_mcp.store.log_schema import MINUTE_COUNTS_TABLE
from logs_mcp.store.time_grid import ONE_MINUTE, ceil_to_grid, floor_to_grid

Breakdown = Literal["severity", "service"]
BREAKDOWN_COLUMNS: dict[Breakdown, str] = {"severity": "severity_text", "service": "service_name"}
# Bytes of a row as PostHog counts them: the body plus every attribute key and value.
ROW_BYTES_SQL = (
    "length(body)"
    " + arraySum(arrayMap((k, v) -> length(k) + length(v), mapKeys(attributes), mapValues(attributes)))"
    " + arraySum(arrayMap((k, v) -> length(k) + length(v),"
    " mapKeys(resource_attributes), mapValues(resource_attributes)))"
)
# Converted columns get aliases of their own: ClickHouse would otherwise read ``uuid`` in WHERE and
# ORDER BY as the alias, not the column.
CONVERTED_COLUMNS = {
    "uuid": "toString(uuid)",
    "trace_id": "hex(trace_id)",
    "span_id": "hex(span_id)",
    "resource_fingerprint": "toString(resource_fingerprint)",
}
CONVERTED_SUFFIX = "_out"
PLAIN_COLUMNS = (
    "body",
    "timestamp",
    "observed_timestamp",
    "severity_text",
    "severity_number",
    "instrumentation_scope",
    "event_name",
)
ATTRIBUTE_COLUMNS = ("attributes", "resource_attributes")


def has_logs(store: LogStore, project_id: int) -> bool:
    """Whether the project has stored any log at all."""
    sql = f"SELECT 1 FROM {store.logs_table} WHERE project_id = {{project_id:UInt64}} LIMIT 1"
    return bool(store.query(sql, {"project_id": project_id}).rows)


def select_rows(
    store: LogStore,
    scope: LogScope,
    *,
    order: LogOrder,
    limit: int,
    after: Cursor | None,
    with_attributes: bool,
) -> list[dict[str, Any]]:
    """Up to ``limit`` rows in ``order``, strictly after ``after``; uuid, trace and span ids as text."""
    where = scope.where()
    if after is not None:
        where = where.and_(cursor_predicate(order, after))
    result = store.query(
        f"SELECT {_row_columns(with_attributes)} FROM {store.logs_table} WHERE {where.sql} "
        f"ORDER BY {order_by_sql(order)} LIMIT {int(limit)}",
        where.params,
    )
    names = [name.removesuffix(CONVERTED_SUFFIX) for name in result.columns]
    return [dict(zip(names, row, strict=True)) for row in result.rows]


def count_rows(store: LogStore, scope: LogScope) -> int:
    parts = [
        SqlFragment(
            f"SELECT {part.count} AS rows FROM {part.table} WHERE {part.where.sql}", part.where.params
        )
        for part in counting_parts(store, scope)
    ]
    # One part (a window of whole minutes, or any filter the per-minute counts cannot answer) is sent as
    # it is: the wrapping statement alone added about a millisecond of planning to a ~5 ms count.
    sql = parts[0].sql if len(parts) == 1 else f"SELECT sum(rows) FROM ({union_all(parts)})"
    result = store.query(sql, union_params(parts))
    count: int = result.rows[0][0]
    return count


def counts_per_bucket(store: LogStore, scope: LogScope, seconds: int) -> list[tuple[datetime, int]]:
    """(bucket start, rows) per ``seconds``-wide bucket, ascending; buckets without rows are absent."""
    parts = [
        SqlFragment(
            f"SELECT {bucket_sql(seconds)} AS bucket, {part.count} AS rows FROM {part.table} "
            f"WHERE {part.where.sql} GROUP BY bucket",
            part.where.params,
        )
        for part in counting_parts(store, scope, seconds)
    ]
    result = store.query(
        f"SELECT bucket, sum(rows) FROM ({union_all(parts)}) GROUP BY bucket ORDER BY bucket",
        union_params(parts),
    )
    return [(start, count) for start, count in result.rows]


@dataclass(frozen=True)
class CountingPart:
    """Some rows of a scope: ``count`` (an aggregate) of them is their number, read from ``table``
    where ``where`` holds. Both tables have the columns counts group by, ``timestamp`` included."""

    table: str
    where: SqlFragment
    count: str


def counting_parts(store: LogStore, scope: LogScope, seconds: int = 60) -> list[CountingPart]:
    """Disjoint parts that together are exactly the scope's rows, for counts in ``seconds``-wide buckets.

    When every filter is on the service or severity and ``seconds`` is whole minutes, the whole minutes
    of the window are counted from ``log_minute_counts`` (migration 5: a row per project, minute,
    service and severity, whose ``timestamp`` is the minute's start, so the same conditions select its
    minutes and the same buckets hold them); the partial minutes at either edge are read from the rows.
    """
    rows = CountingPart(store.logs_table, scope.where(), "count()")
    first, last = ceil_to_grid(scope.time_from, ONE_MINUTE), floor_to_grid(scope.time_to, ONE_MINUTE)
    if seconds % 60 or not on_summary_columns(scope.filters) or first >= last:
        return [rows]
    project, filters = scope.project_id, scope.filters
    minutes = build_where(project, filters, first, last, prefix="m", timestamp_type=WHOLE_SECONDS_TYPE)
    parts = [CountingPart(store.target.table(MINUTE_COUNTS_TABLE), minutes, "sum(rows)")]
    if scope.time_from < first:
        parts.append(replace(rows, where=build_where(project, filters, scope.time_from, first, prefix="h")))
    if last < scope.time_to:
        parts.append(replace(rows, where=build_where(project, filters, last, scope.time_to, prefix="t")))
    return parts


def rows_by_minute(store: LogStore, project_id: int, start: datetime, end: datetime) -> int:
    """How many logs the project has in the whole minutes of ``[start, end)``, from the per-minute counts."""
    where = build_where(
        project_id,
        LogFilters(),
        ceil_to_grid(start, ONE_MINUTE),
        floor_to_grid(end, ONE_MINUTE),
        timestamp_type=WHOLE_SECONDS_TYPE,
    )
    result = store.query(
        f"SELECT sum(rows) FROM {store.target.table(MINUTE_COUNTS_TABLE)} WHERE {where.sql}", where.params
    )
    count: int = result.rows[0][0]
    return count


def union_all(parts: list[SqlFragment]) -> str:
    return " UNION ALL ".join(part.sql for part in parts)


def union_params(parts: list[SqlFragment]) -> dict[str, object]:
    return {name: value for part in parts for name, value in part.params.items()}


def volume_per_bucket(
    store: LogStore,
    scope: LogScope,
    *,
    seconds: int,
    breakdown: Breakdown,
) -> list[tuple[datetime, str, int, int]]:
    """(bucket start, severity or service, rows, bytes) per bucket and breakdown value, unordered."""
    column = BREAKDOWN_COLUMNS[breakdown]
    where = scope.where()
    result = store.query(
        f"SELECT {bucket_sql(seconds)} AS bucket, {column} AS breakdown, count(), sum({ROW_BYTES_SQL}) "
        f"FROM {store.logs_table} WHERE {where.sql} GROUP BY bucket, breakdown",
        where.params,
    )
    return [(start, value, count, size) for start, value, count, size in result.rows]


def bucket_sql(seconds: int) -> str:
    """``toStartOfInterval``: buckets aligned on the Unix epoch."""
    return f"toStartOfInterval(timestamp, INTERVAL {int(seconds)} SECOND)"


def _row_columns(with_attributes: bool) -> str:
    columns = [f"{sql} AS {name}{CONVERTED_SUFFIX}" for name, sql in CONVERTED_COLUMNS.items()]
    columns += PLAIN_COLUMNS
    if with_attributes:
        columns += ATTRIBUTE_COLUMNS
    return ", ".join(columns)
