"""The generated SQL run on real chDB: every operator on known rows, hostile strings, pagination, the
body text index, and random filter trees checked against the Python evaluator."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logs_mcp.services import Services
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.filter_eval import row_matches
from logs_mcp.store.filter_sql import build_where, cursor_predicate, order_by_sql
from logs_mcp.store.filters import Cursor, LogFilters, LogOrder, encode_cursor

NOW = datetime.now(UTC).replace(microsecond=0)
WINDOW = (NOW - timedelta(hours=1), NOW)
TRACE_1, TRACE_2 = bytes(range(16)), bytes(range(100, 116))
NO_TRACE, NO_SPAN = bytes(16), bytes(8)

KNOWN_ROWS: dict[str, dict[str, Any]] = {
    "r1": {
        "body": "GET /api/users 200 OK",
        "severity_text": "info",
        "service_name": "api",
        "attributes": {"http.status": "200", "user": "alice", "ratio": "0.5"},
        "resource_attributes": {"service.name": "api", "k8s.pod": "api-1"},
        "trace_id": TRACE_1,
        "span_id": bytes(range(1, 9)),
        "instrumentation_scope": "http@1.0",
    },
    "r2": {
        "body": "Timeout after 30s at 100% CPU",
        "severity_text": "error",
        "service_name": "api",
        "attributes": {"http.status": "504", "user": "bob", "flag": "true"},
        "resource_attributes": {"service.name": "api", "k8s.pod": "api-2"},
        "trace_id": TRACE_2,
    },
    "r3": {
        "body": "user_name=ÉLODIE path=c:\\temp",
        "severity_text": "warn",
        "service_name": "worker",
        "attributes": {"http.status": "OK", "a'b": "quote{x}"},
        "resource_attributes": {"service.name": "worker"},
    },
    "r4": {
        "body": "disk full",
        "severity_text": "fatal",
        "service_name": "worker",
        "attributes": {"ratio": "12.5", "user": ""},
        "resource_attributes": {"service.name": "worker", "region": "eu"},
        "event_name": "disk.alert",
    },
}
# Rows that must never match: before the window, and at its (exclusive) end.
OUTSIDE_ROWS = {
    "early": {"body": "GET /api/users 200 OK", "attributes": {"http.status": "200"}, "minutes_ago": 61},
    "at_end": {"body": "GET /api/users 200 OK", "attributes": {"http.status": "200"}, "minutes_ago": 0},
}


def full_row(project_id: int, minutes_ago: float, **fields: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "timestamp": NOW - timedelta(minutes=minutes_ago),
        "observed_timestamp": NOW,
        "uuid": uuid4(),
        "trace_id": NO_TRACE,
        "span_id": NO_SPAN,
        "trace_flags": 0,
        "severity_text": "info",
        "severity_number": 9,
        "service_name": "api",
        "body": "",
        "attributes": {},
        "resource_attributes": {},
        "instrumentation_scope": "",
        "event_name": "",
        **fields,
    }


STORED = "project_id, timestamp, uuid, trace_id, span_id, severity_text, service_name, body, attributes, "
STORED += "resource_attributes, resource_fingerprint, instrumentation_scope, event_name"


def insert_and_read_back(store: LogStore, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store rows and return them as ClickHouse holds them (with the materialised fingerprint)."""
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    store.insert_columns(store.logs_table, columns)
    project_ids = sorted({row["project_id"] for row in rows})
    stored = store.query(
        f"SELECT {STORED} FROM {store.logs_table} WHERE project_id IN {{ids:Array(UInt64)}}",
        {"ids": project_ids},
    ).dicts()
    for row in stored:
        row["timestamp"] = row["timestamp"].replace(tzinfo=UTC)
    return stored


@pytest.fixture(scope="module")
def store(services: Services) -> LogStore:
    return services.log_store


@pytest.fixture(scope="module")
def known(services: Services, store: LogStore) -> tuple[int, dict[UUID, str], list[dict[str, Any]]]:
    """The hand-written rows in one project (plus a copy of r1 in another): project id, uuid → name, rows."""
    project_id = services.accounts.create_project("filters-known").id
    other_project = services.accounts.create_project("filters-other").id
    assert project_id is not None and other_project is not None
    named = {
        name: full_row(project_id, 10 + index, **fields)
        for index, (name, fields) in enumerate(KNOWN_ROWS.items())
    }
    for name, fields in OUTSIDE_ROWS.items():
        named[name] = full_row(project_id, **fields)
    named["other_project"] = full_row(other_project, 10, **KNOWN_ROWS["r1"])
    stored = insert_and_read_back(store, list(named.values()))
    return project_id, {row["uuid"]: name for name, row in named.items()}, stored


