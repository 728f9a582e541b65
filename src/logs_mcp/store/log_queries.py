"""The SQL behind log questions: a page of rows, a count, counts per bucket and volume per bucket.

Each function reads the rows of a :class:`~logs_mcp.store.filter_sql.LogScope` (one project, a
half-open window, the filters) and hands back plain values; ClickHouse's types are left as they come
(chDB returns naive UTC datetimes, a server aware ones). Bucket widths are seconds chosen by the
caller, never user text.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import (
    MINUTE_SQL,
    LogScope,
    SqlFragment,
    build_where,
    cursor_predicate,
    on_summary_columns,
    order_by_sql,
)
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
ONE_MINUTE = timedelta(minutes=1)


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
    parts = [
        SqlFragment(f"SELECT count() AS rows FROM {store.logs_table} WHERE {where.sql}", where.params)
        for where, _moment in counting_parts(scope)
    ]
    result = store.query(f"SELECT sum(rows) FROM ({union_all(parts)})", union_params(parts))
    count: int = result.rows[0][0]
    return count


def counts_per_bucket(store: LogStore, scope: LogScope, seconds: int) -> list[tuple[datetime, int]]:
    """(bucket start, rows) per ``seconds``-wide bucket, ascending; buckets without rows are absent."""
    parts = [
        SqlFragment(
            f"SELECT {bucket_sql(seconds, moment)} AS bucket, count() AS rows FROM {store.logs_table} "
            f"WHERE {where.sql} GROUP BY bucket",
            where.params,
        )
        for where, moment in counting_parts(scope, seconds)
    ]
    result = store.query(
        f"SELECT bucket, sum(rows) FROM ({union_all(parts)}) GROUP BY bucket ORDER BY bucket",
        union_params(parts),
    )
    return [(start, count) for start, count in result.rows]


def counting_parts(scope: LogScope, seconds: int = 60) -> list[tuple[SqlFragment, str]]:
    """Conditions on disjoint rows that together are exactly the scope's rows, each with the moment
    its rows' ``seconds``-wide buckets start from (the same buckets, as ``seconds`` is whole minutes).

    When every filter is on the service or severity, the whole minutes of the window are bounded by
    ``toStartOfMinute(timestamp)``, so ClickHouse answers them from the per-minute counts projection
    (``p_minute_counts``, migration 1: a few thousand rows per project and day instead of the rows);
    the partial minutes at either edge are read from the rows, which the timestamp index narrows to
    those minutes.
    """
    first, last = _ceil_minute(scope.time_from), _floor_minute(scope.time_to)
    if seconds % 60 or not on_summary_columns(scope.filters) or first >= last:
        return [(scope.where(), "timestamp")]
    project, filters = scope.project_id, scope.filters
    parts = [(build_where(project, filters, first, last, prefix="m", by_minute=True), MINUTE_SQL)]
    if scope.time_from < first:
        parts.append((build_where(project, filters, scope.time_from, first, prefix="h"), "timestamp"))
    if last < scope.time_to:
        parts.append((build_where(project, filters, last, scope.time_to, prefix="t"), "timestamp"))
    return parts


def union_all(parts: list[SqlFragment]) -> str:
    return " UNION ALL ".join(part.sql for part in parts)


def union_params(parts: list[SqlFragment]) -> dict[str, object]:
    return {name: value for part in parts for name, value in part.params.items()}


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _ceil_minute(moment: datetime) -> datetime:
    floor = _floor_minute(moment)
    return floor if floor == moment else floor + ONE_MINUTE


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


def bucket_sql(seconds: int, moment: str = "timestamp") -> str:
    """``toStartOfInterval``: buckets aligned on the Unix epoch."""
    return f"toStartOfInterval({moment}, INTERVAL {int(seconds)} SECOND)"


def _row_columns(with_attributes: bool) -> str:
    columns = [f"{sql} AS {name}{CONVERTED_SUFFIX}" for name, sql in CONVERTED_COLUMNS.items()]
    columns += PLAIN_COLUMNS
    if with_attributes:
        columns += ATTRIBUTE_COLUMNS
    return ", ".join(columns)


def _plain_names(row: dict[str, Any]) -> dict[str, Any]:
    return {name.removesuffix(CONVERTED_SUFFIX): value for name, value in row.items()}
