"""MCP over HTTP against the real uvicorn server: streamable HTTP (both protocol eras) and SSE with a
valid API key, 401/403 without a usable one, and no way for a key to reach another project's data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from logs_mcp.logs.accounts import READ, WRITE
from logs_mcp.services import Services

if TYPE_CHECKING:
    from conftest import TestProject

HAS_LOGS = "logs-has-logs"
UNKNOWN_PROJECT_ID = 999_999
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
STREAMABLE_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

Connect = Callable[[str], AbstractAsyncContextManager[Client]]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# transport -> the protocol version the SDK client settles on
PROTOCOL_VERSIONS = {
    "streamable-http": "2026-07-28",
    "streamable-http-legacy": "2025-11-25",
    "sse": "2026-07-28",
    "sse-legacy": "2025-11-25",
}


@pytest.fixture(params=sorted(PROTOCOL_VERSIONS))
def connect(request: pytest.FixtureRequest, server_url: str) -> Connect:
    """Opens an SDK client on one of the server's MCP transports with the given API key."""
    transport = request.param

    @asynccontextmanager
    async def open_client(key: str) -> AsyncIterator[Client]:
        async with AsyncExitStack() as stack:
            if transport.startswith("sse"):
                streams = sse_client(f"{server_url}/sse", headers=bearer(key))
            else:
                http_client = await stack.enter_async_context(httpx2.AsyncClient(headers=bearer(key)))
                streams = streamable_http_client(f"{server_url}/mcp", http_client=http_client)
            mode = "legacy" if transport.endswith("legacy") else "auto"
            client = await stack.enter_async_context(Client(streams, mode=mode))
            assert client.protocol_version == PROTOCOL_VERSIONS[transport]
            yield client

    return open_client


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    assert result.structured_content is None
    return " ".join(block.text for block in result.content if block.type == "text")


@pytest.mark.anyio
async def test_a_valid_key_lists_tools_and_answers_has_logs(
    connect: Connect, services: Services, project: TestProject, one_log_record: bytes
) -> None:
    async with connect(project.api_key) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        before = await client.call_tool(HAS_LOGS, {})  # the key's only project is the default
        services.ingest.ingest(project.id, one_log_record, content_type="application/json")
        after = await client.call_tool(HAS_LOGS, {"project_id": project.id})

    assert HAS_LOGS in tools
    assert (before.is_error, before.structured_content) == (False, {"hasLogs": False})
    assert (after.is_error, after.structured_content) == (False, {"hasLogs": True})


@pytest.mark.anyio
async def test_a_key_for_one_project_cannot_reach_another(
    connect: Connect, services: Services, project: TestProject, one_log_record: bytes
) -> None:
    other = services.accounts.create_project("someone else's")
    assert other.id is not None
    services.ingest.ingest(other.id, one_log_record, content_type="application/json")

    async with connect(project.api_key) as client:
        existing = await client.call_tool(HAS_LOGS, {"project_id": other.id})
        missing = await client.call_tool(HAS_LOGS, {"project_id": UNKNOWN_PROJECT_ID})

    existing_text = error_text(existing)
    assert f"may not access project {other.id}" in existing_text
    assert "hasLogs" not in existing_text
    # The answer for a project that exists is the answer for one that does not.
    assert existing_text.replace(str(other.id), "ID") == error_text(missing).replace(
        str(UNKNOWN_PROJECT_ID), "ID"
    )


def refusals(server_url: str, headers: dict[str, str]) -> list[httpx.Response]:
    """The first request of each transport: streamable HTTP initialize, SSE stream, SSE message post."""
    return [
        httpx.post(f"{server_url}/mcp", json=INITIALIZE, headers={**STREAMABLE_HEADERS, **headers}),
        httpx.get(f"{server_url}/sse", headers=headers),
        httpx.post(f"{server_url}/messages/?session_id=0123", json=INITIALIZE, headers=headers),
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("lmk_not-a-key"), {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no key", "bad key", "not bearer"],
)
def test_without_a_valid_key_every_transport_answers_401(server_url: str, headers: dict[str, str]) -> None:
    for response in refusals(server_url, headers):
        assert response.status_code == 401, response.request.url
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
        assert response.json()["error"] == "invalid_token"


def test_a_key_without_the_read_scope_gets_403(
    server_url: str, services: Services, project: TestProject
) -> None:
    write_only = services.accounts.create_api_key([project.id], [WRITE], label="write only")

    for response in refusals(server_url, bearer(write_only.key)):
        assert response.status_code == 403, response.request.url
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        assert READ in response.json()["error_description"]


@pytest.mark.anyio
async def test_a_key_with_several_projects_must_name_one(
    connect: Connect, services: Services, project: TestProject
) -> None:
    second = services.accounts.create_project("second")
    assert second.id is not None
    key = services.accounts.create_api_key([project.id, second.id], [READ], label="two projects")

    async with connect(key.key) as client:
        unnamed = await client.call_tool(HAS_LOGS, {})
        named = await client.call_tool(HAS_LOGS, {"project_id": second.id})

    text = error_text(unnamed)
    assert "project_id is required" in text
    assert f"{project.id}, {second.id}" in text
    assert named.structured_content == {"hasLogs": False}
