"""The log counts alerts are decided on: bucketed counts for simulate (alerts.md §4.5, §5.2) and the M
rolling window counts of many live checks in one or two statements (§4.2 [A], issue 5 "Batched
evaluation").

Both use the filters' parameterized conditions (``filter_sql``) and count on the raw timestamp, half-open
``[from, to)``. Bucket starts lie on one grid counted from the Unix epoch, the grid of
``logs_mcp.alerts.windows``; a check's windows are whole minutes before its ``date_to``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import (
    TIMESTAMP_TYPE,
    WHOLE_SECONDS_TYPE,
    Parameters,
    build_match,
    build_where,
    group_sql,
)
from logs_mcp.store.filters import LogFilters
from logs_mcp.store.log_schema import MINUTE_COUNTS_TABLE
from logs_mcp.store.time_grid import EPOCH, ONE_MINUTE

MICROSECOND = timedelta(microseconds=1)


def bucket_counts(
    store: LogStore,
    project_id: int,
    filters: LogFilters,
    start: datetime,
    end: datetime,
    cadence_minutes: int,
) -> list[tuple[datetime, int]]:
    """Logs per ``cadence_minutes`` bucket in ``[start, end)``: ascending, non-empty buckets only.

    One statement whatever the range. A bucket's start may precede ``start`` (the first bucket is then
    partial), since buckets sit on the epoch grid, not on ``start``. ``filters.date_range`` is ignored.
    """
    if cadence_minutes < 1:
        raise ValueError("cadence_minutes must be >= 1")
    where = build_where(project_id, filters, start, end)
    # Whole seconds since the epoch floored to the bucket width: the epoch grid, stated explicitly, and
    # plain integers to decode.
    sql = (
        "SELECT intDiv(toUnixTimestamp(timestamp), {width:UInt32}) * {width:UInt32} AS bucket, "
        f"count() AS logs FROM {store.logs_table} WHERE {where.sql} GROUP BY bucket ORDER BY bucket"
    )
    result = store.query(sql, {**where.params, "width": cadence_minutes * 60})
    return [(EPOCH + timedelta(seconds=seconds), logs) for seconds, logs in result.rows]


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """One alert's check to count: its project, filters, the end of its newest window (§4.2 ``date_to``)
    and its window shape: W (``window_minutes``), C (``cadence_minutes``) and M (``periods``).

    ``key`` identifies the alert in the result (its id).
    """

    key: str
    project_id: int
    filters: LogFilters
    date_to: datetime
    window_minutes: int
    cadence_minutes: int
    periods: int

    source: CountSource = field(init=False)
    """What it counts: checks of one source are counted once, whatever their window shapes."""
    by_minute: bool = field(init=False)
    """Whether the per-minute counts (``log_minute_counts``) answer it: only service and severity lists
    as filters, and whole minutes (W and C are; ``date_to`` must be too)."""

    def __post_init__(self) -> None:
        if self.date_to.tzinfo is None:
            raise ValueError("date_to must be timezone-aware (UTC)")
        if self.window_minutes < 1 or self.cadence_minutes < 1 or self.periods < 1:
            raise ValueError("window_minutes, cadence_minutes and periods must be >= 1")
        filters = self.filters
        canonical = filters.model_dump_json(exclude={"date_range"})
        object.__setattr__(self, "source", CountSource(self.project_id, canonical, self.date_to))
        by_minute = (
            not self.date_to.second
            and not self.date_to.microsecond
            and not filters.search_term
            and filters.resource_fingerprint is None
            and group_sql(filters.filter_group, Parameters()) is None
        )
        object.__setattr__(self, "by_minute", by_minute)

    @property
    def lookback_minutes(self) -> int:
        """How far back from ``date_to`` its oldest window starts: W + (M−1)·C."""
        return self.window_minutes + (self.periods - 1) * self.cadence_minutes


@dataclass(frozen=True, slots=True)
class CountSource:
    """A project's logs matching one filter (as canonical JSON), up to one ``date_to``."""

    project_id: int
    filters: str
    date_to: datetime


