"""The MCP server in-process through the SDK's Client, in both protocol eras: tool definitions, answers
from the real store, and project resolution errors an agent can act on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

import pytest
from mcp import Client
from mcp.types import CallToolResult

from logs_mcp.logs.accounts import READ, Principal
from logs_mcp.services import Services
from logs_mcp.tools.server import build_mcp_server

if TYPE_CHECKING:
    from conftest import TestProject

HAS_LOGS = "logs-has-logs"
PROTOCOL_VERSIONS = {"auto": "2026-07-28", "legacy": "2025-11-25"}

pytestmark = pytest.mark.anyio

Connect = Callable[[Principal | None], AbstractAsyncContextManager[Client]]


@pytest.fixture(params=sorted(PROTOCOL_VERSIONS))
def connect(request: pytest.FixtureRequest, services: Services) -> Connect:
    """Opens a client in one protocol era on a stdio-style server acting as the given local principal."""
    mode = request.param

    @asynccontextmanager
    async def open_client(local: Principal | None) -> AsyncIterator[Client]:
        server = build_mcp_server(services, local_principal=local, http_auth=False)
        async with Client(server, mode=mode) as client:
            assert client.protocol_version == PROTOCOL_VERSIONS[mode]
            yield client

    return open_client


def local_user(*project_ids: int, default: int | None = None) -> Principal:
    return Principal(frozenset({READ}), frozenset(project_ids), default_project_id=default)


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content if block.type == "text")


async def test_every_tool_is_described_and_annotated(connect: Connect) -> None:
    async with connect(None) as client:
        tools = (await client.list_tools()).tools

    assert HAS_LOGS in {tool.name for tool in tools}
    for tool in tools:
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.read_only_hint is not None, tool.name
        assert tool.annotations.destructive_hint is not None, tool.name
        if tool.annotations.read_only_hint:
            assert tool.annotations.destructive_hint is False, tool.name
        assert tool.output_schema is not None, tool.name


async def test_has_logs_is_false_until_a_record_is_ingested(
    connect: Connect, services: Services, project: TestProject, one_log_record: bytes
) -> None:
    project_id = project.id
    async with connect(local_user(project_id, default=project_id)) as client:
        before = await client.call_tool(HAS_LOGS, {})
        services.ingest.ingest(project_id, one_log_record, content_type="application/json")
        after = await client.call_tool(HAS_LOGS, {})
        explicit = await client.call_tool(HAS_LOGS, {"project_id": project_id})

    assert (before.is_error, before.structured_content) == (False, {"hasLogs": False})
    assert (after.is_error, after.structured_content) == (False, {"hasLogs": True})
    assert explicit.structured_content == {"hasLogs": True}


async def test_a_project_the_caller_may_not_use_is_a_tool_error(connect: Connect) -> None:
    async with connect(local_user(5, default=5)) as client:
        result = await client.call_tool(HAS_LOGS, {"project_id": 6})

    assert "may not access project 6" in error_text(result)


async def test_a_missing_project_id_lists_the_projects_to_choose_from(connect: Connect) -> None:
    async with connect(local_user(3, 8)) as client:
        result = await client.call_tool(HAS_LOGS, {})

    text = error_text(result)
    assert "project_id is required" in text
    assert "3, 8" in text


async def test_a_bad_project_id_names_the_field(connect: Connect) -> None:
    async with connect(local_user(3, default=3)) as client:
        result = await client.call_tool(HAS_LOGS, {"project_id": "three"})

    assert "project_id" in error_text(result)


async def test_without_a_principal_the_caller_is_told_to_authenticate(connect: Connect) -> None:
    async with connect(None) as client:
        result = await client.call_tool(HAS_LOGS, {"project_id": 1})

    assert "API key" in error_text(result)
