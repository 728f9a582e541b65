"""query-logs over REST (POST logs/query) and MCP (query-logs) against the fixture: row shape, every
operator both ways, pagination in both orders, bad input naming the field, isolation, token budget."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faces import Faces, both, error_text, iso, new_faces
from fixture_data import FIXTURE_NOW, Fixture, generate_rows, insert_fixture, insert_rows, only_filters

from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.logs.queries import first_slice, time_slices
from logs_mcp.services import Services
from logs_mcp.store.filter_sql import build_where, order_by_sql
from logs_mcp.store.filters import resolve_range

WINDOW = {"date_from": iso(FIXTURE_NOW - timedelta(days=6)), "date_to": iso(FIXTURE_NOW)}


@pytest.fixture(scope="module")
def faces(services: Services, server_url: str) -> Faces:
    return new_faces(services, server_url, "query-logs fixture")


@pytest.fixture(scope="module")
def fixture(services: Services, faces: Faces) -> Fixture:
    return insert_fixture(services.log_store, faces.project_id)


def with_window(query: dict[str, Any]) -> dict[str, Any]:
    return {"dateRange": WINDOW, **query}


def rest_uuids(faces: Faces, query: dict[str, Any]) -> list[str]:
    body = faces.rest("query", with_window({"limit": 1000, **query}))
    assert not body["hasMore"]
    return [row["uuid"] for row in body["results"]]


def expected_uuids(fixture: Fixture, query: dict[str, Any]) -> set[str]:
    return {str(row["uuid"]) for row in fixture.matching(with_window(query))}


def ordered_uuids(services: Services, fixture: Fixture, query: dict[str, Any], order: str) -> list[str]:
    """The rows as ONE ordered query returns them (no slicing, no pages): the reference for pages."""
    filters = only_filters(with_window(query))
    where = build_where(fixture.project_id, filters, *resolve_range(filters.date_range, fixture.now))
    sql = (
        f"SELECT toString(uuid) FROM {services.log_store.logs_table} WHERE {where.sql} "
        f"ORDER BY {order_by_sql(order)}"  # type: ignore[arg-type]
    )
    return [row[0] for row in services.log_store.query(sql, where.params).rows]


def leaf(key: str, operator: str, value: Any = None, type: str = "log_attribute") -> dict[str, Any]:
    node = {"key": key, "type": type, "operator": operator}
    return node if value is None else {**node, "value": value}


# --- row shape -------------------------------------------------------------------------------------


def test_rows_have_the_documented_shape_and_round_trip_the_stored_values(
    faces: Faces, fixture: Fixture
) -> None:
    body = faces.rest("query", with_window({"limit": 1000}))
    assert set(body) == {"query", "results", "hasMore", "nextCursor", "maxExportableLogs", "columns"}
    assert body["hasMore"] is False and body["nextCursor"] is None
    assert body["query"]["dateRange"]["date_to"].startswith(FIXTURE_NOW.strftime("%Y-%m-%dT%H:%M:%S"))
    by_uuid = {str(row["uuid"]): row for row in fixture.rows}
    assert {row["uuid"] for row in body["results"]} == set(by_uuid)
    for row in body["results"]:
        stored = by_uuid[row["uuid"]]
        assert row["trace_id"] == stored["trace_id"].hex().upper() and len(row["trace_id"]) == 32
        assert row["span_id"] == stored["span_id"].hex().upper() and len(row["span_id"]) == 16
        assert datetime.fromisoformat(row["timestamp"]) == stored["timestamp"]
        assert row["timestamp"].endswith("Z")
        assert row["attributes"] == stored["attributes"]
        assert row["resource_attributes"] == stored["resource_attributes"]
        assert row["resource_fingerprint"] == str(stored["resource_fingerprint"])
        assert row["level"] == row["severity_text"] == stored["severity_text"]
        assert (row["body"], row["severity_number"], row["event_name"]) == (
            stored["body"],
            stored["severity_number"],
            stored["event_name"],
        )
        assert row["live_logs_checkpoint"] is None


def test_rows_come_in_timestamp_order_both_ways(faces: Faces, fixture: Fixture) -> None:
    for order, reverse in (("latest", True), ("earliest", False)):
        rows = faces.rest("query", with_window({"limit": 1000, "orderBy": order}))["results"]
        stamps = [datetime.fromisoformat(row["timestamp"]) for row in rows]
        assert stamps == sorted(stamps, reverse=reverse)
        assert len(stamps) == len(fixture.rows)


def test_exclude_attributes_empties_both_maps_and_is_the_mcp_default(faces: Faces, fixture: Fixture) -> None:
    query = with_window({"limit": 5})
    assert all(
        row["attributes"] == {}
        for row in faces.rest("query", {**query, "excludeAttributes": True})["results"]
    )
    assert any(row["attributes"] for row in faces.rest("query", query)["results"])
    mcp_rows = faces.mcp("query", query)["results"]
    assert all(row["attributes"] == row["resource_attributes"] == {} for row in mcp_rows)
    assert any(
        row["resource_attributes"]
        for row in faces.mcp("query", {**query, "excludeAttributes": False})["results"]
    )


# --- every operator, positive and negative ---------------------------------------------------------

OPERATOR_CASES: dict[str, dict[str, Any]] = {
    # numeric text compares as numbers
    "status exact 404": {"filterGroup": [leaf("http.status_code", "exact", "404")]},
    "status is_not 404": {"filterGroup": [leaf("http.status_code", "is_not", "404")]},
    "status gte 500": {"filterGroup": [leaf("http.status_code", "gte", "500")]},
    "status lte 204": {"filterGroup": [leaf("http.status_code", "lte", 204)]},
    "duration gt 1000": {"filterGroup": [leaf("duration_ms", "gt", 1000)]},
    "duration lt 99.5": {"filterGroup": [leaf("duration_ms", "lt", "99.5")]},
    "duration between": {"filterGroup": [leaf("duration_ms", "between", [100, 500])]},
    "duration not_between": {"filterGroup": [leaf("duration_ms", "not_between", [100, 500])]},
    "status in": {"filterGroup": [leaf("http.status_code", "in", ["500", "503"])]},
    "status not_in": {"filterGroup": [leaf("http.status_code", "not_in", ["500", "503"])]},
    # text
    "method exact": {"filterGroup": [leaf("http.method", "exact", "GET")]},
    "method is_not": {"filterGroup": [leaf("http.method", "is_not", "GET")]},
    "method gt text": {"filterGroup": [leaf("http.method", "gt", "GET")]},
    "method in text": {"filterGroup": [leaf("http.method", "in", ["PUT", "DELETE"])]},
    "user icontains": {"filterGroup": [leaf("user.id", "icontains", "U-1")]},
    "user not_icontains": {"filterGroup": [leaf("user.id", "not_icontains", "U-1")]},
    "method regex": {"filterGroup": [leaf("http.method", "regex", "^P(OST|UT)$")]},
    "method not_regex": {"filterGroup": [leaf("http.method", "not_regex", "^P")]},
    "user is_set": {"filterGroup": [leaf("user.id", "is_set")]},
    "user is_not_set": {"filterGroup": [leaf("user.id", "is_not_set")]},
    "flag exact bool": {"filterGroup": [leaf("feature.enabled", "exact", True)]},
    # resource attributes
    "namespace exact": {
        "filterGroup": [leaf("k8s.namespace.name", "exact", "prod", "log_resource_attribute")]
    },
    "namespace is_not": {
        "filterGroup": [leaf("k8s.namespace.name", "is_not", "prod", "log_resource_attribute")]
    },
    "host icontains": {"filterGroup": [leaf("host.name", "icontains", "HOST-1", "log_resource_attribute")]},
    "host not_in": {
        "filterGroup": [leaf("host.name", "not_in", ["host-1", "host-2"], "log_resource_attribute")]
    },
    "env regex": {"filterGroup": [leaf("deployment.environment", "regex", "^can", "log_resource_attribute")]},
    "env is_set": {"filterGroup": [leaf("deployment.environment", "is_set", None, "log_resource_attribute")]},
    "env is_not_set": {
        "filterGroup": [leaf("deployment.environment", "is_not_set", None, "log_resource_attribute")]
    },
    # top-level columns
    "message icontains %": {"filterGroup": [leaf("message", "icontains", "50%", "log")]},
    "body icontains _": {"filterGroup": [leaf("body", "icontains", "user_id", "log")]},
    "body icontains backslash": {"filterGroup": [leaf("body", "icontains", "c:\\app\\", "log")]},
    "body not_icontains %": {"filterGroup": [leaf("body", "not_icontains", "%", "log")]},
    "trace_id is_set": {"filterGroup": [leaf("trace_id", "is_set", None, "log")]},
    "trace_id is_not_set": {"filterGroup": [leaf("trace_id", "is_not_set", None, "log")]},
    "severity_level in": {"filterGroup": [leaf("severity_level", "exact", ["error", "fatal"], "log")]},
    "severity_level is_not": {"filterGroup": [leaf("severity_level", "is_not", "info", "log")]},
    "service_name regex": {"filterGroup": [leaf("service_name", "regex", "^(api|web)$", "log")]},
    "event_name is_set": {"filterGroup": [leaf("event_name", "is_set", None, "log")]},
    # shared fields and groups
    "searchTerm literal %": {"searchTerm": "50% OF"},
    "searchTerm literal _": {"searchTerm": "100_000"},
    "searchTerm backslash": {"searchTerm": "C:\\APP"},
    "searchTerm quote": {"searchTerm": '"sync-'},
    "serviceNames": {"serviceNames": ["api", "Checkout"]},
    "serviceNames empty service": {"serviceNames": [""]},
    "severityLevels": {"severityLevels": ["warn", "error"]},
    "or group": {
        "filterGroup": {
            "type": "AND",
            "values": [
                {
                    "type": "OR",
                    "values": [leaf("http.status_code", "exact", "500"), leaf("user.id", "exact", "u-3")],
                }
            ],
        }
    },
    "everything at once": {
        "serviceNames": ["api", "web", "worker"],
        "severityLevels": ["info", "warn", "error"],
        "filterGroup": [
            leaf("http.status_code", "lt", 400),
            leaf("k8s.namespace.name", "exact", "prod", "log_resource_attribute"),
        ],
    },
}


@pytest.mark.parametrize("case", OPERATOR_CASES)
def test_every_operator_selects_exactly_the_rows_python_does(
    faces: Faces, fixture: Fixture, case: str
) -> None:
    query = OPERATOR_CASES[case]
    expected = expected_uuids(fixture, query)
    assert 0 < len(expected) < len(fixture.rows), "a case that tells matching from non-matching rows"
    returned = rest_uuids(faces, query)
    assert len(returned) == len(set(returned))
    assert set(returned) == expected
    assert faces.mcp("count", with_window(query))["count"] == len(expected)


@pytest.mark.parametrize("operator", ["exact", "in"])
def test_trace_and_span_ids_filter_as_hex(faces: Faces, fixture: Fixture, operator: str) -> None:
    traced = [row for row in fixture.rows if any(row["trace_id"])][:3]
    for key in ("trace_id", "span_id"):
        values = [row[key].hex() for row in traced]
        value = values if operator == "in" else values[0].upper()
        expected = {
            str(row["uuid"])
            for row in fixture.rows
            if row[key].hex() in values[: len(values) if operator == "in" else 1]
        }
        assert set(rest_uuids(faces, {"filterGroup": [leaf(key, operator, value, "log")]})) == expected


def test_resource_fingerprint_filter(faces: Faces, fixture: Fixture) -> None:
    fingerprint = fixture.rows[0]["resource_fingerprint"]
    expected = {str(row["uuid"]) for row in fixture.rows if row["resource_fingerprint"] == fingerprint}
    assert set(rest_uuids(faces, {"resourceFingerprint": str(fingerprint)})) == expected


# --- pagination ------------------------------------------------------------------------------------


def pages(read: Any, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        page = read({**query, **({"after": after} if after else {})})
        yield page
        if not page["hasMore"]:
            return
        assert page["nextCursor"]
        after = page["nextCursor"]


@both
@pytest.mark.parametrize("order", ["latest", "earliest"])
def test_pages_concatenate_to_the_single_ordered_query(
    services: Services, faces: Faces, fixture: Fixture, face: str, order: str
) -> None:
    query = with_window({"orderBy": order, "limit": 37, "severityLevels": ["info", "warn", "debug"]})
    read = (lambda q: faces.rest("query", q)) if face == "rest" else (lambda q: faces.mcp("query", q))
    collected = []
    for page in pages(read, query):
        assert len(page["results"]) == 37 or not page["hasMore"]
        collected += [row["uuid"] for row in page["results"]]
    assert collected == ordered_uuids(services, fixture, query, order)
    assert len(set(collected)) == len(collected) == len(expected_uuids(fixture, query))


def test_page_ties_on_one_timestamp_are_split_by_uuid_without_loss(services: Services, faces: Faces) -> None:
    """Eleven rows at one microsecond, read two at a time."""
    other = new_faces(services, faces.base_url, "ties")
    rows = generate_rows(other.project_id, size=11)
    for row in rows:
        row["timestamp"] = FIXTURE_NOW - timedelta(minutes=5)
    insert_rows(services.log_store, rows)
    for order in ("latest", "earliest"):
        query = with_window({"orderBy": order, "limit": 2})
        collected = [
            row["uuid"] for page in pages(lambda q: other.rest("query", q), query) for row in page["results"]
        ]
        assert sorted(collected) == sorted(str(row["uuid"]) for row in rows)


def test_time_slices_cover_the_window_once_from_the_sort_edge() -> None:
    end = FIXTURE_NOW
    for span in (timedelta(minutes=10), timedelta(hours=1), timedelta(hours=5), timedelta(days=3)):
        start = end - span
        latest = time_slices(start, end, "latest")
        earliest = time_slices(start, end, "earliest")
        assert latest[0][1] == end and latest[-1][0] == start
        assert earliest[0][0] == start and earliest[-1][1] == end
        assert all(a[0] == b[1] for a, b in itertools.pairwise(latest))
        assert all(a[1] == b[0] for a, b in itertools.pairwise(earliest))
    assert [hi - lo for lo, hi in time_slices(end - timedelta(days=3), end, "latest")][:3] == [
        timedelta(minutes=3),
        timedelta(minutes=57),
        timedelta(hours=5),
    ]


def test_the_first_slice_holds_about_fifty_thousand_logs_at_the_project_rate() -> None:
    assert first_slice(0) == first_slice(50_000) == timedelta(hours=1)
    assert first_slice(100_000) == timedelta(minutes=30)
    assert first_slice(1_000_000) == first_slice(10**9) == timedelta(minutes=3)
    end = FIXTURE_NOW
    slices = time_slices(end - timedelta(days=3), end, "latest", first_slice(100_000))
    assert [hi - lo for lo, hi in slices] == [
        timedelta(minutes=30),
        timedelta(minutes=30),
        timedelta(hours=5),
        timedelta(hours=66),
    ]
    day = time_slices(end - timedelta(days=1), end, "latest", first_slice(0))
    assert [hi - lo for lo, hi in day] == [timedelta(hours=1), timedelta(hours=23)]
    start = end - timedelta(hours=2)
    assert time_slices(start, end, "earliest", first_slice(0)) == [(start, end)]


# --- the default window ----------------------------------------------------------------------------


def test_without_a_date_range_the_last_hour_is_read(services: Services, faces: Faces) -> None:
    project = new_faces(services, faces.base_url, "default window")
    now = datetime.now(UTC)
    rows = insert_fixture(services.log_store, project.project_id, now=now, size=8).rows
    recent = {str(row["uuid"]) for row in rows if row["timestamp"] >= now - timedelta(minutes=59)}
    old = {str(row["uuid"]) for row in rows if row["timestamp"] < now - timedelta(minutes=61)}
    returned = {row["uuid"] for row in project.rest("query", {})["results"]}
    assert recent <= returned and not (old & returned)
    assert {row["uuid"] for row in project.mcp("query", {})["results"]} == returned


# --- bad input -------------------------------------------------------------------------------------

BAD_QUERIES: list[tuple[Any, str]] = [
    ({"limit": 0}, "query.limit"),
    ({"limit": 1001}, "query.limit"),
    ({"limit": "ten"}, "query.limit"),
    ({"orderBy": "sideways"}, "query.orderBy"),
    ({"dateRange": {"date_from": "yesterday-ish"}}, "query.dateRange.date_from"),
    ({"dateRange": {"date_from": "-1h", "date_to": "-2h"}}, "query.dateRange.date_to"),
    ({"dateRange": "-1h"}, "query.dateRange"),
    ({"severityLevels": ["ERROR"]}, "query.severityLevels.0"),
    ({"serviceNames": "api"}, "query.serviceNames"),
    ({"after": "not-a-cursor"}, "query.after"),
    ({"after": base64.b64encode(json.dumps({"uuid": "x"}).encode()).decode()}, "query.after"),
    ({"customColumns": ["body"]}, "query.customColumns"),
    ({"excludeAttributes": "maybe"}, "query.excludeAttributes"),
    ({"filterGroup": [leaf("a", "resembles", "b")]}, "query.filterGroup.values.0.values.0.operator"),
    ({"filterGroup": [leaf("a", "regex", "(unclosed")]}, "query.filterGroup.values.0.values.0.value"),
    ({"filterGroup": [leaf("a", "regex", "(?=lookahead)")]}, "query.filterGroup.values.0.values.0.value"),
    ({"filterGroup": [leaf("a", "between", [1])]}, "query.filterGroup.values.0.values.0.value"),
    ({"filterGroup": [leaf("nope", "exact", "x", "log")]}, "query.filterGroup.values.0.values.0.key"),
    ({"filterGroup": [leaf("trace_id", "exact", "xyz", "log")]}, "query.filterGroup.values.0.values.0.value"),
    ({"filterGroup": [leaf("a", "in", [str(n) for n in range(300)])]}, "query.filterGroup"),
    ({"filterGroup": "status=500"}, "query.filterGroup"),
    ({"resourceFingerprint": "-1"}, "query.resourceFingerprint"),
]


def nested(depth: int) -> dict[str, Any]:
    group: dict[str, Any] = {"type": "AND", "values": [leaf("a", "exact", "b")]}
    for _ in range(depth):
        group = {"type": "AND", "values": [group]}
    return group


@pytest.mark.parametrize(
    ("query", "attr"), [*BAD_QUERIES, ({"filterGroup": nested(20)}, "query.filterGroup")]
)
def test_bad_input_is_a_400_naming_the_field(faces: Faces, query: Any, attr: str) -> None:
    response = faces.post("query", {"query": query})
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["type"], body["code"], body["attr"]) == ("validation_error", "invalid_input", attr)
    assert body["detail"]
    result = faces.call("query-logs", {"query": query})
    assert result.is_error
    message = error_text(result)
    assert attr.removeprefix("query.").split(".")[0] in message


@pytest.mark.parametrize(
    "body", [{"query": "status=500"}, {"query": None}, {}, {"query": [1]}, [1, 2], b"{not json", b""]
)
def test_a_missing_or_non_object_query_is_a_400_naming_query(faces: Faces, body: Any) -> None:
    for endpoint in ("query", "count", "count-ranges", "sparkline", "query/"):
        response = faces.post(endpoint, body)
        assert response.status_code == 400, (endpoint, response.text)
        assert response.json()["attr"] == "query"


def test_the_cursor_error_names_after_in_the_tool_error(faces: Faces) -> None:
    result = faces.call("query-logs", {"query": {"after": "garbage"}})
    assert result.is_error and "query.after" in error_text(result)


# --- auth and isolation ----------------------------------------------------------------------------


def test_one_project_never_sees_another_projects_rows(
    services: Services, faces: Faces, fixture: Fixture
) -> None:
    other = new_faces(services, faces.base_url, "isolation")
    insert_fixture(services.log_store, other.project_id, size=50, seed=99)
    mine = set(rest_uuids(faces, {}))
    theirs = set(rest_uuids(other, {}))
    assert len(theirs) == 50 and not (mine & theirs)
    assert faces.post("query", {"query": {}}, project_id=other.project_id).status_code == 403
    assert faces.post("query", {"query": {}}, key="lmk_wrong").status_code == 401
    result = faces.call("query-logs", {"query": {}, "project_id": other.project_id})
    assert result.is_error and str(other.project_id) in error_text(result)


def test_a_write_only_key_may_not_read(services: Services, faces: Faces) -> None:
    key = services.accounts.create_api_key([faces.project_id], [WRITE], label="writer").key
    response = faces.post("query", {"query": {}}, key=key)
    assert response.status_code == 403 and "logs:read" in response.json()["detail"]


# --- MCP: token budget and hints -------------------------------------------------------------------


def test_a_page_over_the_budget_is_cut_and_its_cursor_continues_right_after(
    services: Services, faces: Faces, fixture: Fixture
) -> None:
    query = with_window({"limit": 200, "excludeAttributes": False})
    result = faces.call("query-logs", {"query": query}, budget=2000)
    text = result.content[0].text  # type: ignore[union-attr]
    assert len(text) <= 2000 * 4
    page = result.structured_content
    assert page is not None
    assert page["truncated"] is True and page["hasMore"] is True and "nextCursor" in page["hint"]
    assert 0 < len(page["results"]) < 200
    reference = ordered_uuids(services, fixture, query, "latest")
    kept = [row["uuid"] for row in page["results"]]
    assert kept == reference[: len(kept)]
    following = faces.mcp("query", {**query, "limit": 1, "after": page["nextCursor"]})
    assert following["results"][0]["uuid"] == reference[len(kept)]


def test_the_default_budget_holds_a_full_page_of_a_thousand_rows(faces: Faces, fixture: Fixture) -> None:
    result = faces.call("query-logs", {"query": with_window({"limit": 1000, "excludeAttributes": False})})
    text = result.content[0].text  # type: ignore[union-attr]
    assert len(text) <= faces.services.settings.mcp_token_budget * 4
    assert result.structured_content is not None and result.structured_content["truncated"] is True


def test_a_huge_body_is_shortened_not_dropped(services: Services, faces: Faces) -> None:
    project = new_faces(services, faces.base_url, "huge body")
    rows = generate_rows(project.project_id, size=2)
    rows[0]["body"] = "x" * 50_000
    insert_rows(services.log_store, rows)
    page = project.mcp("query", with_window({"searchTerm": "xxx"}), budget=1000)
    assert page["truncated"] is True and len(page["results"]) == 1
    assert page["results"][0]["body"].endswith("…[truncated]") and len(page["results"][0]["body"]) < 4000
    assert project.rest("query", with_window({"searchTerm": "xxx"}))["results"][0]["body"] == "x" * 50_000


def test_empty_results_carry_a_hint_naming_the_likely_mistake(
    services: Services, faces: Faces, fixture: Fixture
) -> None:
    page = faces.mcp("query", with_window({"serviceNames": ["API"], "severityLevels": ["error"]}))
    assert page["results"] == [] and page["hasMore"] is False
    assert "case-sensitively" in page["hint"] and "lowercase" in page["hint"] and "dateRange" in page["hint"]
    assert faces.mcp("query", with_window({"limit": 1}))["hint"] is None
    empty = new_faces(services, faces.base_url, "never ingested")
    assert "no logs at all" in empty.mcp("query", {})["hint"]
    assert "hint" not in faces.rest("query", with_window({"serviceNames": ["API"]}))


def test_a_caller_without_the_project_gets_a_tool_error(faces: Faces) -> None:
    stranger = Principal(frozenset({READ}), frozenset({faces.project_id + 10_000}))
    result = faces.call("query-logs", {"query": {}}, principal=stranger)
    assert result.is_error and "project_id" in error_text(result)
