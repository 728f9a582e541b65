"""Alert destinations (alerts.md §6) through both faces, REST and MCP, on the real app and stores: per-type
validation with the spec's messages and attrs, four rules per destination, destination_types on the alert,
atomic delete (foreign ids roll everything back), private-address refusal and its opt-out, project
scoping, scopes, and no secret or token in any answer.

DNS cannot run here: names other than localhost resolve through a stand-in for ``socket.getaddrinfo``.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.server.mcpserver import MCPServer
from sqlmodel import Session, select

from logs_mcp.alerts.destination_models import (
    DISCORD_URL_MESSAGE,
    NOT_THIS_ALERTS_MESSAGE,
    UNKNOWN_TYPE_MESSAGE,
)
from logs_mcp.alerts.integrations import Integrations
from logs_mcp.app import build_rest_app
from logs_mcp.logs.accounts import READ, WRITE, Principal
from logs_mcp.services import Services
from logs_mcp.store.alert_tables import NotificationRule
from logs_mcp.tools.server import build_mcp_server

if TYPE_CHECKING:
    from conftest import TestProject

SERVICE = {"serviceNames": ["checkout"]}
SLACK_TOKEN = "xoxb-1111-2222-SlackTokenNeverShown"
WEBHOOK_SECRET = "whsec-never-shown-0123456789"
DISCORD_TOKEN = "DiscordTokenNeverShown_abc"
DISCORD_URL = f"https://discord.com/api/webhooks/112233/{DISCORD_TOKEN}"
TEAMS_SECRET_PATH = "webhookb2/TeamsPathNeverShown@tenant/IncomingWebhook/abc/def"
TEAMS_URL = f"https://acme.webhook.office.com/{TEAMS_SECRET_PATH}"
WEBHOOK_URL = "https://hooks.example.com/logs?token=QueryTokenNeverShown"
SECRETS = (SLACK_TOKEN, WEBHOOK_SECRET, DISCORD_TOKEN, "TeamsPathNeverShown", "QueryTokenNeverShown")
FAKE_DNS = {
    "hooks.example.com": ["93.184.216.34"],
    "discord.com": ["162.159.135.232"],
    "acme.webhook.office.com": ["52.96.0.1"],
    "internal.example.com": ["10.0.0.7"],
    "mixed.example.com": ["93.184.216.34", "192.168.1.20"],
}
KINDS = ["firing", "resolved", "broken", "errored"]


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in FAKE_DNS:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in FAKE_DNS[host]]
        if host in ("localhost",) or re.fullmatch(r"[\d.:a-fA-F\[\]]+", str(host)):
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(build_rest_app(services)) as test_client:
        yield test_client


class Refused(Exception):
    """A call answered with an error: its detail and field (attr), from either face."""

    def __init__(self, detail: str, attr: str | None, status: int | None = None) -> None:
        super().__init__(f"{status} {detail} ({attr})")
        self.detail, self.attr, self.status = detail, attr, status


class Face(Protocol):
    def create(self, alert_id: str, body: dict[str, Any]) -> list[str]: ...
    def delete(self, alert_id: str, ids: list[str]) -> None: ...
    def list(self, alert_id: str) -> list[dict[str, Any]]: ...


@dataclass
class Rest:
    client: TestClient
    project_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def url(self, alert_id: str, suffix: str = "") -> str:
        return f"/api/projects/{self.project_id}/logs/alerts/{alert_id}/destinations/{suffix}"

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(path, json=body, headers=self.headers)

    def create(self, alert_id: str, body: dict[str, Any]) -> list[str]:
        response = self.post(self.url(alert_id), body)
        self._check(response, 201)
        ids: list[str] = response.json()["hog_function_ids"]
        return ids

    def delete(self, alert_id: str, ids: list[str]) -> None:
        response = self.post(self.url(alert_id, "delete/"), {"hog_function_ids": ids})
        self._check(response, 204)
        assert response.content == b""

    def list(self, alert_id: str) -> list[dict[str, Any]]:
        response = self.client.get(self.url(alert_id), headers=self.headers)
        self._check(response, 200)
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    @staticmethod
    def _check(response: Any, expected: int) -> None:
        if response.status_code != expected:
            body = response.json()
            assert set(body) == {"type", "code", "detail", "attr"}, body
            raise Refused(body["detail"], body["attr"], response.status_code)


@dataclass
class Mcp:
    services: Services
    project_id: int
    scopes: tuple[str, ...] = (READ, WRITE)

    @cached_property
    def server(self) -> MCPServer:
        local = Principal(
            frozenset(self.scopes), frozenset({self.project_id}), default_project_id=self.project_id
        )
        return build_mcp_server(self.services, local_principal=local, http_auth=False)

    def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        server = self.server

        async def run() -> Any:
            async with Client(server) as client:
                return await client.call_tool(tool, arguments)

        result = anyio.run(run)
        if result.is_error:
            text = " ".join(block.text for block in result.content if block.type == "text")
            match = re.fullmatch(
                r"(?:Error executing tool [\w-]+: )?(.*?)(?: \(field: (\w+)\))?", text, re.DOTALL
            )
            assert match is not None
            raise Refused(match[1], match[2])
        return result.structured_content

    def create(self, alert_id: str, body: dict[str, Any]) -> list[str]:
        ids: list[str] = self.call("logs-alerts-destinations-create", {"alert_id": alert_id, **body})[
            "hog_function_ids"
        ]
        return ids

    def delete(self, alert_id: str, ids: list[str]) -> None:
        self.call("logs-alerts-destinations-delete-create", {"alert_id": alert_id, "hog_function_ids": ids})

    def list(self, alert_id: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.call("logs-alerts-destinations-list", {"alert_id": alert_id})[
            "results"
        ]
        return results


@dataclass
class World:
    """One project with a Slack integration, an alert, and the face under test."""

    face: Face
    rest: Rest
    services: Services
    project: TestProject
    slack_id: int

    def alert(self, name: str = "checkout errors") -> str:
        alert = self.services.alerts.create(
            self.project.id, {"name": name, "filters": SERVICE}, created_by_key_id=None
        )
        return str(alert.id)

    def destination_types(self, alert_id: str) -> list[str]:
        return self.services.alerts.retrieve(self.project.id, alert_id).destination_types

    def slack(self, **overrides: Any) -> dict[str, Any]:
        return {
            "type": "slack",
            "slack_workspace_id": self.slack_id,
            "slack_channel_id": "C0123ABC",
            "slack_channel_name": "alerts",
        } | overrides


@pytest.fixture(params=["rest", "mcp"])
def world(
    request: pytest.FixtureRequest, services: Services, client: TestClient, project: TestProject
) -> World:
    slack = Integrations(services.state_engine).add_slack(project.id, SLACK_TOKEN, "Acme")
    rest = Rest(client, project.id, project.api_key)
    face: Face = rest if request.param == "rest" else Mcp(services, project.id)
    return World(face, rest, services, project, slack.id)


# --- create --------------------------------------------------------------------------------------


def test_create_makes_one_rule_per_kind_and_shows_on_the_alert(world: World) -> None:
    alert_id = world.alert()

    ids = world.face.create(alert_id, world.slack())

    assert len(ids) == 4 and len(set(ids)) == 4
    assert all(uuid.UUID(rule_id) for rule_id in ids)
    assert world.destination_types(alert_id) == ["slack"]
    [destination] = world.face.list(alert_id)
    assert destination["type"] == "slack"
    assert destination["hog_function_ids"] == ids
    assert [rule["kind"] for rule in destination["rules"]] == KINDS
    assert [rule["id"] for rule in destination["rules"]] == ids
    assert [rule["name"] for rule in destination["rules"]] == [
        "Logs alert — checkout errors (firing) → Slack #alerts",
        "Logs alert — checkout errors (resolved) → Slack #alerts",
        "Logs alert — checkout errors (auto-disabled) → Slack #alerts",
        "Logs alert — checkout errors (errored) → Slack #alerts",
    ]
    assert (destination["slack_workspace_id"], destination["slack_channel_id"]) == (
        world.slack_id,
        "C0123ABC",
    )


def test_every_type_can_be_attached_and_destination_types_is_sorted(world: World) -> None:
    alert_id = world.alert()

    world.face.create(
        alert_id, {"type": "webhook", "webhook_url": WEBHOOK_URL, "webhook_secret": WEBHOOK_SECRET}
    )
    world.face.create(alert_id, {"type": "teams", "webhook_url": TEAMS_URL})
    world.face.create(alert_id, {"type": "discord", "webhook_url": DISCORD_URL})
    world.face.create(alert_id, world.slack(slack_channel_name=""))

    assert world.destination_types(alert_id) == ["discord", "slack", "teams", "webhook"]
    listed = {destination["type"]: destination for destination in world.face.list(alert_id)}
    assert listed["webhook"]["webhook_url"] == "https://hooks.example.com/logs?…"
    assert listed["webhook"]["signed"] is True
    assert listed["discord"]["webhook_url"] == "https://discord.com/api/webhooks/112233/…"
    assert listed["teams"]["webhook_url"] == "https://acme.webhook.office.com/…"
    assert listed["teams"]["signed"] is False
    names = {kind: destination["rules"][0]["name"] for kind, destination in listed.items()}
    assert names == {
        "webhook": "Logs alert — checkout errors (firing) → Webhook https://hooks.example.com/logs?…",
        "teams": "Logs alert — checkout errors (firing) → Microsoft Teams",
        "discord": "Logs alert — checkout errors (firing) → Discord",
        "slack": "Logs alert — checkout errors (firing) → Slack #channel",
    }


def test_the_webhook_secret_is_stored_for_signing(world: World) -> None:
    alert_id = world.alert()

    ids = world.face.create(
        alert_id, {"type": "webhook", "webhook_url": WEBHOOK_URL, "webhook_secret": WEBHOOK_SECRET}
    )

    with Session(world.services.state_engine) as session:
        rules = session.exec(
            select(NotificationRule).where(NotificationRule.alert_id == uuid.UUID(alert_id))
        ).all()
    assert sorted(str(rule.id) for rule in rules) == sorted(ids)
    assert {(rule.webhook_secret, rule.config["webhook_url"]) for rule in rules} == {
        (WEBHOOK_SECRET, WEBHOOK_URL)
    }


@pytest.mark.parametrize(
    ("body", "detail", "attr"),
    [
        ({}, "This field is required.", "type"),
        ({"type": "email"}, UNKNOWN_TYPE_MESSAGE, "type"),
        ({"type": "slack"}, "Slack destinations require slack_workspace_id and slack_channel_id.", None),
        (
            {"type": "slack", "slack_channel_id": "C1"},
            "slack_workspace_id is required for Slack destinations.",
            "slack_workspace_id",
        ),
        (
            {"type": "slack", "slack_workspace_id": 1, "slack_channel_id": " "},
            "slack_channel_id is required for Slack destinations.",
            "slack_channel_id",
        ),
        (
            {"type": "slack", "slack_workspace_id": "one", "slack_channel_id": "C1"},
            "A valid integer is required.",
            "slack_workspace_id",
        ),
        ({"type": "webhook"}, "webhook_url is required for Webhook destinations.", "webhook_url"),
        (
            {"type": "teams", "webhook_url": ""},
            "webhook_url is required for Microsoft Teams destinations.",
            "webhook_url",
        ),
        ({"type": "discord"}, "webhook_url is required for Discord destinations.", "webhook_url"),
        ({"type": "webhook", "webhook_url": "not-a-url"}, "Enter a valid URL.", "webhook_url"),
        (
            {"type": "webhook", "webhook_url": "ftp://hooks.example.com/x"},
            "Enter a valid URL.",
            "webhook_url",
        ),
        ({"type": "teams", "webhook_url": "https://"}, "Enter a valid URL.", "webhook_url"),
        ({"type": "discord", "webhook_url": "not-a-url"}, DISCORD_URL_MESSAGE, "webhook_url"),
        (
            {"type": "discord", "webhook_url": "http://discord.com/api/webhooks/1/t"},
            DISCORD_URL_MESSAGE,
            "webhook_url",
        ),
        (
            {"type": "discord", "webhook_url": "https://discordapp.com/api/webhooks/1/t"},
            DISCORD_URL_MESSAGE,
            "webhook_url",
        ),
        (
            {"type": "discord", "webhook_url": "https://discord.com/api/webhooks/1"},
            DISCORD_URL_MESSAGE,
            "webhook_url",
        ),
        (
            {"type": "discord", "webhook_url": "https://discord.com/api/webhooks/1/t/x"},
            DISCORD_URL_MESSAGE,
            "webhook_url",
        ),
        (
            {"type": "discord", "webhook_url": "https://discord.com/api/webhooks//t"},
            DISCORD_URL_MESSAGE,
            "webhook_url",
        ),
        (
            {"type": "discord", "webhook_url": "https://discord.com/api/webhooks/1/t?wait=true"},
            DISCORD_URL_MESSAGE,
            "webhook_url",
        ),
        (
            {"type": "teams", "webhook_url": TEAMS_URL, "webhook_secret": "s"},
            "webhook_secret is only used by Webhook destinations.",
            "webhook_secret",
        ),
        (
            {"type": "webhook", "webhook_url": WEBHOOK_URL, "webhook_secret": "s" * 201},
            "Ensure this field has no more than 200 characters.",
            "webhook_secret",
        ),
    ],
)
def test_validation_messages_name_the_field(
    world: World, body: dict[str, Any], detail: str, attr: str | None
) -> None:
    alert_id = world.alert()

    with pytest.raises(Refused) as refused:
        world.face.create(alert_id, body)

    if isinstance(world.face, Mcp) and _rejected_by_tool_schema(body):
        assert attr is not None and attr in refused.value.detail  # the SDK's argument error names it
    else:
        assert (refused.value.detail, refused.value.attr) == (detail, attr)
        assert refused.value.status in (None, 400)
    assert world.face.list(alert_id) == []


def _rejected_by_tool_schema(body: dict[str, Any]) -> bool:
    """The tool's own argument schema answers first when ``type`` is missing or an id is not an integer."""
    return "type" not in body or isinstance(body.get("slack_workspace_id"), str)


