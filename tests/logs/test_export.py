"""Log exports over REST (the running server) and MCP (in-process): the file holds exactly the rows
query-logs returns for the same query (CSV, JSON Lines, Parquet), jobs persist in the state store and are
project-scoped, and bad input is a 400 naming the field."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pyarrow.parquet as pq
import pytest
from fixture_data import FIXTURE_NOW, Fixture, insert_fixture
from mcp import Client
from sqlmodel import Session

from conftest import TestProject
from logs_mcp.logs.accounts import READ, Principal
from logs_mcp.logs.export import COLUMNS, ExportQuery, ExportRequest, Exports, export_filename
from logs_mcp.logs.models import QueryLogsRequest
from logs_mcp.services import Services
from logs_mcp.store.export_table import LogExport
from logs_mcp.tools.server import build_mcp_server

WINDOW = {"date_from": (FIXTURE_NOW - timedelta(days=6)).isoformat(), "date_to": FIXTURE_NOW.isoformat()}
DAY = FIXTURE_NOW.date().isoformat()
WEEK_AGO = (FIXTURE_NOW - timedelta(days=6)).date().isoformat()
POLL_SECONDS = 30.0


@pytest.fixture
def fixture(services: Services, project: TestProject) -> Fixture:
    return insert_fixture(services.log_store, project.id)


def headers(project: TestProject) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.api_key}"}


def logs_url(server_url: str, project_id: int) -> str:
    return f"{server_url}/api/projects/{project_id}/logs"


def create(server_url: str, project: TestProject, body: Any) -> httpx.Response:
    return httpx.post(f"{logs_url(server_url, project.id)}/export/", json=body, headers=headers(project))


def finished(server_url: str, project: TestProject, export_id: int) -> dict[str, Any]:
    """The export once its job has finished (complete or failed)."""
    deadline = time.monotonic() + POLL_SECONDS
    while True:
        response = httpx.get(
            f"{logs_url(server_url, project.id)}/exports/{export_id}", headers=headers(project)
        )
        assert response.status_code == 200, response.text
        if response.json()["status"] != "running" or time.monotonic() > deadline:
            return dict(response.json())
        time.sleep(0.1)


def content(
    server_url: str, project: TestProject, body: dict[str, Any]
) -> tuple[dict[str, Any], httpx.Response]:
    """Create an export, wait for it, and fetch its file."""
    created = create(server_url, project, body)
    assert created.status_code == 201, created.text
    export = finished(server_url, project, created.json()["id"])
    assert export["status"] == "complete", export["error"]
    assert export["content_url"].endswith(f"/api/projects/{project.id}/logs/exports/{export['id']}/content")
    url = f"{logs_url(server_url, project.id)}/exports/{export['id']}/content"
    response = httpx.get(url, headers=headers(project))
    assert response.status_code == 200, response.text
    return export, response


def query_rows(services: Services, project_id: int, query: dict[str, Any]) -> list[dict[str, Any]]:
    """What query-logs returns for the same query, rows as JSON."""
    request = QueryLogsRequest.model_validate({**query, "limit": 1000, "excludeAttributes": False})
    response = services.queries.query_logs(project_id, request)
    assert not response.hasMore
    return [row.model_dump(mode="json") for row in response.results]


def iso_z(text: str) -> str:
    """A query-logs timestamp written as the export writes it (microseconds, Z)."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_exported(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{
            name: row[name]
            for name in COLUMNS
            if name not in ("timestamp", "observed_timestamp", "service_name")
        },
        "timestamp": iso_z(row["timestamp"]),
        "observed_timestamp": iso_z(row["observed_timestamp"]),
        "service_name": row["resource_attributes"].get("service.name", ""),
    }


QUERY = {"dateRange": WINDOW, "serviceNames": ["api", "web"], "severityLevels": ["info", "error"]}