def selected(store: LogStore, project_id: int, filters: LogFilters) -> set[UUID]:
    where = build_where(project_id, filters, *WINDOW)
    return {
        row[0]
        for row in store.query(f"SELECT uuid FROM {store.logs_table} WHERE {where.sql}", where.params).rows
    }


def evaluated(rows: list[dict[str, Any]], project_id: int, filters: LogFilters) -> set[UUID]:
    return {row["uuid"] for row in rows if row_matches(row, project_id, filters, *WINDOW)}


def leaf(key: str, operator: str, value: Any = None, type: str = "log_attribute") -> dict[str, Any]:
    return {"key": key, "type": type, "operator": operator, "value": value}


ALL = {"r1", "r2", "r3", "r4"}
CASES: list[tuple[Any, set[str]]] = [
    (leaf("http.status", "exact", 200), {"r1"}),
    (leaf("http.status", "exact", "OK"), {"r3"}),
    (leaf("http.status", "is_not", "200"), {"r2", "r3", "r4"}),
    (leaf("http.status", "in", [200, "504"]), {"r1", "r2"}),
    (leaf("http.status", "not_in", [200, 504]), {"r3", "r4"}),
    (leaf("http.status", "in", ["OK", "200"]), {"r1", "r3"}),
    (leaf("user", "icontains", "LI"), {"r1"}),
    (leaf("user", "not_icontains", "o"), {"r1", "r3", "r4"}),
    (leaf("user", "regex", "^b"), {"r2"}),
    (leaf("user", "not_regex", ["^b", "^a"]), {"r3", "r4"}),
    (leaf("ratio", "gt", 1), {"r4"}),
    (leaf("ratio", "lt", "1"), {"r1"}),
    (leaf("ratio", "gte", 0.5), {"r1", "r4"}),
    (leaf("ratio", "lte", 0.5), {"r1"}),
    (leaf("ratio", "gt", [20, 0.1]), {"r1", "r4"}),
    (leaf("user", "gt", "b"), {"r2"}),
    (leaf("user", "lt", "b"), {"r1", "r3", "r4"}),
    (leaf("ratio", "between", [0, 1]), {"r1"}),
    (leaf("ratio", "not_between", [0, 1]), {"r2", "r3", "r4"}),
    (leaf("user", "is_set"), {"r1", "r2", "r4"}),
    (leaf("user", "is_not_set"), {"r3"}),
    (leaf("flag", "exact", True), {"r2"}),
    (leaf("a'b", "exact", "quote{x}"), {"r3"}),
    (leaf("http.status", "exact", []), ALL),
    (leaf("http.status", "not_in", []), ALL),
    (leaf("k8s.pod", "exact", "api-2", "log_resource_attribute"), {"r2"}),
    (leaf("k8s.pod", "is_not", "api-1", "log_resource_attribute"), {"r2", "r3", "r4"}),
    (leaf("k8s.pod", "icontains", "API", "log_resource_attribute"), {"r1", "r2"}),
    (leaf("region", "is_set", None, "log_resource_attribute"), {"r4"}),
    (leaf("region", "is_not_set", None, "log_resource_attribute"), {"r1", "r2", "r3"}),
    (leaf("service.name", "regex", "^w", "log_resource_attribute"), {"r3", "r4"}),
    (leaf("message", "icontains", "100%", "log"), {"r2"}),
    (leaf("message", "icontains", "_name", "log"), {"r3"}),
    (leaf("body", "icontains", "c:\\temp", "log"), {"r3"}),
    (leaf("body", "icontains", "élodie", "log"), {"r3"}),
    (leaf("body", "not_icontains", ["GET", "disk"], "log"), {"r2", "r3"}),
    (leaf("body", "regex", "(?i)^timeout", "log"), {"r2"}),
    (leaf("severity_level", "in", ["warn", "fatal"], "log"), {"r3", "r4"}),
    (leaf("severity_text", "is_not", "info", "log"), {"r2", "r3", "r4"}),
    (leaf("service_name", "is_not", "api", "log"), {"r3", "r4"}),
    (leaf("trace_id", "exact", TRACE_1.hex(), "log"), {"r1"}),
    (leaf("trace_id", "in", [TRACE_1.hex().upper(), TRACE_2.hex()], "log"), {"r1", "r2"}),
    (leaf("trace_id", "is_not", TRACE_1.hex(), "log"), {"r2", "r3", "r4"}),
    (leaf("trace_id", "is_set", None, "log"), {"r1", "r2"}),
    (leaf("trace_id", "is_not_set", None, "log"), {"r3", "r4"}),
    (leaf("trace_id", "icontains", TRACE_2.hex()[4:12], "log"), {"r2"}),
    (leaf("span_id", "exact", bytes(range(1, 9)).hex(), "log"), {"r1"}),
    (leaf("event_name", "is_set", None, "log"), {"r4"}),
    (leaf("instrumentation_scope", "regex", "^http@", "log"), {"r1"}),
    (
        {"type": "OR", "values": [leaf("user", "exact", "alice"), leaf("http.status", "exact", 504)]},
        {"r1", "r2"},
    ),
    ({"type": "OR", "values": [{"type": "AND", "values": []}, leaf("user", "exact", "bob")]}, {"r2"}),
]


