"""Delivery against real local receivers: a Slack Web API stand-in (slack-sdk pointed at it) and webhook,
Discord and Teams receivers on loopback, with injected faults (5xx, 429 + Retry-After, a receiver too slow
to answer, a closed port). The receivers record every request so the tests check what actually went over
the wire: bodies, signatures, idempotency keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from uuid import UUID

import aiohttp
import anyio
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from logs_mcp.alerts.notifiers import (
    AlertNotification,
    DeliveryResult,
    DeliveryTarget,
    NotificationKind,
    Notifier,
)
from logs_mcp.alerts.notifiers.payloads import discord_payload, slack_message, teams_payload, webhook_body
from logs_mcp.alerts.notifiers.result import classify_http_response, parse_retry_after
from logs_mcp.alerts.notifiers.senders import HttpSender
from logs_mcp.alerts.notifiers.slack import SlackSender
from logs_mcp.config import Settings
from logs_mcp.store.alert_tables import Integration, NotificationRule

pytestmark = pytest.mark.anyio

SLOW_RECEIVER_SECONDS = 3.0
SHORT_TIMEOUT_SECONDS = 0.5
SECRET = "s3cret-for-signing"
BOT_TOKEN = "xoxb-good"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receivers:
    """The local receivers' base URL and every request they got, in order."""

    url: str
    requests: list[Received] = field(default_factory=list)

    def at(self, path: str) -> list[Received]:
        return [request for request in self.requests if request.path == path]


SLACK_ANSWERS: dict[str, tuple[int, dict[str, str], dict[str, Any] | str]] = {
    BOT_TOKEN: (200, {}, {"ok": True, "channel": "C1", "ts": "1.2"}),
    "xoxb-ratelimited": (429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}),
    "xoxb-revoked": (200, {}, {"ok": False, "error": "invalid_auth"}),
    "xoxb-busy": (200, {}, {"ok": False, "error": "internal_error"}),
    "xoxb-outage": (502, {}, "<html>Bad Gateway</html>"),
    "xoxb-portal": (200, {}, "<html>Sign in to the proxy</html>"),
}


