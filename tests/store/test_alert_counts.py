"""The alert count queries on real chDB: bucketed counts sum to the single count and sit on the epoch grid;
the batched window counts of many checks equal each check's windows counted alone."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from conftest import TestProject
from logs_mcp.services import Services
from logs_mcp.store.alert_counts import WindowCheck, bucket_counts, window_counts_for_alerts
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_sql import build_where
from logs_mcp.store.filters import LogFilters

_MINUTE = datetime.now(UTC).replace(second=0, microsecond=0)
NOW = _MINUTE - timedelta(minutes=_MINUTE.minute % 5)  # on the 5-minute grid, so edges are bucket edges
SERVICES = ("api", "web", "worker")
SEVERITIES = ("info", "warn", "error")


def insert(store: LogStore, project_id: int, stamps: list[tuple[datetime, str, str]]) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    columns: dict[str, list[Any]] = {
        "project_id": [project_id] * len(stamps),
        "uuid": [uuid4() for _ in stamps],
        "timestamp": [(moment - epoch) // timedelta(microseconds=1) for moment, _, _ in stamps],
        "observed_timestamp": [(moment - epoch) // timedelta(microseconds=1) for moment, _, _ in stamps],
        "service_name": [service for _, service, _ in stamps],
        "severity_text": [severity for _, _, severity in stamps],
        "body": ["line"] * len(stamps),
        "attributes": [{"n": str(index % 4)} for index in range(len(stamps))],
        "resource_attributes": [{"service.name": service} for _, service, _ in stamps],
    }
    store.insert_columns(store.logs_table, columns)


def random_rows(seed: int, start: datetime, span: timedelta, size: int) -> list[tuple[datetime, str, str]]:
    rng = random.Random(seed)
    micros = span // timedelta(microseconds=1)
    return [
        (start + timedelta(microseconds=rng.randrange(micros)), rng.choice(SERVICES), rng.choice(SEVERITIES))
        for _ in range(size)
    ]


def count(store: LogStore, project_id: int, filters: LogFilters, start: datetime, end: datetime) -> int:
    where = build_where(project_id, filters, start, end)
    rows = store.query(f"SELECT count() FROM {store.logs_table} WHERE {where.sql}", where.params).rows
    return int(rows[0][0])


@pytest.fixture
def rows(services: Services, project: TestProject) -> list[tuple[datetime, str, str]]:
    """Two days of random rows, plus rows exactly on bucket and window edges."""
    start = NOW - timedelta(days=2)
    stamps = random_rows(11, start, timedelta(days=2), 3000)
    edges = [NOW - timedelta(minutes=minutes) for minutes in (0, 5, 10, 35, 60, 65)]
    stamps += [(edge, "api", "error") for edge in edges]
    stamps += [(edge - timedelta(microseconds=1), "api", "error") for edge in edges]
    insert(services.log_store, project.id, stamps)
    return stamps


@pytest.mark.parametrize("cadence", [1, 5, 7, 60])
@pytest.mark.parametrize(
    "filters", [{}, {"serviceNames": ["api"]}, {"severityLevels": ["error", "warn"], "serviceNames": ["web"]}]
)
def test_bucket_sums_equal_the_single_count(
    services: Services, project: TestProject, rows: list[Any], cadence: int, filters: dict[str, Any]
) -> None:
    store = services.log_store
    parsed = LogFilters.model_validate(filters)
    start, end = NOW - timedelta(hours=30, minutes=3, seconds=7), NOW - timedelta(minutes=5)

    buckets = bucket_counts(store, project.id, parsed, start, end, cadence)

    assert sum(logs for _, logs in buckets) == count(store, project.id, parsed, start, end) > 0
    width = timedelta(minutes=cadence)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    starts = [bucket for bucket, _ in buckets]
    assert starts == sorted(set(starts)), "ascending, one row per bucket"
    assert all((bucket - epoch) % width == timedelta(0) for bucket in starts), "on the epoch grid"
    assert starts[0] > start - width and starts[-1] < end
    assert all(logs > 0 for _, logs in buckets), "only non-empty buckets"
    for bucket, logs in buckets[:3] + buckets[-3:]:
        assert logs == count(store, project.id, parsed, max(bucket, start), min(bucket + width, end))


def test_bucket_counts_are_half_open(services: Services, project: TestProject, rows: list[Any]) -> None:
    store, api_errors = services.log_store, LogFilters.model_validate({"serviceNames": ["api"]})
    edge = NOW - timedelta(minutes=10)

    buckets = dict(bucket_counts(store, project.id, api_errors, edge, NOW, 5))

    # The row at exactly NOW is out; the ones at 10, 5 minutes and 1 µs before NOW are in.
    assert buckets[NOW - timedelta(minutes=5)] == count(
        store, project.id, api_errors, NOW - timedelta(minutes=5), NOW
    )
    assert NOW not in buckets
    assert sum(buckets.values()) == count(store, project.id, api_errors, edge, NOW)


def test_bucket_counts_of_no_rows_are_empty(services: Services, project: TestProject) -> None:
    filters = LogFilters.model_validate({"serviceNames": ["nothing"]})
    assert bucket_counts(services.log_store, project.id, filters, NOW - timedelta(days=1), NOW, 5) == []


def window_counts_alone(
    store: LogStore, check: WindowCheck, window: int, cadence: int, periods: int
) -> tuple[int, ...]:
    ends = [check.date_to - k * timedelta(minutes=cadence) for k in range(periods)]
    return tuple(
        count(store, check.project_id, check.filters, end - timedelta(minutes=window), end) for end in ends
    )


SHAPES = [(5, 5, 1), (5, 5, 3), (15, 5, 5), (60, 5, 10)]


def checks_of_every_kind(
    services: Services, project: TestProject, window: int, cadence: int, periods: int
) -> list[WindowCheck]:
    """Checks the per-minute counts answer and checks read from the rows, on and off the minute grid."""
    store = services.log_store
    other = services.accounts.create_project("alert-counts-other")
    assert other.id is not None
    insert(store, other.id, random_rows(12, NOW - timedelta(hours=3), timedelta(hours=3), 500))
    shape = {"window_minutes": window, "cadence_minutes": cadence, "periods": periods}
    api = LogFilters.model_validate({"serviceNames": ["api"]})
    errors = LogFilters.model_validate({"severityLevels": ["error"]})
    attribute = LogFilters.model_validate(
        {"filterGroup": [{"key": "n", "type": "log_attribute", "operator": "exact", "value": "2"}]}
    )
    # Off the minute grid (a first check at "now"): windows follow date_to exactly, from the rows.
    off_grid = NOW - timedelta(minutes=2, seconds=13, microseconds=5)
    return [
        WindowCheck("all-api", project.id, api, NOW, **shape),
        WindowCheck("errors-offset", project.id, errors, off_grid, **shape),
        WindowCheck("errors-hour-ago", project.id, errors, NOW - timedelta(hours=1), **shape),
        WindowCheck("attribute", project.id, attribute, NOW - timedelta(hours=1), **shape),
        WindowCheck("attribute-offset", project.id, attribute, off_grid, **shape),
        WindowCheck("other-project", other.id, LogFilters(), NOW, **shape),
        WindowCheck("other-project-attribute", other.id, attribute, NOW, **shape),
        WindowCheck(
            "silent", project.id, LogFilters.model_validate({"serviceNames": ["none"]}), NOW, **shape
        ),
        WindowCheck(
            "silent-rows", project.id, LogFilters.model_validate({"searchTerm": "nothing"}), NOW, **shape
        ),
    ]


@pytest.mark.parametrize(("window", "cadence", "periods"), SHAPES)
def test_batched_window_counts_equal_per_alert_counts(
    services: Services, project: TestProject, rows: list[Any], window: int, cadence: int, periods: int
) -> None:
    store = services.log_store
    checks = checks_of_every_kind(services, project, window, cadence, periods)
    assert {check.by_minute for check in checks} == {True, False}, "both statements are exercised"

    batched = window_counts_for_alerts(store, checks)

    expected = {check.key: window_counts_alone(store, check, window, cadence, periods) for check in checks}
    assert batched == expected
    assert batched["silent"] == batched["silent-rows"] == (0,) * periods
    assert any(any(counts) for counts in batched.values())


def test_identical_filters_of_any_shape_are_counted_once_with_the_same_answers(
    services: Services, project: TestProject, rows: list[Any]
) -> None:
    """Checks sharing project, filters and date_to share one count source, whatever their W, C and M,
    and each gets exactly the windows it gets when counted on its own."""
    store = services.log_store
    shaped = [
        replace(
            check,
            key=f"{check.key}-{window}-{cadence}-{periods}",
            window_minutes=window,
            cadence_minutes=cadence,
            periods=periods,
        )
        for check in checks_of_every_kind(services, project, 5, 5, 1)
        for window, cadence, periods in [*SHAPES, (10, 1, 7), (5, 60, 3)]
    ]
    counted: list[tuple[str, dict[str, Any]]] = []
    query = store.query

    def recording(sql: str, params: dict[str, Any], *args: Any) -> Any:
        counted.append((sql, params))
        return query(sql, params, *args)

    store.query = recording  # type: ignore[method-assign]
    try:
        together = window_counts_for_alerts(store, shaped)
    finally:
        store.query = query  # type: ignore[method-assign]

    assert len(counted) == 2, "one statement from the per-minute counts, one from the rows"
    rows_params = next(params for sql, params in counted if "ARRAY JOIN" in sql)
    distinct_row_sources = {check.source for check in shaped if not check.by_minute}
    conditions = {name.split("_")[0] for name in rows_params if name.startswith("c")}
    assert len(conditions) == len(distinct_row_sources)
    assert len(distinct_row_sources) < sum(not check.by_minute for check in shaped)
    for check in shaped:
        assert together[check.key] == window_counts_for_alerts(store, [check])[check.key]
        assert together[check.key] == window_counts_alone(
            store, check, check.window_minutes, check.cadence_minutes, check.periods
        )


def test_batched_window_counts_validate_their_input(services: Services, project: TestProject) -> None:
    store = services.log_store
    assert window_counts_for_alerts(store, []) == {}
    check = WindowCheck("a", project.id, LogFilters(), NOW, window_minutes=5, cadence_minutes=5, periods=1)
    with pytest.raises(ValueError, match="unique"):
        window_counts_for_alerts(store, [check, check])
    with pytest.raises(ValueError, match=">= 1"):
        replace(check, periods=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(check, date_to=NOW.replace(tzinfo=None))
