"""Answers questions about stored logs. Every query is scoped to one project.

Requests arrive validated (``logs.models``); what can still be wrong (a cursor that does not decode,
a relative date that overflows) is an :class:`InvalidInput` naming the field under ``query.``, where
both faces put the request.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

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
from logs_mcp.store import log_queries
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import LogScope
from logs_mcp.store.filters import Cursor, LogFilters, LogOrder, decode_cursor, encode_cursor, resolve_range
from logs_mcp.store.time_grid import floor_to_grid

# Bucket widths the interval picker chooses from (PostHog's list), in seconds.
INTERVALS = (1, 5, 10, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
SPARKLINE_BUCKETS = 50
SPARKLINE_SERIES = 10
# Time slicing of a page (PostHog's, the first slice sized to the project): read the part of the window
# nearest the sort edge first; most pages fill from it and never scan the rest. The first slice holds
# about FIRST_SLICE_ROWS logs at the project's rate in the hour at that edge: a statement reads that many
# timestamps in about what a statement costs anyway (docs/benchmarks.md, "Queries"), so a quiet project
# starts at the hour and a page with a search term rarely needs a second statement.
FIRST_SLICE_ROWS = 50_000
FIRST_SLICE_MIN, FIRST_SLICE_MAX = timedelta(minutes=3), timedelta(hours=1)
SLICED_SPAN_MIN = timedelta(minutes=20)
LATER_SLICES = ((timedelta(hours=4), timedelta(hours=1)), (timedelta(hours=24), timedelta(hours=6)))
RATE_SPAN = timedelta(hours=1)
RATE_KEPT = timedelta(minutes=10)
ONE_MICROSECOND = timedelta(microseconds=1)


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
    return floor_to_grid(moment, timedelta(seconds=seconds))


def first_slice(rows_per_hour: int) -> timedelta:
    """The span that holds ``FIRST_SLICE_ROWS`` at this rate, within [3 minutes, 1 hour]."""
    if rows_per_hour <= FIRST_SLICE_ROWS:
        return FIRST_SLICE_MAX
    return max(RATE_SPAN * FIRST_SLICE_ROWS / rows_per_hour, FIRST_SLICE_MIN)


def time_slices(
    start: datetime, end: datetime, order: LogOrder, first: timedelta = FIRST_SLICE_MIN
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive half-open slices, nearest the sort edge first: ``first``
    when the window is over twice as long (and over 20 minutes), then the hour and 6 hours on windows
    over 4 and 24 hours when they are at least twice ``first``, then the rest."""
    span = end - start
    offsets = [first] if span > max(SLICED_SPAN_MIN, 2 * first) else []
    offsets += [offset for threshold, offset in LATER_SLICES if span > threshold and offset >= 2 * first]
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
        # Per project, its last rate (to size a page's first slice): (the edge's 10 minutes and the order,
        # time.monotonic() when counted, logs in the hour at the edge).
        self._rates: dict[int, tuple[tuple[datetime, LogOrder], float, int]] = {}

    def has_logs(self, project_id: int) -> HasLogsResponse:
        if project_id not in self._known_to_have_logs:
            if not log_queries.has_logs(self._store, project_id):
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
        rows: list[LogRow] = []
        edge = time_to if request.order_by == "latest" else time_from
        first = first_slice(self._rows_per_hour(project_id, edge, request.order_by))
        for slice_from, slice_to in time_slices(time_from, time_to, request.order_by, first):
            found = log_queries.select_rows(
                self._store,
                LogScope(project_id, request, slice_from, slice_to),
                order=request.order_by,
                limit=wanted - len(rows),
                after=cursor,
                with_attributes=not request.exclude_attributes,
            )
            rows += _log_rows(found)
            if len(rows) >= wanted:
                break
        return rows

    def _rows_per_hour(self, project_id: int, edge: datetime, order: LogOrder) -> int:
        """The project's logs in the hour before ``edge`` (after it in ``earliest`` order); a count is
        reused for edges in the same 10 minutes, for 10 minutes."""
        key, now = (bucket_start(edge, int(RATE_KEPT.total_seconds())), order), time.monotonic()
        counted = self._rates.get(project_id)
        if counted is None or counted[0] != key or now - counted[1] > RATE_KEPT.total_seconds():
            start, end = (edge - RATE_SPAN, edge) if order == "latest" else (edge, edge + RATE_SPAN)
            counted = self._rates[project_id] = (
                key,
                now,
                log_queries.rows_by_minute(self._store, project_id, start, end),
            )
        return counted[2]

    # --- counts ------------------------------------------------------------------------------------

    def count(self, project_id: int, request: CountRequest) -> CountResponse:
        time_from, time_to = self.window(request)
        scope = LogScope(project_id, request, time_from, time_to)
        return CountResponse(count=log_queries.count_rows(self._store, scope))

    def count_ranges(self, project_id: int, request: CountRangesRequest) -> CountRangesResponse:
        """Counts per bucket of an adaptive width; buckets without rows are left out."""
        time_from, time_to = self.window(request)
        seconds = pick_interval(time_to - time_from, request.clamped_buckets())
        scope = LogScope(project_id, request, time_from, time_to)
        buckets = log_queries.counts_per_bucket(self._store, scope, seconds)
        width = timedelta(seconds=seconds)
        ranges = [
            CountRange(date_from=utc(start), date_to=utc(start) + width, count=count)
            for start, count in buckets
        ]
        return CountRangesResponse(ranges=ranges, interval=interval_text(seconds))

    def sparkline(self, project_id: int, request: SparklineRequest) -> SparklineResponse:
        """Volume per bucket and severity (or service): the top 10 series by count (or bytes) keep
        their own line, the rest are summed as "other"; a bucket without rows appears once, as 0."""
        time_from, time_to = self.window(request)
        seconds = pick_interval(time_to - time_from, SPARKLINE_BUCKETS)
        scope = LogScope(project_id, request, time_from, time_to)
        volumes = log_queries.volume_per_bucket(
            self._store, scope, seconds=seconds, breakdown=request.breakdown_by
        )
        totals = _top_series(volumes, request.rank_by)
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


def _log_rows(rows: list[dict[str, Any]]) -> list[LogRow]:
    """Validated as one list: a page of 101 rows costs less than validating each row on its own."""
    return _LOG_ROWS.validate_python(
        [
            {
                "attributes": {},
                "resource_attributes": {},
                **row,
                "timestamp": utc(row["timestamp"]),
                "observed_timestamp": utc(row["observed_timestamp"]),
                "level": row["severity_text"],
            }
            for row in rows
        ]
    )


_LOG_ROWS = TypeAdapter(list[LogRow])


def _top_series(
    rows: list[tuple[datetime, str, int, int]], rank_by: str
) -> dict[tuple[datetime, str], tuple[int, int]]:
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


def _spine(time_from: datetime, time_to: datetime, seconds: int) -> Iterator[datetime]:
    """Every bucket start from the one holding ``time_from`` to the one holding the window's last instant."""
    if time_to <= time_from:
        return
    start, last = bucket_start(time_from, seconds), bucket_start(time_to - ONE_MICROSECOND, seconds)
    while start <= last:
        yield start
        start += timedelta(seconds=seconds)