def window_counts_for_alerts(
    store: LogStore, checks: Sequence[WindowCheck], *, settings: Mapping[str, Any] | None = None
) -> dict[str, tuple[int, ...]]:
    """The M rolling window counts of every check, newest first, in one or two statements.

    For check c and k = 0 … M−1, window k is ``[c.date_to − k·C − W, c.date_to − k·C)``; windows overlap
    when W > C, and a window without logs counts 0 (§2.4 [A]), so every tuple has M entries. A row
    matching several checks is counted for each.

    Every window is whole minutes before its ``date_to``, so each source (project, filters, ``date_to``)
    is counted once, per minute before ``date_to``, over the longest look-back of its checks; each
    check's windows are sums of those minutes. Checks the per-minute counts answer
    (``WindowCheck.by_minute``) share one statement that names no check: it reads ``log_minute_counts``
    for their projects and look-back. The others share one statement that reads the rows of their
    projects and look-back once and matches each row against the conditions of its project's sources
    whose look-back it falls in (see ``_counts_from_rows``); the SQL names each condition once.

    The caller sizes the batch: one failing filter fails the statement, and the SQL grows with the
    distinct sources. ``settings`` are ClickHouse query settings (the check engine's time and bytes limits).
    """
    if len({check.key for check in checks}) != len(checks):
        raise ValueError("check keys must be unique")
    spans: dict[CountSource, int] = {}
    by_minute: dict[CountSource, WindowCheck] = {}
    by_rows: dict[CountSource, WindowCheck] = {}
    for check in checks:
        spans[check.source] = max(spans.get(check.source, 0), check.lookback_minutes)
        (by_minute if check.by_minute else by_rows).setdefault(check.source, check)
    minutes = {
        **_counts_from_minute_table(store, by_minute, spans, settings),
        **_counts_from_rows(store, by_rows, spans, settings),
    }
    return {check.key: _windows(minutes[check.source], check) for check in checks}


def _windows(minutes: Sequence[int], check: WindowCheck) -> tuple[int, ...]:
    """``minutes[b]``: logs in ``(b, b + 1]`` minutes before ``date_to``."""
    prefix = [0, *accumulate(minutes)]
    step, width = check.cadence_minutes, check.window_minutes
    return tuple(prefix[k * step + width] - prefix[k * step] for k in range(check.periods))


def _counts_from_minute_table(
    store: LogStore,
    sources: Mapping[CountSource, WindowCheck],
    spans: Mapping[CountSource, int],
    settings: Mapping[str, Any] | None,
) -> dict[CountSource, list[int]]:
    """Per source, logs per minute before its ``date_to``, from ``log_minute_counts`` (a row per project,
    minute, service and severity; its ``timestamp`` is the minute's start): the statement groups by that
    table's key, and the filters (lists of services and severities) are applied here to the few thousand
    rows it returns."""
    if not sources:
        return {}
    sql = f"""
        SELECT project_id, service_name, severity_text, timestamp AS minute, sum(rows)
        FROM {store.target.table(MINUTE_COUNTS_TABLE)}
        WHERE project_id IN {{projects:Array(UInt64)}}
            AND timestamp >= {{earliest:{WHOLE_SECONDS_TYPE}}} AND timestamp < {{latest:{WHOLE_SECONDS_TYPE}}}
        GROUP BY project_id, service_name, severity_text, minute
    """
    result = store.query(sql, _read_range(spans, sources), settings)
    series: dict[int, dict[tuple[str, str], list[tuple[datetime, int]]]] = {}
    for project_id, service, severity, minute, logs in result.rows:
        series.setdefault(project_id, {}).setdefault((service, severity), []).append((_utc(minute), logs))
    counts = {}
    for source, check in sources.items():
        services, severities = set(check.filters.service_names), set(check.filters.severity_levels)
        minutes = counts[source] = [0] * spans[source]
        for (service, severity), per_minute in series.get(source.project_id, {}).items():
            if (services and service not in services) or (severities and severity not in severities):
                continue
            for minute, logs in per_minute:
                before = (source.date_to - minute) // ONE_MINUTE - 1
                if 0 <= before < len(minutes):
                    minutes[before] += logs
    return counts