def test_slack_needs_an_integration_of_this_project(world: World, services: Services) -> None:
    alert_id = world.alert()
    other = services.accounts.create_project("elsewhere")
    assert other.id is not None
    foreign = Integrations(services.state_engine).add_slack(other.id, "xoxb-9-9-other")

    for workspace in (foreign.id, 987_654):
        with pytest.raises(Refused) as refused:
            world.face.create(alert_id, world.slack(slack_workspace_id=workspace))
        assert refused.value.attr == "slack_workspace_id"
        assert refused.value.detail.startswith(
            f"Slack integration {workspace} does not exist in this project."
        )
    assert world.destination_types(alert_id) == []


# --- private addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"type": "webhook", "webhook_url": "http://127.0.0.1:8080/hook"}, "127.0.0.1 is a loopback address"),
        ({"type": "webhook", "webhook_url": "http://[::1]/hook"}, "::1 is a loopback address"),
        ({"type": "webhook", "webhook_url": "http://localhost/hook"}, "localhost resolves to"),
        ({"type": "webhook", "webhook_url": "http://10.1.2.3/hook"}, "10.1.2.3 is a private address"),
        ({"type": "teams", "webhook_url": "https://192.168.0.9/hook"}, "192.168.0.9 is a private address"),
        (
            {"type": "webhook", "webhook_url": "http://169.254.169.254/latest"},
            "169.254.169.254 is a link-local address",
        ),
        ({"type": "webhook", "webhook_url": "http://[fe80::1]/hook"}, "fe80::1 is a link-local address"),
        (
            {"type": "webhook", "webhook_url": "http://internal.example.com/hook"},
            "internal.example.com resolves to 10.0.0.7, which is a private address",
        ),
        (
            {"type": "teams", "webhook_url": "https://mixed.example.com/hook"},
            "mixed.example.com resolves to 192.168.1.20, which is a private address",
        ),
        (
            {"type": "webhook", "webhook_url": "https://nowhere.invalid/hook"},
            "The host nowhere.invalid could not be resolved",
        ),
    ],
)
def test_private_loopback_and_link_local_urls_are_refused(
    world: World, body: dict[str, Any], reason: str
) -> None:
    alert_id = world.alert()

    with pytest.raises(Refused) as refused:
        world.face.create(alert_id, body)

    assert refused.value.attr == "webhook_url"
    assert refused.value.detail.startswith(reason)
    if "could not be resolved" not in reason:
        assert "LOGS_MCP_ALLOW_PRIVATE_WEBHOOKS=true" in refused.value.detail
    assert world.destination_types(alert_id) == []


