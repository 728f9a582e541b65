"""Where a notification goes (:class:`DeliveryTarget`) and the senders of the URL-based types: webhook,
Discord and Teams, each a JSON POST through one shared aiohttp session (keep-alive connections).

aiohttp rather than httpx: sending a burst of 50 notifications costs aiohttp ~8 ms of CPU and httpx 90-300
ms (its connection pool scans every connection for every request), CPU the deliverer shares with the check
cycle's Python work (docs/benchmarks.md, "Engine").

Every request carries ``Idempotency-Key`` (the caller's, stable across retries of one notification) and
``User-Agent: logs-mcp/<version>``; a webhook with a secret adds ``X-LogsMCP-Signature: sha256=<hex>``, the
HMAC-SHA256 of the exact body bytes sent. The URL is checked against private addresses right before each
send (DNS may have changed since the destination was created).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Protocol, cast, get_args
from urllib.parse import urlsplit

import aiohttp
import anyio.to_thread

from logs_mcp import __version__
from logs_mcp.alerts.destination_models import DestinationType
from logs_mcp.alerts.notifiers.payloads import AlertNotification, discord_payload, teams_payload, webhook_body
from logs_mcp.alerts.notifiers.result import DeliveryResult, classify_http_response
from logs_mcp.alerts.url_safety import UnsafeUrl, ensure_public_url
from logs_mcp.store.alert_tables import Integration, NotificationRule

USER_AGENT: Final = f"logs-mcp/{__version__}"
SIGNATURE_HEADER: Final = "X-LogsMCP-Signature"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
RESPONSE_READ_LIMIT: Final = 4096  # bytes of a receiver's answer kept for the error text


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryTarget:
    """One notification rule's destination, with the secrets it needs at send time (never shown)."""

    type: DestinationType
    config: Mapping[str, Any] = field(default_factory=dict)
    webhook_secret: str | None = None
    slack_bot_token: str | None = None

    @classmethod
    def of_rule(cls, rule: NotificationRule, integration: Integration | None = None) -> DeliveryTarget:
        """``integration`` is the Slack integration named by ``config["slack_workspace_id"]`` (Slack only)."""
        if rule.type not in get_args(DestinationType):
            raise ValueError(f"unknown destination type {rule.type!r}")
        return cls(
            type=cast(DestinationType, rule.type),
            config=dict(rule.config),
            webhook_secret=rule.webhook_secret,
            slack_bot_token=integration.bot_token if integration is not None else None,
        )


class Sender(Protocol):
    """What every destination type implements; the outbox deliverer calls nothing else."""

    async def send(
        self, notification: AlertNotification, target: DeliveryTarget, *, idempotency_key: str
    ) -> DeliveryResult: ...


def sign(body: bytes, secret: str) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_RENDERERS: Final[dict[str, Callable[[AlertNotification], dict[str, Any]]]] = {
    "webhook": webhook_body,
    "discord": discord_payload,
    "teams": teams_payload,
}


def json_request(
    notification: AlertNotification, target: DeliveryTarget, idempotency_key: str
) -> tuple[bytes, dict[str, str]]:
    """The body bytes and headers one POST sends; the same inputs always give the same bytes."""
    payload = _RENDERERS[target.type](notification)
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: idempotency_key,
    }
    if target.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, target.webhook_secret)
    return body, headers


class HttpSender:
    """Webhook, Discord and Teams: POST the type's JSON to the destination's ``webhook_url``."""

    def __init__(self, session: aiohttp.ClientSession, *, allow_private: bool) -> None:
        self._session = session
        self._allow_private = allow_private

    async def send(
        self, notification: AlertNotification, target: DeliveryTarget, *, idempotency_key: str
    ) -> DeliveryResult:
        url = target.config.get("webhook_url")
        if not isinstance(url, str) or not url:
            return DeliveryResult.give_up("the destination has no webhook_url")
        refusal = await self._refusal(url)
        if refusal is not None:
            return refusal
        body, headers = json_request(notification, target, idempotency_key)
        try:
            # Redirects are not followed: the next hop would bypass the private-address check.
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                answer = await _read_at_most(response, RESPONSE_READ_LIMIT)
        except TimeoutError:
            return DeliveryResult.retry("the receiver did not answer in time")
        except aiohttp.ClientError as error:
            cause = error.os_error if isinstance(error, aiohttp.ClientConnectorError) else error
            return DeliveryResult.retry(f"could not reach the receiver ({type(cause).__name__})")
        return classify_http_response(response.status, response.headers, answer)

    async def _refusal(self, url: str) -> DeliveryResult | None:
        """Refuse private destinations. A literal address is refused for good; a name is retried, since its
        DNS answer (or a failure to resolve it) may be temporary and retries are capped anyway."""
        if self._allow_private:
            return None
        try:
            # getaddrinfo blocks: keep it off the event loop.
            await anyio.to_thread.run_sync(partial(ensure_public_url, url, allow_private=False))
        except UnsafeUrl as error:
            if _is_address_literal(url):
                return DeliveryResult.give_up(str(error))
            return DeliveryResult.retry(str(error))
        return None


async def _read_at_most(response: aiohttp.ClientResponse, limit: int) -> str:
    # A receiver may answer with megabytes; only the start is worth keeping.
    kept = b""
    while len(kept) < limit and (chunk := await response.content.read(limit - len(kept))):
        kept += chunk
    return kept.decode(response.charset or "utf-8", errors="replace")


def _is_address_literal(url: str) -> bool:
    try:
        ipaddress.ip_address(urlsplit(url).hostname or "")
    except ValueError:
        return False
    return True