def build_receivers(recorded: list[Received]) -> Starlette:
    async def record(request: Request) -> Received:
        received = Received(request.url.path, dict(request.headers), await request.body())
        recorded.append(received)
        return received

    async def slack_post_message(request: Request) -> Response:
        received = await record(request)
        token = received.headers.get("authorization", "").removeprefix("Bearer ")
        if received.json().get("channel") == "C-missing":
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        if token == "xoxb-slow":
            await anyio.sleep(SLOW_RECEIVER_SECONDS)
        status, headers, body = SLACK_ANSWERS.get(token, SLACK_ANSWERS["xoxb-revoked"])
        if isinstance(body, str):
            return PlainTextResponse(body, status_code=status, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    async def hook(request: Request) -> Response:
        await record(request)
        behaviour = request.path_params["behaviour"]
        if behaviour == "slow":
            await anyio.sleep(SLOW_RECEIVER_SECONDS)
        if behaviour == "redirect":
            return RedirectResponse("/hooks/ok", status_code=302)
        if behaviour == "429":
            return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "7"})
        if behaviour == "503-date":
            later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
            return PlainTextResponse("maintenance", status_code=503, headers={"Retry-After": later})
        if behaviour == "500-huge":
            return PlainTextResponse("boom " * 100_000, status_code=500)
        if behaviour.isdigit():
            return PlainTextResponse(f"answer {behaviour}", status_code=int(behaviour))
        return Response(status_code=204 if behaviour == "discord" else 200)

    return Starlette(
        routes=[
            Route("/api/chat.postMessage", slack_post_message, methods=["POST"]),
            Route("/hooks/{behaviour}", hook, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[Receivers]:
    recorded: list[Received] = []
    config = uvicorn.Config(
        build_receivers(recorded), host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, name="notifier-receivers", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not runner.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the receivers did not start")
        time.sleep(0.02)
    port = runner.servers[0].sockets[0].getsockname()[1]
    yield Receivers(f"http://127.0.0.1:{port}", recorded)
    runner.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def receivers(server: Receivers) -> Receivers:
    server.requests.clear()
    return server


def settings_for(receivers: Receivers, **overrides: Any) -> Settings:
    # The receivers live on loopback, which only an operator's explicit opt-in allows.
    values: dict[str, Any] = {
        "allow_private_webhooks": True,
        "slack_api_url": f"{receivers.url}/api/",
        "delivery_timeout_seconds": 5.0,
    }
    return Settings(**(values | overrides))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


FIRING = AlertNotification(
    id=UUID("00000000-0000-4000-8000-00000000000f"),
    kind=NotificationKind.FIRING,
    triggered_at=datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
    base_url="https://logs.example.com",
    project_id=3,
    project_name="Shop",
    alert_id=UUID("11111111-1111-4111-8111-111111111111"),
    alert_name="Checkout errors",
    threshold_count=100,
    threshold_operator="above",
    window_minutes=5,
    filters={"severityLevels": ["error"], "serviceNames": ["checkout"]},
    result_count=150,
    date_from=datetime(2024, 12, 31, 23, 56, tzinfo=UTC),
    date_to=datetime(2025, 1, 1, 0, 1, tzinfo=UTC),
)


def webhook(receivers: Receivers, behaviour: str = "ok", secret: str | None = SECRET) -> DeliveryTarget:
    return DeliveryTarget(
        type="webhook", config={"webhook_url": f"{receivers.url}/hooks/{behaviour}"}, webhook_secret=secret
    )


def slack(token: str | None = BOT_TOKEN, channel: str = "C0123ABC") -> DeliveryTarget:
    config = {"slack_workspace_id": 1, "slack_channel_id": channel, "slack_channel_name": "alerts"}
    return DeliveryTarget(type="slack", config=config, slack_bot_token=token)


async def send(
    settings: Settings, target: DeliveryTarget, key: str = "key-1", n: AlertNotification = FIRING
) -> DeliveryResult:
    async with Notifier(settings) as notifier:
        return await notifier.send(n, target, idempotency_key=key)


# --- webhook ---------------------------------------------------------------------------------------------


async def test_webhook_body_is_signed_and_carries_the_key_and_user_agent(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), webhook(receivers), key="outbox-42")
    assert result == DeliveryResult(ok=True, status_code=200)
    [request] = receivers.at("/hooks/ok")
    assert request.json() == webhook_body(FIRING)
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-logsmcp-signature"] == f"sha256={expected}"
    assert request.headers["idempotency-key"] == "outbox-42"
    assert request.headers["user-agent"] == "logs-mcp/0.1.0"
    assert request.headers["content-type"] == "application/json"


async def test_retries_of_one_notification_send_the_same_bytes_key_and_signature(
    receivers: Receivers,
) -> None:
    # The second attempt renders from the snapshot as the outbox stores it (JSON), as a retry would.
    stored = AlertNotification.model_validate(json.loads(json.dumps(FIRING.model_dump(mode="json"))))
    settings = settings_for(receivers)
    assert (await send(settings, webhook(receivers), key="outbox-7")).ok
    assert (await send(settings, webhook(receivers), key="outbox-7", n=stored)).ok
    first, second = receivers.at("/hooks/ok")
    assert first.body == second.body
    for name in ("idempotency-key", "x-logsmcp-signature"):
        assert first.headers[name] == second.headers[name]


async def test_webhook_without_secret_is_not_signed(receivers: Receivers) -> None:
    assert (await send(settings_for(receivers), webhook(receivers, secret=None))).ok
    [request] = receivers.at("/hooks/ok")
    assert "x-logsmcp-signature" not in request.headers


async def test_server_errors_are_retried(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), webhook(receivers, "500"))
    assert (result.ok, result.permanent, result.retryable, result.status_code) == (False, False, True, 500)
    assert result.error == "HTTP 500: answer 500"


async def test_a_huge_error_page_is_cut_to_an_excerpt(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), webhook(receivers, "500-huge"))
    assert result.retryable and result.error is not None
    assert result.error.startswith("HTTP 500: boom boom") and len(result.error) <= 220


async def test_429_with_retry_after_seconds(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), webhook(receivers, "429"))
    assert (result.retryable, result.status_code, result.retry_after_seconds) == (True, 429, 7.0)


async def test_503_with_retry_after_as_a_date(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), webhook(receivers, "503-date"))
    assert result.retryable and result.status_code == 503
    assert result.retry_after_seconds is not None and 100 < result.retry_after_seconds <= 120


@pytest.mark.parametrize("status", [400, 401, 404, 410])
async def test_other_client_errors_are_permanent(receivers: Receivers, status: int) -> None:
    result = await send(settings_for(receivers), webhook(receivers, str(status)))
    assert (result.ok, result.permanent, result.status_code) == (False, True, status)


async def test_redirects_are_not_followed(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), webhook(receivers, "redirect"))
    assert (result.permanent, result.status_code) == (True, 302)
    assert receivers.at("/hooks/ok") == []