def test_the_operator_may_allow_private_urls(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.services.settings, "allow_private_webhooks", True)
    alert_id = world.alert()

    world.face.create(alert_id, {"type": "webhook", "webhook_url": "http://127.0.0.1:9/hook"})
    world.face.create(alert_id, {"type": "teams", "webhook_url": "http://internal.example.com/teams"})

    assert world.destination_types(alert_id) == ["teams", "webhook"]


# --- delete --------------------------------------------------------------------------------------


def test_deleting_all_rules_removes_the_destination(world: World) -> None:
    alert_id = world.alert()
    slack_ids = world.face.create(alert_id, world.slack())
    webhook_ids = world.face.create(alert_id, {"type": "webhook", "webhook_url": WEBHOOK_URL})

    world.face.delete(alert_id, slack_ids)

    assert [destination["hog_function_ids"] for destination in world.face.list(alert_id)] == [webhook_ids]
    assert world.destination_types(alert_id) == ["webhook"]
    world.face.delete(alert_id, list(reversed(webhook_ids)))
    assert world.face.list(alert_id) == []
    assert world.destination_types(alert_id) == []


def test_deleting_some_rules_keeps_the_other_kinds(world: World) -> None:
    alert_id = world.alert()
    ids = world.face.create(alert_id, world.slack())

    world.face.delete(alert_id, [ids[3]])  # stop "errored" notifications only

    [destination] = world.face.list(alert_id)
    assert [rule["kind"] for rule in destination["rules"]] == ["firing", "resolved", "broken"]
    assert world.destination_types(alert_id) == ["slack"]
    world.face.delete(alert_id, ids[:3])
    assert world.destination_types(alert_id) == []


