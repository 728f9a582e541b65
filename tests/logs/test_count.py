"""logs-count, logs-count-ranges and logs-sparkline-query over REST and MCP against the fixture: counts
equal the Python evaluation, the interval picker, bucket edges, series ranking, and agreement:
count == Σ count-ranges == Σ sparkline for the same filters."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faces import Faces, both, error_text, iso, new_faces
from fixture_data import FIXTURE_NOW, Fixture, generate_rows, insert_fixture, insert_rows

from logs_mcp.logs.models import NO_VALUE, OTHER_BREAKDOWN
from logs_mcp.logs.queries import bucket_start, interval_text, pick_interval
from logs_mcp.services import Services

FIVE_DAYS = {"date_from": iso(FIXTURE_NOW - timedelta(days=5)), "date_to": iso(FIXTURE_NOW)}
FILTER_SETS: dict[str, dict[str, Any]] = {
    "everything": {},
    "errors": {"severityLevels": ["error", "fatal"]},
    "two services": {"serviceNames": ["api", "payments"]},
    "search": {"searchTerm": "50%"},
    "attribute": {
        "filterGroup": [{"key": "http.status_code", "type": "log_attribute", "operator": "gte", "value": 500}]
    },
    "resource": {
        "filterGroup": [
            {
                "key": "k8s.namespace.name",
                "type": "log_resource_attribute",
                "operator": "exact",
                "value": "prod",
            }
        ]
    },
    "nothing": {"serviceNames": ["no-such-service"]},
}


@pytest.fixture(scope="module")
def faces(services: Services, server_url: str) -> Faces:
    return new_faces(services, server_url, "count fixture")


@pytest.fixture(scope="module")
def fixture(services: Services, faces: Faces) -> Fixture:
    return insert_fixture(services.log_store, faces.project_id)


def ask(faces: Faces, face: str, endpoint: str, query: dict[str, Any]) -> Any:
    return faces.rest(endpoint, query) if face == "rest" else faces.mcp(endpoint, query)


def sparkline_points(faces: Faces, face: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    answer = ask(faces, face, "sparkline", query)
    return answer if face == "rest" else answer["results"]  # REST answers PostHog's bare list


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# --- count -----------------------------------------------------------------------------------------


@both
@pytest.mark.parametrize("filters", FILTER_SETS)
def test_count_equals_the_python_count_and_every_breakdown_sums_to_it(
    faces: Faces, fixture: Fixture, face: str, filters: str
) -> None:
    query = {"dateRange": FIVE_DAYS, **FILTER_SETS[filters]}
    expected = fixture.count(query)
    assert ask(faces, face, "count", query)["count"] == expected
    for buckets in (1, 7, 50, 100):
        ranges = ask(faces, face, "count-ranges", {**query, "targetBuckets": buckets})["ranges"]
        assert sum(bucket["count"] for bucket in ranges) == expected
    for breakdown in ("severity", "service"):
        points = sparkline_points(faces, face, {**query, "sparklineBreakdownBy": breakdown})
        assert sum(point["count"] for point in points) == expected


def test_count_answers_zero_with_a_hint_over_mcp_only(faces: Faces, fixture: Fixture) -> None:
    query = {"dateRange": FIVE_DAYS, "severityLevels": ["fatal"], "serviceNames": ["worker "]}
    assert faces.rest("count", query) == {"count": 0}
    answer = faces.mcp("count", query)
    assert answer["count"] == 0 and "case-sensitively" in answer["hint"] and "lowercase" in answer["hint"]
    assert faces.mcp("count", {"dateRange": FIVE_DAYS})["hint"] is None


# --- count-ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "interval"), [(10, "12h"), (5, "1d"), (20, "6h"), (50, "2h"), (100, "1h"), (1, "1d")]
)
def test_the_interval_picker_over_a_five_day_window(
    faces: Faces, fixture: Fixture, target: int, interval: str
) -> None:
    assert interval_text(pick_interval(timedelta(days=5), target)) == interval
    assert (
        faces.rest("count-ranges", {"dateRange": FIVE_DAYS, "targetBuckets": target})["interval"] == interval
    )
    assert (
        faces.mcp("count-ranges", {"dateRange": FIVE_DAYS, "targetBuckets": target})["interval"] == interval
    )


@pytest.mark.parametrize(("target", "clamped"), [(0, 1), (-5, 1), (999, 100), (101, 100)])
def test_target_buckets_are_clamped_to_one_to_a_hundred(
    faces: Faces, fixture: Fixture, target: int, clamped: int
) -> None:
    answer = faces.rest("count-ranges", {"dateRange": FIVE_DAYS, "targetBuckets": target})
    assert answer["interval"] == interval_text(pick_interval(timedelta(days=5), clamped))


@pytest.mark.parametrize(
    ("window", "target", "interval"),
    [
        (timedelta(minutes=1), 10, "5s"),
        (timedelta(seconds=20), 10, "1s"),
        (timedelta(minutes=50), 10, "5m"),
        (timedelta(hours=1), 4, "15m"),
        (timedelta(hours=3), 2, "1h"),  # 90 minutes is as near to 1h as to 2h: the smaller wins
        (timedelta(days=30), 10, "1d"),
    ],
)
def test_interval_picker_table(window: timedelta, target: int, interval: str) -> None:
    assert interval_text(pick_interval(window, target)) == interval


def test_interval_picker_ties_take_the_smaller_width() -> None:
    # 7.5 s per bucket is as near to 5 s as to 10 s
    assert pick_interval(timedelta(seconds=75), 10) == 5
    assert [interval_text(s) for s in (1, 30, 60, 90 * 60, 7200, 86400)] == [
        "1s",
        "30s",
        "1m",
        "90m",
        "2h",
        "1d",
    ]


@both
def test_buckets_are_epoch_aligned_half_open_and_never_empty(
    faces: Faces, fixture: Fixture, face: str
) -> None:
    window = {
        "date_from": iso(FIXTURE_NOW - timedelta(hours=30, minutes=7)),
        "date_to": iso(FIXTURE_NOW - timedelta(minutes=13)),
    }
    query = {"dateRange": window, "targetBuckets": 30, "severityLevels": ["error"]}
    answer = ask(faces, face, "count-ranges", query)
    assert answer["interval"] == "1h"
    width = timedelta(hours=1)
    start, end = utc(window["date_from"]), utc(window["date_to"])
    expected = Counter(bucket_start(row["timestamp"], 3600) for row in fixture.matching(query))
    got = {}
    for bucket in answer["ranges"]:
        assert bucket["date_from"].endswith("Z") and bucket["date_to"].endswith("Z")
        low, high = utc(bucket["date_from"]), utc(bucket["date_to"])
        assert high - low == width and low.timestamp() % 3600 == 0 and bucket["count"] > 0
        assert low < end and high > start
        got[low] = bucket["count"]
    assert got == dict(expected)
    assert [utc(b["date_from"]) for b in answer["ranges"]] == sorted(got)


@both
def test_an_empty_window_has_no_ranges_but_an_interval(faces: Faces, fixture: Fixture, face: str) -> None:
    answer = ask(
        faces,
        face,
        "count-ranges",
        {"dateRange": {"date_from": iso(FIXTURE_NOW), "date_to": iso(FIXTURE_NOW)}},
    )
    assert answer["ranges"] == [] and answer["interval"] == "1s"
    if face == "mcp":
        assert "dateRange" in answer["hint"]


# --- sparkline -------------------------------------------------------------------------------------


@both
@pytest.mark.parametrize("breakdown", ["severity", "service"])
def test_sparkline_series_per_bucket_with_a_zero_spine(
    faces: Faces, fixture: Fixture, face: str, breakdown: str
) -> None:
    query = {"dateRange": FIVE_DAYS, "sparklineBreakdownBy": breakdown, "severityLevels": ["fatal", "error"]}
    points = sparkline_points(faces, face, query)
    width = pick_interval(timedelta(days=5), 50)
    assert width == 7200
    column = "severity_text" if breakdown == "severity" else "service_name"
    expected = Counter(
        (bucket_start(row["timestamp"], width), row[column] or NO_VALUE) for row in fixture.matching(query)
    )
    got = Counter()
    times = []
    for point in points:
        assert set(point) == {"time", breakdown, "count", "bytes_uncompressed"}
        moment = utc(point["time"])
        times.append((moment, point[breakdown]))
        if point["count"]:
            got[(moment, point[breakdown])] = point["count"]
            assert point["bytes_uncompressed"] > point["count"]
        else:
            assert point[breakdown] == NO_VALUE and point["bytes_uncompressed"] == 0
    assert got == expected
    assert times == sorted(times)
    spine = sorted({moment for moment, _ in times})
    first, last = (
        bucket_start(FIXTURE_NOW - timedelta(days=5), width),
        bucket_start(FIXTURE_NOW - timedelta(microseconds=1), width),
    )
    assert spine == [first + timedelta(seconds=width * n) for n in range(len(spine))] and spine[-1] == last
    assert len(times) == len(set(times))


def test_sparkline_keeps_the_top_ten_series_and_sums_the_rest_as_other(
    services: Services, faces: Faces
) -> None:
    project = new_faces(services, faces.base_url, "many services")
    rows = generate_rows(project.project_id, size=13 * 6)
    for index, row in enumerate(rows):
        row["service_name"] = f"service-{index % 13:02d}"
        row["timestamp"] = FIXTURE_NOW - timedelta(minutes=10)
    extra = generate_rows(project.project_id, size=12, seed=3)
    for k, row in enumerate(extra):
        row["service_name"] = f"service-{k:02d}"
        row["timestamp"] = FIXTURE_NOW - timedelta(minutes=10)
    insert_rows(services.log_store, rows + extra)
    query = {"dateRange": {"date_from": iso(FIXTURE_NOW - timedelta(hours=1)), "date_to": iso(FIXTURE_NOW)}}
    points = project.rest("sparkline", {**query, "sparklineBreakdownBy": "service"})
    series = {point["service"]: point["count"] for point in points if point["count"]}
    # services 00..11 have 7 rows each, 12 has 6: the top 10 by count then name are 00..09
    assert set(series) == {f"service-{k:02d}" for k in range(10)} | {OTHER_BREAKDOWN}
    assert series[OTHER_BREAKDOWN] == 7 + 7 + 6
    assert sum(series.values()) == project.rest("count", query)["count"] == len(rows) + len(extra)


# --- bad input, isolation, the default window ------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "query", "attr"),
    [
        ("count", {"dateRange": {"date_from": "last tuesday"}}, "query.dateRange.date_from"),
        ("count", {"limit": 10}, "query.limit"),
        ("count-ranges", {"targetBuckets": "many"}, "query.targetBuckets"),
        ("count-ranges", {"dateRange": {"date_from": "-1h", "date_to": "-3h"}}, "query.dateRange.date_to"),
        ("sparkline", {"sparklineBreakdownBy": "host"}, "query.sparklineBreakdownBy"),
        ("sparkline", {"sparklineRankBy": "size"}, "query.sparklineRankBy"),
        ("sparkline", {"severityLevels": ["Error"]}, "query.severityLevels.0"),
        (
            "count",
            {"filterGroup": [{"key": "a", "type": "log_attribute", "operator": "like", "value": "b"}]},
            "query.filterGroup.values.0.values.0.operator",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    faces: Faces, endpoint: str, query: dict[str, Any], attr: str
) -> None:
    response = faces.post(endpoint, {"query": query})
    assert response.status_code == 400 and response.json()["attr"] == attr, response.text
    result = faces.call(
        {"count": "logs-count", "count-ranges": "logs-count-ranges", "sparkline": "logs-sparkline-query"}[
            endpoint
        ],
        {"query": query},
    )
    assert result.is_error and attr.split(".")[1] in error_text(result)


def test_counts_never_include_another_projects_rows(
    services: Services, faces: Faces, fixture: Fixture
) -> None:
    other = new_faces(services, faces.base_url, "count isolation")
    insert_fixture(services.log_store, other.project_id, size=40, seed=5)
    query = {"dateRange": FIVE_DAYS}
    assert other.rest("count", query)["count"] == 40
    assert faces.rest("count", query)["count"] == fixture.count(query)
    assert sum(b["count"] for b in other.rest("count-ranges", query)["ranges"]) == 40
    assert (
        faces.post("count", {"query": query}, project_id=other.project_id, key=faces.api_key).status_code
        == 403
    )


def test_counts_are_exact_at_minute_edges(services: Services, faces: Faces) -> None:
    """Whole minutes are counted from log_minute_counts and the partial minutes at either end from the
    rows: a log on either side of each edge is counted once, in its bucket."""
    project = new_faces(services, faces.base_url, "count minute edges")
    minute = FIXTURE_NOW - timedelta(hours=2)
    seconds = (-0.000001, 0, 29.999999, 30, 59.999999, 60, 150, 179.999999, 180)
    stamps = [minute + timedelta(seconds=offset) for offset in seconds]
    rows = generate_rows(project.project_id, size=len(stamps))
    for row, stamp in zip(rows, stamps, strict=True):
        row.update(timestamp=stamp, severity_text="error", service_name="api")
    insert_rows(services.log_store, rows)
    # Windows on and off the minute grid; one bucket is asked for, so the width is 2m, 10s or 5m.
    for start, end in [(0, 180), (30, 150), (0, 30), (29.999999, 180), (-60, 240)]:
        low, high = minute + timedelta(seconds=start), minute + timedelta(seconds=end)
        inside = [stamp for stamp in stamps if low <= stamp < high]
        width = pick_interval(high - low, 1)
        for filters in ({}, {"severityLevels": ["error"], "serviceNames": ["api"]}):
            query = {"dateRange": {"date_from": iso(low), "date_to": iso(high)}, **filters}
            assert project.rest("count", query)["count"] == len(inside), (start, end)
            ranges = project.rest("count-ranges", {**query, "targetBuckets": 1})["ranges"]
            expected = Counter(bucket_start(stamp, width) for stamp in inside)
            assert {utc(bucket["date_from"]): bucket["count"] for bucket in ranges} == expected, (start, end)


def test_every_endpoint_defaults_to_the_last_hour(services: Services, faces: Faces) -> None:
    project = new_faces(services, faces.base_url, "count default window")
    now = datetime.now(UTC)
    rows = generate_rows(project.project_id, now=now, size=10)
    for index, row in enumerate(rows):
        row["timestamp"] = now - timedelta(minutes=30 if index < 4 else 90)
    insert_rows(services.log_store, rows)
    for face in ("rest", "mcp"):
        assert ask(project, face, "count", {})["count"] == 4
        assert sum(b["count"] for b in ask(project, face, "count-ranges", {})["ranges"]) == 4
        assert sum(p["count"] for p in sparkline_points(project, face, {})) == 4
        assert ask(project, face, "count-ranges", {})["interval"] == "5m"
    for tool in ("logs-count", "logs-count-ranges", "logs-sparkline-query", "query-logs"):
        result = project.call(tool, {})  # no `query` at all: the last hour, unfiltered
        assert not result.is_error and result.structured_content is not None, error_text(result)
    assert project.call("logs-count", {}).structured_content == {"truncated": False, "hint": None, "count": 4}


def test_the_tools_are_read_only_and_teach_the_workflow(faces: Faces) -> None:
    import anyio
    from mcp import Client

    from logs_mcp.logs.accounts import READ, Principal
    from logs_mcp.tools.server import build_mcp_server

    server = build_mcp_server(
        faces.services, local_principal=Principal(frozenset({READ}), frozenset({1})), http_auth=False
    )

    async def listing() -> dict[str, Any]:
        async with Client(server) as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = anyio.run(listing)
    for name in ("query-logs", "logs-count", "logs-count-ranges", "logs-sparkline-query"):
        tool = tools[name]
        assert tool.annotations and tool.annotations.read_only_hint and not tool.annotations.destructive_hint
        assert list(tool.input_schema["properties"]) == ["query", "project_id"]
        assert tool.output_schema and "truncated" in tool.output_schema["properties"]
    assert (
        "logs-count" in tools["query-logs"].description
        and "logs-count-ranges" in tools["query-logs"].description
    )
    assert "query-logs" in tools["logs-count"].description


def test_a_sparkline_over_the_budget_is_cut_and_flagged(faces: Faces, fixture: Fixture) -> None:
    query = {"dateRange": FIVE_DAYS, "sparklineBreakdownBy": "service"}
    result = faces.call("logs-sparkline-query", {"query": query}, budget=600)
    assert len(result.content[0].text) <= 600 * 4  # type: ignore[union-attr]
    answer = result.structured_content
    assert answer is not None and answer["truncated"] is True and "narrow" in answer["hint"]
    full = faces.mcp("sparkline", query)
    assert full["truncated"] is False and answer["results"] == full["results"][: len(answer["results"])]


def test_an_unknown_field_is_named_with_the_allowed_ones(faces: Faces) -> None:
    response = faces.post("count", {"query": {"personId": "p-1"}})
    assert response.status_code == 400 and response.json()["attr"] == "query.personId"
    assert "allowed: dateRange, severityLevels" in response.json()["detail"]
