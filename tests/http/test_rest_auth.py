"""REST authentication and authorization: who gets which status, with error bodies that leak nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from logs_mcp.errors import PermissionDenied
from logs_mcp.http import errors
from logs_mcp.http.auth import WriteProject
from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.services import Services
from logs_mcp.store.state import Project

if TYPE_CHECKING:
    from conftest import TestProject

ERROR_FIELDS = {"type", "code", "detail", "attr"}
UNKNOWN_PROJECT_ID = 999_999
HAS_LOGS_PATHS = ["/api/projects/{id}/logs/has_logs", "/api/projects/{id}/logs/has_logs/"]


@pytest.fixture(params=HAS_LOGS_PATHS, ids=["no slash", "trailing slash"])
def has_logs_url(request: pytest.FixtureRequest, server_url: str) -> str:
    """The has_logs URL template, with and without its trailing slash (both are served)."""
    return server_url + request.param


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_body(response: httpx.Response | httpx2.Response, status: int) -> dict[str, str | None]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_FIELDS
    return body


def test_the_project_key_reads_its_project(has_logs_url: str, project: TestProject) -> None:
    response = httpx.get(has_logs_url.format(id=project.id), headers=bearer(project.api_key))

    assert response.status_code == 200
    assert response.json() == {"hasLogs": False}


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("lmk_not-a-key"), {"Authorization": "Bearer"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["no key", "bad key", "empty bearer", "not bearer"],
)
def test_without_a_valid_key_the_answer_is_401(
    has_logs_url: str, project: TestProject, headers: dict[str, str]
) -> None:
    response = httpx.get(has_logs_url.format(id=project.id), headers=headers)

    body = error_body(response, 401)
    assert body["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "hasLogs" not in response.text


def test_a_key_for_another_project_gets_403_whether_or_not_it_exists(
    has_logs_url: str, services: Services, project: TestProject, one_log_record: bytes
) -> None:
    other = services.accounts.create_project("other team")
    assert other.id is not None
    services.ingest.ingest(other.id, one_log_record, content_type="application/json")

    existing = httpx.get(has_logs_url.format(id=other.id), headers=bearer(project.api_key))
    missing = httpx.get(has_logs_url.format(id=UNKNOWN_PROJECT_ID), headers=bearer(project.api_key))

    existing_body = error_body(existing, 403)
    missing_body = error_body(missing, 403)
    assert existing_body["code"] == "permission_denied"
    assert existing_body["detail"] == f"This API key may not access project {other.id}."
    assert missing_body == {
        **existing_body,
        "detail": f"This API key may not access project {UNKNOWN_PROJECT_ID}.",
    }


def test_a_project_the_key_lists_but_that_is_gone_is_404(has_logs_url: str, services: Services) -> None:
    doomed = services.accounts.create_project("deleted later")
    assert doomed.id is not None
    key = services.accounts.create_api_key([doomed.id], [READ], label="outlives its project")
    with Session(services.state_engine) as session:
        session.delete(session.get(Project, doomed.id))
        session.commit()

    response = httpx.get(has_logs_url.format(id=doomed.id), headers=bearer(key.key))

    body = error_body(response, 404)
    assert body["code"] == "not_found"
    assert str(doomed.id) in (body["detail"] or "")


def test_a_bad_project_id_is_400_naming_the_field(server_url: str, project: TestProject) -> None:
    response = httpx.get(f"{server_url}/api/projects/0/logs/has_logs", headers=bearer(project.api_key))

    body = error_body(response, 400)
    assert body["type"] == "validation_error"
    assert body["attr"] == "project_id"


@pytest.fixture
def write_app(services: Services) -> TestClient:
    """A minimal app with one write-scope route, guarded as every real write route will be."""
    app = FastAPI()
    app.state.services = services
    errors.install(app)

    @app.post("/api/projects/{project_id}/logs/write_probe")
    async def write_probe(project_id: WriteProject) -> dict[str, int]:
        return {"project_id": project_id}

    return TestClient(app)


def test_a_read_only_key_on_a_write_route_is_403(
    write_app: TestClient, services: Services, project: TestProject
) -> None:
    read_only = services.accounts.create_api_key([project.id], [READ], label="read only")
    url = f"/api/projects/{project.id}/logs/write_probe"

    refused = write_app.post(url, headers=bearer(read_only.key))
    allowed = write_app.post(url, headers=bearer(project.api_key))
    anonymous = write_app.post(url)

    body = error_body(refused, 403)
    assert body["code"] == "permission_denied"
    assert WRITE in (body["detail"] or "")
    assert allowed.status_code == 200
    assert allowed.json() == {"project_id": project.id}
    error_body(anonymous, 401)


def test_principal_checks_the_project_before_the_scope() -> None:
    reader = Principal(frozenset({READ}), frozenset({1}))

    reader.authorize(READ, 1)
    with pytest.raises(PermissionDenied, match="'logs:write' scope"):
        reader.authorize(WRITE, 1)
    with pytest.raises(PermissionDenied, match="may not access project 2"):
        reader.authorize(WRITE, 2)


def test_healthz_needs_no_key(server_url: str) -> None:
    response = httpx.get(f"{server_url}/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_openapi_document_lists_has_logs(server_url: str) -> None:
    response = httpx.get(f"{server_url}/api/schema/")

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/api/projects/{project_id}/logs/has_logs"]["get"]
    assert "200" in operation["responses"]
    assert [parameter["name"] for parameter in operation["parameters"]] == ["project_id"]
