"""``logs-mcp`` as users run it, in real subprocesses with data directories of their own: stdio on the
embedded store, the explanation when a server owns that store, the stdio bridge to that server, and the
CLI commands that keep working while it runs."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import httpx
import httpx2
import pytest
from click.testing import CliRunner
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from logs_mcp.cli import main

LOGS_MCP = str(Path(sys.executable).with_name("logs-mcp"))
HAS_LOGS = "logs-has-logs"
COMMAND_TIMEOUT_SECONDS = 60
SERVER_START_TIMEOUT_SECONDS = 60
UNKNOWN_PROJECT_ID = 999_999


def clean_env() -> dict[str, str]:
    """This environment without LOGS_MCP_* settings, so only the options a test passes count."""
    return {name: value for name, value in os.environ.items() if not name.startswith("LOGS_MCP_")}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOGS_MCP, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=COMMAND_TIMEOUT_SECONDS,
    )


def cli_json(*commands: list[str]) -> list[dict[str, Any]]:
    """Run ``--json`` commands side by side; each must print exactly one JSON object on stdout."""
    processes = [
        subprocess.Popen(
            [LOGS_MCP, *command, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for command in commands
    ]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
        assert process.returncode == 0, stderr
        output = json.loads(stdout)  # refuses anything after the first JSON value
        assert isinstance(output, dict)
        outputs.append(output)
    return outputs


def stdio_server(*args: str) -> StdioServerParameters:
    return StdioServerParameters(command=LOGS_MCP, args=["stdio", *args], env=clean_env())


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_help_lists_every_command() -> None:
    """In-process: the console script itself is run by every other test here."""
    top_help = CliRunner().invoke(main, ["--help"])

    assert top_help.exit_code == 0, top_help.output
    assert set(main.commands) >= {"serve", "stdio", "demo", "projects", "keys", "db"}
    for name, command in main.commands.items():
        assert re.search(rf"^\s+{name}\s+\S", top_help.output, re.MULTILINE), f"{name} missing from --help"
        if isinstance(command, click.Group):
            group_help = CliRunner().invoke(main, [name, "--help"]).output
            for sub in command.commands:
                assert re.search(rf"^\s+{sub}\s+\S", group_help, re.MULTILINE), f"{name} {sub} missing"


@pytest.mark.anyio
async def test_stdio_serves_the_embedded_store_on_the_configured_project(tmp_path: Path) -> None:
    [project] = cli_json(["projects", "create", "stdio", "--data-dir", str(tmp_path)])
    assert isinstance(project["id"], int)
    assert project["ingestion_token"]

    server = stdio_server("--data-dir", str(tmp_path), "--no-demo", "--project", str(project["id"]))
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        answer = await client.call_tool(HAS_LOGS, {})
        elsewhere = await client.call_tool(HAS_LOGS, {"project_id": project["id"] + 1})

    assert tools[HAS_LOGS].annotations is not None
    assert tools[HAS_LOGS].annotations.read_only_hint is True
    assert not answer.is_error
    assert answer.structured_content == {"hasLogs": False}
    assert elsewhere.is_error
    assert any(f"project {project['id'] + 1}" in getattr(block, "text", "") for block in elsewhere.content)


@dataclass(frozen=True)
class RunningServer:
    url: str
    data_dir: Path


@dataclass(frozen=True)
class ServedAccounts:
    """Made with the CLI while the server runs: a project holding one log record, an empty one, and a
    read-only key for both."""

    with_logs: dict[str, Any]
    empty: dict[str, Any]
    key: dict[str, Any]


@pytest.fixture(scope="module")
def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A real ``logs-mcp serve`` subprocess on a data directory of its own."""
    data_dir = tmp_path_factory.mktemp("served-data")
    log_path = tmp_path_factory.mktemp("served-log") / "serve.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [LOGS_MCP, "serve", "--no-demo", "--data-dir", str(data_dir), "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    try:
        wait_until_healthy(url, process, log_path)
        yield RunningServer(url, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"logs-mcp serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"logs-mcp serve did not answer in {SERVER_START_TIMEOUT_SECONDS}s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def served_accounts(running_server: RunningServer, one_log_record: bytes) -> ServedAccounts:
    data_dir = str(running_server.data_dir)
    with_logs, empty = cli_json(
        ["projects", "create", "with logs", "--data-dir", data_dir],
        ["projects", "create", "empty", "--data-dir", data_dir],
    )
    [key] = cli_json(
        [
            "keys",
            "create",
            "--scopes",
            "logs:read",
            "--data-dir",
            data_dir,
            "--project",
            str(with_logs["id"]),
            "--project",
            str(empty["id"]),
        ]
    )
    ingested = httpx.post(
        f"{running_server.url}/v1/logs",
        content=one_log_record,
        headers={**bearer(with_logs["ingestion_token"]), "Content-Type": "application/json"},
    )
    assert ingested.status_code == 200, ingested.text
    return ServedAccounts(with_logs, empty, key)


def test_cli_creates_projects_and_keys_while_the_server_runs(
    running_server: RunningServer, served_accounts: ServedAccounts
) -> None:
    for project in (served_accounts.with_logs, served_accounts.empty):
        assert isinstance(project["id"], int)
        assert isinstance(project["ingestion_token"], str)
        assert project["ingestion_token"]
    assert served_accounts.key["scopes"] == ["logs:read"]
    assert served_accounts.key["project_ids"] == sorted(
        [served_accounts.with_logs["id"], served_accounts.empty["id"]]
    )

    # The running server sees what the CLI wrote: the new key works on both projects.
    for project, has_logs in ((served_accounts.with_logs, True), (served_accounts.empty, False)):
        response = httpx.get(
            f"{running_server.url}/api/projects/{project['id']}/logs/has_logs",
            headers=bearer(served_accounts.key["key"]),
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"hasLogs": has_logs}


def test_stdio_on_a_served_data_dir_explains_both_ways_out(running_server: RunningServer) -> None:
    done = cli("stdio", "--data-dir", str(running_server.data_dir))

    assert done.returncode != 0
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "Stop it" in line
    assert f"--server {running_server.url}" in line
    assert "--api-key" in line


def test_the_bridge_refuses_a_bad_key_in_one_line(running_server: RunningServer) -> None:
    done = cli("stdio", "--server", running_server.url, "--api-key", "lmk_not-a-key")

    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert running_server.url in line
    assert "--api-key" in line


async def tools_and_answers(client: Client, calls: list[dict[str, Any]]) -> tuple[Any, ...]:
    """What a client sees: the tool definitions, then each call's error flag, payload and text."""
    tools = [tool.model_dump() for tool in (await client.list_tools()).tools]
    answers = []
    for arguments in calls:
        result = await client.call_tool(HAS_LOGS, arguments)
        texts = [block.text for block in result.content if block.type == "text"]
        answers.append((result.is_error, result.structured_content, texts))
    return tools, answers


@pytest.mark.anyio
async def test_the_stdio_bridge_answers_like_the_servers_mcp_endpoint(
    running_server: RunningServer, served_accounts: ServedAccounts
) -> None:
    key = served_accounts.key["key"]
    calls = [
        {"project_id": served_accounts.with_logs["id"]},
        {"project_id": served_accounts.empty["id"]},
        {"project_id": UNKNOWN_PROJECT_ID},
        {},  # ambiguous: the key has two projects
    ]
    http_client = httpx2.AsyncClient(headers=bearer(key))
    transport = streamable_http_client(f"{running_server.url}/mcp", http_client=http_client)
    async with http_client, Client(transport) as direct_client:
        direct = await tools_and_answers(direct_client, calls)
    async with Client(stdio_server("--server", running_server.url, "--api-key", key)) as bridged:
        via_bridge = await tools_and_answers(bridged, calls)

    assert via_bridge == direct
    tools, answers = direct
    assert HAS_LOGS in [tool["name"] for tool in tools]
    assert [(is_error, payload) for is_error, payload, _texts in answers[:2]] == [
        (False, {"hasLogs": True}),
        (False, {"hasLogs": False}),
    ]
    assert answers[2][0] is True
    assert f"project {UNKNOWN_PROJECT_ID}" in answers[2][2][0]
    assert answers[3][0] is True
    assert "project_id is required" in answers[3][2][0]
