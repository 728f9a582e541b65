"""Services, attribute keys and attribute values, over REST (the running server) and MCP (in-process), on
the fixture with known contents: numbers, ranking, search escaping, both the rollup and the direct path,
bad input naming its field, and one project never seeing another's keys or values."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest
from fixture_data import FIXTURE_NOW, Fixture, generate_rows, insert_fixture, insert_rows
from mcp import Client
from mcp.types import CallToolResult

from conftest import TestProject
from logs_mcp.logs.accounts import READ, Principal
from logs_mcp.logs.discovery import key_rank
from logs_mcp.services import Services
from logs_mcp.store.clickhouse import LogStore
from logs_mcp.store.log_schema import (
    SchemaTarget,
    bootstrap_statements,
    create_attribute_rollups,
    create_logs_table,
)
from logs_mcp.tools.server import build_mcp_server

# Aligned on the hour, so the rollups' 10-minute buckets cover exactly this window.
WINDOW = {"date_from": (FIXTURE_NOW - timedelta(days=6)).isoformat(), "date_to": FIXTURE_NOW.isoformat()}
LAST_DAY = {"date_from": (FIXTURE_NOW - timedelta(days=1)).isoformat(), "date_to": FIXTURE_NOW.isoformat()}
ERRORS = ("error", "fatal")


@pytest.fixture
def fixture(services: Services, project: TestProject) -> Fixture:
    return insert_fixture(services.log_store, project.id)


def get(server_url: str, project: TestProject, endpoint: str, **params: Any) -> httpx.Response:
    """``GET logs/<endpoint>`` with structured parameters JSON-encoded, as the REST API takes them."""
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    url = f"{server_url}/api/projects/{project.id}/logs/{endpoint}"
    return httpx.get(url, params=query, headers={"Authorization": f"Bearer {project.api_key}"})


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def post_services(server_url: str, project: TestProject, query: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server_url}/api/projects/{project.id}/logs/services/",
        json={"query": query},
        headers={"Authorization": f"Bearer {project.api_key}"},
    )


def call_tool(services: Services, project_id: int, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    local = Principal(frozenset({READ}), frozenset({project_id}), None, project_id)
    server = build_mcp_server(services, local_principal=local, http_auth=False)

    async def run() -> CallToolResult:
        async with Client(server) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(run)


def tool_data(services: Services, project_id: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = call_tool(services, project_id, tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def key_counts(rows: list[dict[str, Any]], column: str = "attributes") -> Counter[str]:
    return Counter(key for row in rows for key in row[column])


# --- services --------------------------------------------------------------------------------------


def expected_services(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_service: dict[str, Counter[str]] = {}
    for row in rows:
        by_service.setdefault(row["service_name"] or "(no service)", Counter())[row["severity_text"]] += 1
    total = len(rows)
    stats = []
    for name, severities in by_service.items():
        count, errors = sum(severities.values()), severities["error"] + severities["fatal"]
        stats.append(
            {
                "service_name": name,
                "log_count": count,
                "error_count": errors,
                "error_rate": round(errors / count, 4),
                "severity_breakdown": {
                    "debug": severities["trace"] + severities["debug"],
                    "info": severities["info"],
                    "warn": severities["warn"],
                    "error": errors,
                },
                "volume_share_pct": round(100 * count / total, 2),
            }
        )
    return sorted(stats, key=lambda s: (-s["log_count"], s["service_name"]))


def test_services_numbers_match_the_fixture(server_url: str, project: TestProject, fixture: Fixture) -> None:
    body = ok(post_services(server_url, project, {"dateRange": WINDOW}))

    expected = expected_services(fixture.matching({"dateRange": WINDOW}))
    assert body["services"] == expected
    assert body["total_services"] == len(expected) == 6
    top = expected[:5]
    assert body["summary"] == {
        "top_services_count": 5,
        "top_services_volume_share_pct": round(sum(s["volume_share_pct"] for s in top), 2),
    }
    sparkline_totals: Counter[str] = Counter()
    for point in body["sparkline"]:
        sparkline_totals[point["service_name"]] += point["count"]
    assert sparkline_totals == {s["service_name"]: s["log_count"] for s in expected}
    assert "truncated" not in body and "hint" not in body  # agent notes are MCP-only


def test_services_honour_the_filters(server_url: str, project: TestProject, fixture: Fixture) -> None:
    query = {"dateRange": WINDOW, "severityLevels": ["warn", "error"], "searchTerm": "order"}
    body = ok(post_services(server_url, project, query))
    assert body["services"] == expected_services(fixture.matching(query))


@pytest.mark.parametrize(
    ("search", "expected"),
    [("CHECK", ["Checkout"]), ("o", ["worker", "Checkout"]), ("%", []), ("_", []), ("w_b", [])],
)
def test_service_name_search_is_a_literal_case_insensitive_substring(
    server_url: str, project: TestProject, fixture: Fixture, search: str, expected: list[str]
) -> None:
    body = ok(post_services(server_url, project, {"dateRange": WINDOW, "serviceNameSearch": search}))
    assert sorted(s["service_name"] for s in body["services"]) == sorted(expected)
    assert body["total_services"] == len(expected)


def test_services_bad_input_names_the_field(server_url: str, project: TestProject) -> None:
    cases = [
        ({"serviceNameSearch": "x" * 201}, "query.serviceNameSearch"),
        ({"dateRange": {"date_from": "yesterday"}}, "query.dateRange.date_from"),
        ({"severityLevels": ["ERROR"]}, "query.severityLevels.0"),
    ]
    for query, attr in cases:
        response = post_services(server_url, project, query)
        assert response.status_code == 400, response.text
        assert response.json()["attr"] == attr


# --- attribute keys --------------------------------------------------------------------------------


def test_log_attribute_keys_by_count(server_url: str, project: TestProject, fixture: Fixture) -> None:
    body = ok(get(server_url, project, "attributes", dateRange=WINDOW))

    counts = key_counts(fixture.matching({"dateRange": WINDOW}))
    assert [item["name"] for item in body["results"]] == sorted(counts, key=lambda k: (-counts[k], k))
    assert body["count"] == 5
    assert all(
        item == {"name": item["name"], "propertyFilterType": "log_attribute", "matchedOn": "key"}
        for item in body["results"]
    )


def test_resource_attribute_keys(server_url: str, project: TestProject, fixture: Fixture) -> None:
    body = ok(get(server_url, project, "attributes", attribute_type="resource", dateRange=WINDOW))
    counts = key_counts(fixture.matching({"dateRange": WINDOW}), "resource_attributes")
    assert [item["name"] for item in body["results"]] == sorted(counts, key=lambda k: (-counts[k], k))
    assert {item["propertyFilterType"] for item in body["results"]} == {"log_resource_attribute"}


def test_key_rank_puts_exact_then_whole_word_matches_first() -> None:
    keys = {"status": 1, "http.status_code": 5, "order_status": 50, "statuses_total": 900, "STATUS": 2}
    ranked = sorted(keys, key=lambda k: key_rank(k, keys[k], "status"))
    assert ranked == ["STATUS", "status", "order_status", "http.status_code", "statuses_total"]


def test_ranking_rules_on_stored_keys(services: Services, server_url: str, project: TestProject) -> None:
    weights = {"status": 1, "http.status_code": 3, "order_status": 6, "statuses_total": 20}
    keys = [key for key, times in weights.items() for _ in range(times)]
    rows = generate_rows(project.id, size=len(keys))
    for row, key in zip(rows, keys, strict=True):
        row["attributes"] = {key: "x"}
    insert_rows(services.log_store, rows)

    body = ok(get(server_url, project, "attributes", search="Status", dateRange=WINDOW))
    assert [item["name"] for item in body["results"]] == [
        "status",
        "order_status",
        "http.status_code",
        "statuses_total",
    ]
    assert body["count"] == 4
    page = ok(
        get(server_url, project, "attributes", search="status", limit="2", offset="1", dateRange=WINDOW)
    )
    assert [item["name"] for item in page["results"]] == ["order_status", "http.status_code"]
    assert page["count"] == 4


@pytest.mark.parametrize("search", ["_", "%", "\\", ".", "D"])
def test_key_search_is_a_literal_substring(
    server_url: str, project: TestProject, fixture: Fixture, search: str
) -> None:
    body = ok(get(server_url, project, "attributes", search=search, dateRange=WINDOW))
    names = {item["name"] for item in body["results"]}
    assert names == {k for k in key_counts(fixture.rows) if search.lower() in k.lower()}


def test_keys_allow_list(server_url: str, project: TestProject, fixture: Fixture) -> None:
    body = ok(
        get(server_url, project, "attributes", keys=" user.id,duration_ms,, user.id,nope", dateRange=WINDOW)
    )
    assert sorted(item["name"] for item in body["results"]) == ["duration_ms", "user.id"]
    too_many = ",".join(f"k{n}" for n in range(101))
    response = get(server_url, project, "attributes", keys=too_many)
    assert response.status_code == 400 and response.json()["attr"] == "keys"


def test_value_search_lists_keys_whose_values_match(
    server_url: str, project: TestProject, fixture: Fixture
) -> None:
    body = ok(get(server_url, project, "attributes", search="post", search_values="true", dateRange=WINDOW))
    assert body["results"] == [
        {
            "name": "http.method",
            "propertyFilterType": "log_attribute",
            "matchedOn": "value",
            "matchedValue": "POST",
        }
    ]
    assert body["count"] == 1
    # A key match comes first, then value matches; a short search only matches keys.
    both = ok(get(server_url, project, "attributes", search="true", search_values="true", dateRange=WINDOW))
    assert [(i["name"], i["matchedOn"]) for i in both["results"]] == [("feature.enabled", "value")]
    short = ok(get(server_url, project, "attributes", search="pos", search_values="true", dateRange=WINDOW))
    assert short["results"] == []


def test_keys_under_every_kind_of_filter_match_the_fixture(
    server_url: str, project: TestProject, fixture: Fixture
) -> None:
    filters: list[dict[str, Any]] = [
        {"serviceNames": ["api", "web"]},  # rollup
        {"filterGroup": [{"key": "severity_level", "type": "log", "operator": "exact", "value": ["error"]}]},
        {
            "filterGroup": [
                {"key": "host.name", "type": "log_resource_attribute", "operator": "exact", "value": "host-2"}
            ]
        },
        {
            "filterGroup": [
                {"key": "http.status_code", "type": "log_attribute", "operator": "gte", "value": 500}
            ]
        },
        {"searchTerm": "50%"},
    ]
    for extra in filters:
        params = {"dateRange": WINDOW, **extra}
        body = ok(get(server_url, project, "attributes", **params))
        counts = key_counts(fixture.matching(params))
        assert [item["name"] for item in body["results"]] == sorted(counts, key=lambda k: (-counts[k], k)), (
            extra
        )


# --- attribute values ------------------------------------------------------------------------------


def value_counts(rows: list[dict[str, Any]], key: str, column: str = "attributes") -> list[dict[str, Any]]:
    counts = Counter(row[column][key] for row in rows if key in row[column])
    return [{"id": v, "name": v, "count": counts[v]} for v in sorted(counts, key=lambda v: (-counts[v], v))]


def test_values_of_a_key_by_count(server_url: str, project: TestProject, fixture: Fixture) -> None:
    body = ok(get(server_url, project, "values", key="http.method", dateRange=WINDOW))
    assert body == {
        "results": value_counts(fixture.matching({"dateRange": WINDOW}), "http.method"),
        "refreshing": False,
    }


def test_values_of_a_resource_key(server_url: str, project: TestProject, fixture: Fixture) -> None:
    body = ok(
        get(server_url, project, "values", key="service.name", attribute_type="resource", dateRange=LAST_DAY)
    )
    rows = fixture.matching({"dateRange": LAST_DAY})
    assert body["results"] == value_counts(rows, "service.name", "resource_attributes")


def test_value_search_and_paging(server_url: str, project: TestProject, fixture: Fixture) -> None:
    rows = fixture.matching({"dateRange": WINDOW})
    body = ok(get(server_url, project, "values", key="http.method", value="e", dateRange=WINDOW))
    assert [item["name"] for item in body["results"]] == [
        v["name"] for v in value_counts(rows, "http.method") if "e" in v["name"].lower()
    ]
    page = ok(get(server_url, project, "values", key="user.id", limit="2", offset="2", dateRange=WINDOW))
    assert page["results"] == value_counts(rows, "user.id")[2:4]
    assert (
        ok(get(server_url, project, "values", key="http.method", value="%", dateRange=WINDOW))["results"]
        == []
    )


def test_values_under_filters_match_the_fixture(
    server_url: str, project: TestProject, fixture: Fixture
) -> None:
    filters: list[dict[str, Any]] = [
        {"serviceNames": ["worker"]},
        {
            "filterGroup": [
                {
                    "key": "http.status_code",
                    "type": "log_attribute",
                    "operator": "in",
                    "value": ["500", "503"],
                }
            ]
        },
        {
            "filterGroup": [
                {
                    "key": "k8s.namespace.name",
                    "type": "log_resource_attribute",
                    "operator": "exact",
                    "value": "prod",
                }
            ]
        },
    ]
    for extra in filters:
        params = {"dateRange": WINDOW, **extra}
        body = ok(get(server_url, project, "values", key="http.method", **params))
        assert body["results"] == value_counts(fixture.matching(params), "http.method"), extra


def test_flat_date_parameters_are_accepted(server_url: str, project: TestProject, fixture: Fixture) -> None:
    flat = ok(get(server_url, project, "values", key="http.method", **WINDOW))
    assert flat == ok(get(server_url, project, "values", key="http.method", dateRange=WINDOW))


@pytest.mark.parametrize(
    ("endpoint", "params", "attr"),
    [
        ("values", {}, "key"),
        ("attributes", {"attribute_type": "span"}, "attribute_type"),
        ("attributes", {"limit": "0"}, "limit"),
        ("attributes", {"limit": "ten"}, "limit"),
        ("attributes", {"offset": "-1"}, "offset"),
        ("attributes", {"search_values": "maybe"}, "search_values"),
        ("attributes", {"dateRange": "{not json"}, "dateRange"),
        ("attributes", {"dateRange": {"date_from": "last week"}}, "dateRange.date_from"),
        ("attributes", {"serviceNames": "api"}, "serviceNames"),
        (
            "values",
            {"key": "k", "filterGroup": [{"key": "a", "type": "log_attribute", "operator": "near"}]},
            "filterGroup.values.0.values.0.operator",
        ),
        ("values", {"key": "k", "unknown": "1"}, "unknown"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    server_url: str, project: TestProject, endpoint: str, params: dict[str, Any], attr: str
) -> None:
    response = get(server_url, project, endpoint, **params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["attr"] == attr and body["type"] == "validation_error", body
    if attr == "key":
        assert body["detail"] == "key is required"


# --- isolation -------------------------------------------------------------------------------------


@pytest.fixture
def other_project(services: Services) -> Iterator[TestProject]:
    created = services.accounts.create_project("other")
    assert created.id is not None
    key = services.accounts.create_api_key([created.id], [READ], label="other")
    yield TestProject(created.id, created.ingestion_token, key.key)


def test_projects_never_see_each_others_services_keys_or_values(
    services: Services, server_url: str, project: TestProject, fixture: Fixture, other_project: TestProject
) -> None:
    rows = generate_rows(other_project.id, size=30, seed=3)
    for row in rows:
        row["attributes"] = {"secret.key": "secret-value"}
        row["resource_attributes"] = {"service.name": "hidden-service"}
        row["service_name"] = "hidden-service"
    insert_rows(services.log_store, rows)

    keys = {i["name"] for i in ok(get(server_url, project, "attributes", dateRange=WINDOW))["results"]}
    assert "secret.key" not in keys
    found = ok(
        get(server_url, project, "attributes", search="secret", search_values="true", dateRange=WINDOW)
    )
    assert found["results"] == []
    names = {
        s["service_name"] for s in ok(post_services(server_url, project, {"dateRange": WINDOW}))["services"]
    }
    assert "hidden-service" not in names
    assert ok(get(server_url, other_project, "attributes", dateRange=WINDOW))["results"] == [
        {"name": "secret.key", "propertyFilterType": "log_attribute", "matchedOn": "key"}
    ]
    values = ok(get(server_url, other_project, "values", key="http.method", dateRange=WINDOW))
    assert values["results"] == []
    foreign = httpx.get(
        f"{server_url}/api/projects/{project.id}/logs/attributes",
        headers={"Authorization": f"Bearer {other_project.api_key}"},
    )
    assert foreign.status_code == 403


# --- MCP -------------------------------------------------------------------------------------------


def test_tools_answer_as_the_rest_endpoints(
    services: Services, server_url: str, project: TestProject, fixture: Fixture
) -> None:
    rest_services = ok(post_services(server_url, project, {"dateRange": WINDOW}))
    mcp_services = tool_data(services, project.id, "logs-services", {"query": {"dateRange": WINDOW}})
    assert mcp_services == {**rest_services, "truncated": False, "hint": None}

    arguments = {"dateRange": WINDOW, "search": "http"}
    mcp_keys = tool_data(services, project.id, "logs-attributes-list", arguments)
    rest_keys = ok(get(server_url, project, "attributes", **arguments))
    assert mcp_keys == {**rest_keys, "truncated": False, "hint": None}

    arguments = {"key": "service.name", "attribute_type": "resource", "dateRange": WINDOW}
    mcp_values = tool_data(services, project.id, "logs-attribute-values-list", arguments)
    assert mcp_values == {
        **ok(get(server_url, project, "values", **arguments)),
        "truncated": False,
        "hint": None,
    }


def test_tools_are_read_only_and_stay_in_budget(
    services: Services, project: TestProject, fixture: Fixture
) -> None:
    server = build_mcp_server(services, local_principal=None, http_auth=False)

    async def listed() -> dict[str, Any]:
        async with Client(server) as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = anyio.run(listed)
    for name in ("logs-services", "logs-attributes-list", "logs-attribute-values-list"):
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint, name
        assert tools[name].description and "logs-" in tools[name].description

    import dataclasses

    small = dataclasses.replace(
        services, settings=services.settings.model_copy(update={"mcp_token_budget": 500})
    )
    cut = tool_data(small, project.id, "logs-services", {"query": {"dateRange": WINDOW}})
    assert cut["truncated"] is True and "token budget" in cut["hint"]
    assert len(json.dumps(cut)) <= 500 * 4


def test_tool_errors_name_the_field_and_empty_results_carry_a_hint(
    services: Services, project: TestProject, fixture: Fixture
) -> None:
    result = call_tool(services, project.id, "logs-attributes-list", {"dateRange": {"date_from": "soon"}})
    assert result.is_error and "dateRange.date_from" in result.content[0].text  # type: ignore[union-attr]
    result = call_tool(
        services, project.id, "logs-attribute-values-list", {"key": "k", "filterGroup": {"values": 3}}
    )
    assert result.is_error and "filterGroup" in result.content[0].text  # type: ignore[union-attr]
    empty = tool_data(
        services, project.id, "logs-attribute-values-list", {"key": "no.such.key", "dateRange": WINDOW}
    )
    assert empty["results"] == [] and "Nothing matched" in empty["hint"]


# --- the rollup migration --------------------------------------------------------------------------


def test_cluster_rollups_are_replicated_and_fed_from_the_local_tables() -> None:
    target = SchemaTarget(database="logs_mcp", retention_days=30, cluster="c1")
    ddl = "\n".join(create_attribute_rollups(target))
    for table in ("log_attributes", "log_attribute_keys"):
        path = f"/clickhouse/tables/{{shard}}/logs_mcp/{table}_local"
        assert f"ReplicatedAggregatingMergeTree('{path}', '{{replica}}')" in ddl
        assert f"Distributed(`c1`, `logs_mcp`, `{table}_local`, cityHash64(project_id))" in ddl
    assert "TO `logs_mcp`.`log_attributes_local` AS SELECT" in ddl
    assert "FROM `logs_mcp`.`logs_local` ARRAY JOIN" in ddl
    assert "TO `logs_mcp`.`log_attribute_keys_local` AS SELECT" in ddl
    assert "INSERT INTO `logs_mcp`.`log_attributes` SELECT" in ddl  # backfill across every shard
    assert "TTL time_bucket + INTERVAL 30 DAY" in ddl


def test_the_migration_backfills_logs_stored_before_it(services: Services) -> None:
    target = SchemaTarget(database=f"rollup_test_{uuid.uuid4().hex[:12]}", retention_days=30)
    with services.log_store.client() as client:
        store = LogStore([client], target)
        try:
            for statement in bootstrap_statements(target) + create_logs_table(target):
                store.command(statement)
            insert_rows(store, generate_rows(1, size=50))
            store.migrate()  # applies 1 (already there: IF NOT EXISTS) and 2, with its backfill
            insert_rows(store, generate_rows(1, size=20, seed=9))  # through the views from now on
            rows = generate_rows(1, size=50) + generate_rows(1, size=20, seed=9)
            keys = dict(
                store.query(
                    f"SELECT attribute_key, sum(attribute_count) FROM {target.table('log_attribute_keys')} "
                    "WHERE attribute_type = 'log' GROUP BY attribute_key"
                ).rows
            )
            assert keys == key_counts(rows)
        finally:
            store.command(f"DROP DATABASE IF EXISTS `{target.database}`")


def test_the_rollups_follow_a_retention_change(services: Services) -> None:
    target = SchemaTarget(database=f"rollup_test_{uuid.uuid4().hex[:12]}", retention_days=7)

    def rollup_ttls(store: LogStore) -> list[str]:
        rows = store.query(
            "SELECT create_table_query FROM system.tables WHERE database = {database:String} "
            "AND name IN ('log_attributes', 'log_attribute_keys')",
            {"database": target.database},
        ).rows
        return [query.split(" TTL ")[1].split(" SETTINGS")[0] for (query,) in rows]

    with services.log_store.client() as client:
        store = LogStore([client], target)
        try:
            store.migrate()
            assert rollup_ttls(store) == ["time_bucket + toIntervalDay(7)"] * 2
            LogStore([client], SchemaTarget(target.database, retention_days=14)).migrate()
            assert rollup_ttls(store) == ["time_bucket + toIntervalDay(14)"] * 2
        finally:
            store.command(f"DROP DATABASE IF EXISTS `{target.database}`")


def test_a_key_with_only_long_values_is_listed_but_its_values_are_not(
    services: Services, server_url: str, project: TestProject
) -> None:
    rows = generate_rows(project.id, size=4)
    for row in rows:
        row["attributes"] = {"exception.stacktrace": "Traceback:\n" + "  frame\n" * 60, "short": "v"}
    insert_rows(services.log_store, rows)

    keys = ok(get(server_url, project, "attributes", dateRange=WINDOW))
    assert [item["name"] for item in keys["results"]] == ["exception.stacktrace", "short"]
    values = ok(get(server_url, project, "values", key="exception.stacktrace", dateRange=WINDOW))
    assert values["results"] == []  # values of 256+ characters stay out of the value rollup
