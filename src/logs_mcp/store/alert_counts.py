"""The log counts alerts are decided on: bucketed counts for simulate (alerts.md §4.5, §5.2) and the M
rolling window counts of many live checks in one statement (§4.2 [A], issue 5 "Batched evaluation").

Both use the filters' parameterized WHERE clause (``filter_sql.build_where``) and count on the raw
timestamp, half-open ``[from, to)``. Bucket starts lie on one grid counted from the Unix epoch, the grid of
``logs_mcp.alerts.windows``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import TIMESTAMP_TYPE, build_where
from logs_mcp.store.filters import LogFilters

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
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
    """One alert's check to count: its project, filters and the end of its newest window (§4.2 ``date_to``).

    ``key`` identifies the alert in the result (its id).
    """

    key: str
    project_id: int
    filters: LogFilters
    date_to: datetime

    def __post_init__(self) -> None:
        if self.date_to.tzinfo is None:
            raise ValueError("date_to must be timezone-aware (UTC)")


def window_counts_for_alerts(
    store: LogStore,
    checks: Sequence[WindowCheck],
    *,
    window_minutes: int,
    cadence_minutes: int,
    periods: int,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, tuple[int, ...]]:
    """The ``periods`` (M) rolling window counts of every check, newest first, in one statement.

    For check c and k = 0 … M−1, window k is ``[c.date_to − k·C − W, c.date_to − k·C)``; windows overlap
    when W > C, and a window without logs counts 0 (§2.4 [A]), so every tuple has M entries. Checks must
    share W, C and M (that is what makes them one statement); their projects, filters and ``date_to``
    may differ. A row matching several checks is counted for each.

    Rows are read once, from the union of the checks' projects and look-backs (checks sharing ``date_to``
    read exactly their look-back), and each row is matched against every check: the SQL names each check's
    condition once, since ClickHouse's planning time grows with the statement (twice as long a statement,
    about twice the planning).

    The caller sizes the batch: one failing filter fails the statement, and the SQL grows with the checks.
    ``settings`` are ClickHouse query settings (the check engine's time and bytes limits).
    """
    if window_minutes < 1 or cadence_minutes < 1 or periods < 1:
        raise ValueError("window_minutes, cadence_minutes and periods must be >= 1")
    if len({check.key for check in checks}) != len(checks):
        raise ValueError("check keys must be unique")
    if not checks:
        return {}
    window, cadence = timedelta(minutes=window_minutes), timedelta(minutes=cadence_minutes)
    lookback = window + (periods - 1) * cadence
    conditions, params = [], {}
    for index, check in enumerate(checks):
        where = build_where(
            check.project_id, check.filters, check.date_to - lookback, check.date_to, prefix=f"c{index}_"
        )
        conditions.append(f"({where.sql})")
        params.update(where.params)
    # Per row of the checks' projects and look-backs: which checks it matches (1-based; none, and ARRAY JOIN
    # drops the row); per match, the windows k its distance
    # d = date_to − timestamp (µs, > 0) falls in: k·C < d ≤ k·C + W, so ceil((d − W)/C) ≤ k ≤ (d − 1) // C.
    sql = f"""
        SELECT check_index, window_index, count() AS logs
        FROM (
            SELECT check_index, {{ends:Array(Int64)}}[check_index] - ts AS distance
            FROM (
                SELECT toUnixTimestamp64Micro(timestamp) AS ts, [{", ".join(conditions)}] AS matched
                FROM {store.logs_table}
                WHERE project_id IN {{projects:Array(UInt64)}}
                    AND timestamp >= {{earliest:{TIMESTAMP_TYPE}}} AND timestamp < {{latest:{TIMESTAMP_TYPE}}}
            )
            ARRAY JOIN arrayFilter((i, hit) -> hit, range(1, length(matched) + 1), matched) AS check_index
        )
        ARRAY JOIN range(
            toUInt64(greatest(0, intDiv(distance - {{window_us:Int64}} + {{cadence_us:Int64}} - 1,
                                        {{cadence_us:Int64}}))),
            toUInt64(least({{periods:Int64}} - 1, intDiv(distance - 1, {{cadence_us:Int64}})) + 1)
        ) AS window_index
        GROUP BY check_index, window_index
    """
    params |= {
        "projects": sorted({check.project_id for check in checks}),
        "earliest": min(check.date_to for check in checks) - lookback,
        "latest": max(check.date_to for check in checks),
        "ends": [(check.date_to - EPOCH) // MICROSECOND for check in checks],
        "window_us": window // MICROSECOND,
        "cadence_us": cadence // MICROSECOND,
        "periods": periods,
    }
    counts = {check.key: [0] * periods for check in checks}
    for check_index, window_index, logs in store.query(sql, params, settings).rows:
        counts[checks[check_index - 1].key][window_index] = logs
    return {key: tuple(values) for key, values in counts.items()}