async def test_a_receiver_too_slow_to_answer_times_out_as_retryable(receivers: Receivers) -> None:
    settings = settings_for(receivers, delivery_timeout_seconds=SHORT_TIMEOUT_SECONDS)
    started = time.monotonic()
    result = await send(settings, webhook(receivers, "slow"))
    assert time.monotonic() - started < SLOW_RECEIVER_SECONDS
    assert result.retryable and result.status_code is None
    assert len(receivers.at("/hooks/slow")) == 1


async def test_connection_refused_is_retryable(receivers: Receivers) -> None:
    target = DeliveryTarget(type="webhook", config={"webhook_url": f"http://127.0.0.1:{closed_port()}/hook"})
    result = await send(settings_for(receivers), target)
    assert result.retryable and result.status_code is None
    assert result.error == "could not reach the receiver (ConnectionRefusedError)"


# --- private addresses at delivery time ------------------------------------------------------------------


async def test_a_private_address_is_refused_for_good_without_a_request(receivers: Receivers) -> None:
    result = await send(settings_for(receivers, allow_private_webhooks=False), webhook(receivers))
    assert result.permanent and result.error is not None and "loopback" in result.error
    assert receivers.requests == []


async def test_a_name_resolving_to_a_private_address_is_refused_but_may_be_retried(
    receivers: Receivers,
) -> None:
    port = receivers.url.rsplit(":", 1)[1]
    target = DeliveryTarget(type="teams", config={"webhook_url": f"http://localhost:{port}/hooks/ok"})
    result = await send(settings_for(receivers, allow_private_webhooks=False), target)
    # DNS answers change (rebinding, or an outage); the outbox's attempt cap ends it if they never do.
    assert result.retryable and result.error is not None and "localhost resolves to" in result.error
    assert receivers.requests == []


# --- Discord and Teams -----------------------------------------------------------------------------------


async def test_discord_receives_its_payload(receivers: Receivers) -> None:
    target = DeliveryTarget(type="discord", config={"webhook_url": f"{receivers.url}/hooks/discord"})
    result = await send(settings_for(receivers), target, key="k-discord")
    assert result == DeliveryResult(ok=True, status_code=204)
    [request] = receivers.at("/hooks/discord")
    assert request.json() == discord_payload(FIRING)
    assert request.json()["content"] == "🔴 Log alert 'Checkout errors' is firing"
    assert request.headers["idempotency-key"] == "k-discord"
    assert "x-logsmcp-signature" not in request.headers


async def test_teams_receives_its_markdown_text(receivers: Receivers) -> None:
    target = DeliveryTarget(type="teams", config={"webhook_url": f"{receivers.url}/hooks/teams"})
    assert (await send(settings_for(receivers), target)).ok
    [request] = receivers.at("/hooks/teams")
    assert request.json() == teams_payload(FIRING)
    assert request.json()["text"].startswith("**🔴 Log alert 'Checkout errors' is firing**\n\n")


async def test_a_target_without_url_is_permanent(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), DeliveryTarget(type="teams", config={}))
    assert result.permanent and result.error == "the destination has no webhook_url"


# --- Slack through slack-sdk -----------------------------------------------------------------------------


async def test_slack_posts_the_block_kit_message_as_the_integrations_bot(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), slack())
    assert result == DeliveryResult(ok=True, status_code=200)
    [request] = receivers.at("/api/chat.postMessage")
    assert request.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    posted = request.json()
    message = slack_message(FIRING)
    assert posted["channel"] == "C0123ABC"
    assert (posted["text"], posted["blocks"]) == (message["text"], message["blocks"])
    assert posted["unfurl_links"] is False


async def test_slack_ratelimited_is_retried_after_its_retry_after(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), slack("xoxb-ratelimited"))
    assert (result.retryable, result.status_code, result.retry_after_seconds) == (True, 429, 30.0)
    assert result.error == "Slack: ratelimited"
    # slack-sdk's own retry handlers are off: the outbox decides when to try again.
    assert len(receivers.at("/api/chat.postMessage")) == 1


@pytest.mark.parametrize(
    ("token", "channel", "error"),
    [
        ("xoxb-revoked", "C0123ABC", "Slack: invalid_auth"),
        (BOT_TOKEN, "C-missing", "Slack: channel_not_found"),
    ],
)
async def test_slack_configuration_errors_are_permanent(
    receivers: Receivers, token: str, channel: str, error: str
) -> None:
    result = await send(settings_for(receivers), slack(token, channel))
    assert (result.permanent, result.status_code, result.error) == (True, 200, error)


