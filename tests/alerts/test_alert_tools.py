"""The alert MCP tools in-process through the SDK's Client (both protocol eras): names, annotations and
schemas, the authoring workflow from draft to delete, the spec's validation messages with their field,
scopes and project scoping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.services import Services
from logs_mcp.tools.server import build_mcp_server

if TYPE_CHECKING:
    from conftest import TestProject

pytestmark = pytest.mark.anyio

SERVICE = {"serviceNames": ["checkout"]}
READ_ONLY_TOOLS = {"logs-alerts-list", "logs-alerts-retrieve", "logs-alerts-events-list"}
WRITE_TOOLS = {
    "logs-alerts-create",
    "logs-alerts-update",
    "logs-alerts-partial-update",
    "logs-alerts-destroy",
    "logs-alerts-reset",
}

Connect = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture(params=["auto", "legacy"])
def connect(request: pytest.FixtureRequest, services: Services, project: TestProject) -> Connect:
    """A client on a stdio-style server acting as a local user of ``project`` with the given scopes."""

    @asynccontextmanager
    async def open_client(*scopes: str) -> AsyncIterator[Client]:
        local = Principal(
            frozenset(scopes or (READ, WRITE)), frozenset({project.id}), default_project_id=project.id
        )
        server = build_mcp_server(services, local_principal=local, http_auth=False)
        async with Client(server, mode=request.param) as client:
            yield client

    return open_client


def data(result: CallToolResult) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content if block.type == "text")


async def test_tools_are_named_and_annotated_for_agents(connect: Connect) -> None:
    async with connect() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) >= READ_ONLY_TOOLS | WRITE_TOOLS
    for name in READ_ONLY_TOOLS:
        assert tools[name].annotations and tools[name].annotations.read_only_hint is True, name
    for name in WRITE_TOOLS:
        annotations = tools[name].annotations
        assert annotations and annotations.read_only_hint is False, name
    destroy = tools["logs-alerts-destroy"].annotations
    assert destroy and (destroy.destructive_hint, destroy.idempotent_hint) == (True, True)
    create = tools["logs-alerts-create"]
    assert "simulate" in (create.description or "") and "0-3" in (create.description or "")
    alert_schema = create.input_schema["properties"]["alert"]
    assert {"threshold_count", "filters", "evaluation_periods", "snooze_until"} <= set(
        alert_schema["properties"]
    )
    assert create.input_schema["required"] == ["alert"]


async def test_the_authoring_workflow_from_draft_to_delete(connect: Connect) -> None:
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    async with connect() as client:
        draft = data(
            await client.call_tool("logs-alerts-create", {"alert": {"enabled": False, "name": "checkout"}})
        )
        alert_id = draft["id"]
        enabled = data(
            await client.call_tool(
                "logs-alerts-partial-update",
                {"alert_id": alert_id, "alert": {"enabled": True, "filters": SERVICE, "threshold_count": 20}},
            )
        )
        snoozed = data(
            await client.call_tool(
                "logs-alerts-partial-update", {"alert_id": alert_id, "alert": {"snooze_until": until}}
            )
        )
        replaced = data(
            await client.call_tool(
                "logs-alerts-update", {"alert_id": alert_id, "alert": {"filters": SERVICE}}
            )
        )
        listed = data(await client.call_tool("logs-alerts-list", {}))
        events = data(await client.call_tool("logs-alerts-events-list", {"alert_id": alert_id}))
        snoozes = data(
            await client.call_tool("logs-alerts-events-list", {"alert_id": alert_id, "kind": "snooze"})
        )
        retrieved = data(await client.call_tool("logs-alerts-retrieve", {"alert_id": alert_id}))
        deleted = await client.call_tool("logs-alerts-destroy", {"alert_id": alert_id})
        gone = await client.call_tool("logs-alerts-retrieve", {"alert_id": alert_id})

    assert (draft["enabled"], draft["first_enabled_at"], draft["created_by"]["label"]) == (
        False,
        None,
        "local user",
    )
    assert (enabled["enabled"], enabled["threshold_count"]) == (True, 20)
    assert snoozed["state"] == "snoozed"
    # PUT: threshold back to 100 is a threshold change, which keeps a snoozed alert snoozed (§2.8)
    assert (replaced["threshold_count"], replaced["state"]) == (100, "snoozed")
    assert [alert["id"] for alert in listed["results"]] == [alert_id]
    assert [event["kind"] for event in events["results"]] == ["threshold_change", "snooze", "enable"]
    assert events["count"] == 3 and events["next"] is None
    assert [event["kind"] for event in snoozes["results"]] == ["snooze"]
    assert retrieved["state_timeline"][-1]["state"] == "snoozed"
    assert not deleted.is_error
    assert "Not found." in error_text(gone)


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        (
            {},
            "At least one filter is required (severityLevels, serviceNames, or filterGroup). "
            "(field: filters)",
        ),
        (
            {"filters": SERVICE, "window_minutes": 3},
            "Must be one of [5, 10, 15, 30, 60]. (field: window_minutes)",
        ),
        (
            {"filters": SERVICE, "datapoints_to_alarm": 2},
            "Cannot exceed evaluation_periods (2 > 1). (field: datapoints_to_alarm)",
        ),
        (
            {"filters": SERVICE, "snooze_until": "2001-01-01T00:00:00Z"},
            "Must be a future datetime. (field: snooze_until)",
        ),
        ({"filters": "checkout"}, "Must be a JSON object. (field: filters)"),
    ],
)
async def test_validation_errors_carry_the_spec_message_and_field(
    connect: Connect, alert: dict[str, Any], message: str
) -> None:
    async with connect() as client:
        result = await client.call_tool("logs-alerts-create", {"alert": alert})
        listed = data(await client.call_tool("logs-alerts-list", {}))

    assert error_text(result).endswith(message)
    assert listed["count"] == 0


async def test_reset_explains_that_only_broken_alerts_reset(connect: Connect) -> None:
    async with connect() as client:
        alert = data(await client.call_tool("logs-alerts-create", {"alert": {"filters": SERVICE}}))
        result = await client.call_tool("logs-alerts-reset", {"alert_id": alert["id"]})

    assert error_text(result).endswith("Only broken alerts can be reset. (field: state)")


async def test_events_kind_is_validated(connect: Connect) -> None:
    async with connect() as client:
        alert = data(await client.call_tool("logs-alerts-create", {"alert": {"filters": SERVICE}}))
        result = await client.call_tool("logs-alerts-events-list", {"alert_id": alert["id"], "kind": "fire"})

    assert "Must be one of ['broken_config', 'check'," in error_text(result)
    assert error_text(result).endswith("(field: kind)")


async def test_a_read_only_caller_cannot_write(
    connect: Connect, services: Services, project: TestProject
) -> None:
    existing = services.alerts.create(project.id, {"filters": SERVICE}, created_by_key_id=None)
    async with connect(READ) as client:
        listed = data(await client.call_tool("logs-alerts-list", {}))
        results = [
            await client.call_tool("logs-alerts-create", {"alert": {"filters": SERVICE}}),
            await client.call_tool(
                "logs-alerts-partial-update", {"alert_id": str(existing.id), "alert": {"name": "x"}}
            ),
            await client.call_tool(
                "logs-alerts-update", {"alert_id": str(existing.id), "alert": {"filters": SERVICE}}
            ),
            await client.call_tool("logs-alerts-destroy", {"alert_id": str(existing.id)}),
            await client.call_tool("logs-alerts-reset", {"alert_id": str(existing.id)}),
        ]

    assert listed["count"] == 1
    for result in results:
        assert "needs the 'logs:write' scope" in error_text(result)
    assert services.alerts.retrieve(project.id, str(existing.id)).name == "Untitled alert"


async def test_another_projects_alert_is_not_found(connect: Connect, services: Services) -> None:
    other = services.accounts.create_project("someone else")
    assert other.id is not None
    foreign = services.alerts.create(other.id, {"filters": SERVICE}, created_by_key_id=None)
    async with connect() as client:
        results = [
            await client.call_tool("logs-alerts-retrieve", {"alert_id": str(foreign.id)}),
            await client.call_tool(
                "logs-alerts-partial-update", {"alert_id": str(foreign.id), "alert": {"name": "x"}}
            ),
            await client.call_tool("logs-alerts-destroy", {"alert_id": str(foreign.id)}),
            await client.call_tool("logs-alerts-events-list", {"alert_id": str(foreign.id)}),
            await client.call_tool("logs-alerts-list", {"project_id": other.id}),
        ]

    for result in results[:4]:
        assert "Not found." in error_text(result)
    assert "may not access project" in error_text(results[4])
    assert services.alerts.retrieve(other.id, str(foreign.id)).name == "Untitled alert"