@pytest.mark.parametrize(("filter_group", "expected"), CASES)
def test_every_operator_selects_the_expected_rows(
    store: LogStore,
    known: tuple[int, dict[UUID, str], list[dict[str, Any]]],
    filter_group: Any,
    expected: set[str],
) -> None:
    project_id, names, rows = known
    filters = LogFilters.model_validate({"filterGroup": filter_group})
    found = selected(store, project_id, filters)
    assert {names[uuid] for uuid in found} == expected
    assert evaluated(rows, project_id, filters) == found


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ALL),
        ({"severityLevels": ["error", "fatal"]}, {"r2", "r4"}),
        ({"serviceNames": ["worker"]}, {"r3", "r4"}),
        ({"searchTerm": "TIMEOUT"}, {"r2"}),
        ({"searchTerm": "100%"}, {"r2"}),
        ({"searchTerm": "%"}, {"r2"}),
        ({"searchTerm": "_"}, {"r3"}),
        ({"searchTerm": "\\"}, {"r3"}),
        ({"searchTerm": "Élodie"}, {"r3"}),
        ({"searchTerm": "' OR 1=1 --"}, set()),
        ({"serviceNames": ["api"], "searchTerm": "ok", "severityLevels": ["info"]}, {"r1"}),
    ],
)
def test_top_level_fields_select_the_expected_rows(
    store: LogStore, known: tuple[int, dict[UUID, str], list[dict[str, Any]]], fields: Any, expected: set[str]
) -> None:
    project_id, names, rows = known
    filters = LogFilters.model_validate(fields)
    found = selected(store, project_id, filters)
    assert {names[uuid] for uuid in found} == expected
    assert evaluated(rows, project_id, filters) == found


def test_resource_fingerprint_selects_one_resource(
    store: LogStore, known: tuple[int, dict[UUID, str], list[dict[str, Any]]]
) -> None:
    project_id, names, rows = known
    r4 = next(row for row in rows if names[row["uuid"]] == "r4")
    filters = LogFilters(resource_fingerprint=str(r4["resource_fingerprint"]))
    assert {names[uuid] for uuid in selected(store, project_id, filters)} == {"r4"}


@pytest.mark.parametrize(
    "hostile",
    ["'", "\\", "\\'", "{p0:String}", "{", "}", "%", "_", "'; DROP TABLE logs; --", "\x00", "a\nb"],
)
def test_hostile_strings_run_as_plain_values(
    store: LogStore, known: tuple[int, dict[UUID, str], list[dict[str, Any]]], hostile: str
) -> None:
    project_id, names, rows = known
    group = [
        leaf(hostile, "is_not", hostile),
        leaf(hostile, "not_icontains", hostile, "log_resource_attribute"),
        leaf("body", "not_icontains", hostile, "log"),
        leaf(hostile, "not_regex", "\\Q" + hostile.replace("\\E", "") + "\\E"),
        leaf(hostile, "is_not_set"),
    ]
    filters = LogFilters.model_validate(
        {"filterGroup": group, "serviceNames": ["api", hostile], "searchTerm": " "}
    )
    found = selected(store, project_id, filters)
    assert found == evaluated(rows, project_id, filters)
    # the api rows (both have a space in the body) whose body does not contain the string
    assert {names[uuid] for uuid in found} == {
        name for name in ("r1", "r2") if hostile not in KNOWN_ROWS[name]["body"]
    }