@pytest.mark.parametrize(
    ("token", "status", "error"),
    [
        ("xoxb-busy", 200, "Slack: internal_error"),
        ("xoxb-outage", 502, "Slack: HTTP 502"),
        ("xoxb-portal", 200, "Slack: HTTP 200"),
    ],
)
async def test_slack_outages_are_retryable(receivers: Receivers, token: str, status: int, error: str) -> None:
    result = await send(settings_for(receivers), slack(token))
    assert (result.retryable, result.status_code, result.error) == (True, status, error)


async def test_slack_too_slow_to_answer_times_out_as_retryable(receivers: Receivers) -> None:
    settings = settings_for(receivers, delivery_timeout_seconds=SHORT_TIMEOUT_SECONDS)
    started = time.monotonic()
    result = await send(settings, slack("xoxb-slow"))
    assert time.monotonic() - started < SLOW_RECEIVER_SECONDS
    assert result.retryable and result.error == "no answer within 0.5s"


async def test_slack_socket_timeout_is_retryable(receivers: Receivers) -> None:
    # The sender alone (no notifier deadline): slack-sdk's own socket timeout ends the wait.
    sender = SlackSender(api_url=f"{receivers.url}/api", timeout_seconds=SHORT_TIMEOUT_SECONDS)
    result = await sender.send(FIRING, slack("xoxb-slow"), idempotency_key="k")
    assert result.retryable and result.error == "Slack did not answer in time"


async def test_webhook_read_timeout_is_retryable(receivers: Receivers) -> None:
    # The sender alone (no notifier deadline): the HTTP session's own timeout ends the wait.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SHORT_TIMEOUT_SECONDS)) as session:
        sender = HttpSender(session, allow_private=True)
        result = await sender.send(FIRING, webhook(receivers, "slow"), idempotency_key="k")
    assert result.retryable and result.error == "the receiver did not answer in time"


async def test_slack_unreachable_is_retryable(receivers: Receivers) -> None:
    settings = settings_for(receivers, slack_api_url=f"http://127.0.0.1:{closed_port()}/api/")
    result = await send(settings, slack())
    assert result.retryable and result.error == "could not reach Slack (ConnectionRefusedError)"


async def test_slack_without_a_bot_token_is_permanent_and_sends_nothing(receivers: Receivers) -> None:
    result = await send(settings_for(receivers), slack(token=None))
    assert result.permanent and result.error == "the Slack integration of this destination is gone"
    assert receivers.requests == []


# --- targets from stored rules, and classification -------------------------------------------------------


def test_target_of_a_rule_takes_the_integrations_token() -> None:
    rule = NotificationRule(
        destination_id=UUID(int=1),
        alert_id=UUID(int=2),
        kind="firing",
        type="slack",
        config={"slack_workspace_id": 5, "slack_channel_id": "C1"},
    )
    integration = Integration(id=5, project_id=3, bot_token="xoxb-stored")
    target = DeliveryTarget.of_rule(rule, integration)
    assert (target.type, target.config["slack_channel_id"], target.slack_bot_token) == (
        "slack",
        "C1",
        "xoxb-stored",
    )
    hook = NotificationRule(
        destination_id=UUID(int=1),
        alert_id=UUID(int=2),
        kind="errored",
        type="webhook",
        config={"webhook_url": "https://example.com/h"},
        webhook_secret="abc",
    )
    assert DeliveryTarget.of_rule(hook).webhook_secret == "abc"
    with pytest.raises(ValueError, match="unknown destination type"):
        DeliveryTarget.of_rule(
            NotificationRule(
                destination_id=UUID(int=1), alert_id=UUID(int=2), kind="firing", type="fax", config={}
            )
        )


async def test_an_empty_idempotency_key_is_a_caller_bug(receivers: Receivers) -> None:
    with pytest.raises(ValueError, match="idempotency_key"):
        await send(settings_for(receivers), webhook(receivers), key="")


@pytest.mark.parametrize(
    ("status", "retryable", "permanent"),
    [
        (200, False, False),
        (202, False, False),
        (408, True, False),
        (429, True, False),
        (503, True, False),
        (301, False, True),
        (403, False, True),
        (422, False, True),
    ],
)
def test_http_classification(status: int, retryable: bool, permanent: bool) -> None:
    result = classify_http_response(status, {}, "")
    assert (result.retryable, result.permanent, result.ok) == (retryable, permanent, 200 <= status < 300)


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("-3", now) == 0.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", now) == 60.0
    assert parse_retry_after("Tue, 31 Dec 2024 00:00:00 GMT", now) == 0.0
    for garbled in (None, "", "soon", "inf", "nan"):
        assert parse_retry_after(garbled, now) is None
