"""The ``logs-alerts-deliveries-list`` MCP tool in-process through the SDK's Client (both protocol eras): an
alert's notifications with their attempts as the deliverer recorded them, the status filter, paging, and
project scoping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import pytest
from mcp import Client
from mcp.types import CallToolResult
from sqlmodel import Session

from logs_mcp.logs.accounts import READ, Principal
from logs_mcp.services import Services
from logs_mcp.store.engine_store import DeliveryAttemptRow, OutboxRow
from logs_mcp.tools.server import build_mcp_server

if TYPE_CHECKING:
    from conftest import TestProject

pytestmark = pytest.mark.anyio

TOOL = "logs-alerts-deliveries-list"
WEBHOOK = {"type": "webhook", "webhook_url": "https://93.184.215.14/hooks/logs"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = timedelta(seconds=1)

Connect = Callable[[], AbstractAsyncContextManager[Client]]


@pytest.fixture(params=["auto", "legacy"])
def connect(request: pytest.FixtureRequest, services: Services, project: TestProject) -> Connect:
    """A client on a stdio-style server acting as a read-only local user of ``project``."""

    @asynccontextmanager
    async def open_client() -> AsyncIterator[Client]:
        local = Principal(frozenset({READ}), frozenset({project.id}), default_project_id=project.id)
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


def alert_with_deliveries(services: Services, project_id: int) -> tuple[str, dict[str, UUID]]:
    """An alert with a webhook destination and two notifications as the deliverer leaves them: the firing
    one delivered on its second attempt (after a 500), the resolved one dead (410)."""
    alert = services.alerts.create(
        project_id, {"filters": {"severityLevels": ["error"]}}, created_by_key_id=None
    )
    destination = services.destinations.create(project_id, str(alert.id), WEBHOOK)
    rules = dict(zip(("firing", "resolved", "broken", "errored"), destination.hog_function_ids, strict=True))
    fired = notification(alert.id, project_id, rules["firing"], "firing", T0, status="delivered", attempts=2)
    fired.delivered_at, fired.last_status_code = T0 + 7 * S, 200
    resolved = notification(alert.id, project_id, rules["resolved"], "resolved", T0 + 300 * S, "dead", 1)
    resolved.last_status_code, resolved.last_error = 410, "HTTP 410: gone"
    attempts = [
        attempt(fired.id, 1, T0, "retry", 500, "HTTP 500: boom"),
        attempt(fired.id, 2, T0 + 6 * S, "delivered", 200, None),
        attempt(resolved.id, 1, T0 + 300 * S, "dead", 410, "HTTP 410: gone"),
    ]
    ids = {"firing": fired.id, "resolved": resolved.id}
    with Session(services.state_engine) as session:
        session.add_all([fired, resolved])
        session.flush()
        session.add_all(attempts)
        session.commit()
    return str(alert.id), ids


def notification(
    alert_id: UUID, project_id: int, rule_id: UUID, kind: str, at: datetime, status: str, attempts: int
) -> OutboxRow:
    outbox_id = uuid4()
    return OutboxRow(
        id=outbox_id,
        alert_id=alert_id,
        project_id=project_id,
        rule_id=rule_id,
        kind=kind,
        destination_type="webhook",
        payload={"alert_id": str(alert_id)},
        idempotency_key=str(outbox_id),
        status=status,
        attempts=attempts,
        next_attempt_at=at,
        created_at=at,
    )


def attempt(
    notification_id: UUID, number: int, at: datetime, outcome: str, code: int, error: str | None
) -> DeliveryAttemptRow:
    return DeliveryAttemptRow(
        notification_id=notification_id,
        attempt=number,
        started_at=at,
        finished_at=at + S / 2,
        outcome=outcome,
        status_code=code,
        error=error,
    )


async def test_the_tool_is_read_only_and_says_when_to_use_it(connect: Connect) -> None:
    async with connect() as client:
        tool = next(tool for tool in (await client.list_tools()).tools if tool.name == TOOL)

    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    assert "never got an alert" in (tool.description or "")
    assert set(tool.input_schema["properties"]) >= {"alert_id", "status", "limit", "offset", "project_id"}
    assert tool.input_schema["required"] == ["alert_id"]


async def test_lists_an_alerts_deliveries_newest_first_with_their_attempts(
    connect: Connect, services: Services, project: TestProject
) -> None:
    alert_id, ids = alert_with_deliveries(services, project.id)
    async with connect() as client:
        listed = data(await client.call_tool(TOOL, {"alert_id": alert_id}))
        dead = data(await client.call_tool(TOOL, {"alert_id": alert_id, "status": "dead"}))
        first_page = data(await client.call_tool(TOOL, {"alert_id": alert_id, "limit": 1}))

    assert listed["count"] == 2 and listed["next"] is None
    resolved, fired = listed["results"]
    assert (resolved["id"], resolved["kind"], resolved["status"]) == (
        str(ids["resolved"]),
        "resolved",
        "dead",
    )
    assert (resolved["last_status_code"], resolved["last_error"]) == (410, "HTTP 410: gone")
    assert resolved["next_attempt_at"] is None  # finished: no retry to come
    assert (fired["status"], fired["attempts"], fired["idempotency_key"]) == (
        "delivered",
        2,
        str(ids["firing"]),
    )
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in fired["attempt_history"]] == [
        (1, "retry", 500),
        (2, "delivered", 200),
    ]
    assert fired["destination_type"] == "webhook" and fired["delivered_at"] is not None
    assert [delivery["id"] for delivery in dead["results"]] == [str(ids["resolved"])]
    assert dead["count"] == 1
    assert first_page["count"] == 2 and [d["id"] for d in first_page["results"]] == [str(ids["resolved"])]
    assert first_page["next"].endswith(f"/logs/alerts/{alert_id}/deliveries/?limit=1&offset=1")


async def test_bad_status_and_other_projects_alerts_are_refused(
    connect: Connect, services: Services, project: TestProject
) -> None:
    alert_id, _ = alert_with_deliveries(services, project.id)
    other = services.accounts.create_project("someone else's deliveries")
    assert other.id is not None
    foreign_id, _ = alert_with_deliveries(services, other.id)
    async with connect() as client:
        bad_status = await client.call_tool(TOOL, {"alert_id": alert_id, "status": "lost"})
        foreign = await client.call_tool(TOOL, {"alert_id": foreign_id})
        foreign_project = await client.call_tool(TOOL, {"alert_id": foreign_id, "project_id": other.id})
        unknown = await client.call_tool(TOOL, {"alert_id": str(uuid4())})

    assert "Must be one of ['pending', 'delivering', 'delivered', 'dead']" in error_text(bad_status)
    assert error_text(bad_status).endswith("(field: status)")
    assert "Not found." in error_text(foreign)
    assert "may not access project" in error_text(foreign_project)
    assert "Not found." in error_text(unknown)