@pytest.mark.parametrize("order", ["latest", "earliest"])
def test_cursor_pages_cover_every_row_once_in_order(
    store: LogStore, services: Services, order: LogOrder
) -> None:
    project_id = services.accounts.create_project(f"filters-pages-{order}").id
    assert project_id is not None
    same_moment = NOW - timedelta(minutes=5)
    rows = [full_row(project_id, 0, timestamp=same_moment) for _ in range(7)]  # ties broken by uuid
    rows += [full_row(project_id, minutes) for minutes in (1, 2, 3, 30, 59)]
    insert_and_read_back(store, rows)
    where = build_where(project_id, LogFilters(), *WINDOW)
    expected = store.query(
        f"SELECT timestamp, uuid FROM {store.logs_table} WHERE {where.sql} ORDER BY {order_by_sql(order)}",
        where.params,
    ).rows
    pages: list[tuple[Any, ...]] = []
    cursor: Cursor | None = None
    while True:
        condition = where if cursor is None else where.and_(cursor_predicate(order, cursor))
        page = store.query(
            f"SELECT timestamp, uuid FROM {store.logs_table} WHERE {condition.sql} "
            f"ORDER BY {order_by_sql(order)} LIMIT 3",
            condition.params,
        ).rows
        pages.extend(page)
        if len(page) < 3:
            break
        cursor = Cursor(page[-1][0].replace(tzinfo=UTC), page[-1][1])
        assert encode_cursor(cursor.timestamp, cursor.uuid)
    assert len(expected) == len(rows) == 12
    assert pages == expected


def test_search_term_prunes_with_the_body_text_index_over_more_than_an_hour(store: LogStore) -> None:
    def plan(hours: int) -> str:
        where = build_where(1, LogFilters(search_term="timeout"), NOW - timedelta(hours=hours), NOW)
        sql = f"EXPLAIN indexes = 1 SELECT count() FROM {store.logs_table} WHERE {where.sql}"
        return "\n".join(row[0] for row in store.query(sql, where.params).rows)

    assert "idx_body" in plan(6)
    assert "idx_body" not in plan(1)  # a few granules: reading the bodies costs less


# --- random filter trees against the Python evaluator ----------------------------------------------

ATTRIBUTE_KEYS = ["status", "user", "ratio", "flag", "a'b", "missing"]
ATTRIBUTE_VALUES = [
    "200",
    "404",
    "500",
    "1.5",
    "-3",
    "1e3",
    "0",
    "nan",
    "inf",
    "alice",
    "Bob",
    "",
    "true",
    "a_b",
    "x%y",
]
RESOURCE_KEYS = ["service.name", "k8s.pod", "region"]
RESOURCE_VALUES = ["api", "worker", "api-1", "API-2", "eu", ""]
BODY_WORDS = ["GET", "timeout", "Timeout", "100%", "user_id", "c:\\tmp", "Élan", "élan", "ok", "{x}", "'q'"]
SERVICES = ["api", "worker", "db"]
SEVERITIES = ["trace", "debug", "info", "warn", "error", "fatal"]
TRACES = [bytes(16), bytes(range(16)), bytes(range(50, 66))]
REGEXES = ["^a", "o", "\\d+", "(?i)TIME", "^$", "[%_]", "É", "^.{3}$", "1\\.5", "x|y"]