@pytest.mark.parametrize("case", ["other alert", "unknown", "duplicate", "other project"])
def test_foreign_unknown_or_repeated_ids_delete_nothing(world: World, services: Services, case: str) -> None:
    alert_id = world.alert()
    ids = world.face.create(alert_id, world.slack())
    other_alert = world.alert("other")
    other_ids = world.face.create(other_alert, {"type": "webhook", "webhook_url": WEBHOOK_URL})
    elsewhere = services.accounts.create_project("elsewhere")
    assert elsewhere.id is not None
    foreign_alert = services.alerts.create(elsewhere.id, {"filters": SERVICE}, created_by_key_id=None)
    foreign_ids = services.destinations.create(
        elsewhere.id, str(foreign_alert.id), {"type": "webhook", "webhook_url": WEBHOOK_URL}
    ).hog_function_ids
    intruder = {
        "other alert": other_ids[0],
        "unknown": str(uuid.uuid4()),
        "duplicate": ids[0],
        "other project": str(foreign_ids[0]),
    }[case]

    with pytest.raises(Refused) as refused:
        world.face.delete(alert_id, [ids[0], ids[1], intruder])

    assert (refused.value.detail, refused.value.attr) == (NOT_THIS_ALERTS_MESSAGE, "hog_function_ids")
    assert refused.value.status in (None, 400)
    assert [destination["hog_function_ids"] for destination in world.face.list(alert_id)] == [ids]
    assert [destination["hog_function_ids"] for destination in world.face.list(other_alert)] == [other_ids]
    assert (
        len(services.destinations.list(elsewhere.id, str(foreign_alert.id)).results[0].hog_function_ids) == 4
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "This field is required."),
        ({"hog_function_ids": []}, "This list may not be empty."),
        ({"hog_function_ids": ["not-a-uuid"]}, "Must be a valid UUID."),
        ({"hog_function_ids": "abc"}, 'Expected a list of items but got type "str".'),
    ],
)
def test_delete_body_errors_over_rest(world: World, body: dict[str, Any], detail: str) -> None:
    alert_id = world.alert()

    response = world.rest.post(world.rest.url(alert_id, "delete/"), body)

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": response.json()["code"],
        "detail": detail,
        "attr": "hog_function_ids",
    }


