"""Shared fixtures: one embedded store per test process (chDB allows one data path per process), one
running server on it, and a fresh project per test so tests never see each other's rows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from logs_mcp.app import build_asgi_app, build_services
from logs_mcp.config import Settings
from logs_mcp.logs.accounts import READ, WRITE
from logs_mcp.services import Services

SERVER_START_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class TestProject:
    """A project of its own for one test, with its ingestion token and a read+write API key."""

    __test__ = False  # not a test class, despite the name

    id: int
    ingestion_token: str
    api_key: str


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("logs-mcp-data"), port=0)
    built = build_services(settings)
    yield built
    built.close()


@pytest.fixture(scope="session")
def server_url(services: Services) -> Iterator[str]:
    """Base URL of a real uvicorn server (in a thread, on a free loopback port) over ``services``."""
    config = uvicorn.Config(build_asgi_app(services), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def project(services: Services, request: pytest.FixtureRequest) -> TestProject:
    created = services.accounts.create_project(request.node.name[:100])
    assert created.id is not None
    key = services.accounts.create_api_key([created.id], [READ, WRITE], label="test")
    return TestProject(id=created.id, ingestion_token=created.ingestion_token, api_key=key.key)


@pytest.fixture(scope="session")
def one_log_record() -> bytes:
    """An OTLP/JSON export request carrying a single log record, stamped at the start of the session."""
    record = {
        "timeUnixNano": str(time.time_ns()),
        "severityText": "ERROR",
        "body": {"stringValue": "payment declined"},
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]}
    return json.dumps(
        {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
    ).encode()
