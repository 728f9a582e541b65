"""Answers questions about stored logs. Every query is scoped to one project.

Requests arrive validated (``logs.models``); what can still be wrong (a cursor that does not decode,
a relative date that overflows) is an :class:`InvalidInput` naming the field under ``query.``, where
both faces put the request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from logs_mcp.errors import InvalidInput
from logs_mcp.logs.models import (
    NO_VALUE,
    OTHER_BREAKDOWN,
    CountRange,
    CountRangesRequest,
    CountRangesResponse,
    CountRequest,
    CountResponse,
    HasLogsResponse,
    LogRow,
    QueryLogsRequest,
    QueryLogsResponse,
    SparklinePoint,
    SparklineRequest,
    SparklineResponse,
    absolute_range,
)
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import SqlFragment, build_where, cursor_predicate, order_by_sql
from logs_mcp.store.filters import Cursor, LogFilters, LogOrder, decode_cursor, encode_cursor, resolve_range

# Bucket widths the interval picker chooses from (PostHog's list), in seconds.
INTERVALS = (1, 5, 10, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
SPARKLINE_BUCKETS = 50
SPARKLINE_SERIES = 10
# Time slicing of a page (PostHog's): when the window is longer than the threshold, first read the
# part this close to the sort edge; most pages fill from the newest minutes and never scan the rest.
SLICE_OFFSETS = (
    (timedelta(minutes=20), timedelta(minutes=3)),
    (timedelta(hours=4), timedelta(hours=1)),
    (timedelta(hours=24), timedelta(hours=6)),
)
ONE_MICROSECOND = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Bytes of a row as PostHog counts them: the body plus every attribute key and value.
ROW_BYTES_SQL = (
    "length(body)"
    " + arraySum(arrayMap((k, v) -> length(k) + length(v), mapKeys(attributes), mapValues(attributes)))"
    " + arraySum(arrayMap((k, v) -> length(k) + length(v),"
    " mapKeys(resource_attributes), mapValues(resource_attributes)))"
)


def pick_interval(window: timedelta, target_buckets: int) -> int:
    """The width (seconds) nearest to ``window / target_buckets``; ties take the smaller width."""
    step = window.total_seconds() / target_buckets
    return min(INTERVALS, key=lambda width: (abs(width - step), width))


def interval_text(seconds: int) -> str:
    """``30s``, ``5m``, ``2h``, ``1d``: seconds below a minute, else the largest whole unit."""
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def bucket_start(moment: datetime, seconds: int) -> datetime:
    """ClickHouse's ``toStartOfInterval(t, INTERVAL n SECOND)``: aligned on the Unix epoch."""
    elapsed = (moment - EPOCH) // timedelta(seconds=1)
    return EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


def time_slices(start: datetime, end: datetime, order: LogOrder) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive half-open slices, nearest the sort edge first."""
    span = end - start
    offsets = [offset for threshold, offset in SLICE_OFFSETS if span > threshold]
    if order == "latest":
        bounds = [end, *(end - offset for offset in offsets), start]
        return [(bounds[i + 1], bounds[i]) for i in range(len(bounds) - 1)]
    bounds = [start, *(start + offset for offset in offsets), end]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def utc(moment: datetime) -> datetime:
    """chDB hands back naive datetimes that are UTC; a server hands back aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@contextmanager
def _under_query() -> Iterator[None]:
    try:
        yield
    except InvalidInput as error:
        error.attr = f"query.{error.attr}" if error.attr else "query"
        raise