# --- scoping, auth, secrets ----------------------------------------------------------------------


def test_another_projects_alert_is_not_found(world: World, services: Services) -> None:
    elsewhere = services.accounts.create_project("elsewhere")
    assert elsewhere.id is not None
    foreign_alert = str(services.alerts.create(elsewhere.id, {"filters": SERVICE}, created_by_key_id=None).id)
    ids = [
        str(rule_id)
        for rule_id in services.destinations.create(
            elsewhere.id, foreign_alert, {"type": "teams", "webhook_url": TEAMS_URL}
        ).hog_function_ids
    ]

    for call in (
        lambda: world.face.create(foreign_alert, world.slack()),
        lambda: world.face.delete(foreign_alert, ids),
        lambda: world.face.list(foreign_alert),
        lambda: world.face.create("not-a-uuid", world.slack()),
        lambda: world.face.list(str(uuid.uuid4())),
    ):
        with pytest.raises(Refused) as refused:
            call()
        assert (refused.value.detail, refused.value.status) in (("Not found.", 404), ("Not found.", None))
    assert len(services.destinations.list(elsewhere.id, foreign_alert).results[0].hog_function_ids) == 4


def test_destroying_the_alert_takes_its_rules_along(world: World, services: Services) -> None:
    alert_id = world.alert()
    world.face.create(alert_id, world.slack())

    services.alerts.destroy(world.project.id, alert_id)

    with Session(services.state_engine) as session:
        left = session.exec(
            select(NotificationRule).where(NotificationRule.alert_id == uuid.UUID(alert_id))
        ).all()
    assert left == []
    with pytest.raises(Refused):
        world.face.list(alert_id)