def _counts_from_rows(
    store: LogStore,
    sources: Mapping[CountSource, WindowCheck],
    spans: Mapping[CountSource, int],
    settings: Mapping[str, Any] | None,
) -> dict[CountSource, list[int]]:
    """Per source, logs per minute before its ``date_to``, from the rows: one read of the sources'
    projects and look-back, each row matched against the conditions of its own project's sources only,
    and against a source's filters only inside the source's look-back (the per-row cost of a condition is
    most of a statement's: a batch spread over many projects, or with a 5-minute window next to a 60-minute
    one, would otherwise match every row against every condition). ClickHouse evaluates a ``multiIf``
    branch, and an ``AND``'s later terms, only on the rows that reach them."""
    if not sources:
        return {}
    order = list(sources)
    of_project: dict[int, list[int]] = {}
    for index, source in enumerate(order, start=1):
        of_project.setdefault(source.project_id, []).append(index)
    branches: list[str] = []
    params: dict[str, object] = {}
    for project_index, (project_id, indexes) in enumerate(of_project.items()):
        conditions = []
        for index in indexes:
            source = order[index - 1]
            match = build_match(sources[source].filters, prefix=f"c{index}_")
            start, end = _micros(source.date_to - spans[source] * ONE_MINUTE), _micros(source.date_to)
            conditions.append(
                f"(ts >= {{c{index}_start:Int64}} AND ts < {{c{index}_end:Int64}} AND {match.sql})"
            )
            params |= match.params | {f"c{index}_start": start, f"c{index}_end": end}
        params[f"project{project_index}"] = project_id
        branches.append(
            f"project_id = {{project{project_index}:UInt64}}, "
            f"arrayFilter((i, hit) -> hit, [{', '.join(map(str, indexes))}], [{', '.join(conditions)}])"
        )
    # Per row: which sources it matches (1-based; none, and ARRAY JOIN drops the row); per match, the
    # distance d = date_to − timestamp (µs, 0 < d ≤ the source's look-back) in the minute
    # b = (d − 1) // 1 min, so minute b holds d in (b, b + 1] minutes.
    sql = f"""
        SELECT source_index, intDiv(distance - 1, {{minute_us:Int64}}) AS minute, count() AS logs
        FROM (
            SELECT source_index, {{ends:Array(Int64)}}[source_index] - ts AS distance
            FROM (
                SELECT toUnixTimestamp64Micro(timestamp) AS ts, multiIf({", ".join(branches)}, []) AS matched
                FROM {store.logs_table}
                WHERE project_id IN {{projects:Array(UInt64)}}
                    AND timestamp >= {{earliest:{TIMESTAMP_TYPE}}} AND timestamp < {{latest:{TIMESTAMP_TYPE}}}
            )
            ARRAY JOIN matched AS source_index
        )
        GROUP BY source_index, minute
    """
    params |= _read_range(spans, order) | {
        "ends": [_micros(source.date_to) for source in order],
        "minute_us": ONE_MINUTE // MICROSECOND,
    }
    counts = {source: [0] * spans[source] for source in order}
    for source_index, minute, logs in store.query(sql, params, settings).rows:
        counts[order[source_index - 1]][minute] = logs
    return counts


def _read_range(spans: Mapping[CountSource, int], sources: Iterable[CountSource]) -> dict[str, object]:
    """The projects and the time range a statement reads: every source's look-back."""
    chosen = list(sources)
    return {
        "projects": sorted({source.project_id for source in chosen}),
        "earliest": min(source.date_to - spans[source] * ONE_MINUTE for source in chosen),
        "latest": max(source.date_to for source in chosen),
    }


def _micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def _utc(moment: datetime) -> datetime:
    """chDB returns naive UTC datetimes, a server aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