def test_jsonl_export_holds_the_query_results(
    services: Services, server_url: str, project: TestProject, fixture: Fixture
) -> None:
    export, response = content(server_url, project, {"query": QUERY, "export_format": "application/jsonl"})

    expected = [as_exported(row) for row in query_rows(services, project.id, QUERY)]
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == expected
    assert len(lines) == fixture.count(QUERY) == export["row_count"] > 0
    assert export["has_content"] is True and export["size_bytes"] == len(response.content)
    assert response.headers["content-type"].startswith("application/jsonl")
    assert f'filename="logs-2-services-{WEEK_AGO}-to-{DAY}.jsonl"' in response.headers["content-disposition"]


def test_csv_export_holds_the_query_results(
    services: Services, server_url: str, project: TestProject, fixture: Fixture
) -> None:
    query = {**QUERY, "orderBy": "earliest", "searchTerm": "%"}
    export, response = content(server_url, project, {"query": query})

    assert export["export_format"] == "text/csv"
    records = list(csv.DictReader(io.StringIO(response.text)))
    expected = [as_exported(row) for row in query_rows(services, project.id, query)]
    assert len(records) == len(expected) == fixture.count(query) > 0
    for record, row in zip(records, expected, strict=True):
        assert list(record) == list(COLUMNS)
        assert json.loads(record.pop("attributes")) == row.pop("attributes")
        assert json.loads(record.pop("resource_attributes")) == row.pop("resource_attributes")
        assert record == {name: str(value) for name, value in row.items()}


def test_parquet_export_and_column_choice(
    services: Services, server_url: str, project: TestProject, fixture: Fixture
) -> None:
    columns = ["timestamp", "uuid", "body"]
    body = {"query": QUERY, "columns": columns, "export_format": "application/vnd.apache.parquet"}
    _export, response = content(server_url, project, body)

    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == columns
    expected = query_rows(services, project.id, QUERY)
    uuids = [
        value.decode() if isinstance(value, bytes) else value for value in table.column("uuid").to_pylist()
    ]
    assert uuids == [row["uuid"] for row in expected]


def test_row_limits(
    services: Services, server_url: str, project: TestProject, fixture: Fixture, tmp_path: Path
) -> None:
    export, response = content(server_url, project, {"query": {**QUERY, "limit": 5}, "columns": ["uuid"]})
    assert export["row_count"] == 5 and export["row_limit"] == 5
    assert len(response.text.splitlines()) == 1 + 5

    capped = Exports(services.log_store, services.state_engine, tmp_path, row_limit=3, base_url="http://x")
    try:
        request = {"query": {**QUERY, "limit": 50}, "columns": ["uuid"], "export_format": "application/jsonl"}
        made = capped.create(project.id, ExportRequest.model_validate(request), wait_seconds=POLL_SECONDS)
        assert made.status == "complete" and made.row_count == 3 and made.row_limit == 3
        path, _ = capped.content(project.id, made.id)
        assert len(path.read_text().splitlines()) == 3
    finally:
        capped.close()


def test_exports_are_project_scoped(
    services: Services, server_url: str, project: TestProject, fixture: Fixture
) -> None:
    export, _ = content(server_url, project, {"query": QUERY})
    created = services.accounts.create_project("other")
    assert created.id is not None
    other = TestProject(
        created.id, created.ingestion_token, services.accounts.create_api_key([created.id], [READ]).key
    )

    for path in (f"exports/{export['id']}", f"exports/{export['id']}/content"):
        response = httpx.get(f"{logs_url(server_url, other.id)}/{path}", headers=headers(other))
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
        response = httpx.get(f"{logs_url(server_url, project.id)}/{path}", headers=headers(other))
        assert response.status_code == 403