def test_no_secret_or_token_appears_in_any_answer(world: World) -> None:
    alert_id = world.alert()
    answers: list[Any] = [
        world.face.create(alert_id, world.slack()),
        world.face.create(
            alert_id, {"type": "webhook", "webhook_url": WEBHOOK_URL, "webhook_secret": WEBHOOK_SECRET}
        ),
        world.face.create(alert_id, {"type": "discord", "webhook_url": DISCORD_URL}),
        world.face.create(alert_id, {"type": "teams", "webhook_url": TEAMS_URL}),
        world.face.list(alert_id),
    ]
    rest = world.rest
    answers += [
        rest.client.get(
            f"/api/projects/{rest.project_id}/logs/alerts/{alert_id}/", headers=rest.headers
        ).text,
        rest.client.get(f"/api/projects/{rest.project_id}/logs/alerts/", headers=rest.headers).text,
        rest.client.get(rest.url(alert_id), headers=rest.headers).text,
    ]

    everything = repr(answers)
    assert [secret for secret in SECRETS if secret in everything] == []
    assert len(world.face.list(alert_id)) == 4


def test_paths_without_trailing_slash(world: World) -> None:
    alert_id = world.alert()
    rest = world.rest
    base = rest.url(alert_id).rstrip("/")

    created = rest.post(base, world.slack())
    listed = rest.client.get(base, headers=rest.headers)
    deleted = rest.post(base + "/delete", {"hog_function_ids": created.json()["hog_function_ids"]})

    assert (created.status_code, listed.status_code, deleted.status_code) == (201, 200, 204)
    assert len(listed.json()["results"]) == 1
    assert rest.list(alert_id) == []


def test_a_read_only_key_may_list_but_not_change(
    world: World, services: Services, client: TestClient
) -> None:
    alert_id = world.alert()
    ids = world.face.create(alert_id, world.slack())
    read_only = services.accounts.create_api_key([world.project.id], [READ], label="reader").key
    reader = Rest(client, world.project.id, read_only)
    mcp_reader = Mcp(services, world.project.id, scopes=(READ,))

    for face in (reader, mcp_reader):
        assert len(face.list(alert_id)) == 1
        for call in (
            lambda f=face: f.create(alert_id, world.slack()),
            lambda f=face: f.delete(alert_id, ids),
        ):
            with pytest.raises(Refused) as refused:
                call()
            assert "logs:write" in refused.value.detail
            assert refused.value.status in (None, 403)
    anonymous = client.post(world.rest.url(alert_id), json=world.slack())
    assert anonymous.status_code == 401
    assert len(world.face.list(alert_id)) == 1


@pytest.mark.anyio
async def test_the_tools_are_annotated_and_tell_the_agent_to_confirm(
    services: Services, project: TestProject
) -> None:
    local = Principal(frozenset({READ, WRITE}), frozenset({project.id}), default_project_id=project.id)
    async with Client(build_mcp_server(services, local_principal=local, http_auth=False)) as mcp_client:
        tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}

    create = tools["logs-alerts-destinations-create"]
    delete = tools["logs-alerts-destinations-delete-create"]
    listing = tools["logs-alerts-destinations-list"]
    assert create.annotations and create.annotations.read_only_hint is False
    assert create.annotations.destructive_hint is False
    assert delete.annotations and delete.annotations.destructive_hint is True
    assert listing.annotations and listing.annotations.read_only_hint is True
    assert "confirm" in (create.description or "").lower() and "Slack channel or URL" in (
        create.description or ""
    )
    assert "confirm" in (delete.description or "").lower()
    assert set(create.input_schema["required"]) == {"alert_id", "type"}
    assert {"slack_workspace_id", "slack_channel_id", "webhook_url", "webhook_secret"} <= set(
        create.input_schema["properties"]
    )
    assert delete.input_schema["required"] == ["alert_id", "hog_function_ids"]