class LogQueries:
    def __init__(self, store: LogStore, max_exportable_logs: int = 1_000_000) -> None:
        self._store = store
        self._max_exportable_logs = max_exportable_logs
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

    def window(self, filters: LogFilters, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The half-open UTC window ``filters.dateRange`` means now."""
        with _under_query():
            return resolve_range(filters.date_range, now or datetime.now(UTC))

    # --- rows --------------------------------------------------------------------------------------

    def query_logs(self, project_id: int, request: QueryLogsRequest) -> QueryLogsResponse:
        """One page of rows in ``orderBy`` order, after the ``after`` cursor; fetches one row more
        than the page to know whether another page follows."""
        time_from, time_to = self.window(request)
        with _under_query():
            cursor = decode_cursor(request.after) if request.after else None
        rows = self._page(project_id, request, time_from, time_to, cursor)
        has_more = len(rows) > request.limit
        rows = rows[: request.limit]
        return QueryLogsResponse(
            query=request.model_copy(update={"date_range": absolute_range(time_from, time_to)}),
            results=rows,
            hasMore=has_more,
            nextCursor=encode_cursor(rows[-1].timestamp, rows[-1].uuid) if has_more else None,
            maxExportableLogs=self._max_exportable_logs,
        )

    def _page(
        self,
        project_id: int,
        request: QueryLogsRequest,
        time_from: datetime,
        time_to: datetime,
        cursor: Cursor | None,
    ) -> list[LogRow]:
        if cursor is not None and request.order_by == "latest":
            time_to = min(time_to, cursor.timestamp + ONE_MICROSECOND)
        elif cursor is not None:
            time_from = max(time_from, cursor.timestamp)
        wanted = request.limit + 1
        columns = _row_columns(with_attributes=not request.exclude_attributes)
        rows: list[LogRow] = []
        for slice_from, slice_to in time_slices(time_from, time_to, request.order_by):
            where = build_where(project_id, request, slice_from, slice_to)
            if cursor is not None:
                where = where.and_(cursor_predicate(request.order_by, cursor))
            result = self._store.query(
                f"SELECT {columns} FROM {self._store.logs_table} WHERE {where.sql} "
                f"ORDER BY {order_by_sql(request.order_by)} LIMIT {wanted - len(rows)}",
                where.params,
            )
            rows += (_log_row(row) for row in result.dicts())
            if len(rows) >= wanted:
                break
        return rows

    # --- counts ------------------------------------------------------------------------------------

    def count(self, project_id: int, request: CountRequest) -> CountResponse:
        where = self._where(project_id, request)
        sql = f"SELECT count() FROM {self._store.logs_table} WHERE {where.sql}"
        result = self._store.query(sql, where.params)
        return CountResponse(count=result.rows[0][0])

    def count_ranges(self, project_id: int, request: CountRangesRequest) -> CountRangesResponse:
        """Counts per bucket of an adaptive width; buckets without rows are left out."""
        time_from, time_to = self.window(request)
        seconds = pick_interval(time_to - time_from, request.clamped_buckets())
        where = build_where(project_id, request, time_from, time_to)
        result = self._store.query(
            f"SELECT {_bucket_sql(seconds)} AS bucket, count() FROM {self._store.logs_table} "
            f"WHERE {where.sql} GROUP BY bucket ORDER BY bucket",
            where.params,
        )
        width = timedelta(seconds=seconds)
        ranges = [
            CountRange(date_from=utc(start), date_to=utc(start) + width, count=count)
            for start, count in result.rows
        ]
        return CountRangesResponse(ranges=ranges, interval=interval_text(seconds))

    def sparkline(self, project_id: int, request: SparklineRequest) -> SparklineResponse:
        """Volume per bucket and severity (or service): the top 10 series by count (or bytes) keep
        their own line, the rest are summed as "other"; a bucket without rows appears once, as 0."""
        time_from, time_to = self.window(request)
        seconds = pick_interval(time_to - time_from, SPARKLINE_BUCKETS)
        column = "severity_text" if request.breakdown_by == "severity" else "service_name"
        where = build_where(project_id, request, time_from, time_to)
        result = self._store.query(
            f"SELECT {_bucket_sql(seconds)} AS bucket, {column} AS breakdown, count(), sum({ROW_BYTES_SQL}) "
            f"FROM {self._store.logs_table} WHERE {where.sql} GROUP BY bucket, breakdown",
            where.params,
        )
        totals = _top_series(result.rows, request.rank_by)
        series: dict[datetime, list[str]] = defaultdict(list)
        for start, value in sorted(totals):
            series[start].append(value)
        points = [
            SparklinePoint.model_validate(
                {"time": start, request.breakdown_by: value, "count": count, "bytes_uncompressed": size}
            )
            for start in _spine(time_from, time_to, seconds)
            for value in series.get(start) or [NO_VALUE]
            for count, size in [totals.get((start, value), (0, 0))]
        ]
        return SparklineResponse(results=points, interval=interval_text(seconds))

    def _where(self, project_id: int, filters: LogFilters) -> SqlFragment:
        time_from, time_to = self.window(filters)
        return build_where(project_id, filters, time_from, time_to)


# Converted columns get aliases of their own: ClickHouse would otherwise read ``uuid`` in WHERE and
# ORDER BY as the alias, not the column.
CONVERTED_COLUMNS = {
    "uuid": "toString(uuid)",
    "trace_id": "hex(trace_id)",
    "span_id": "hex(span_id)",
    "resource_fingerprint": "toString(resource_fingerprint)",
}
CONVERTED_SUFFIX = "_out"


def _row_columns(*, with_attributes: bool) -> str:
    columns = [f"{sql} AS {name}{CONVERTED_SUFFIX}" for name, sql in CONVERTED_COLUMNS.items()]
    columns += [
        "body",
        "timestamp",
        "observed_timestamp",
        "severity_text",
        "severity_number",
        "instrumentation_scope",
        "event_name",
    ]
    if with_attributes:
        columns += ["attributes", "resource_attributes"]
    return ", ".join(columns)


def _log_row(row: dict[str, Any]) -> LogRow:
    return LogRow.model_validate(
        {
            "attributes": {},
            "resource_attributes": {},
            **{name.removesuffix(CONVERTED_SUFFIX): value for name, value in row.items()},
            "timestamp": utc(row["timestamp"]),
            "observed_timestamp": utc(row["observed_timestamp"]),
            "level": row["severity_text"],
        }
    )


def _top_series(rows: list[tuple[Any, ...]], rank_by: str) -> dict[tuple[datetime, str], tuple[int, int]]:
    """``(bucket, breakdown, count, bytes)`` rows as (count, bytes) per bucket and series, the series
    past the top ``SPARKLINE_SERIES`` merged into one "other" series."""
    ranking: dict[str, int] = defaultdict(int)
    for _start, breakdown, count, size in rows:
        ranking[breakdown or NO_VALUE] += count if rank_by == "count" else size
    top = set(sorted(ranking, key=lambda value: (-ranking[value], value))[:SPARKLINE_SERIES])
    totals: dict[tuple[datetime, str], tuple[int, int]] = {}
    for start, breakdown, count, size in rows:
        value = breakdown or NO_VALUE
        key = (utc(start), value if value in top else OTHER_BREAKDOWN)
        previous_count, previous_size = totals.get(key, (0, 0))
        totals[key] = (previous_count + count, previous_size + size)
    return totals


def _bucket_sql(seconds: int) -> str:
    # ``seconds`` is one of INTERVALS, never user text.
    return f"toStartOfInterval(timestamp, INTERVAL {int(seconds)} SECOND)"


def _spine(time_from: datetime, time_to: datetime, seconds: int) -> Iterator[datetime]:
    """Every bucket start from the one holding ``time_from`` to the one holding the window's last instant."""
    if time_to <= time_from:
        return
    start, last = bucket_start(time_from, seconds), bucket_start(time_to - ONE_MICROSECOND, seconds)
    while start <= last:
        yield start
        start += timedelta(seconds=seconds)