def test_exports_survive_a_restart_and_interrupted_jobs_fail(
    services: Services, server_url: str, project: TestProject, fixture: Fixture
) -> None:
    export, _ = content(server_url, project, {"query": QUERY, "columns": ["uuid"]})
    with Session(services.state_engine) as session:
        stuck = LogExport(
            project_id=project.id,
            status="running",
            export_format="text/csv",
            filename="logs-all-services.csv",
            query={},
            columns=["uuid"],
            row_limit=10,
        )
        session.add(stuck)
        session.commit()
        session.refresh(stuck)
    assert stuck.id is not None

    settings = services.settings
    restarted = Exports(
        services.log_store, services.state_engine, settings.data_dir / "exports", 10, settings.base_url
    )
    try:
        again = restarted.get(project.id, export["id"])
        assert again.model_dump(mode="json") == export
        assert restarted.content(project.id, export["id"])[0].is_file()
        failed = restarted.get(project.id, stuck.id)
        assert failed.status == "failed" and failed.has_content is False and "restart" in (failed.error or "")
    finally:
        restarted.close()
    response = httpx.get(
        f"{logs_url(server_url, project.id)}/exports/{stuck.id}/content", headers=headers(project)
    )
    assert response.status_code == 409 and "restart" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({}, "query"),
        ({"query": "all of it"}, "query"),
        ({"query": {"dateRange": {"date_from": "the dawn of time"}}}, "query.dateRange.date_from"),
        ({"query": {"limit": 0}}, "query.limit"),
        ({"query": {"after": "x"}}, "query.after"),
        ({"query": {}, "columns": ["uuid", "password"]}, "columns"),
        ({"query": {}, "columns": []}, "columns"),
        ({"query": {}, "export_format": "application/xml"}, "export_format"),
        ([], "query"),
    ],
)
def test_bad_export_input_is_a_400_naming_the_field(
    server_url: str, project: TestProject, body: Any, attr: str
) -> None:
    response = create(server_url, project, body)
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == attr


def test_filename_rule() -> None:
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)

    def name(**query: Any) -> str:
        return export_filename(ExportQuery.model_validate(query), "csv", now)

    assert name(serviceNames=["api/v2 (eu)"]) == "logs-api-v2--eu--from-2026-03-04.csv"
    assert name(serviceNames=["a" * 80]) == "logs-" + "a" * 50 + "-from-2026-03-04.csv"
    assert name(serviceNames=["a", "b", "c"], dateRange={"date_from": "-2d", "date_to": "-1d"}) == (
        "logs-3-services-2026-03-02-to-2026-03-03.csv"
    )
    assert name(dateRange={"date_from": "2026-01-01T00:00:00Z"}) == "logs-all-services-from-2026-01-01.csv"


def test_mcp_tool_returns_the_export_and_its_link(
    services: Services, project: TestProject, fixture: Fixture
) -> None:
    local = Principal(frozenset({READ}), frozenset({project.id}), None, project.id)
    server = build_mcp_server(services, local_principal=local, http_auth=False)

    async def run() -> tuple[Any, Any, Any]:
        async with Client(server) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            made = await client.call_tool("logs-export-create", {"query": QUERY, "columns": ["uuid"]})
            bad = await client.call_tool("logs-export-create", {"query": {"severityLevels": ["loud"]}})
            return tools["logs-export-create"], made, bad

    tool, made, bad = anyio.run(run)
    assert tool.annotations.read_only_hint is False and tool.annotations.destructive_hint is False
    assert not made.is_error, made.content
    export = made.structured_content
    assert export["status"] == "complete" and export["has_content"] is True
    assert export["row_count"] == fixture.count(QUERY)
    base = services.settings.base_url
    assert export["content_url"] == f"{base}/api/projects/{project.id}/logs/exports/{export['id']}/content"
    assert bad.is_error and "query.severityLevels.0" in bad.content[0].text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "export/"),
        ("GET", "exports/1"),
        ("GET", "exports/1/content"),
        ("POST", "services/"),
        ("GET", "attributes"),
        ("GET", "values?key=k"),
    ],
)
def test_every_endpoint_needs_an_api_key(
    server_url: str, project: TestProject, method: str, path: str
) -> None:
    response = httpx.request(method, f"{logs_url(server_url, project.id)}/{path}", json={"query": {}})
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "authentication_error"
