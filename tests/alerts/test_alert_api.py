"""The alert REST API (alerts.md §7) over the real app and stores: paths with and without the trailing
slash, status codes, the representation, error bodies with the spec's messages and attrs, the cap, every
control-plane action and its event row, and authentication, scopes and project scoping."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from logs_mcp.app import build_rest_app
from logs_mcp.logs.accounts import READ
from logs_mcp.services import Services
from logs_mcp.store.alert_tables import AlertRow

if TYPE_CHECKING:
    from conftest import TestProject

SERVICE = {"serviceNames": ["checkout"]}
ALERT_FIELDS = [
    "id",
    "name",
    "enabled",
    "filters",
    "threshold_count",
    "threshold_operator",
    "window_minutes",
    "check_interval_minutes",
    "state",
    "evaluation_periods",
    "datapoints_to_alarm",
    "cooldown_minutes",
    "snooze_until",
    "next_check_at",
    "last_notified_at",
    "last_checked_at",
    "consecutive_failures",
    "last_error_message",
    "state_timeline",
    "destination_types",
    "first_enabled_at",
    "created_at",
    "created_by",
    "updated_at",
]
NOT_FOUND = {"type": "invalid_request", "code": "not_found", "detail": "Not found.", "attr": None}


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(build_rest_app(services)) as test_client:
        yield test_client


class Api:
    """Calls under one project's alerts path with one API key."""

    def __init__(self, client: TestClient, project_id: int, key: str) -> None:
        self.client = client
        self.base = f"/api/projects/{project_id}/logs/alerts/"
        self.headers = {"Authorization": f"Bearer {key}"}

    def request(self, method: str, path: str = "", body: Any = None, **params: Any) -> Any:
        return self.client.request(
            method, self.base + path, json=body, params=params or None, headers=self.headers
        )

    def create(self, **body: Any) -> dict[str, Any]:
        response = self.request("POST", body={"filters": SERVICE} | body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
def api(client: TestClient, project: TestProject) -> Api:
    return Api(client, project.id, project.api_key)


def test_create_returns_201_with_every_field_in_order(api: Api) -> None:
    response = api.request(
        "POST", body={"name": "checkout errors", "filters": SERVICE, "threshold_count": 10}
    )

    assert response.status_code == 201
    alert = response.json()
    assert list(alert) == ALERT_FIELDS
    assert alert["created_by"] == {"id": alert["created_by"]["id"], "label": "test"}
    assert alert["created_at"].endswith("Z")
    assert [set(interval) for interval in alert["state_timeline"]] == [{"start", "end", "state", "enabled"}]
    retrieved = api.request("GET", f"{alert['id']}/").json()
    assert {k: v for k, v in retrieved.items() if k != "state_timeline"} == {
        k: v for k, v in alert.items() if k != "state_timeline"
    }


def test_crud_with_and_without_trailing_slashes(api: Api) -> None:
    created = api.create(name="first")
    alert_id = created["id"]

    assert api.request("GET", alert_id).json()["name"] == "first"
    assert api.request("GET", f"{alert_id}/").json()["name"] == "first"
    listed = api.client.get(api.base.rstrip("/"), headers=api.headers).json()
    assert (listed["count"], listed["next"], listed["previous"]) == (1, None, None)
    assert [alert["id"] for alert in listed["results"]] == [alert_id]

    patched = api.request("PATCH", f"{alert_id}/", {"name": "second"})
    assert (patched.status_code, patched.json()["name"]) == (200, "second")
    replaced = api.request("PUT", alert_id, {"filters": SERVICE, "threshold_count": 7})
    assert (replaced.status_code, replaced.json()["name"], replaced.json()["threshold_count"]) == (
        200,
        "second",
        7,
    )

    deleted = api.request("DELETE", f"{alert_id}/")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert api.request("GET", alert_id).status_code == 404
    assert api.request("DELETE", alert_id).status_code == 404


def test_list_is_newest_first_with_page_links(api: Api) -> None:
    ids = [api.create(name=f"alert {index}")["id"] for index in range(3)]

    first = api.request("GET", limit=2).json()
    second = api.client.get(first["next"], headers=api.headers).json()

    assert [alert["id"] for alert in first["results"] + second["results"]] == list(reversed(ids))
    assert first["next"].endswith("limit=2&offset=2") and first["previous"] is None
    assert second["next"] is None and second["previous"].endswith("?limit=2")


@pytest.mark.parametrize(
    ("body", "attr", "detail", "code"),
    [
        (
            {},
            "filters",
            "At least one filter is required (severityLevels, serviceNames, or filterGroup).",
            "invalid",
        ),
        ({"filters": ["checkout"]}, "filters", "Must be a JSON object.", "invalid"),
        (
            {"filters": SERVICE, "window_minutes": 1},
            "window_minutes",
            "Must be one of [5, 10, 15, 30, 60].",
            "invalid",
        ),
        (
            {"filters": SERVICE, "evaluation_periods": 3, "datapoints_to_alarm": 4},
            "datapoints_to_alarm",
            "Cannot exceed evaluation_periods (4 > 3).",
            "invalid",
        ),
        (
            {"filters": SERVICE, "snooze_until": "2001-01-01T00:00:00Z"},
            "snooze_until",
            "Must be a future datetime.",
            "invalid",
        ),
        (
            {"filters": SERVICE, "threshold_count": 0},
            "threshold_count",
            "Ensure this value is greater than or equal to 1.",
            "min_value",
        ),
        (
            {"filters": SERVICE, "evaluation_periods": 11},
            "evaluation_periods",
            "Ensure this value is less than or equal to 10.",
            "max_value",
        ),
        (
            {"filters": SERVICE, "threshold_operator": "eq"},
            "threshold_operator",
            '"eq" is not a valid choice.',
            "invalid_choice",
        ),
    ],
)
def test_validation_errors_have_the_spec_body(
    api: Api, body: dict[str, Any], attr: str, detail: str, code: str
) -> None:
    response = api.request("POST", body=body)

    assert response.status_code == 400
    assert response.json() == {"type": "validation_error", "code": code, "detail": detail, "attr": attr}


def test_filter_shape_errors_name_the_location(api: Api) -> None:
    body = {
        "filters": {"filterGroup": {"type": "AND", "values": [{"type": "AND", "values": [{"key": "k"}]}]}}
    }

    error = api.request("POST", body=body).json()

    assert error["attr"] == "filters"
    assert error["detail"].startswith("Invalid filters shape at `filterGroup.values.0.values.0.type`: ")


@pytest.mark.parametrize(
    ("content", "detail"), [(b"{not json", "JSON parse error"), (b"[1]", "Invalid data.")]
)
def test_bodies_that_are_not_json_objects_are_400(api: Api, content: bytes, detail: str) -> None:
    response = api.client.post(
        api.base, content=content, headers=api.headers | {"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_a_draft_and_its_first_enable(api: Api) -> None:
    draft = api.request("POST", body={"enabled": False})
    assert draft.status_code == 201
    alert = draft.json()
    assert (alert["filters"], alert["first_enabled_at"]) == ({}, None)

    refused = api.request("PATCH", alert["id"], {"enabled": True})
    assert (refused.status_code, refused.json()["attr"]) == (400, "filters")

    enabled = api.request("PATCH", alert["id"], {"enabled": True, "filters": SERVICE}).json()
    assert enabled["first_enabled_at"] is not None
    events = api.request("GET", f"{alert['id']}/events/").json()["results"]
    assert [event["kind"] for event in events] == ["enable"]


def test_the_cap_is_twenty_per_project(api: Api, client: TestClient, services: Services) -> None:
    for _ in range(20):
        api.request("POST", body={"enabled": False})

    response = api.request("POST", body={"enabled": False})

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid",
        "detail": "Maximum number of alerts (20) reached for this project.",
        "attr": None,
    }
    assert api.request("GET").json()["count"] == 20


def test_snooze_unsnooze_and_their_events(api: Api) -> None:
    alert_id = api.create()["id"]
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    snoozed = api.request("PATCH", alert_id, {"snooze_until": until}).json()
    assert snoozed["state"] == "snoozed"
    unsnoozed = api.request("PATCH", alert_id, {"snooze_until": None}).json()
    assert (unsnoozed["state"], unsnoozed["snooze_until"]) == ("not_firing", None)
    assert [interval["state"] for interval in unsnoozed["state_timeline"]][-1] == "not_firing"

    events = api.request("GET", f"{alert_id}/events/").json()
    assert [(e["kind"], e["state_before"], e["state_after"]) for e in events["results"]] == [
        ("unsnooze", "snoozed", "not_firing"),
        ("snooze", "not_firing", "snoozed"),
    ]
    assert set(events["results"][0]) >= {
        "id",
        "created_at",
        "kind",
        "state_before",
        "state_after",
        "threshold_breached",
        "result_count",
        "error_message",
        "query_duration_ms",
    }


def test_events_kind_filter_and_its_error(api: Api) -> None:
    alert_id = api.create()["id"]
    api.request("PATCH", alert_id, {"enabled": False})
    api.request("PATCH", alert_id, {"threshold_count": 3})

    only = api.request("GET", f"{alert_id}/events", kind="disable").json()
    bad = api.request("GET", f"{alert_id}/events/", kind="fired")

    assert [event["kind"] for event in only["results"]] == ["disable"]
    assert bad.status_code == 400
    assert bad.json()["attr"] == "kind"
    assert bad.json()["detail"].startswith("Must be one of ['broken_config', 'check', ")


def test_reset_of_a_healthy_alert_is_400_on_state(api: Api) -> None:
    alert_id = api.create()["id"]

    response = api.request("POST", f"{alert_id}/reset/")

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid",
        "detail": "Only broken alerts can be reset.",
        "attr": "state",
    }


def test_reset_of_a_broken_alert(api: Api, services: Services, project: TestProject) -> None:
    alert_id = api.create()["id"]
    force_broken(services, alert_id)

    response = api.request("POST", f"{alert_id}/reset")

    assert response.status_code == 200
    assert (response.json()["state"], response.json()["consecutive_failures"]) == ("not_firing", 0)
    events = api.request("GET", f"{alert_id}/events/", kind="reset").json()["results"]
    assert [(e["state_before"], e["state_after"]) for e in events] == [("broken", "not_firing")]


def force_broken(services: Services, alert_id: str) -> None:
    """Play the check engine's part: five failed checks broke the alert."""
    with Session(services.state_engine) as session:
        row = session.get(AlertRow, uuid.UUID(alert_id))
        assert row is not None
        row.state, row.consecutive_failures = "broken", 5
        session.add(row)
        session.commit()


# --- authentication, scopes, projects ---------------------------------------------------------------


def test_a_read_only_key_reads_but_cannot_write(api: Api, services: Services, project: TestProject) -> None:
    alert_id = api.create()["id"]
    read_only = Api(api.client, project.id, services.accounts.create_api_key([project.id], [READ]).key)

    assert read_only.request("GET").status_code == 200
    assert read_only.request("GET", alert_id).status_code == 200
    assert read_only.request("GET", f"{alert_id}/events/").status_code == 200
    writes = [
        read_only.request("POST", body={"enabled": False}),
        read_only.request("PUT", alert_id, {"filters": SERVICE}),
        read_only.request("PATCH", alert_id, {"name": "x"}),
        read_only.request("DELETE", alert_id),
        read_only.request("POST", f"{alert_id}/reset/"),
    ]
    assert [response.status_code for response in writes] == [403] * 5
    assert writes[0].json()["detail"] == "This action needs the 'logs:write' scope, which this API key lacks."
    assert api.request("GET", alert_id).json()["name"] == "Untitled alert"


def test_without_a_key_it_is_401(api: Api) -> None:
    response = api.client.get(api.base)

    assert response.status_code == 401


def test_another_projects_alert_is_404_everywhere(api: Api, services: Services, client: TestClient) -> None:
    alert_id = api.create()["id"]
    other = services.accounts.create_project("other project")
    assert other.id is not None
    outsider = Api(
        client, other.id, services.accounts.create_api_key([other.id], ["logs:read", "logs:write"]).key
    )

    responses = [
        outsider.request("GET", alert_id),
        outsider.request("PUT", alert_id, {"filters": SERVICE}),
        outsider.request("PATCH", alert_id, {"name": "x"}),
        outsider.request("DELETE", alert_id),
        outsider.request("POST", f"{alert_id}/reset/"),
        outsider.request("GET", f"{alert_id}/events/"),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 6
    assert outsider.request("GET").json()["results"] == []
    assert api.request("GET", alert_id).status_code == 200


def test_a_key_for_another_project_is_403(api: Api, services: Services, client: TestClient) -> None:
    other = services.accounts.create_project("foreign")
    assert other.id is not None
    foreign_key = services.accounts.create_api_key([other.id], ["logs:read", "logs:write"]).key

    response = client.get(api.base, headers={"Authorization": f"Bearer {foreign_key}"})

    assert response.status_code == 403
