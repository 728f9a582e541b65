"""The demo data on real chDB: what a new user explores first must look like a real shop's logs, with the
incidents the README points at."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from logs_mcp.errors import InvalidInput
from logs_mcp.logs.demo import (
    AUTH_401_SPIKE,
    CHECKOUT_LATENCY,
    PAYMENTS_OUTAGE,
    SERVICES,
    Incident,
    ShopSimulation,
    load_demo,
)
from logs_mcp.services import Services

RESOURCE_KEYS = (
    "service.name",
    "service.version",
    "deployment.environment",
    "host.name",
    "k8s.pod.name",
    "k8s.namespace.name",
    "cloud.region",
)


@dataclass(frozen=True)
class DemoLoad:
    project_id: int
    now: datetime
    rows: int
    progress: list[tuple[int, int]]


def _load(services: Services, name: str, now: datetime, seed: int = 7) -> DemoLoad:
    project = services.accounts.create_project(name)
    assert project.id is not None
    progress: list[tuple[int, int]] = []
    rows = load_demo(
        services.log_store,
        project.id,
        days=1,
        now=now,
        seed=seed,
        progress=lambda done, total: progress.append((done, total)),
    )
    return DemoLoad(project.id, now, rows, progress)


@pytest.fixture(scope="module")
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def demo(services: Services, now: datetime) -> DemoLoad:
    return _load(services, "demo day", now)


def _scalar(services: Services, project_id: int, select: str, where: str = "1", **params: Any) -> Any:
    table = services.log_store.logs_table
    result = services.log_store.query(
        f"SELECT {select} FROM {table} WHERE project_id = {{project:UInt64}} AND {where}",
        {"project": project_id, **params},
    )
    return result.rows[0][0]


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _per_minute_inside_and_outside(
    services: Services, demo: DemoLoad, incident: Incident, condition: str
) -> tuple[float, float]:
    """How many rows matching ``condition`` per minute inside the incident window, and elsewhere."""
    start, end = incident.window(demo.now)
    inside_sql = (
        "timestamp >= fromUnixTimestamp64Micro({start:Int64}) "
        "AND timestamp < fromUnixTimestamp64Micro({end:Int64})"
    )
    bounds = {"start": _micros(start), "end": _micros(end)}
    inside = _scalar(services, demo.project_id, "count()", f"{condition} AND {inside_sql}", **bounds)
    outside = _scalar(services, demo.project_id, "count()", f"{condition} AND NOT ({inside_sql})", **bounds)
    window_minutes = (end - start) / timedelta(minutes=1)
    return inside / window_minutes, outside / (24 * 60 - window_minutes)


def test_returns_the_rows_it_stored_and_reports_progress_up_to_the_total(
    services: Services, demo: DemoLoad
) -> None:
    stored = _scalar(services, demo.project_id, "count()")
    assert demo.rows == stored
    assert 35_000 < stored < 55_000  # about 43k rows a day
    assert demo.progress[-1] == (stored, stored)
    assert [done for done, _ in demo.progress] == sorted({done for done, _ in demo.progress})
    assert all(total == stored for _, total in demo.progress)


def test_timestamps_lie_within_the_requested_days(services: Services, demo: DemoLoad) -> None:
    earliest = _scalar(services, demo.project_id, "toUnixTimestamp64Micro(min(timestamp))")
    latest = _scalar(services, demo.project_id, "toUnixTimestamp64Micro(max(timestamp))")
    assert _micros(demo.now - timedelta(days=1)) <= earliest
    assert latest < _micros(demo.now)


def test_six_services_in_production_and_a_little_staging(services: Services, demo: DemoLoad) -> None:
    rows = services.log_store.query(
        f"SELECT service_name, resource_attributes['deployment.environment'] AS environment, count() "
        f"FROM {services.log_store.logs_table} WHERE project_id = {{project:UInt64}} GROUP BY ALL",
        {"project": demo.project_id},
    ).rows
    by_environment: Counter[str] = Counter()
    for _, environment, count in rows:
        by_environment[environment] += count
    assert {service for service, _, _ in rows} == {service.name for service in SERVICES}
    assert set(by_environment) == {"production", "staging"}
    assert 0.005 < by_environment["staging"] / demo.rows < 0.05


def test_severities_are_mostly_info_with_some_debug_and_warn_and_few_errors(
    services: Services, demo: DemoLoad
) -> None:
    rows = services.log_store.query(
        f"SELECT severity_text, any(severity_number), count() FROM {services.log_store.logs_table} "
        "WHERE project_id = {project:UInt64} GROUP BY severity_text",
        {"project": demo.project_id},
    ).rows
    share = {severity: count / demo.rows for severity, _, count in rows}
    assert {severity: number for severity, number, _ in rows} == {
        "debug": 5,
        "info": 9,
        "warn": 13,
        "error": 17,
    }
    assert share["info"] > 0.5
    assert 0.1 < share["debug"] < 0.4
    assert 0.01 < share["warn"] < 0.15
    assert 0.001 < share["error"] < 0.03


def test_records_carry_http_error_user_order_and_resource_attributes(
    services: Services, demo: DemoLoad
) -> None:
    def rows_with(where: str) -> int:
        return int(_scalar(services, demo.project_id, "count()", where))

    assert (
        rows_with("attributes['http.status_code'] = '200' AND attributes['http.route'] = '/api/cart'") > 100
    )
    assert rows_with("attributes['http.method'] = 'POST' AND attributes['http.status_code'] = '201'") > 100
    assert (
        rows_with(
            "NOT match(attributes['http.status_code'], '^[1-5][0-9][0-9]$') AND "
            "mapContains(attributes, 'http.status_code')"
        )
        == 0
    )
    assert rows_with("toUInt32OrNull(attributes['duration_ms']) > 0") > demo.rows / 2
    assert rows_with("startsWith(attributes['user.id'], 'u_')") > demo.rows / 4
    assert rows_with("startsWith(attributes['order.id'], 'ord_')") > 1000
    assert rows_with("attributes['error.type'] != ''") > 100
    assert rows_with("body LIKE '%payment declined: %'") > 20
    assert rows_with("startsWith(body, '{') AND isValidJSON(body)") > 1000
    for key in RESOURCE_KEYS:
        assert rows_with(f"resource_attributes[{key!r}] != ''") == demo.rows, key
    assert rows_with("resource_attributes['service.name'] != service_name") == 0
    assert rows_with("instrumentation_scope = 'opentelemetry.instrumentation.flask@0.48b0'") > 1000
    assert 0 < rows_with("event_name != ''") < demo.rows / 10


def test_requests_share_a_trace_across_services(services: Services, demo: DemoLoad) -> None:
    traced = _scalar(
        services, demo.project_id, "count()", "trace_id != toFixedString(unhex(repeat('0', 32)), 16)"
    )
    cross_service_traces = services.log_store.query(
        "SELECT count() FROM (SELECT trace_id FROM "
        f"{services.log_store.logs_table} WHERE project_id = {{project:UInt64}} "
        "AND trace_id != toFixedString(unhex(repeat('0', 32)), 16) "
        "GROUP BY trace_id HAVING uniqExact(service_name) >= 3)",
        {"project": demo.project_id},
    ).rows[0][0]
    assert traced > 0.9 * demo.rows
    assert cross_service_traces > 1000
    assert _scalar(services, demo.project_id, "uniqExact(span_id)") > 0.9 * traced


def test_auth_401_spike_stands_far_above_its_baseline(services: Services, demo: DemoLoad) -> None:
    inside, outside = _per_minute_inside_and_outside(
        services, demo, AUTH_401_SPIKE, "service_name = 'auth' AND attributes['http.status_code'] = '401'"
    )
    assert inside > 20 * outside
    assert _scalar(services, demo.project_id, "count()", "attributes['error.type'] = 'AccountLocked'") > 20


def test_checkout_latency_storm_follows_a_release_and_stands_far_above_its_baseline(
    services: Services, demo: DemoLoad
) -> None:
    inside, outside = _per_minute_inside_and_outside(
        services, demo, CHECKOUT_LATENCY, "service_name = 'checkout' AND severity_text IN ('warn', 'error')"
    )
    assert inside > 20 * outside
    released_inside, released_outside = _per_minute_inside_and_outside(
        services, demo, CHECKOUT_LATENCY, "resource_attributes['service.version'] = '2.9.0'"
    )
    assert released_inside > 0
    assert released_outside == 0
    assert _scalar(services, demo.project_id, "count()", "attributes['error.type'] = 'PoolTimeout'") > 20


def test_traffic_follows_the_day(services: Services, demo: DemoLoad) -> None:
    incident_free = " AND ".join(
        f"NOT (timestamp >= fromUnixTimestamp64Micro({_micros(start)}) "
        f"AND timestamp < fromUnixTimestamp64Micro({_micros(end)}))"
        for start, end in (incident.window(demo.now) for incident in (AUTH_401_SPIKE, CHECKOUT_LATENCY))
    )
    afternoon = _scalar(
        services, demo.project_id, "count()", f"toHour(timestamp) BETWEEN 13 AND 16 AND {incident_free}"
    )
    night = _scalar(
        services, demo.project_id, "count()", f"toHour(timestamp) BETWEEN 1 AND 4 AND {incident_free}"
    )
    assert afternoon > 2.5 * night


def test_an_incident_outside_the_requested_days_is_left_out(services: Services, demo: DemoLoad) -> None:
    assert _scalar(services, demo.project_id, "count()", "attributes['error.type'] = 'TimeoutError'") == 0


def test_payments_outage_two_days_ago_is_a_burst_of_timeout_errors(now: datetime) -> None:
    start, end = (_micros(moment) for moment in PAYMENTS_OUTAGE.window(now))
    inside = outside = 0
    for chunk in ShopSimulation(days=2, now=now, seed=7).chunks(project_id=1):
        for timestamp, severity, service, attributes in zip(
            chunk["timestamp"],
            chunk["severity_text"],
            chunk["service_name"],
            chunk["attributes"],
            strict=True,
        ):
            if (
                service == "payments"
                and severity == "error"
                and attributes.get("error.type") == "TimeoutError"
            ):
                if start <= timestamp < end:
                    inside += 1
                else:
                    outside += 1
    assert inside > 40 * 20  # at least 20 timeout errors a minute for 40 minutes
    assert outside == 0


def test_same_seed_and_now_give_the_same_data_and_another_seed_does_not(
    services: Services, demo: DemoLoad, now: datetime
) -> None:
    again = _load(services, "demo day again", now)

    def per_service(project_id: int) -> list[tuple[Any, ...]]:
        return services.log_store.query(
            f"SELECT service_name, severity_text, count(), sum(cityHash64(body, timestamp)) "
            f"FROM {services.log_store.logs_table} WHERE project_id = {{project:UInt64}} "
            "GROUP BY ALL ORDER BY ALL",
            {"project": project_id},
        ).rows

    assert again.rows == demo.rows
    assert per_service(again.project_id) == per_service(demo.project_id)

    def services_count(seed: int) -> Counter[str]:
        counts: Counter[str] = Counter()
        for chunk in ShopSimulation(days=1, now=now, seed=seed).chunks(project_id=1):
            counts.update(chunk["service_name"])
        return counts

    assert services_count(8) != services_count(7)


@pytest.mark.parametrize("days", [0, -1, True])
def test_days_must_be_a_positive_whole_number(services: Services, days: int) -> None:
    with pytest.raises(InvalidInput) as raised:
        load_demo(services.log_store, 1, days=days)
    assert raised.value.attr == "days"