def random_rows(project_id: int, count: int, seed: int) -> list[dict[str, Any]]:
    chance = random.Random(seed)

    def pick_map(keys: list[str], values: list[str]) -> dict[str, str]:
        return {key: chance.choice(values) for key in keys if chance.random() < 0.6}

    return [
        full_row(
            project_id,
            chance.uniform(0, 70),
            body=" ".join(chance.sample(BODY_WORDS, chance.randint(0, 3))),
            severity_text=chance.choice(SEVERITIES),
            service_name=chance.choice(SERVICES),
            attributes=pick_map(ATTRIBUTE_KEYS[:-1], ATTRIBUTE_VALUES),
            resource_attributes=pick_map(RESOURCE_KEYS, RESOURCE_VALUES),
            trace_id=chance.choice(TRACES),
            event_name=chance.choice(["", "login", "Logout"]),
        )
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def generated(services: Services, store: LogStore) -> tuple[int, list[dict[str, Any]]]:
    project_id = services.accounts.create_project("filters-generated").id
    assert project_id is not None
    return project_id, insert_and_read_back(store, random_rows(project_id, 60, seed=7))


TEXT_OPERATORS = ["exact", "is_not", "icontains", "not_icontains", "gt", "lt", "gte", "lte", "in", "not_in"]
scalar_values = st.one_of(
    st.sampled_from(ATTRIBUTE_VALUES + RESOURCE_VALUES + BODY_WORDS + SERVICES + SEVERITIES),
    st.integers(-5, 600),
    st.floats(-10, 10, allow_nan=False).map(lambda number: round(number, 2)),
    st.booleans(),
    st.text(alphabet="abcoO%_\\'{}É .1", max_size=4),
)
values = st.one_of(scalar_values, st.lists(scalar_values, max_size=3))


@st.composite
def leaves(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["log_attribute", "log_resource_attribute", "log"]))
    if kind == "log":
        key = draw(st.sampled_from(["message", "severity_level", "service_name", "event_name", "trace_id"]))
    else:
        key = draw(st.sampled_from(ATTRIBUTE_KEYS if kind == "log_attribute" else RESOURCE_KEYS))
    operator = draw(
        st.sampled_from(
            [*TEXT_OPERATORS, "regex", "not_regex", "is_set", "is_not_set", "between", "not_between"]
        )
    )
    if operator in ("is_set", "is_not_set"):
        return leaf(key, operator, None, kind)
    if key == "trace_id" and operator not in ("icontains", "not_icontains", "regex", "not_regex"):
        operator = draw(st.sampled_from(["exact", "is_not", "in", "not_in"]))
        return leaf(
            key, operator, draw(st.lists(st.sampled_from([t.hex() for t in TRACES]), max_size=2)), kind
        )
    if operator in ("regex", "not_regex"):
        return leaf(
            key,
            operator,
            draw(st.one_of(st.sampled_from(REGEXES), st.lists(st.sampled_from(REGEXES), max_size=2))),
            kind,
        )
    if operator in ("between", "not_between"):
        return leaf(key, operator, draw(st.lists(scalar_values, min_size=2, max_size=2)), kind)
    return leaf(key, operator, draw(values), kind)


def _group(group_type: str, members: list[Any]) -> dict[str, Any]:
    return {"type": group_type, "values": members}


def _nested_groups(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    # A named function: hypothesis reads a lambda's source to check it recurses, and two lambdas on
    # one line made it warn that this one did not.
    members = st.lists(st.one_of(children, leaves()), min_size=1, max_size=3)
    return st.builds(_group, st.sampled_from(["AND", "OR"]), members)


filter_trees = st.recursive(
    st.lists(leaves(), min_size=1, max_size=3).map(lambda items: _group("AND", items)),
    _nested_groups,
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tree=filter_trees,
    severity_levels=st.lists(st.sampled_from(SEVERITIES), max_size=2, unique=True),
    service_names=st.lists(st.sampled_from(SERVICES), max_size=2, unique=True),
    search_term=st.one_of(st.none(), st.sampled_from([*BODY_WORDS, "time", "É", "%", "_", "\\", "l"])),
)
def test_random_filter_trees_match_the_python_evaluation(
    store: LogStore,
    generated: tuple[int, list[dict[str, Any]]],
    tree: dict[str, Any],
    severity_levels: list[str],
    service_names: list[str],
    search_term: str | None,
) -> None:
    project_id, rows = generated
    filters = LogFilters.model_validate(
        {
            "filterGroup": tree,
            "severityLevels": severity_levels,
            "serviceNames": service_names,
            "searchTerm": search_term,
        }
    )
    assert selected(store, project_id, filters) == evaluated(rows, project_id, filters)
