"""The SQL behind log questions: a page of rows, a count, counts per bucket and volume per bucket.

Each function reads the rows of a :class:`~logs_mcp.store.filter_sql.LogScope` (one project, a
half-open window, the filters) and hands back plain values; ClickHouse's types are left as they come
(chDB returns naive UTC datetimes, a server aware ones). Bucket widths are seconds chosen by the
caller, never user text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import LogScope, cursor_predicate, order_by_sql
from logs_mcp.store.filters import Cursor, LogOrder

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
    return [_plain_names(row) for row in result.dicts()]


def count_rows(store: LogStore, scope: LogScope) -> int:
    where = scope.where()
    result = store.query(f"SELECT count() FROM {store.logs_table} WHERE {where.sql}", where.params)
    count: int = result.rows[0][0]
    return count


def counts_per_bucket(store: LogStore, scope: LogScope, seconds: int) -> list[tuple[datetime, int]]:
    """(bucket start, rows) per ``seconds``-wide bucket, ascending; buckets without rows are absent."""
    where = scope.where()
    result = store.query(
        f"SELECT {bucket_sql(seconds)} AS bucket, count() FROM {store.logs_table} "
        f"WHERE {where.sql} GROUP BY bucket ORDER BY bucket",
        where.params,
    )
    return [(start, count) for start, count in result.rows]


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


def _plain_names(row: dict[str, Any]) -> dict[str, Any]:
    return {name.removesuffix(CONVERTED_SUFFIX): value for name, value in row.items()}
